//! Where components' app logs go: in `ingot up`, the one log-cache; a component running
//! alone writes them to its own log until logs can be forwarded.

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
        for envelope in Envelope::log_chunks(
            &line.source_id,
            &line.instance_id,
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
