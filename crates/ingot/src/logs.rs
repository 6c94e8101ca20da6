//! Where components' app logs and container metrics go: in `ingot up`, the one log-cache; a
//! component running alone writes logs to its own log and drops metrics until envelopes can
//! be forwarded to a remote log-cache.

use std::collections::BTreeMap;

use ingot_capi::{InstanceMetrics, Usage};
use ingot_logging::{Envelope, EnvelopeSink, LogCache, LogType};
use ingot_rep::{LogLine, LogSink, LogStream};

/// The cell's lines (app output, health, staging output) as log-cache envelopes.
pub struct CellLogs(pub LogCache);

impl LogSink for CellLogs {
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

/// Envelopes written to this process's own log.
pub struct TracingEnvelopes;

impl EnvelopeSink for TracingEnvelopes {
    fn ingest(&self, envelope: Envelope) {
        tracing::info!(source_id = %envelope.source_id, "{envelope:?}");
    }
}

/// The container metrics of a cell running alone (`ingot cell`): dropped, since nothing
/// forwards envelopes to a remote log-cache yet.
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

/// Instances' usage for a Cloud Controller running alone (`ingot cc`): none, since it has no
/// log-cache to read yet; its process stats show zero usage.
pub struct NoInstanceMetrics;

#[async_trait::async_trait]
impl InstanceMetrics for NoInstanceMetrics {
    async fn latest(&self, _app_guid: &str, _process_guid: &str) -> BTreeMap<u32, Usage> {
        BTreeMap::new()
    }
}
