//! Syslog drains: an app's log lines forwarded as RFC 5424 messages, octet-counted (RFC 6587),
//! over TCP (`syslog://`) or TLS (`syslog-tls://`), as Loggregator's syslog agent does.
//!
//! Each [`SyslogDrain`] owns a bounded buffer and a background task that connects, writes and
//! reconnects with capped exponential back-off; producers never wait for the network. A
//! [`DrainRouter`] holds the drains of each source (app guid) and is an
//! [`EnvelopeSink`](crate::EnvelopeSink). Which app drains where is configuration given by the
//! wiring (later: service bindings); this module knows only source ids and URLs.

mod drain;
mod rfc5424;
mod router;
mod target;
mod tls;

pub use drain::{DrainConfig, DrainStats, SyslogDrain};
pub use rfc5424::{octet_counted, to_rfc5424};
pub use router::DrainRouter;

/// Why a drain cannot be configured. Delivery failures are not errors: the drain retries them
/// and counts what it has to drop.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("invalid syslog drain URL {url:?}: {why}")]
    InvalidUrl { url: String, why: String },
    #[error(
        "syslog drain scheme {0:?} is not supported: use syslog:// (TCP) or syslog-tls:// (TLS); \
         HTTPS drains are not supported yet"
    )]
    UnsupportedScheme(String),
    #[error("invalid CA certificate for syslog drains: {0}")]
    Certificate(String),
}
