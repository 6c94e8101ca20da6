//! Pure data: what is asked for (start requests), what a cell has (its state snapshot), what a
//! cell is asked to run (work) and how each auction ended (results). No behaviour lives here
//! beyond small constructors and accessors.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::PlacementError;

/// What one container needs. `max_pids` travels with the work but is a limit inside the
/// container, not something cells run out of, so placement never filters on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resource {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub max_pids: u32,
}

impl Resource {
    pub fn new(memory_mb: u64, disk_mb: u64) -> Self {
        Self {
            memory_mb,
            disk_mb,
            max_pids: 0,
        }
    }
}

/// What a cell has: memory, disk and container slots (either in total or still free).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub containers: u32,
}

impl Capacity {
    pub fn new(memory_mb: u64, disk_mb: u64, containers: u32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            containers,
        }
    }

    /// Takes `resource`'s memory and disk and one container slot. The caller has checked
    /// that it fits (`scoring::fit`).
    pub fn take(&mut self, resource: &Resource) {
        self.memory_mb -= resource.memory_mb;
        self.disk_mb -= resource.disk_mb;
        self.containers -= 1;
    }
}

/// Where work may run. `root_fs` is a URL: `preloaded:<stack>` for a stack the cell ships
/// with, or `<scheme>://...` (e.g. `docker://...`) for an image the cell can fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacementConstraint {
    pub root_fs: String,
    pub placement_tags: Vec<String>,
    pub volume_drivers: Vec<String>,
}

impl PlacementConstraint {
    pub fn new(root_fs: impl Into<String>) -> Self {
        Self {
            root_fs: root_fs.into(),
            ..Self::default()
        }
    }
}

/// Start some instances (by index) of one LRP process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LrpStartRequest {
    pub process_guid: String,
    pub domain: String,
    pub indices: Vec<u32>,
    pub resource: Resource,
    pub constraint: PlacementConstraint,
}

/// Start one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStartRequest {
    pub task_guid: String,
    pub domain: String,
    pub resource: Resource,
    pub constraint: PlacementConstraint,
}

/// One LRP instance: the unit the auction places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lrp {
    pub process_guid: String,
    pub index: u32,
    pub domain: String,
    pub resource: Resource,
    pub constraint: PlacementConstraint,
}

/// An LRP instance a cell already runs (or has reserved), as far as the auction cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LrpInstance {
    pub process_guid: String,
    pub index: u32,
}

/// A cell's snapshot as its rep reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellState {
    pub cell_id: String,
    pub zone: String,
    /// Opaque to the auction; whoever builds the cell clients knows what it means.
    pub rep_address: String,
    /// Preloaded stacks, matched by `preloaded:<stack>` rootfs URLs.
    pub stacks: Vec<String>,
    /// Image schemes the cell can fetch, matched by `<scheme>://...` rootfs URLs.
    pub rootfs_schemes: Vec<String>,
    /// Work must carry every one of these tags to land here.
    pub placement_tags: Vec<String>,
    /// Work may carry these tags, but need not.
    pub optional_placement_tags: Vec<String>,
    pub volume_drivers: Vec<String>,
    pub total: Capacity,
    pub available: Capacity,
    pub lrps: Vec<LrpInstance>,
    pub tasks: Vec<String>,
    pub starting_container_count: u32,
    pub evacuating: bool,
}

impl CellState {
    /// An empty cell with `cflinuxfs4` preloaded, docker images allowed, and all capacity free.
    pub fn new(cell_id: impl Into<String>, zone: impl Into<String>, total: Capacity) -> Self {
        Self {
            cell_id: cell_id.into(),
            zone: zone.into(),
            rep_address: String::new(),
            stacks: vec!["cflinuxfs4".to_owned()],
            rootfs_schemes: vec!["docker".to_owned()],
            placement_tags: Vec::new(),
            optional_placement_tags: Vec::new(),
            volume_drivers: Vec::new(),
            total,
            available: total,
            lrps: Vec::new(),
            tasks: Vec::new(),
            starting_container_count: 0,
            evacuating: false,
        }
    }

    /// Number of instances of `process_guid` already on this cell.
    pub fn instances_of(&self, process_guid: &str) -> usize {
        self.lrps
            .iter()
            .filter(|l| l.process_guid == process_guid)
            .count()
    }
}

/// What the auction asks one cell to start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Work {
    pub lrps: Vec<Lrp>,
    pub tasks: Vec<TaskStartRequest>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.lrps.is_empty() && self.tasks.is_empty()
    }
}

/// Bookkeeping every auction carries from queueing to its result.
#[derive(Debug, Clone, PartialEq)]
pub struct AuctionRecord {
    /// The winning cell, once placed.
    pub winner: Option<String>,
    /// Rounds this work has taken part in.
    pub attempts: u32,
    pub queue_time: Instant,
    /// From queueing to the round that placed it.
    pub wait_duration: Duration,
    pub placement_error: Option<PlacementError>,
}

impl AuctionRecord {
    pub fn new(queue_time: Instant) -> Self {
        Self {
            winner: None,
            attempts: 0,
            queue_time,
            wait_duration: Duration::ZERO,
            placement_error: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LrpAuction {
    pub lrp: Lrp,
    pub record: AuctionRecord,
}

impl LrpAuction {
    pub fn new(lrp: Lrp, queue_time: Instant) -> Self {
        Self {
            lrp,
            record: AuctionRecord::new(queue_time),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskAuction {
    pub task: TaskStartRequest,
    pub record: AuctionRecord,
}

impl TaskAuction {
    pub fn new(task: TaskStartRequest, queue_time: Instant) -> Self {
        Self {
            task,
            record: AuctionRecord::new(queue_time),
        }
    }
}

/// How a round ended, per piece of work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuctionResults {
    pub successful_lrps: Vec<LrpAuction>,
    pub successful_tasks: Vec<TaskAuction>,
    pub failed_lrps: Vec<LrpAuction>,
    pub failed_tasks: Vec<TaskAuction>,
}
