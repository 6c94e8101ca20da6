//! Plumbing shared by every Ingot component: an injectable clock and id generator, retry
//! back-off, database connections (SQLite for the embedded default, PostgreSQL for distributed
//! mode), and serving an axum router on a pre-bound listener until shutdown.
//!
//! It knows no Cloud Foundry concept; every domain crate may depend on it.
#![forbid(unsafe_code)]

mod backoff;
mod clock;
mod database;
mod ids;
mod serve;

pub use backoff::Backoff;
pub use clock::{Clock, FixedClock, SystemClock};
pub use database::{Database, DatabaseError, DatabaseUrl};
pub use ids::{IdGen, SequentialIds, UuidIds};
pub use serve::serve;
pub use tokio_util::sync::CancellationToken as Shutdown;
