//! The cell's configuration: one plain struct with Diego's defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use ingot_bbs::CellCapacity;

/// What a cell offers to the auction when its configuration names nothing else.
const DEFAULT_CAPACITY: CellCapacity = CellCapacity {
    memory_mb: 8 * 1024,
    disk_mb: 64 * 1024,
    containers: 250,
};

/// How the monitor step paces its health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// Between checks while the instance is starting (Diego: 2 s).
    pub starting_interval: Duration,
    /// Between checks once it is healthy (Diego: 30 s).
    pub healthy_interval: Duration,
    /// How long an instance may take to become healthy when its LRP names no start timeout
    /// (Cloud Foundry: 60 s).
    pub default_start_timeout: Duration,
    /// How long one port or http check may take when the check names no timeout (1 s).
    pub default_check_timeout: Duration,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            starting_interval: Duration::from_secs(2),
            healthy_interval: Duration::from_secs(30),
            default_start_timeout: Duration::from_secs(60),
            default_check_timeout: Duration::from_secs(1),
        }
    }
}

/// How one cell runs. `CellConfig::new(cell_id)` gives Diego's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    /// The cell's id; also the owner tag on its Garden containers.
    pub cell_id: String,
    pub zone: String,
    /// Preloaded stacks (`preloaded:<stack>` rootfs URLs), e.g. `cflinuxfs4`.
    pub stacks: Vec<String>,
    /// Image schemes the cell can run (e.g. `docker`); empty for the process backend.
    pub rootfs_schemes: Vec<String>,
    /// Work must carry every one of these tags to land here.
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    pub capacity: CellCapacity,
    /// The rep's HTTP address in distributed mode; empty for an in-process cell, which then
    /// announces `local://<cell_id>`.
    pub rep_url: String,
    /// The full sync of containers against the BBS (Diego: 30 s).
    pub sync_interval: Duration,
    /// How often the presence is renewed (Diego: 5 s).
    pub heartbeat_interval: Duration,
    /// How long a presence lives without renewal (Diego: 15 s).
    pub presence_ttl: Duration,
    /// How often the containers' usage is sampled and reported (Diego: 15 s).
    pub metrics_interval: Duration,
    /// SIGTERM to SIGKILL on a graceful stop (Cloud Foundry: 10 s).
    pub grace_time: Duration,
    /// How long a retired LRP instance keeps running after its record has left the BBS (so
    /// the route emitter has unregistered it) before its process gets SIGTERM: time for the
    /// routers to forget it and for the requests they already sent it to finish (2 s).
    pub drain_wait: Duration,
    pub health: HealthCheckConfig,
    /// The address the host reaches containers on (127.0.0.1 for the process backend).
    pub host_ip: String,
    /// Where downloads with a cache key are kept; `None` keeps them in a directory under the
    /// system's temporary directory named after the cell.
    pub download_cache_dir: Option<PathBuf>,
    /// A host directory holding the lifecycle (the `ingot` binary), mounted read-only at
    /// [`LIFECYCLE_MOUNT`] in every container so staging and app start run the cell's own
    /// builder and launcher.
    pub lifecycle_dir: Option<PathBuf>,
}

/// Where containers find the lifecycle.
pub const LIFECYCLE_MOUNT: &str = "/tmp/lifecycle";

impl CellConfig {
    pub fn new(cell_id: impl Into<String>) -> Self {
        Self {
            cell_id: cell_id.into(),
            zone: "z1".into(),
            stacks: vec!["cflinuxfs4".into()],
            rootfs_schemes: Vec::new(),
            placement_tags: Vec::new(),
            optional_placement_tags: Vec::new(),
            capacity: DEFAULT_CAPACITY,
            rep_url: String::new(),
            sync_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            presence_ttl: Duration::from_secs(15),
            metrics_interval: Duration::from_secs(15),
            grace_time: Duration::from_secs(10),
            drain_wait: Duration::from_secs(2),
            health: HealthCheckConfig::default(),
            host_ip: "127.0.0.1".into(),
            download_cache_dir: None,
            lifecycle_dir: None,
        }
    }

    /// The address announced in the cell's presence.
    pub fn rep_address(&self) -> String {
        if self.rep_url.is_empty() {
            format!("local://{}", self.cell_id)
        } else {
            self.rep_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_diegos() {
        let config = CellConfig::new("cell-1");
        assert_eq!(config.sync_interval, Duration::from_secs(30));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(config.presence_ttl, Duration::from_secs(15));
        assert_eq!(config.metrics_interval, Duration::from_secs(15));
        assert_eq!(config.grace_time, Duration::from_secs(10));
        assert_eq!(config.drain_wait, Duration::from_secs(2));
        assert_eq!(config.health.starting_interval, Duration::from_secs(2));
        assert_eq!(config.health.healthy_interval, Duration::from_secs(30));
        assert_eq!(config.health.default_start_timeout, Duration::from_secs(60));
        assert_eq!(config.rep_address(), "local://cell-1");
    }
}
