//! Logging: Loggregator v2 envelopes and log-cache, the bounded in-memory store of recent
//! envelopes per source with the HTTP read API the cf CLI uses for `cf logs` and for the
//! staging output `cf push` prints; and syslog drains, which forward a source's log lines to
//! RFC 5424 receivers over TCP or TLS.
//!
//! What it knows: envelopes (logs, counters, gauges, timers, events), source ids and instance
//! ids, log-cache's read semantics and wire format. What it must NOT know: apps, spaces, UAA
//! tokens or the Cloud Controller. Who may read a source is decided by a [`LogAccess`] the
//! wiring provides. Every component writes envelopes into a [`LogCache`], or, from another
//! process, into an [`EnvelopeForwarder`] that POSTs them to the log-cache's ingress
//! ([`ingress_router`]). Which source drains where is configuration the wiring passes to a
//! [`DrainRouter`].

#![forbid(unsafe_code)]

mod access;
mod api;
mod cache;
mod client;
mod envelope;
mod error;
mod forward;
mod http;
mod intern;
mod json;
mod query;
mod sink;
mod source;
mod syslog;

#[cfg(any(test, feature = "test-util"))]
pub use access::AllowAll;
pub use access::{AccessDenied, LogAccess};
pub use api::Info;
pub use cache::{LogCache, LogCacheConfig};
pub use client::{LogCacheClient, LogWalk, WalkOptions};
pub use envelope::{
    ContainerMetrics, Counter, Envelope, EnvelopeType, Event, Gauge, GaugeValue, Log, LogType,
    MAX_LOG_PAYLOAD, Message, Timer,
};
pub use error::Error;
pub use forward::{EnvelopeForwarder, ForwarderStats};
pub use http::{ingress_router, router};
pub use query::{DEFAULT_LIMIT, GO_ZERO_TIME_NS, MAX_LIMIT, QueryError, ReadQuery};
pub use sink::EnvelopeSink;
pub use source::SourceMeta;
pub use syslog::{
    DrainConfig, DrainError, DrainRouter, DrainStats, SyslogDrain, octet_counted, to_rfc5424,
};
