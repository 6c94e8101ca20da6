//! Garden: the container API at the bottom of Diego's abstraction gradient.
//!
//! What it knows: containers (a handle, a spec, properties, port mappings, limits, a grace
//! time) and the processes running in them (a spec, standard streams, an exit status,
//! signals). [`Garden`], [`Container`] and [`Process`] are the API; every backend and any
//! remote client implement them, so callers cannot tell one from another.
//!
//! What it must NOT know: LRPs, tasks, apps, droplets, buildpacks, the BBS, the rep or the
//! executor. Anything that needs those lives above it (`rep -> garden`).
//!
//! Backends: [`linux`] (real containers through an OCI runtime: overlay root file systems,
//! cgroups, namespaces, a bridge network with outbound rules) and [`process`] (no isolation;
//! plain process groups in a depot directory, for machines that cannot run containers). With the `test-util` feature,
//! `testing::FakeGarden` is an in-memory implementation for other crates' unit tests.
//!
//! Vocabulary note: a container's *grace time* here is how long a graceful stop waits between
//! SIGTERM and SIGKILL (10 s by default, as in Cloud Foundry). Upstream Garden also uses the
//! term for its idle-container reaper, which this crate does not have.

#![deny(unsafe_code)]

mod api;
mod error;
mod io;
pub mod linux;
mod model;
pub mod process;
mod registry;
mod spec;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use api::{BulkResults, Container, Garden, Process};
pub use error::{Error, FieldError};
pub use io::{ByteStream, CapturedOutput, OutputChunk, ProcessIo, TarStream, collect};
pub use linux::{Config as LinuxConfig, LinuxGarden};
pub use model::{
    Capacity, ContainerInfo, ContainerMetrics, ContainerState, DISK_QUOTA_EXCEEDED, ExitStatus,
    OUT_OF_MEMORY, PortMapping, Signal,
};
pub use process::depot::disk_usage;
pub use process::{Config as ProcessConfig, ProcessGarden};
pub use spec::{
    BindMount, BindMountMode, ContainerSpec, DEFAULT_GRACE_TIME, IcmpControl, IpRange, Limits,
    NetOutRule, NetProtocol, PortRange, ProcessLimits, ProcessSpec, Properties, is_valid_handle,
};
