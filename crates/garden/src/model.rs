//! What Garden reports back: container info, metrics, capacity, exit status, signals.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::Properties;

/// A container's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Created and usable; processes may or may not be running.
    Active,
    /// Stopped by `stop`, or found with no live process after a backend restart.
    Stopped,
}

/// A net-in port mapping: traffic to `host_port` on the host reaches `container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
}

/// A snapshot of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub state: ContainerState,
    /// The address the host reaches the container on.
    pub host_ip: String,
    /// The container's own address.
    pub container_ip: String,
    /// Where the container lives on the host (backend specific).
    pub container_path: String,
    /// Ids of the processes Garden knows in this container, running or not.
    pub process_ids: Vec<String>,
    pub properties: Properties,
    pub mapped_ports: Vec<PortMapping>,
    /// Things that happened to the container that explain how its processes ended, e.g.
    /// [`OUT_OF_MEMORY`] (Garden's container events).
    #[serde(default)]
    pub events: Vec<String>,
}

/// The event of a container whose processes were killed for exceeding its memory limit.
pub const OUT_OF_MEMORY: &str = "out of memory";
/// The event of a container whose processes were killed for exceeding its disk limit.
pub const DISK_QUOTA_EXCEEDED: &str = "disk quota exceeded";

/// A container's resource usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMetrics {
    pub memory_bytes: u64,
    /// Cumulative CPU time, in nanoseconds; never decreases.
    pub cpu_ns: u64,
    pub disk_bytes: u64,
    /// Time since the container was created.
    pub age: Duration,
}

/// What the Garden host can hold in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    pub max_containers: u64,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum ExitStatus {
    /// The exit code; a process killed by signal `n` reports `128 + n`, as a shell does.
    Exited(i32),
    /// The process ended while no one was watching (e.g. across a backend restart).
    Unknown,
}

impl ExitStatus {
    pub fn code(self) -> Option<i32> {
        match self {
            Self::Exited(code) => Some(code),
            Self::Unknown => None,
        }
    }
}

/// Signals a caller may send to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// SIGTERM: please stop.
    Terminate,
    /// SIGKILL: stop now.
    Kill,
}
