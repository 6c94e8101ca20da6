//! One access-log record per request, in gorouter's shape. The router hands records to an
//! `AccessLogSink`; `TracingAccessLog` writes them on target `router::access`, and the
//! platform's sink turns those of requests that reached an app into its `RTR` log lines.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// What the router knows about one finished request.
#[derive(Debug, Clone)]
pub struct AccessLogRecord {
    pub started_at: DateTime<Utc>,
    pub remote_addr: SocketAddr,
    pub host: String,
    pub method: String,
    /// Path and query, as requested.
    pub path: String,
    /// e.g. `HTTP/1.1`.
    pub proto: String,
    pub status: u16,
    /// Request body bytes read from the client.
    pub bytes_received: u64,
    /// Response body bytes sent to the client.
    pub bytes_sent: u64,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    /// As sent to the endpoint (the client's address appended).
    pub x_forwarded_for: Option<String>,
    pub x_forwarded_proto: Option<String>,
    /// From the request's arrival to the end of the response body.
    pub response_time: Duration,
    /// From sending the request to the endpoint to receiving its response head.
    pub app_time: Option<Duration>,
    /// `address:port` of the endpoint that answered, if one did.
    pub endpoint: Option<String>,
    pub request_id: String,
    pub process_guid: Option<String>,
    /// The app the endpoint belongs to: its logs get the `RTR` line.
    pub app_id: Option<String>,
    pub app_index: Option<u32>,
    /// The instance guid of the endpoint.
    pub instance_id: Option<String>,
    /// The `X-Cf-RouterError` value when the router answered itself.
    pub router_error: Option<&'static str>,
}

/// Where access-log records go.
pub trait AccessLogSink: Send + Sync + 'static {
    fn record(&self, record: &AccessLogRecord);
}

/// Writes each record as one tracing event on target `router::access`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAccessLog;

/// The tracing target of the access log.
const TARGET: &str = "router::access";

impl TracingAccessLog {
    /// Writes a record's line already formatted (by its `Display`), for a sink that also
    /// needs the text elsewhere.
    pub fn write_line(line: &str) {
        tracing::info!(target: TARGET, "{line}");
    }
}

impl AccessLogSink for TracingAccessLog {
    fn record(&self, r: &AccessLogRecord) {
        tracing::info!(target: TARGET, "{r}");
    }
}

/// gorouter's access-log line: `<host> - [<time>] "<method> <path> <proto>" <status>
/// <bytes received> <bytes sent> "<referer>" "<user agent>" "<remote>" "<backend>"` and then
/// `key:value` fields, with `"-"` for what is unknown.
impl fmt::Display for AccessLogRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = format!("{} {} {}", self.method, self.path, self.proto);
        write!(
            f,
            "{} - [{}] {} ",
            self.host,
            self.started_at.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
            Quoted(Some(&request))
        )?;
        match self.status {
            0 => f.write_str("\"-\" ")?,
            status => write!(f, "{status} ")?,
        }
        let remote = self.remote_addr.to_string();
        write!(
            f,
            "{} {} {} {} {} {} ",
            self.bytes_received,
            self.bytes_sent,
            Quoted(self.referer.as_deref()),
            Quoted(self.user_agent.as_deref()),
            Quoted(Some(&remote)),
            Quoted(self.endpoint.as_deref()),
        )?;
        let response_time = self.response_time.as_secs_f64();
        let gorouter_time = self
            .app_time
            .map(|app| (self.response_time.saturating_sub(app)).as_secs_f64());
        let index = self.app_index.map(|i| i.to_string());
        write!(
            f,
            "x_forwarded_for:{} x_forwarded_proto:{} vcap_request_id:{} response_time:{response_time:.6} \
             gorouter_time:{} app_id:{} app_index:{} instance_id:{} route_service_url:\"-\" \
             x_cf_routererror:{}",
            Quoted(self.x_forwarded_for.as_deref()),
            Quoted(self.x_forwarded_proto.as_deref()),
            Quoted(Some(&self.request_id)),
            Seconds(gorouter_time),
            Quoted(self.app_id.as_deref()),
            Quoted(index.as_deref()),
            Quoted(self.instance_id.as_deref()),
            Quoted(self.router_error),
        )
    }
}

/// A quoted, escaped value, or `"-"` when absent or empty.
struct Quoted<'a>(Option<&'a str>);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) if !s.is_empty() => write!(f, "{s:?}"),
            _ => f.write_str("\"-\""),
        }
    }
}

/// Seconds with six decimals, or `"-"` when not measured.
struct Seconds(Option<f64>);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{s:.6}"),
            None => f.write_str("\"-\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessLogRecord {
        AccessLogRecord {
            started_at: DateTime::from_timestamp(1_613_683_352, 355_501_523).unwrap(),
            remote_addr: "35.191.2.80:51628".parse().unwrap(),
            host: "app.example.com".into(),
            method: "GET".into(),
            path: "/?q=1".into(),
            proto: "HTTP/1.1".into(),
            status: 200,
            bytes_received: 0,
            bytes_sent: 62,
            referer: None,
            user_agent: Some("curl/7.54.0".into()),
            x_forwarded_for: Some("142.105.202.35, 35.191.2.80".into()),
            x_forwarded_proto: Some("http".into()),
            response_time: Duration::from_micros(11_962),
            app_time: Some(Duration::from_micros(11_495)),
            endpoint: Some("10.0.1.11:61002".into()),
            request_id: "6cb8b8de-bc85-4479-5f90-1c3a52d88d84".into(),
            process_guid: Some("p".into()),
            app_id: Some("cabd9e08".into()),
            app_index: Some(0),
            instance_id: Some("inst-0".into()),
            router_error: None,
        }
    }

    #[test]
    fn line_has_gorouters_shape() {
        assert_eq!(
            record().to_string(),
            "app.example.com - [2021-02-18T21:22:32.355501523Z] \"GET /?q=1 HTTP/1.1\" 200 0 62 \
             \"-\" \"curl/7.54.0\" \"35.191.2.80:51628\" \"10.0.1.11:61002\" \
             x_forwarded_for:\"142.105.202.35, 35.191.2.80\" x_forwarded_proto:\"http\" \
             vcap_request_id:\"6cb8b8de-bc85-4479-5f90-1c3a52d88d84\" response_time:0.011962 \
             gorouter_time:0.000467 app_id:\"cabd9e08\" app_index:\"0\" instance_id:\"inst-0\" \
             route_service_url:\"-\" x_cf_routererror:\"-\""
        );
    }

    #[test]
    fn a_request_the_router_answered_itself_has_dashes() {
        let r = AccessLogRecord {
            status: 404,
            endpoint: None,
            app_time: None,
            app_id: None,
            app_index: None,
            instance_id: None,
            user_agent: Some("a \"quoted\" agent".into()),
            router_error: Some("unknown_route"),
            ..record()
        };
        let line = r.to_string();
        assert!(line.contains(" 404 0 62 "), "{line}");
        assert!(line.contains(r#""a \"quoted\" agent""#), "{line}");
        assert!(line.contains(r#""35.191.2.80:51628" "-" "#), "{line}");
        assert!(
            line.contains(r#"gorouter_time:"-" app_id:"-" app_index:"-""#),
            "{line}"
        );
        assert!(
            line.ends_with(r#"x_cf_routererror:"unknown_route""#),
            "{line}"
        );
    }
}
