//! Where the cell's log lines go: app output, health and progress messages. The logging
//! crate will provide the real sink; here are an in-memory one (tests) and a tracing one.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ingot_core::Clock;
use serde::{Deserialize, Serialize};

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

/// Whose lines a step writes: the sink, the clock, and the stamp.
#[derive(Clone)]
pub struct LogTarget {
    pub sink: Arc<dyn LogSink>,
    pub clock: Arc<dyn Clock>,
    pub source_id: String,
    pub source_type: String,
    pub instance_id: String,
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

    pub fn emit(&self, stream: LogStream, message: impl Into<String>) {
        self.sink.emit(LogLine {
            source_id: self.source_id.clone(),
            source_type: self.source_type.clone(),
            instance_id: self.instance_id.clone(),
            stream,
            message: message.into(),
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
