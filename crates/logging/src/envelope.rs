//! The Loggregator v2 envelope, in the protobuf-JSON form log-cache serves and the cf CLI
//! decodes strictly: proto field names in snake_case, no field the proto lacks, 64-bit integers
//! as strings, `bytes` as base64. Empty top-level fields (`instance_id`, `tags`) are left out as
//! protobuf-JSON does; `deprecated_tags` is never written. Inside the message every field is
//! written, as log-cache does (it marshals with unpopulated fields on), so `log.type` is always
//! there.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::{base64_bytes, int_string};

/// The largest log payload one envelope carries; longer lines are split, as Diego's executor
/// does (it uses the same 60 KiB limit).
pub const MAX_LOG_PAYLOAD: usize = 60 * 1024;

/// One Loggregator v2 envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Nanoseconds since the Unix epoch.
    #[serde(with = "int_string")]
    pub timestamp: i64,
    /// The app guid for app logs and metrics, or a component name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_id: String,
    /// The instance index (apps) or instance id (components).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    /// `source_type` (`APP/PROC/WEB`, `STG`, `API`, `CELL`, `RTR`…) and any other tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(flatten)]
    pub message: Message,
}

/// The envelope's one message (the proto's `oneof`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Message {
    Log(Log),
    Counter(Counter),
    Gauge(Gauge),
    Timer(Timer),
    Event(Event),
}

/// A line of output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    #[serde(rename = "type", default)]
    pub log_type: LogType,
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogType {
    #[default]
    Out,
    Err,
}

/// A monotonically increasing count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    #[serde(default)]
    pub name: String,
    #[serde(default, with = "int_string")]
    pub delta: u64,
    #[serde(default, with = "int_string")]
    pub total: u64,
}

/// Point-in-time values, keyed by metric name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Gauge {
    #[serde(default)]
    pub metrics: BTreeMap<String, GaugeValue>,
}

/// One gauge value and its unit (`bytes`, `percentage`…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaugeValue {
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub value: f64,
}

/// A duration, as start and stop in nanoseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    #[serde(default)]
    pub name: String,
    #[serde(default, with = "int_string")]
    pub start: i64,
    #[serde(default, with = "int_string")]
    pub stop: i64,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
}

/// The envelope kinds a read can filter on (log-cache's `envelope_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvelopeType {
    Log,
    Counter,
    Gauge,
    Timer,
    Event,
}

/// One app instance's container usage, as the rep reports it every few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ContainerMetrics {
    /// CPU use in percent of one core (can exceed 100 on several cores).
    pub cpu_percentage: f64,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    pub memory_quota_bytes: u64,
    pub disk_quota_bytes: u64,
}

// ---- impl Envelope ----

impl Envelope {
    /// A log line with `tags.source_type` set. The payload should be at most
    /// [`MAX_LOG_PAYLOAD`] bytes; use [`Envelope::log_chunks`] for lines of unknown length.
    pub fn log(
        source_id: impl Into<String>,
        instance_id: impl Into<String>,
        source_type: impl Into<String>,
        log_type: LogType,
        message: impl Into<Vec<u8>>,
        timestamp: i64,
    ) -> Self {
        let message = Message::Log(Log {
            payload: message.into(),
            log_type,
        });
        let mut envelope = Self::new(source_id, instance_id, message, timestamp);
        envelope
            .tags
            .insert("source_type".to_owned(), source_type.into());
        envelope
    }

    fn new(
        source_id: impl Into<String>,
        instance_id: impl Into<String>,
        message: Message,
        timestamp: i64,
    ) -> Self {
        Self {
            timestamp,
            source_id: source_id.into(),
            instance_id: instance_id.into(),
            tags: BTreeMap::new(),
            message,
        }
    }

    /// A line of any length as one envelope per [`MAX_LOG_PAYLOAD`] bytes. Cuts fall on UTF-8
    /// character boundaries when the line is UTF-8. The pieces get consecutive timestamps so
    /// they sort, and are read back, in order.
    pub fn log_chunks(
        source_id: &str,
        instance_id: &str,
        source_type: &str,
        log_type: LogType,
        message: &[u8],
        timestamp: i64,
    ) -> Vec<Self> {
        split_payload(message)
            .into_iter()
            .zip(0..)
            .map(|(chunk, i)| {
                let at = timestamp.saturating_add(i);
                Self::log(source_id, instance_id, source_type, log_type, chunk, at)
            })
            .collect()
    }

    /// A counter, as components emit them.
    pub fn counter(
        source_id: impl Into<String>,
        instance_id: impl Into<String>,
        name: impl Into<String>,
        delta: u64,
        total: u64,
        timestamp: i64,
    ) -> Self {
        let message = Message::Counter(Counter {
            name: name.into(),
            delta,
            total,
        });
        Self::new(source_id, instance_id, message, timestamp)
    }

    /// A gauge with the given metrics.
    pub fn gauge(
        source_id: impl Into<String>,
        instance_id: impl Into<String>,
        metrics: BTreeMap<String, GaugeValue>,
        timestamp: i64,
    ) -> Self {
        Self::new(
            source_id,
            instance_id,
            Message::Gauge(Gauge { metrics }),
            timestamp,
        )
    }

    /// The container-metrics gauge the rep emits for an app instance: `cpu` (percentage) and
    /// `memory`, `disk`, `memory_quota`, `disk_quota` (bytes). The Cloud Controller reads these
    /// back for process stats.
    pub fn container_metrics(
        app_guid: impl Into<String>,
        instance_index: u32,
        usage: &ContainerMetrics,
        timestamp: i64,
    ) -> Self {
        let value = |unit: &str, value: f64| GaugeValue {
            unit: unit.to_owned(),
            value,
        };
        // Byte counts are far below 2^53, so the proto's double holds them exactly.
        let metrics = BTreeMap::from([
            ("cpu".to_owned(), value("percentage", usage.cpu_percentage)),
            (
                "memory".to_owned(),
                value("bytes", usage.memory_bytes as f64),
            ),
            ("disk".to_owned(), value("bytes", usage.disk_bytes as f64)),
            (
                "memory_quota".to_owned(),
                value("bytes", usage.memory_quota_bytes as f64),
            ),
            (
                "disk_quota".to_owned(),
                value("bytes", usage.disk_quota_bytes as f64),
            ),
        ]);
        Self::gauge(app_guid, instance_index.to_string(), metrics, timestamp)
    }

    /// The kind of message this envelope carries.
    pub fn envelope_type(&self) -> EnvelopeType {
        self.message.envelope_type()
    }
}

impl Message {
    pub fn envelope_type(&self) -> EnvelopeType {
        match self {
            Self::Log(_) => EnvelopeType::Log,
            Self::Counter(_) => EnvelopeType::Counter,
            Self::Gauge(_) => EnvelopeType::Gauge,
            Self::Timer(_) => EnvelopeType::Timer,
            Self::Event(_) => EnvelopeType::Event,
        }
    }
}

/// Splits a payload into pieces of at most [`MAX_LOG_PAYLOAD`] bytes, never inside a UTF-8
/// character unless the bytes are not UTF-8 there. An empty payload is one empty piece.
fn split_payload(message: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(message.len() / MAX_LOG_PAYLOAD + 1);
    let mut rest = message;
    while rest.len() > MAX_LOG_PAYLOAD {
        let mut cut = MAX_LOG_PAYLOAD;
        // A UTF-8 character is at most 4 bytes, so look back at most 3 continuation bytes.
        while cut > MAX_LOG_PAYLOAD - 3 && is_continuation(rest[cut]) {
            cut -= 1;
        }
        if is_continuation(rest[cut]) {
            cut = MAX_LOG_PAYLOAD;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

// ---- impl LogType ----

impl LogType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Out => "OUT",
            Self::Err => "ERR",
        }
    }
}

impl Serialize for LogType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Protobuf-JSON enums may arrive as their name or their number.
impl<'de> Deserialize<'de> for LogType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LogTypeVisitor;
        impl Visitor<'_> for LogTypeVisitor {
            type Value = LogType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"OUT\", \"ERR\", 0 or 1")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LogType, E> {
                match v {
                    "OUT" => Ok(LogType::Out),
                    "ERR" => Ok(LogType::Err),
                    _ => Err(E::unknown_variant(v, &["OUT", "ERR"])),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LogType, E> {
                match v {
                    0 => Ok(LogType::Out),
                    1 => Ok(LogType::Err),
                    _ => Err(E::custom(format!("unknown log type {v}"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LogType, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("unknown log type {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(LogTypeVisitor)
    }
}

// ---- impl EnvelopeType ----

impl EnvelopeType {
    /// The name log-cache's `envelope_types` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "LOG",
            Self::Counter => "COUNTER",
            Self::Gauge => "GAUGE",
            Self::Timer => "TIMER",
            Self::Event => "EVENT",
        }
    }
}

#[cfg(test)]
mod tests;
