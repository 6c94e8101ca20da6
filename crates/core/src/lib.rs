//! Plumbing shared by every Ingot component: an injectable clock and id generator, retry
//! back-off, database connections (SQLite for the embedded default, PostgreSQL for distributed
//! mode), serving an axum router on a pre-bound listener until shutdown, and Prometheus metrics
//! (the process's registry, the HTTP layer every router shares, `/metrics`).
//!
//! It knows no Cloud Foundry concept; every domain crate may depend on it.
#![forbid(unsafe_code)]

mod backoff;
mod clock;
mod database;
mod ids;
pub mod metrics;
mod serve;
#[cfg(feature = "test-util")]
pub mod testing;

pub use backoff::Backoff;
pub use clock::{Clock, FixedClock, SystemClock};
pub use database::{Database, DatabaseError, DatabaseUrl};
pub use ids::{IdGen, SequentialIds, UuidIds};
pub use metrics::Metrics;
pub use serve::serve;
pub use tokio_util::sync::CancellationToken as Shutdown;
