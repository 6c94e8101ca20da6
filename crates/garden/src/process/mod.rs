//! The process backend: containers without isolation, for machines that cannot run real
//! containers (a laptop, CI without root).
//!
//! A container is a directory in the depot (see [`depot`] for the layout) and its processes
//! are plain child processes, each the leader of its own process group, started in the
//! container's directory with `HOME` and `TMPDIR` inside it.
//!
//! What it enforces, and what it only records:
//! - bind mounts are emulated with symlinks at `rootfs/<dst>` pointing at `src`; the `ro`
//!   mode is NOT enforced.
//! - `limits.open_files` becomes RLIMIT_NOFILE. `limits.memory_bytes` becomes RLIMIT_AS only
//!   when [`Config::enforce_address_space`] is on; it is off by default because an address
//!   space limit counts reserved virtual memory, and runtimes that reserve large heaps or
//!   arenas up front (the JVM, Go, glibc malloc with many threads) fail under it. Disk, pids
//!   and CPU weight are recorded and reported but not enforced.
//! - the rootfs is recorded but not used: processes see the host's file system. An absolute
//!   executable path is looked up inside the container first, then on the host.
//! - `user` is ignored: processes run as the backend's user.
//! - net in: there is no network namespace, so the process listens on the HOST port. `net_in`
//!   returns `container_port == host_port` whatever container port was asked for, and the
//!   caller must tell the process to listen there (e.g. set `PORT` from the mapping).
//! - a process that starts a new session or process group escapes stop and destroy.
//!
//! Restart safety: processes write their output to files in the depot (not pipes), so they
//! survive the backend. On [`ProcessGarden::open`] every container directory is re-adopted:
//! processes recorded with pid and start time that are still running are tracked again (their
//! exit status is found by polling /proc and is `Unknown` unless the old backend recorded it),
//! and a container whose processes have all gone is reported as stopped.

mod archive;
pub(crate) mod child;
pub(crate) mod container;
pub(crate) mod depot;
pub(crate) mod group;
mod growth;
pub(crate) mod output;
mod ports;
pub(crate) mod procfs;
pub(crate) mod properties;
pub(crate) mod spawn;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::api::{Container, Garden};
use crate::error::Error;
use crate::model::{Capacity, ContainerState};
use crate::registry::Registry;
use crate::spec::{ContainerSpec, DEFAULT_GRACE_TIME, Properties};
use container::ContainerRecord;
use depot::{Layout, Meta};

/// Settings of the process backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The directory holding one subdirectory per container.
    pub depot: PathBuf,
    /// Creating more containers than this fails with `ServiceUnavailable`.
    #[serde(default = "default_max_containers")]
    pub max_containers: u64,
    /// Turn `limits.memory_bytes` into RLIMIT_AS. Off by default: it breaks many runtimes
    /// (see the module docs).
    #[serde(default)]
    pub enforce_address_space: bool,
}

fn default_max_containers() -> u64 {
    256
}

impl Config {
    pub fn new(depot: impl Into<PathBuf>) -> Self {
        Self {
            depot: depot.into(),
            max_containers: default_max_containers(),
            enforce_address_space: false,
        }
    }
}

/// The process backend. Cheap to clone; clones share the same containers.
#[derive(Clone)]
pub struct ProcessGarden {
    config: Arc<Config>,
    containers: Registry<ContainerRecord>,
}

impl ProcessGarden {
    /// Opens the depot (creating it if needed) and re-adopts the containers in it.
    ///
    /// Errors: `Io` when the depot cannot be created or read.
    pub async fn open(config: Config) -> Result<Self, Error> {
        tokio::fs::create_dir_all(&config.depot)
            .await
            .map_err(|e| Error::io(config.depot.display(), e))?;
        let config = Arc::new(config);
        let mut containers = BTreeMap::new();
        let mut entries = tokio::fs::read_dir(&config.depot)
            .await
            .map_err(|e| Error::io(config.depot.display(), e))?;
        while let Some(entry) = entries.next_entry().await? {
            let Some(handle) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            match readopt(&config, &handle).await {
                Ok(Some(record)) => {
                    containers.insert(handle, Arc::new(record));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(%handle, error = %e, "skipping container in depot"),
            }
        }
        Ok(Self {
            containers: Registry::new(containers, config.max_containers),
            config,
        })
    }

    /// Lays out the container's directory; the state file is written last, so a crash
    /// part-way leaves a directory `open` skips.
    async fn build(&self, handle: String, spec: ContainerSpec) -> Result<ContainerRecord, Error> {
        let layout = Layout::new(&self.config.depot, &handle);
        for dir in [layout.rootfs(), layout.tmp(), layout.processes()] {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| Error::io(dir.display(), e))?;
        }
        for mount in &spec.bind_mounts {
            let link = layout.host_path(&mount.dst)?;
            if let Some(parent) = link.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::symlink(&mount.src, &link)
                .await
                .map_err(|e| Error::io(format!("bind mount {}", mount.dst), e))?;
        }
        let mut mapped_ports = Vec::new();
        for _ in &spec.net_in {
            let port = ports::free_port()?;
            mapped_ports.push(crate::model::PortMapping {
                host_port: port,
                container_port: port,
            });
        }
        let meta = Meta {
            handle: handle.clone(),
            rootfs: spec.rootfs,
            env: spec.env,
            bind_mounts: spec.bind_mounts,
            limits: spec.limits,
            grace_time: spec.grace_time.unwrap_or(DEFAULT_GRACE_TIME),
            state: ContainerState::Active,
            mapped_ports,
            created_at_ms: container::now_ms(),
        };
        depot::write_json(&layout.properties_file(), &spec.properties).await?;
        depot::write_json(&layout.state_file(), &meta).await?;
        Ok(ContainerRecord::new(
            self.config.clone(),
            layout,
            meta,
            spec.properties,
            BTreeMap::new(),
        ))
    }
}

/// Loads one container directory left by an earlier backend; `None` if it is not one.
async fn readopt(config: &Arc<Config>, handle: &str) -> Result<Option<ContainerRecord>, Error> {
    let layout = Layout::new(&config.depot, handle);
    if !crate::spec::is_valid_handle(handle) || !tokio::fs::try_exists(layout.state_file()).await? {
        return Ok(None);
    }
    let mut meta: Meta = depot::read_json(&layout.state_file()).await?;
    let properties: Properties = depot::read_json(&layout.properties_file())
        .await
        .unwrap_or_default();
    let mut processes = BTreeMap::new();
    if let Ok(mut entries) = tokio::fs::read_dir(layout.processes()).await {
        while let Some(entry) = entries.next_entry().await? {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Some(process) = child::adopt(id.clone(), layout.process(&id)).await {
                processes.insert(id, process);
            }
        }
    }
    if !processes.is_empty() && !container::any_running(&processes) {
        meta.state = ContainerState::Stopped;
        depot::write_json(&layout.state_file(), &meta).await?;
    }
    Ok(Some(ContainerRecord::new(
        config.clone(),
        layout,
        meta,
        properties,
        processes,
    )))
}

/// The host's memory and the size of the file system holding `depot`.
pub(crate) async fn host_capacity(
    depot: &std::path::Path,
    max_containers: u64,
) -> Result<Capacity, Error> {
    let dir = depot.to_path_buf();
    let (memory, disk) = tokio::task::spawn_blocking(move || {
        let memory = procfs::mem_total_bytes();
        let disk = nix::sys::statvfs::statvfs(&dir).map(|s| s.blocks() * s.fragment_size());
        (memory, disk)
    })
    .await
    .map_err(|e| Error::io("measuring capacity", e))?;
    Ok(Capacity {
        memory_bytes: memory.ok_or_else(|| Error::Io {
            message: "cannot read /proc/meminfo".into(),
        })?,
        disk_bytes: disk.map_err(|e| Error::io(depot.display(), e))?,
        max_containers,
    })
}

#[async_trait]
impl Garden for ProcessGarden {
    async fn ping(&self) -> Result<(), Error> {
        match tokio::fs::metadata(&self.config.depot).await {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(Error::ServiceUnavailable {
                message: format!("depot {} is missing", self.config.depot.display()),
            }),
        }
    }

    async fn capacity(&self) -> Result<Capacity, Error> {
        host_capacity(&self.config.depot, self.config.max_containers).await
    }

    async fn create(&self, spec: ContainerSpec) -> Result<Arc<dyn Container>, Error> {
        spec.validate()?;
        let handle = if spec.handle.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            spec.handle.clone()
        };
        self.containers.check_room(&handle)?;
        // Creating the directory claims the handle, so two concurrent creates cannot both win.
        let dir = self.config.depot.join(&handle);
        if let Err(e) = tokio::fs::create_dir(&dir).await {
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::AlreadyExists { handle },
                _ => Error::io(dir.display(), e),
            });
        }
        let record = match self.build(handle.clone(), spec).await {
            Ok(record) => Arc::new(record),
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return Err(e);
            }
        };
        self.containers.insert(record.clone(), handle);
        Ok(record)
    }

    async fn destroy(&self, handle: &str) -> Result<(), Error> {
        self.containers.remove(handle)?.destroy().await
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<Arc<dyn Container>>, Error> {
        Ok(self.containers.matching(filter).await)
    }

    async fn lookup(&self, handle: &str) -> Result<Arc<dyn Container>, Error> {
        Ok(self.containers.get(handle)?)
    }
}
