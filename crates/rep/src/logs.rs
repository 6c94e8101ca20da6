//! Where the cell's log lines go: app output, health and progress messages. The logging
//! crate will provide the real sink; here are an in-memory one (tests) and a tracing one.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ingot_core::Clock;
use ingot_core::metrics::Counter;
use serde::{Deserialize, Serialize};

use crate::log_rate_limit::{Admission, LogRateLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line, stamped with whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The log guid of the LRP or task.
    pub source_id: String,
    /// e.g. `APP/PROC/WEB`, `CELL`, `HEALTH`, `STG`.
    pub source_type: String,
    /// The instance index (LRPs) or empty (tasks).
    pub instance_id: String,
    pub stream: LogStream,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

pub trait LogSink: Send + Sync + 'static {
    fn emit(&self, line: LogLine);
}

/// Keeps every line; for tests and for looking at a cell from a debugger.
#[derive(Debug, Default)]
pub struct MemoryLogSink {
    lines: Mutex<Vec<LogLine>>,
}

impl MemoryLogSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().expect("log lock").clone()
    }

    /// Whether any line's message contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.lines
            .lock()
            .expect("log lock")
            .iter()
            .any(|l| l.message.contains(text))
    }
}

impl LogSink for MemoryLogSink {
    fn emit(&self, line: LogLine) {
        self.lines.lock().expect("log lock").push(line);
    }
}

/// Writes each line as a tracing event at INFO.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingLogSink;

impl LogSink for TracingLogSink {
    fn emit(&self, line: LogLine) {
        tracing::info!(
            source_id = %line.source_id,
            source_type = %line.source_type,
            instance_id = %line.instance_id,
            stream = ?line.stream,
            "{}",
            line.message
        );
    }
}

/// Whose lines a step writes: the sink, the clock, the stamp, and the instance's log rate
/// limit (shared by every clone, whatever its source type).
#[derive(Clone)]
pub struct LogTarget {
    pub sink: Arc<dyn LogSink>,
    pub clock: Arc<dyn Clock>,
    pub source_id: String,
    pub source_type: String,
    pub instance_id: String,
    pub rate_limit: Option<RateLimit>,
}

/// An instance's log rate limit, and the cell-wide count of the lines it drops (for
/// operators: `ingot_rep_log_lines_rate_limited_total`).
#[derive(Debug, Clone)]
pub struct RateLimit {
    limiter: Arc<Mutex<LogRateLimiter>>,
    dropped: Counter,
}

impl RateLimit {
    pub fn new(bytes_per_second: u64, dropped: Counter) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            limiter: Arc::new(Mutex::new(LogRateLimiter::new(bytes_per_second, now))),
            dropped,
        }
    }
}

impl std::fmt::Debug for LogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogTarget")
            .field("source_id", &self.source_id)
            .field("source_type", &self.source_type)
            .finish()
    }
}

impl LogTarget {
    /// The same target with another source type (e.g. `HEALTH`).
    pub fn with_source_type(&self, source_type: &str) -> Self {
        Self {
            source_type: source_type.to_owned(),
            ..self.clone()
        }
    }

    /// Writes a line, unless the rate limit drops it (then maybe a notice instead).
    pub fn emit(&self, stream: LogStream, message: impl Into<String>) {
        let message = message.into();
        if let Some(limit) = &self.rate_limit {
            let admission = limit
                .limiter
                .lock()
                .expect("log rate limit lock")
                .admit(message.len(), tokio::time::Instant::now());
            match admission {
                Admission::Pass => {}
                Admission::Drop => {
                    limit.dropped.inc();
                    return;
                }
                Admission::DropWithNotice(notice) => {
                    limit.dropped.inc();
                    return self.write(LogStream::Stdout, notice);
                }
            }
        }
        self.write(stream, message);
    }

    fn write(&self, stream: LogStream, message: String) {
        self.sink.emit(LogLine {
            source_id: self.source_id.clone(),
            source_type: self.source_type.clone(),
            instance_id: self.instance_id.clone(),
            stream,
            message,
            timestamp: self.clock.now(),
        });
    }

    pub fn out(&self, message: impl Into<String>) {
        self.emit(LogStream::Stdout, message);
    }

    pub fn err(&self, message: impl Into<String>) {
        self.emit(LogStream::Stderr, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(sink: &Arc<MemoryLogSink>, instance: &str, limit: Option<u64>) -> LogTarget {
        LogTarget {
            sink: sink.clone(),
            clock: Arc::new(ingot_core::SystemClock),
            source_id: "app".into(),
            source_type: "APP/PROC/WEB".into(),
            instance_id: instance.into(),
            rate_limit: limit.map(|bytes| RateLimit::new(bytes, Counter::default())),
        }
    }

    #[test]
    fn an_instance_over_its_limit_loses_only_its_own_lines() {
        let sink = Arc::new(MemoryLogSink::new());
        let noisy = target(&sink, "0", Some(10));
        let quiet = target(&sink, "1", Some(10));
        // Clones (e.g. its HEALTH target) share the instance's limit.
        let noisy_health = noisy.with_source_type("HEALTH");
        noisy.out("0123456789");
        noisy_health.out("dropped");
        noisy.err("dropped too");
        quiet.out("0123456789");
        let lines: Vec<(String, String)> = sink
            .lines()
            .into_iter()
            .map(|l| (l.instance_id, l.message))
            .collect();
        let line = |i: &str, m: &str| (i.to_owned(), m.to_owned());
        assert_eq!(
            lines,
            [
                line("0", "0123456789"),
                line("0", "app instance exceeded log rate limit (10 bytes/sec)"),
                line("1", "0123456789"),
            ]
        );
    }
}
