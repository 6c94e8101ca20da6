//! The BBS's configuration: one plain struct, Diego's defaults.

use std::time::Duration;

use ingot_auction::RunnerConfig;
use ingot_core::DatabaseUrl;

use crate::models::RestartCalculator;

/// How the BBS runs. `BbsConfig::new(database)` gives Diego's defaults.
#[derive(Debug, Clone)]
pub struct BbsConfig {
    /// Where the BBS keeps its state. Only SQLite is supported for now.
    pub database: DatabaseUrl,
    /// How often the converger runs (Diego: 30 s). It also runs when a cell's presence expires.
    pub convergence_interval: Duration,
    /// An UNCLAIMED ActualLRP this old lost its auction and is auctioned again (Diego: 30 s).
    pub stale_unclaimed_actual_lrp: Duration,
    /// A PENDING task this long without change is auctioned again, and a COMPLETED task whose
    /// callback has not resolved it is called back again (Diego: 30 s).
    pub kick_task: Duration,
    /// A PENDING task this old fails (Diego: 30 min).
    pub expire_pending_task: Duration,
    /// A COMPLETED or RESOLVING task this old is deleted (Diego: 120 s).
    pub expire_completed_task: Duration,
    /// Crash restart policy.
    pub restart: RestartCalculator,
    /// Events a subscriber may fall behind by before it is dropped.
    pub event_buffer: usize,
    /// Tuning for the auction runner.
    pub auction: RunnerConfig,
    /// Attempts at POSTing a completed task to its callback URL.
    pub callback_attempts: u32,
    /// How long each callback request may take.
    pub callback_timeout: Duration,
}

impl BbsConfig {
    pub fn new(database: DatabaseUrl) -> Self {
        Self {
            database,
            convergence_interval: Duration::from_secs(30),
            stale_unclaimed_actual_lrp: Duration::from_secs(30),
            kick_task: Duration::from_secs(30),
            expire_pending_task: Duration::from_secs(30 * 60),
            expire_completed_task: Duration::from_secs(120),
            restart: RestartCalculator::default(),
            event_buffer: 1024,
            auction: RunnerConfig::default(),
            callback_attempts: 3,
            callback_timeout: Duration::from_secs(10),
        }
    }
}
