//! The executor: the cell's containers. It knows capacity, containers and their state
//! machine, and trees of steps; nothing of Tasks, LRPs or the BBS. The rep allocates a
//! container, creates it, hands it a [`RunPlan`] (built by `transform`) and learns of its
//! progress through [`ContainerEvent`]s.

pub mod capacity;
pub mod container;
mod prometheus;
pub mod steps;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingot_garden::{
    ContainerMetrics, ContainerSpec, Garden, Limits, PortMapping, ProcessIo, Properties,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HealthCheckConfig;
use crate::error::Error;
use crate::logs::LogTarget;
pub use capacity::{Capacity, Resources, Shortfall};
pub use container::{ContainerState, InvalidTransition, Transition, transition};
use steps::{BoxStep, CodependentStep, DownloadCache, StepContext, StepError};

/// The Garden property naming the cell that owns a container.
pub const OWNER_PROPERTY: &str = "executor:owner";
const RESOURCES_PROPERTY: &str = "executor:resources";
const PORTS_PROPERTY: &str = "executor:ports";
const METRICS_PROPERTY: &str = "executor:metrics";

/// Free-form labels the caller attaches to a container (kept as Garden properties, so they
/// survive a restart of the cell).
pub type Tags = BTreeMap<String, String>;

/// One port the container asked for: reached from outside on `host_port`; the process must
/// listen on `inner_port` (the same as `host_port` in the process backend, which has no
/// network namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_port: u16,
    pub inner_port: u16,
}

/// How a completed container's steps ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunResult {
    pub failed: bool,
    pub failure_reason: String,
    /// It ended because someone asked it to stop.
    pub stopped: bool,
}

/// Where a container's usage is reported (Diego's executor `MetricsConfig`): under source id
/// `guid` and instance `index`, with `tags` on every sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsConfig {
    pub guid: String,
    pub index: u32,
    pub tags: BTreeMap<String, String>,
}

/// A snapshot of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub guid: String,
    pub state: ContainerState,
    pub resources: Resources,
    pub tags: Tags,
    pub host_ip: String,
    pub ports: Vec<PortBinding>,
    /// Set at creation for a container whose usage is reported.
    pub metrics: Option<MetricsConfig>,
    /// Set once completed.
    pub result: RunResult,
}

/// What the executor reports as containers move.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerEvent {
    Running(Container),
    Completed(Container),
}

impl ContainerEvent {
    pub fn container(&self) -> &Container {
        match self {
            Self::Running(c) | Self::Completed(c) => c,
        }
    }
}

/// What the Garden container is made with.
#[derive(Debug, Clone, Default)]
pub struct CreateSpec {
    pub rootfs: String,
    /// `KEY=VALUE` pairs for every process.
    pub env: Vec<String>,
    /// Container ports to map to host ports.
    pub ports: Vec<u16>,
    /// Report the container's usage this way; `None` reports nothing.
    pub metrics: Option<MetricsConfig>,
    /// Where the container's life (created, stopping, destroyed) is told, as Diego's
    /// executor tells it on `CELL`; `None` tells nothing.
    pub log: Option<LogTarget>,
    /// Outbound traffic the container may send (its egress rules); the rest is refused.
    pub net_out: Vec<ingot_garden::NetOutRule>,
    /// Most processes the container may hold; `None` leaves Garden's default.
    pub max_pids: Option<u64>,
}

/// What a container runs: setup first, then the action beside its monitor (codependent).
pub struct RunPlan {
    pub setup: Option<BoxStep>,
    pub action: BoxStep,
    /// Without one, the container is running as soon as the action starts.
    pub monitor: Option<BoxStep>,
}

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The owner property on every container (the cell id).
    pub owner: String,
    pub total: Resources,
    pub grace_time: Duration,
    pub health: HealthCheckConfig,
    pub host_ip: String,
    pub cache_dir: PathBuf,
    /// Host directories mounted into every container (the lifecycle binaries).
    pub bind_mounts: Vec<ingot_garden::BindMount>,
}

struct Entry {
    container: Container,
    /// See [`CreateSpec::log`].
    log: Option<LogTarget>,
    cancel: CancellationToken,
    garden: Option<Arc<dyn ingot_garden::Container>>,
    healthy: Option<watch::Receiver<bool>>,
    stop_requested: bool,
    /// A stop waits for its time to signal the steps (see `Executor::stop_after`).
    stop_waiting: bool,
    runner: Option<JoinHandle<()>>,
    /// Hands a re-adopted container's runner its monitor (see `Executor::monitor_adopted`).
    adopted_monitor: Option<oneshot::Sender<BoxStep>>,
}

struct Inner {
    config: ExecutorConfig,
    garden: Arc<dyn Garden>,
    capacity: Mutex<Capacity>,
    entries: Mutex<BTreeMap<String, Entry>>,
    events: broadcast::Sender<ContainerEvent>,
    http: reqwest::Client,
    cache: Arc<DownloadCache>,
    counters: prometheus::ExecutorCounters,
}

/// The executor. Cheap to clone; clones share the same containers.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("owner", &self.inner.config.owner)
            .finish()
    }
}

fn not_found(guid: &str) -> Error {
    Error::ContainerNotFound {
        guid: guid.to_owned(),
    }
}

impl Executor {
    pub fn new(config: ExecutorConfig, garden: Arc<dyn Garden>) -> Self {
        let cache = Arc::new(DownloadCache::new(config.cache_dir.clone()));
        Self {
            inner: Arc::new(Inner {
                capacity: Mutex::new(Capacity::new(config.total)),
                config,
                garden,
                entries: Mutex::new(BTreeMap::new()),
                events: broadcast::channel(1024).0,
                http: reqwest::Client::new(),
                cache,
                counters: prometheus::ExecutorCounters::default(),
            }),
        }
    }

    pub fn total(&self) -> Resources {
        self.inner.capacity.lock().expect("capacity lock").total()
    }

    pub fn remaining(&self) -> Resources {
        self.inner
            .capacity
            .lock()
            .expect("capacity lock")
            .remaining()
    }

    /// Every container, by guid.
    pub fn list(&self) -> Vec<Container> {
        let entries = self.inner.entries.lock().expect("entries lock");
        entries.values().map(|e| e.container.clone()).collect()
    }

    pub fn get(&self, guid: &str) -> Option<Container> {
        let entries = self.inner.entries.lock().expect("entries lock");
        entries.get(guid).map(|e| e.container.clone())
    }

    /// Events from now on: containers becoming running or completed.
    pub fn subscribe(&self) -> broadcast::Receiver<ContainerEvent> {
        self.inner.events.subscribe()
    }

    /// Reserves capacity for a container. Errors: `ContainerExists`, `InsufficientResources`.
    pub fn allocate(&self, guid: &str, resources: Resources, tags: Tags) -> Result<(), Error> {
        let mut entries = self.inner.entries.lock().expect("entries lock");
        if entries.contains_key(guid) {
            return Err(Error::ContainerExists {
                guid: guid.to_owned(),
            });
        }
        self.inner
            .capacity
            .lock()
            .expect("capacity lock")
            .allocate(resources)
            .map_err(|s| Error::InsufficientResources {
                guid: guid.to_owned(),
                shortfall: s.to_string(),
            })?;
        entries.insert(
            guid.to_owned(),
            Entry {
                container: Container {
                    guid: guid.to_owned(),
                    state: ContainerState::Reserved,
                    resources,
                    tags,
                    host_ip: String::new(),
                    ports: Vec::new(),
                    metrics: None,
                    result: RunResult::default(),
                },
                log: None,
                cancel: CancellationToken::new(),
                garden: None,
                healthy: None,
                stop_requested: false,
                stop_waiting: false,
                runner: None,
                adopted_monitor: None,
            },
        );
        Ok(())
    }

    /// Creates the Garden container of a reserved allocation. On failure the container is
    /// completed (failed) and the error returned.
    ///
    /// Errors: `ContainerNotFound`, `InvalidTransition`, `Garden`.
    pub async fn create(&self, guid: &str, spec: CreateSpec) -> Result<Container, Error> {
        let (tags, resources) = self.inner.step(guid, Transition::Initialize, |c| {
            (c.container.tags.clone(), c.container.resources)
        })?;
        let owner = &self.inner.config.owner;
        let log = spec.log;
        if let Some(log) = &log {
            log.out(format!(
                "Cell {owner} creating container for instance {guid}"
            ));
        }
        let mut properties: Properties = tags;
        properties.insert(OWNER_PROPERTY.into(), self.inner.config.owner.clone());
        properties.insert(
            RESOURCES_PROPERTY.into(),
            serde_json::to_string(&resources).unwrap_or_default(),
        );
        if let Some(metrics) = &spec.metrics {
            properties.insert(
                METRICS_PROPERTY.into(),
                serde_json::to_string(metrics).unwrap_or_default(),
            );
        }
        let garden_spec = ContainerSpec {
            handle: guid.to_owned(),
            rootfs: spec.rootfs,
            env: spec.env,
            net_in: spec
                .ports
                .iter()
                .map(|p| PortMapping {
                    host_port: 0,
                    container_port: *p,
                })
                .collect(),
            properties,
            grace_time: Some(self.inner.config.grace_time),
            bind_mounts: self.inner.config.bind_mounts.clone(),
            // The allocation is the limit, as in Diego: memory (CPU weight follows it),
            // disk, and pids.
            limits: Limits {
                memory_bytes: (resources.memory_mb > 0).then_some(resources.memory_mb << 20),
                disk_bytes: (resources.disk_mb > 0).then_some(resources.disk_mb << 20),
                pids: spec.max_pids,
                ..Limits::default()
            },
            net_out: spec.net_out,
        };
        let created = async {
            let container = self.inner.garden.create(garden_spec).await?;
            let info = container.info().await?;
            let ports: Vec<PortBinding> = spec
                .ports
                .iter()
                .zip(&info.mapped_ports)
                .map(|(asked, mapped)| PortBinding {
                    container_port: *asked,
                    host_port: mapped.host_port,
                    inner_port: mapped.container_port,
                })
                .collect();
            container
                .set_property(
                    PORTS_PROPERTY,
                    &serde_json::to_string(&ports).unwrap_or_default(),
                )
                .await?;
            let host_ip = if info.host_ip.is_empty() {
                self.inner.config.host_ip.clone()
            } else {
                info.host_ip
            };
            Ok::<_, ingot_garden::Error>((container, ports, host_ip))
        }
        .await;
        match created {
            Ok((container, ports, host_ip)) => {
                self.inner.counters.creates.inc();
                let mut entries = self.inner.entries.lock().expect("entries lock");
                let entry = entries.get_mut(guid).ok_or_else(|| not_found(guid))?;
                entry.container.state = transition(entry.container.state, Transition::Create)?;
                entry.container.ports = ports;
                entry.container.host_ip = host_ip;
                entry.container.metrics = spec.metrics;
                entry.garden = Some(container);
                if let Some(log) = &log {
                    log.out(format!(
                        "Cell {owner} successfully created container for instance {guid}"
                    ));
                }
                entry.log = log;
                Ok(entry.container.clone())
            }
            Err(e) => {
                self.inner.counters.create_failures.inc();
                if let Some(log) = &log {
                    log.err(format!(
                        "Cell {owner} failed to create container for instance {guid}: {e}"
                    ));
                }
                self.inner.finish(
                    guid,
                    Err(StepError::Failed(format!(
                        "failed to create container: {e}"
                    ))),
                );
                Err(e.into())
            }
        }
    }

    /// What the steps of this container share. The env carries the instance's addresses:
    /// CF_INSTANCE_IP, and with ports CF_INSTANCE_PORT, CF_INSTANCE_ADDR, CF_INSTANCE_PORTS and
    /// PORT (where the process must listen).
    ///
    /// Errors: `ContainerNotFound` (or not created yet).
    pub fn step_context(&self, guid: &str, logs: LogTarget) -> Result<StepContext, Error> {
        let mut entries = self.inner.entries.lock().expect("entries lock");
        let entry = entries.get_mut(guid).ok_or_else(|| not_found(guid))?;
        let container = entry.garden.clone().ok_or_else(|| not_found(guid))?;
        let ip = entry.container.host_ip.clone();
        let mut env = vec![
            format!("CF_INSTANCE_IP={ip}"),
            format!("CF_INSTANCE_INTERNAL_IP={ip}"),
        ];
        if let Some(first) = entry.container.ports.first() {
            env.push(format!("CF_INSTANCE_PORT={}", first.host_port));
            env.push(format!("CF_INSTANCE_ADDR={ip}:{}", first.host_port));
            env.push(format!("PORT={}", first.inner_port));
            let ports: Vec<serde_json::Value> = entry
                .container
                .ports
                .iter()
                .map(|p| serde_json::json!({"external": p.host_port, "internal": p.inner_port}))
                .collect();
            env.push(format!(
                "CF_INSTANCE_PORTS={}",
                serde_json::Value::Array(ports)
            ));
        }
        let (healthy, healthy_rx) = watch::channel(false);
        entry.healthy = Some(healthy_rx);
        Ok(StepContext {
            container,
            env,
            logs,
            http: self.inner.http.clone(),
            cache: self.inner.cache.clone(),
            grace_time: self.inner.config.grace_time,
            health: self.inner.config.health,
            host_ip: ip,
            ports: entry.container.ports.clone(),
            healthy: Arc::new(healthy),
        })
    }

    /// Starts the plan in the background. Errors: `ContainerNotFound`, `InvalidTransition`
    /// (not created).
    pub fn run(&self, guid: &str, plan: RunPlan) -> Result<(), Error> {
        let mut entries = self.inner.entries.lock().expect("entries lock");
        let entry = entries.get_mut(guid).ok_or_else(|| not_found(guid))?;
        if entry.container.state != ContainerState::Created || entry.runner.is_some() {
            return Err(InvalidTransition {
                from: entry.container.state,
                event: Transition::Run,
            }
            .into());
        }
        let healthy = entry
            .healthy
            .take()
            .unwrap_or_else(|| watch::channel(true).1);
        let handle = tokio::spawn(drive(
            self.inner.clone(),
            guid.to_owned(),
            plan,
            entry.cancel.clone(),
            healthy,
        ));
        entry.runner = Some(handle);
        Ok(())
    }

    /// Asks the container to stop; it completes (with `stopped`) once its steps have ended,
    /// which a run step does gracefully (SIGTERM, then SIGKILL after the grace time).
    /// Stopping a missing or completed container is not an error.
    pub fn stop(&self, guid: &str) {
        self.stop_after(guid, Duration::ZERO);
    }

    /// [`stop`](Self::stop), with the steps signalled only once `wait` has passed. The
    /// container counts as stopped at once: it completes with `stopped` even if its process
    /// exits meanwhile, and a `stop` during the wait does not cut it short.
    pub fn stop_after(&self, guid: &str, wait: Duration) {
        {
            let mut entries = self.inner.entries.lock().expect("entries lock");
            let Some(entry) = entries.get_mut(guid) else {
                return;
            };
            if entry.stop_waiting {
                return;
            }
            if let Some(log) = &entry.log
                && !entry.stop_requested
                && entry.container.state != ContainerState::Completed
            {
                let owner = &self.inner.config.owner;
                log.out(format!("Cell {owner} stopping instance {guid}"));
            }
            entry.stop_requested = true;
            if !wait.is_zero() && entry.container.state != ContainerState::Completed {
                entry.stop_waiting = true;
                let inner = self.inner.clone();
                let guid = guid.to_owned();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    inner.cancel_steps(&guid);
                });
                return;
            }
        }
        self.inner.cancel_steps(guid);
    }

    /// Destroys the Garden container (if any) and releases the allocation. Deleting a missing
    /// container is not an error. Errors: `Garden` (destroy failed; the allocation is still
    /// released).
    pub async fn delete(&self, guid: &str) -> Result<(), Error> {
        let (state, cancel, log) = {
            let entries = self.inner.entries.lock().expect("entries lock");
            let Some(entry) = entries.get(guid) else {
                return Ok(());
            };
            (
                entry.container.state,
                entry.cancel.clone(),
                entry.log.clone(),
            )
        };
        cancel.cancel();
        let owner = &self.inner.config.owner;
        if let Some(log) = &log {
            log.out(format!(
                "Cell {owner} destroying container for instance {guid}"
            ));
        }
        // Destroy first, so the capacity is free only once the container is gone.
        let destroyed = if state == ContainerState::Reserved {
            Ok(())
        } else {
            match self.inner.garden.destroy(guid).await {
                Ok(()) | Err(ingot_garden::Error::ContainerNotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        };
        let removed = self
            .inner
            .entries
            .lock()
            .expect("entries lock")
            .remove(guid);
        if let Some(entry) = removed {
            self.inner
                .capacity
                .lock()
                .expect("capacity lock")
                .release(entry.container.resources);
        }
        if let (Some(log), Ok(())) = (&log, &destroyed) {
            log.out(format!(
                "Cell {owner} successfully destroyed container for instance {guid}"
            ));
        }
        destroyed
    }

    /// The contents of a file in the container. Errors: `ContainerNotFound`, `Unavailable`.
    pub async fn read_file(&self, guid: &str, path: &str) -> Result<Vec<u8>, Error> {
        let container = {
            let entries = self.inner.entries.lock().expect("entries lock");
            entries
                .get(guid)
                .and_then(|e| e.garden.clone())
                .ok_or_else(|| not_found(guid))?
        };
        steps::upload::read_file(container.as_ref(), path)
            .await
            .map_err(Error::Unavailable)
    }

    /// The usage of every container that reports it and exists in Garden (created or
    /// running), in one bulk call. A container that vanished meanwhile is left out.
    ///
    /// Errors: `Garden` (the bulk call failed).
    pub async fn bulk_metrics(&self) -> Result<Vec<(Container, ContainerMetrics)>, Error> {
        let containers: Vec<Container> = self
            .list()
            .into_iter()
            .filter(|c| {
                c.metrics.is_some()
                    && matches!(c.state, ContainerState::Created | ContainerState::Running)
            })
            .collect();
        if containers.is_empty() {
            return Ok(Vec::new());
        }
        let handles: Vec<String> = containers.iter().map(|c| c.guid.clone()).collect();
        let mut results = self.inner.garden.bulk_metrics(&handles).await?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let metrics = results.remove(&c.guid)?.ok()?;
                Some((c, metrics))
            })
            .collect())
    }

    /// Re-adopts this cell's containers that Garden still has (after a restart of the cell):
    /// one whose processes still run is `Running` and watched until they exit (and
    /// health-checked once given a monitor: [`Executor::monitor_adopted`]); one whose
    /// processes are gone is `Completed` (failed). Returns the guids adopted.
    ///
    /// Errors: `Garden` (listing failed).
    pub async fn adopt(&self) -> Result<Vec<String>, Error> {
        let filter: Properties =
            [(OWNER_PROPERTY.to_owned(), self.inner.config.owner.clone())].into();
        let mut adopted = Vec::new();
        for container in self.inner.garden.containers(&filter).await? {
            let guid = container.handle().to_owned();
            if self.get(&guid).is_some() {
                continue;
            }
            let Ok(info) = container.info().await else {
                continue;
            };
            let resources: Resources = info
                .properties
                .get(RESOURCES_PROPERTY)
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_default();
            let ports: Vec<PortBinding> = info
                .properties
                .get(PORTS_PROPERTY)
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            let metrics: Option<MetricsConfig> = info
                .properties
                .get(METRICS_PROPERTY)
                .and_then(|m| serde_json::from_str(m).ok());
            let tags: Tags = info
                .properties
                .iter()
                .filter(|(k, _)| !k.starts_with("executor:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let alive = alive_processes(container.as_ref(), &info.process_ids).await;
            self.inner
                .capacity
                .lock()
                .expect("capacity lock")
                .force(resources);
            let cancel = CancellationToken::new();
            let host_ip = if info.host_ip.is_empty() {
                self.inner.config.host_ip.clone()
            } else {
                info.host_ip.clone()
            };
            let (state, result) = if alive.is_empty() {
                let result = RunResult {
                    failed: true,
                    failure_reason: "the container's processes exited while the cell was down"
                        .into(),
                    stopped: false,
                };
                (ContainerState::Completed, result)
            } else {
                (ContainerState::Running, RunResult::default())
            };
            let (monitor_tx, monitor_rx) = oneshot::channel();
            let runner = (!alive.is_empty()).then(|| {
                tokio::spawn(watch_adopted(
                    self.inner.clone(),
                    guid.clone(),
                    container.clone(),
                    alive,
                    monitor_rx,
                    cancel.clone(),
                ))
            });
            self.inner.entries.lock().expect("entries lock").insert(
                guid.clone(),
                Entry {
                    container: Container {
                        guid: guid.clone(),
                        state,
                        resources,
                        tags,
                        host_ip,
                        ports,
                        metrics,
                        result,
                    },
                    // Adopted after a restart: its log target died with the old cell.
                    log: None,
                    cancel,
                    garden: Some(container),
                    healthy: None,
                    stop_requested: false,
                    stop_waiting: false,
                    adopted_monitor: runner.is_some().then_some(monitor_tx),
                    runner,
                },
            );
            adopted.push(guid);
        }
        Ok(adopted)
    }

    /// Health-checks a re-adopted running container: `monitor` (built on this container's
    /// [`Executor::step_context`]) runs beside its processes, and when it fails the processes
    /// are stopped and the container completes with the monitor's reason, as a container
    /// started by [`Executor::run`] does when its monitor fails.
    ///
    /// Errors: `ContainerNotFound`, `InvalidTransition` (not a re-adopted running container,
    /// or one already given its monitor).
    pub fn monitor_adopted(&self, guid: &str, monitor: BoxStep) -> Result<(), Error> {
        let mut entries = self.inner.entries.lock().expect("entries lock");
        let entry = entries.get_mut(guid).ok_or_else(|| not_found(guid))?;
        let refused = InvalidTransition {
            from: entry.container.state,
            event: Transition::Run,
        };
        match entry.adopted_monitor.take() {
            Some(runner) if entry.container.state == ContainerState::Running => {
                runner.send(monitor).map_err(|_| refused.into())
            }
            _ => Err(refused.into()),
        }
    }

    /// Abandons every container without stopping it, as a crash of the cell would: the
    /// runners end, the processes keep running for the next cell to re-adopt.
    pub fn abandon(&self) {
        let mut entries = self.inner.entries.lock().expect("entries lock");
        for entry in entries.values_mut() {
            if let Some(runner) = entry.runner.take() {
                runner.abort();
            }
        }
        entries.clear();
    }
}

impl Inner {
    /// Signals a stopping container's steps to end; one with none running completes now.
    fn cancel_steps(&self, guid: &str) {
        let idle = {
            let mut entries = self.entries.lock().expect("entries lock");
            let Some(entry) = entries.get_mut(guid) else {
                return;
            };
            entry.stop_waiting = false;
            entry.cancel.cancel();
            entry.runner.is_none() && entry.container.state != ContainerState::Initializing
        };
        if idle {
            self.finish(guid, Err(StepError::Cancelled));
        }
    }

    /// Applies a transition under the lock and returns something read from the entry.
    fn step<T>(
        &self,
        guid: &str,
        event: Transition,
        read: impl FnOnce(&Entry) -> T,
    ) -> Result<T, Error> {
        let mut entries = self.entries.lock().expect("entries lock");
        let entry = entries.get_mut(guid).ok_or_else(|| not_found(guid))?;
        entry.container.state = transition(entry.container.state, event)?;
        Ok(read(entry))
    }

    fn mark_running(&self, guid: &str) {
        let mut entries = self.entries.lock().expect("entries lock");
        let Some(entry) = entries.get_mut(guid) else {
            return;
        };
        if let Ok(state) = transition(entry.container.state, Transition::Run) {
            entry.container.state = state;
            let _ = self
                .events
                .send(ContainerEvent::Running(entry.container.clone()));
        }
    }

    /// Completes the container with the outcome of its steps.
    fn finish(&self, guid: &str, outcome: Result<(), StepError>) {
        let mut entries = self.entries.lock().expect("entries lock");
        let Some(entry) = entries.get_mut(guid) else {
            return;
        };
        let Ok(state) = transition(entry.container.state, Transition::Complete) else {
            return;
        };
        let stopped = entry.stop_requested;
        entry.container.state = state;
        entry.container.result = match outcome {
            _ if stopped => RunResult {
                failed: false,
                failure_reason: String::new(),
                stopped: true,
            },
            Ok(()) => RunResult::default(),
            Err(e) => RunResult {
                failed: true,
                failure_reason: e.to_string(),
                stopped: false,
            },
        };
        let _ = self
            .events
            .send(ContainerEvent::Completed(entry.container.clone()));
    }
}

/// Runs a container's plan and moves it through running to completed.
async fn drive(
    inner: Arc<Inner>,
    guid: String,
    plan: RunPlan,
    cancel: CancellationToken,
    mut healthy: watch::Receiver<bool>,
) {
    if let Some(setup) = &plan.setup
        && let Err(e) = setup.perform(&cancel).await
    {
        inner.finish(&guid, Err(e));
        return;
    }
    let monitored = plan.monitor.is_some();
    if !monitored {
        inner.mark_running(&guid);
    }
    let main: BoxStep = match plan.monitor {
        Some(monitor) => Box::new(CodependentStep::new(vec![plan.action, monitor])),
        None => plan.action,
    };
    let run = main.perform(&cancel);
    tokio::pin!(run);
    let mut watching = monitored;
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            became = healthy.wait_for(|h| *h), if watching => {
                watching = false;
                if became.is_ok() {
                    inner.mark_running(&guid);
                }
            }
        }
    };
    inner.finish(&guid, outcome);
}

/// The processes of a re-adopted container that still run. Garden knows at adoption which
/// ones have exited, so their `wait` is ready on its first poll; a live one's is not.
async fn alive_processes(
    container: &dyn ingot_garden::Container,
    ids: &[String],
) -> Vec<Arc<dyn ingot_garden::Process>> {
    use futures::FutureExt;
    let mut alive = Vec::new();
    for id in ids {
        let Ok(process) = container.attach(id, ProcessIo::default()).await else {
            continue;
        };
        if process.wait().now_or_never().is_none() {
            alive.push(process);
        }
    }
    alive
}

/// Watches a re-adopted container: the first of its processes to exit ends it, and so does a
/// failure of the monitor it may be handed, which stops the processes first (as the
/// codependent action and monitor of a container started by `run` do).
async fn watch_adopted(
    inner: Arc<Inner>,
    guid: String,
    container: Arc<dyn ingot_garden::Container>,
    processes: Vec<Arc<dyn ingot_garden::Process>>,
    monitor: oneshot::Receiver<BoxStep>,
    cancel: CancellationToken,
) {
    let waits = processes.iter().map(|p| p.wait());
    let monitored = async {
        match monitor.await {
            Ok(monitor) => monitor.perform(&cancel).await,
            // No monitor (a task, or an LRP no longer desired): the processes alone count.
            Err(_) => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        failed = monitored => {
            let _ = container.stop(false).await;
            failed
        },
        (status, _, _) = futures::future::select_all(waits.map(Box::pin)) => match status {
            Ok(ingot_garden::ExitStatus::Exited(code)) if code != 0 => Err(StepError::Exited {
                log_source: String::new(),
                code,
                events: steps::container_events(container.as_ref()).await,
            }),
            Ok(ingot_garden::ExitStatus::Exited(_)) => Ok(()),
            _ => Err(StepError::Failed("process exited with an unknown status".into())),
        },
        _ = cancel.cancelled() => {
            let _ = container.stop(false).await;
            Err(StepError::Cancelled)
        }
    };
    inner.finish(&guid, outcome);
}

#[cfg(test)]
mod tests;
