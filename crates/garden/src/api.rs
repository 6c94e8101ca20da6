//! The Garden API: `Garden` (the client), `Container` and `Process`.
//!
//! Every backend (process, and later linux) and any remote client implement these traits, so
//! a caller cannot tell which one it talks to.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Error;
use crate::io::{ProcessIo, TarStream};
use crate::model::{Capacity, ContainerInfo, ContainerMetrics, ExitStatus, PortMapping, Signal};
use crate::spec::{ContainerSpec, ProcessSpec, Properties};

/// The per-handle answers of a bulk call: one result per handle asked for.
pub type BulkResults<T> = BTreeMap<String, Result<T, Error>>;

/// The Garden client: creates, finds and destroys containers.
#[async_trait]
pub trait Garden: Send + Sync {
    /// Checks that the backend is up.
    ///
    /// Errors: `ServiceUnavailable` when it is not (e.g. the depot is unusable).
    async fn ping(&self) -> Result<(), Error>;

    /// What the host can hold in total.
    ///
    /// Errors: `Io` when the host cannot be measured.
    async fn capacity(&self) -> Result<Capacity, Error>;

    /// Creates a container; a spec with an empty handle gets a generated one.
    ///
    /// Errors: `InvalidSpec` (every bad field), `AlreadyExists` (handle taken),
    /// `ServiceUnavailable` (container limit reached), `Io`.
    async fn create(&self, spec: ContainerSpec) -> Result<Arc<dyn Container>, Error>;

    /// Stops every process in the container (gracefully, within its grace time) and removes it.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn destroy(&self, handle: &str) -> Result<(), Error>;

    /// Every container whose properties include all of `filter` (an empty filter matches all).
    ///
    /// Errors: none in the process backend; remote clients may return `ServiceUnavailable`.
    async fn containers(&self, filter: &Properties) -> Result<Vec<Arc<dyn Container>>, Error>;

    /// The container with this handle.
    ///
    /// Errors: `ContainerNotFound`.
    async fn lookup(&self, handle: &str) -> Result<Arc<dyn Container>, Error>;

    /// Info for many containers at once; an unknown handle gets `ContainerNotFound` in its slot.
    ///
    /// Errors: only transport errors of remote clients fail the whole call.
    async fn bulk_info(&self, handles: &[String]) -> Result<BulkResults<ContainerInfo>, Error> {
        let mut results = BTreeMap::new();
        for handle in handles {
            let info = match self.lookup(handle).await {
                Ok(container) => container.info().await,
                Err(e) => Err(e),
            };
            results.insert(handle.clone(), info);
        }
        Ok(results)
    }

    /// Metrics for many containers at once; an unknown handle gets `ContainerNotFound` in its
    /// slot.
    ///
    /// Errors: only transport errors of remote clients fail the whole call.
    async fn bulk_metrics(
        &self,
        handles: &[String],
    ) -> Result<BulkResults<ContainerMetrics>, Error> {
        let mut results = BTreeMap::new();
        for handle in handles {
            let metrics = match self.lookup(handle).await {
                Ok(container) => container.metrics().await,
                Err(e) => Err(e),
            };
            results.insert(handle.clone(), metrics);
        }
        Ok(results)
    }
}

/// One container. Every method of a destroyed container returns `ContainerNotFound`.
#[async_trait]
pub trait Container: Send + Sync {
    fn handle(&self) -> &str;

    /// A snapshot of state, addresses, processes, properties and port mappings.
    ///
    /// Errors: `ContainerNotFound`.
    async fn info(&self) -> Result<ContainerInfo, Error>;

    /// Starts a process and connects its streams to `io`.
    ///
    /// Errors: `ContainerNotFound`, `InvalidSpec` (bad spec, or the id is in use),
    /// `ExecutableNotFound`, `Io`.
    async fn run(&self, spec: ProcessSpec, io: ProcessIo) -> Result<Arc<dyn Process>, Error>;

    /// Reconnects to a process started earlier (possibly before a backend restart).
    ///
    /// Errors: `ContainerNotFound`, `ProcessNotFound`.
    async fn attach(&self, process_id: &str, io: ProcessIo) -> Result<Arc<dyn Process>, Error>;

    /// Stops every process: SIGTERM to each process group, then SIGKILL to what is left after
    /// the grace time. `kill` skips straight to SIGKILL. Returns once they are gone.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn stop(&self, kill: bool) -> Result<(), Error>;

    /// Maps a host port to a container port; `0` for `host_port` picks a free one. Returns the
    /// mapping in effect, which a backend may adjust (see the backend's docs).
    ///
    /// Errors: `ContainerNotFound`, `Io` (no port free).
    async fn net_in(&self, host_port: u16, container_port: u16) -> Result<PortMapping, Error>;

    /// Unpacks a tar stream into the directory `path` inside the container, creating it.
    ///
    /// Errors: `ContainerNotFound`, `InvalidSpec` (bad path), `Io` (bad archive, disk).
    async fn stream_in(&self, path: &str, tar: TarStream) -> Result<(), Error>;

    /// A tar stream of the file or directory `path` inside the container. A path ending in
    /// `/` streams the directory's contents; otherwise the entry itself, under its own name.
    ///
    /// Errors: `ContainerNotFound`, `InvalidSpec` (bad path), `Io` (path missing).
    async fn stream_out(&self, path: &str) -> Result<TarStream, Error>;

    /// All properties.
    ///
    /// Errors: `ContainerNotFound`.
    async fn properties(&self) -> Result<Properties, Error>;

    /// One property, if set.
    ///
    /// Errors: `ContainerNotFound`.
    async fn property(&self, name: &str) -> Result<Option<String>, Error>;

    /// Sets (or replaces) one property.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn set_property(&self, name: &str, value: &str) -> Result<(), Error>;

    /// Removes one property; removing an unset one is not an error.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn remove_property(&self, name: &str) -> Result<(), Error>;

    /// Current resource usage.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn metrics(&self) -> Result<ContainerMetrics, Error>;

    /// Sets how long `stop(false)` waits between SIGTERM and SIGKILL.
    ///
    /// Errors: `ContainerNotFound`, `Io`.
    async fn set_grace_time(&self, grace_time: Duration) -> Result<(), Error>;
}

/// One process in a container.
#[async_trait]
pub trait Process: Send + Sync {
    fn id(&self) -> &str;

    /// Waits for the process to exit.
    ///
    /// Errors: `Unrecoverable` if the backend lost track of it.
    async fn wait(&self) -> Result<ExitStatus, Error>;

    /// Sends a signal to the process (its whole process group, where the backend has groups).
    /// Signalling a process that has exited is not an error.
    ///
    /// Errors: `Io`.
    async fn signal(&self, signal: Signal) -> Result<(), Error>;
}
