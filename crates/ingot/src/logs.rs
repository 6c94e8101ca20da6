//! Where components' app logs and container metrics go: in `ingot up` (and `ingot cc`), the
//! one log-cache and an app's syslog drains; from a cell or router running alone, a forwarder
//! to that log-cache, or, without one, the component's own log.

use std::collections::BTreeMap;

use anyhow::Context;
use ingot_logging::{
    DrainConfig, DrainRouter, Envelope, EnvelopeForwarder, EnvelopeSink, LogCache, LogType,
};
use ingot_rep::{LogLine, LogSink, LogStream};
use ingot_router::{AccessLogRecord, AccessLogSink, TracingAccessLog};

use crate::config::SyslogDrainSettings;

/// App log lines in `ingot up`: into log-cache, and out to the app's syslog drains.
#[derive(Clone)]
pub struct AppLogs {
    cache: LogCache,
    drains: DrainRouter,
}

impl AppLogs {
    /// Starts the configured drains; fails on a drain URL that cannot be used.
    pub fn new(cache: LogCache, drains: &[SyslogDrainSettings]) -> anyhow::Result<Self> {
        let router = DrainRouter::new(DrainConfig::default())?;
        let mut apps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for drain in drains {
            apps.entry(&drain.app_guid).or_default().push(&drain.url);
        }
        for (app_guid, urls) in apps {
            router
                .set_drains(app_guid, urls)
                .with_context(|| format!("syslog drain of app {app_guid}"))?;
        }
        Ok(Self {
            cache,
            drains: router,
        })
    }

    /// Registers the syslog drains' metrics (`ingot_syslog_drain_*`).
    pub fn register_metrics(&self, metrics: &ingot_core::Metrics) {
        self.drains.register_metrics(metrics);
    }
}

impl EnvelopeSink for AppLogs {
    fn ingest(&self, envelope: Envelope) {
        self.drains.forward(&envelope);
        self.cache.ingest(envelope);
    }
}

/// The cell's lines (app output, health, staging output) as envelopes.
pub struct CellLogs<S>(pub S);

impl<S: EnvelopeSink> LogSink for CellLogs<S> {
    fn emit(&self, line: LogLine) {
        let log_type = match line.stream {
            LogStream::Stdout => LogType::Out,
            LogStream::Stderr => LogType::Err,
        };
        let at = line.timestamp.timestamp_nanos_opt().unwrap_or_default();
        // Tasks (staging included) have no instance index; CF shows them as instance 0.
        let instance_id = match line.instance_id.as_str() {
            "" => "0",
            id => id,
        };
        for envelope in Envelope::log_chunks(
            &line.source_id,
            instance_id,
            &line.source_type,
            log_type,
            line.message.as_bytes(),
            at,
        ) {
            self.0.ingest(envelope);
        }
    }
}

/// The router's access log: each request that reached an app also becomes an `RTR` line in
/// that app's logs (instance id: the index of the instance that answered), as gorouter sends
/// it to Loggregator.
pub struct RouterLogs<S>(pub S);

impl<S: EnvelopeSink> AccessLogSink for RouterLogs<S> {
    fn record(&self, record: &AccessLogRecord) {
        let (Some(app_id), Some(index)) = (&record.app_id, record.app_index) else {
            TracingAccessLog.record(record);
            return;
        };
        // Formatted once, for this process's log and the app's.
        let line = record.to_string();
        TracingAccessLog::write_line(&line);
        // Stamped when the response ended, so it follows what the app logged meanwhile.
        let ended = record.started_at + record.response_time;
        for envelope in Envelope::log_chunks(
            app_id,
            &index.to_string(),
            "RTR",
            LogType::Out,
            line.as_bytes(),
            ended.timestamp_nanos_opt().unwrap_or_default(),
        ) {
            self.0.ingest(envelope);
        }
    }
}

/// The container metrics of a cell running alone with no `--log-cache-url`: dropped, since
/// no log-cache will hold them.
pub struct DroppedMetrics;

impl EnvelopeSink for DroppedMetrics {
    fn ingest(&self, envelope: Envelope) {
        tracing::debug!(
            source_id = %envelope.source_id,
            instance_id = %envelope.instance_id,
            "container metrics dropped: no log-cache in this process"
        );
    }
}

/// Registers a forwarder's counters (`ingot_log_forwarder_*`).
pub fn register_forwarder_metrics(forwarder: &EnvelopeForwarder, metrics: &ingot_core::Metrics) {
    let forwarder = forwarder.clone();
    metrics.register_scraped("log_forwarder", move |scrape| {
        let stats = forwarder.stats();
        scrape.counter(
            "envelopes_sent",
            "Envelopes sent to the remote log-cache",
            stats.sent,
        )?;
        scrape.counter(
            "envelopes_dropped",
            "Envelopes dropped: queue full while log-cache was away, or refused by it",
            stats.dropped,
        )
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ingot_core::SystemClock;
    use ingot_logging::{LogCacheConfig, ReadQuery};
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn app_lines_reach_log_cache_and_the_apps_syslog_drain() {
        let receiver = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cache = LogCache::new(LogCacheConfig::default(), Arc::new(SystemClock));
        let drains = [SyslogDrainSettings {
            app_guid: "app-1".into(),
            url: format!("syslog://{}", receiver.local_addr().unwrap()),
        }];
        let logs = CellLogs(AppLogs::new(cache.clone(), &drains).unwrap());
        logs.emit(LogLine {
            source_id: "app-1".into(),
            source_type: "APP/PROC/WEB".into(),
            instance_id: "0".into(),
            stream: LogStream::Stderr,
            message: "hello".into(),
            timestamp: Default::default(),
        });

        assert_eq!(cache.read("app-1", &ReadQuery::default()).len(), 1);
        let received = tokio::time::timeout(Duration::from_secs(10), async {
            let (connection, _) = receiver.accept().await.unwrap();
            let mut line = String::new();
            BufReader::new(connection)
                .read_line(&mut line)
                .await
                .unwrap();
            line
        })
        .await
        .unwrap();
        assert!(
            received.contains(" <11>1 1970-01-01T00:00:00+00:00 app-1 app-1 [APP/PROC/WEB/0] "),
            "{received}"
        );
        assert!(received.ends_with("] hello\n"), "{received}");

        let bad = [SyslogDrainSettings {
            app_guid: "app-1".into(),
            url: "https://logs.example/drain".into(),
        }];
        let err = AppLogs::new(cache, &bad).err().unwrap();
        assert!(format!("{err:#}").contains("app-1"), "{err:#}");
    }
}
