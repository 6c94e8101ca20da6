//! One container of the process backend, and the `Container` trait for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::process::ChildStdin;

use super::Config;
use super::child::{self, ProcessRecord};
use super::depot::{self, Layout, Meta};
use super::group;
use super::output::{self, From};
use super::ports;
use super::procfs::{self, Group};
use super::properties::PropertyStore;
use super::spawn::{self, Rlimits};
use crate::api::{Container, Process};
use crate::error::Error;
use crate::io::{ByteStream, ProcessIo, TarStream};
use crate::model::{ContainerInfo, ContainerMetrics, ContainerState, PortMapping};
use crate::spec::{ProcessSpec, Properties};

/// The process backend shares the host's network: the container is reached on loopback.
const LOOPBACK: &str = "127.0.0.1";

pub(crate) struct ContainerRecord {
    pub handle: String,
    pub layout: Layout,
    config: Arc<Config>,
    // A tokio mutex, held while the state file is written, so writes never reorder.
    meta: tokio::sync::Mutex<Meta>,
    pub properties: PropertyStore,
    processes: Mutex<BTreeMap<String, Arc<ProcessRecord>>>,
    destroyed: AtomicBool,
    /// The highest CPU total reported, so `cpu_ns` never goes down when a process exits.
    cpu_ns_reported: AtomicU64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ContainerRecord {
    pub fn new(
        config: Arc<Config>,
        layout: Layout,
        meta: Meta,
        properties: Properties,
        processes: BTreeMap<String, Arc<ProcessRecord>>,
    ) -> Self {
        Self {
            handle: meta.handle.clone(),
            properties: PropertyStore::new(layout.properties_file(), properties),
            layout,
            config,
            meta: tokio::sync::Mutex::new(meta),
            processes: Mutex::new(processes),
            destroyed: AtomicBool::new(false),
            cpu_ns_reported: AtomicU64::new(0),
        }
    }

    fn ensure_present(&self) -> Result<(), Error> {
        if self.destroyed.load(Ordering::SeqCst) {
            Err(Error::container_not_found(&self.handle))
        } else {
            Ok(())
        }
    }

    fn process_list(&self) -> Vec<Arc<ProcessRecord>> {
        self.processes
            .lock()
            .expect("process map poisoned")
            .values()
            .cloned()
            .collect()
    }

    fn groups(&self) -> Vec<Group> {
        self.process_list().iter().map(|p| p.group).collect()
    }

    /// Applies `change` to the persisted state and writes it.
    async fn update_meta(&self, change: impl FnOnce(&mut Meta)) -> Result<(), Error> {
        let mut meta = self.meta.lock().await;
        change(&mut meta);
        depot::write_json(&self.layout.state_file(), &*meta).await
    }

    async fn stop_processes(&self, kill: bool) -> Result<(), Error> {
        let grace_time = self.meta.lock().await.grace_time;
        group::stop_groups(&self.groups(), grace_time, kill).await?;
        self.update_meta(|m| m.state = ContainerState::Stopped)
            .await
    }

    /// Marks the container gone, stops everything in it and removes its directory.
    pub async fn destroy(&self) -> Result<(), Error> {
        self.destroyed.store(true, Ordering::SeqCst);
        let grace_time = self.meta.lock().await.grace_time;
        group::stop_groups(&self.groups(), grace_time, false).await?;
        tokio::fs::remove_dir_all(&self.layout.dir)
            .await
            .map_err(|e| Error::io(self.layout.dir.display(), e))
    }
}

/// Connects `io`'s output to a process; `from` says whether to replay earlier output.
pub(crate) fn connect(process: &ProcessRecord, io: ProcessIo, from: From) {
    if let Some(tx) = io.stdout {
        output::tail(process.layout.stdout(), from, process.exit.clone(), tx);
    }
    if let Some(tx) = io.stderr {
        output::tail(process.layout.stderr(), from, process.exit.clone(), tx);
    }
}

pub(crate) fn feed_stdin(mut source: ByteStream, mut stdin: ChildStdin) {
    tokio::spawn(async move {
        // The process may exit without reading it all; that is not an error.
        let _ = tokio::io::copy(&mut source, &mut stdin).await;
    });
}

#[async_trait]
impl Container for ContainerRecord {
    fn handle(&self) -> &str {
        &self.handle
    }

    async fn info(&self) -> Result<ContainerInfo, Error> {
        self.ensure_present()?;
        let meta = self.meta.lock().await.clone();
        Ok(ContainerInfo {
            state: meta.state,
            host_ip: LOOPBACK.into(),
            container_ip: LOOPBACK.into(),
            container_path: self.layout.dir.display().to_string(),
            process_ids: self.process_list().iter().map(|p| p.id.clone()).collect(),
            properties: self.properties.snapshot().await,
            mapped_ports: meta.mapped_ports,
            events: Vec::new(),
        })
    }

    async fn run(&self, spec: ProcessSpec, io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.ensure_present()?;
        spec.validate()?;
        let id = spec
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (container_env, limits) = {
            let meta = self.meta.lock().await;
            (meta.env.clone(), meta.limits)
        };
        let plan = spawn::plan(&self.layout, &container_env, &spec)?;
        let layout = self.layout.process(&id);
        // Creating the record directory claims the id, also against an earlier backend's ids.
        let taken = || Error::invalid("id", format!("process {id} already exists"));
        if self
            .processes
            .lock()
            .expect("process map poisoned")
            .contains_key(&id)
        {
            return Err(taken());
        }
        if let Err(e) = tokio::fs::create_dir(&layout.dir).await {
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => taken(),
                _ => Error::io(layout.dir.display(), e),
            });
        }
        let has_stdin = io.stdin.is_some();
        let started = async {
            let prepare = |e: std::io::Error| Error::io(format!("preparing {id}"), e);
            tokio::fs::create_dir_all(&plan.dir)
                .await
                .map_err(prepare)?;
            let stdout = std::fs::File::create(layout.stdout()).map_err(prepare)?;
            let stderr = std::fs::File::create(layout.stderr()).map_err(prepare)?;
            let rlimits = Rlimits::for_process(&limits, &spec, self.config.enforce_address_space);
            let mut command = spawn::command(&plan, rlimits);
            command
                .stdin(if has_stdin {
                    std::process::Stdio::piped()
                } else {
                    std::process::Stdio::null()
                })
                .stdout(stdout)
                .stderr(stderr);
            // The executable was resolved above; it can still vanish or lose its mode bits.
            command.spawn().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    Error::ExecutableNotFound {
                        path: spec.path.clone(),
                    }
                }
                _ => Error::io(format!("starting {}", spec.path), e),
            })
        }
        .await;
        let mut child = match started {
            Ok(child) => child,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&layout.dir).await;
                return Err(e);
            }
        };
        let stdin = child.stdin.take();
        let group = match child::own_group(&child) {
            Ok(group) => group,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&layout.dir).await;
                return Err(e);
            }
        };
        let process = child::watch_child(id.clone(), layout, child, group).await?;
        self.processes
            .lock()
            .expect("process map poisoned")
            .insert(id, process.clone());
        if let (Some(source), Some(stdin)) = (io.stdin, stdin) {
            feed_stdin(source, stdin);
        }
        connect(
            &process,
            ProcessIo {
                stdin: None,
                stdout: io.stdout,
                stderr: io.stderr,
            },
            From::Start,
        );
        self.update_meta(|m| m.state = ContainerState::Active)
            .await?;
        Ok(process)
    }

    async fn attach(&self, process_id: &str, io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.ensure_present()?;
        let process = self
            .processes
            .lock()
            .expect("process map poisoned")
            .get(process_id)
            .cloned()
            .ok_or_else(|| Error::process_not_found(process_id))?;
        // Stdin belongs to whoever ran the process; an attach only receives output.
        connect(&process, io, From::End);
        Ok(process)
    }

    async fn stop(&self, kill: bool) -> Result<(), Error> {
        self.ensure_present()?;
        self.stop_processes(kill).await
    }

    async fn net_in(&self, host_port: u16, _container_port: u16) -> Result<PortMapping, Error> {
        self.ensure_present()?;
        let host_port = if host_port == 0 {
            ports::free_port()?
        } else {
            host_port
        };
        // No network namespace: the process listens on the host port itself.
        let mapping = PortMapping {
            host_port,
            container_port: host_port,
        };
        self.update_meta(|m| m.mapped_ports.push(mapping)).await?;
        Ok(mapping)
    }

    async fn stream_in(&self, path: &str, tar: TarStream) -> Result<(), Error> {
        self.ensure_present()?;
        super::archive::unpack(self.layout.host_path(path)?, tar).await
    }

    async fn stream_out(&self, path: &str) -> Result<TarStream, Error> {
        self.ensure_present()?;
        let contents_only = path.ends_with('/');
        super::archive::pack(self.layout.host_path(path)?, contents_only).await
    }

    async fn properties(&self) -> Result<Properties, Error> {
        self.ensure_present()?;
        Ok(self.properties.snapshot().await)
    }

    async fn property(&self, name: &str) -> Result<Option<String>, Error> {
        self.ensure_present()?;
        Ok(self.properties.get(name).await)
    }

    async fn set_property(&self, name: &str, value: &str) -> Result<(), Error> {
        self.ensure_present()?;
        self.properties.set(name, value).await
    }

    async fn remove_property(&self, name: &str) -> Result<(), Error> {
        self.ensure_present()?;
        self.properties.remove(name).await
    }

    async fn metrics(&self) -> Result<ContainerMetrics, Error> {
        self.ensure_present()?;
        let groups = self.groups();
        let dir = self.layout.dir.clone();
        let (memory_bytes, cpu_ticks, disk_bytes) = tokio::task::spawn_blocking(move || {
            let members = procfs::group_members(&groups);
            let memory: u64 = members.iter().map(|m| procfs::rss_bytes(m.pid)).sum();
            let cpu: u64 = members.iter().map(|m| m.cpu_ticks).sum();
            (memory, cpu, depot::disk_usage(&dir))
        })
        .await
        .map_err(|e| Error::io("measuring container", e))?;
        let cpu_ns = cpu_ticks * (1_000_000_000 / procfs::TICKS_PER_SECOND);
        let cpu_ns = self
            .cpu_ns_reported
            .fetch_max(cpu_ns, Ordering::SeqCst)
            .max(cpu_ns);
        let created_at_ms = self.meta.lock().await.created_at_ms;
        Ok(ContainerMetrics {
            memory_bytes,
            cpu_ns,
            disk_bytes,
            age: Duration::from_millis(now_ms().saturating_sub(created_at_ms)),
        })
    }

    async fn set_grace_time(&self, grace_time: Duration) -> Result<(), Error> {
        self.ensure_present()?;
        self.update_meta(|m| m.grace_time = grace_time).await
    }
}

impl crate::registry::Registered for ContainerRecord {
    fn property_store(&self) -> &PropertyStore {
        &self.properties
    }
}

/// Whether any recorded process is still running (used on re-adoption).
pub(crate) fn any_running(processes: &BTreeMap<String, Arc<ProcessRecord>>) -> bool {
    processes.values().any(|p| !p.has_exited())
}
