//! log-cache's HTTP API: paths and bodies, declared once for the server and the client.
//! Bodies follow log-cache's gateway, which writes proto field names (snake_case) and 64-bit
//! integers as strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::json::int_string;
use crate::source::SourceMeta;

pub(crate) const INFO_PATH: &str = "/api/v1/info";
/// Followed by `/<source_id>`; a source id may itself contain slashes.
pub(crate) const READ_PATH: &str = "/api/v1/read";
pub(crate) const META_PATH: &str = "/api/v1/meta";
/// Where components on other machines send envelopes (POST, an [`EnvelopeBatch`]). Ingot's
/// own: log-cache takes envelopes over gRPC from Loggregator, which Ingot does not run.
pub(crate) const INGRESS_PATH: &str = "/internal/v1/envelopes";

/// The log-cache version Ingot reports. The cf CLI needs at least 2.0.0 to use `/api/v1`.
pub(crate) const VERSION: &str = "2.11.4";

/// `GET /api/v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub version: String,
    /// Seconds, as a string (log-cache writes it so).
    pub vm_uptime: String,
}

/// `GET /api/v1/read/<source_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReadResponse {
    pub(crate) envelopes: EnvelopeBatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnvelopeBatch {
    #[serde(default)]
    pub(crate) batch: Vec<Envelope>,
}

/// `GET /api/v1/meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MetaResponse {
    #[serde(default)]
    pub(crate) meta: BTreeMap<String, MetaInfo>,
}

/// One source in `meta`, with log-cache's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetaInfo {
    #[serde(with = "int_string")]
    count: u64,
    #[serde(with = "int_string")]
    expired: u64,
    #[serde(with = "int_string")]
    oldest_timestamp: i64,
    #[serde(with = "int_string")]
    newest_timestamp: i64,
}

impl From<SourceMeta> for MetaInfo {
    fn from(m: SourceMeta) -> Self {
        Self {
            count: m.count,
            expired: m.expired,
            oldest_timestamp: m.oldest_timestamp,
            newest_timestamp: m.newest_timestamp,
        }
    }
}

impl From<MetaInfo> for SourceMeta {
    fn from(m: MetaInfo) -> Self {
        Self {
            count: m.count,
            expired: m.expired,
            oldest_timestamp: m.oldest_timestamp,
            newest_timestamp: m.newest_timestamp,
        }
    }
}

/// An error body, shaped like log-cache's gateway errors (a gRPC status as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    /// The gRPC status code: 3 invalid argument, 5 not found, 16 unauthenticated.
    pub(crate) code: i32,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) details: Vec<serde_json::Value>,
}
