//! One access-log record per request, in gorouter's shape. The router hands records to an
//! `AccessLogSink`; `TracingAccessLog` writes them on target `router::access`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// What the router knows about one finished request.
#[derive(Debug, Clone)]
pub struct AccessLogRecord {
    pub started_at: SystemTime,
    pub remote_addr: SocketAddr,
    pub host: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Response body bytes sent to the client.
    pub bytes_sent: u64,
    pub response_time: Duration,
    /// `address:port` of the endpoint that answered, if one did.
    pub endpoint: Option<String>,
    pub request_id: String,
    pub process_guid: Option<String>,
    pub app_index: Option<u32>,
    /// The `X-Cf-RouterError` value when the router answered itself.
    pub router_error: Option<&'static str>,
}

/// Where access-log records go (tracing today; RTR log lines for the app's log stream later).
pub trait AccessLogSink: Send + Sync + 'static {
    fn record(&self, record: &AccessLogRecord);
}

/// Writes each record as one tracing event on target `router::access`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAccessLog;

impl AccessLogSink for TracingAccessLog {
    fn record(&self, r: &AccessLogRecord) {
        tracing::info!(
            target: "router::access",
            host = %r.host,
            method = %r.method,
            path = %r.path,
            status = r.status,
            bytes = r.bytes_sent,
            response_time = r.response_time.as_secs_f64(),
            remote_addr = %r.remote_addr,
            endpoint = r.endpoint.as_deref().unwrap_or("-"),
            x_vcap_request_id = %r.request_id,
            app_index = r.app_index.map_or_else(|| "-".to_owned(), |i| i.to_string()),
            router_error = r.router_error.unwrap_or("-"),
            "{} - [{}] \"{} {}\" {} {}",
            r.host,
            r.request_id,
            r.method,
            r.path,
            r.status,
            r.bytes_sent,
        );
    }
}
