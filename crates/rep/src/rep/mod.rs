//! The rep: the cell's agent between the BBS and the executor.
//!
//! - `auction_cell`: the bidding side (`CellClient`: state and perform).
//! - `lifecycle`: starting an LRP instance or a task once the cell has won it.
//! - `generator`: the pure plan that reconciles BBS records with containers.
//! - `harmonizer`: runs the plan on a timer (bulk sync) and on container events.
//! - `retire`: stopping an LRP instance the BBS retires, unregistered first and drained.
//! - `presence`: the heartbeat that keeps the cell registered.
//! - `metrics`: the reporter of the containers' usage (container metrics).
//! - `local`: the in-process `RepClientFactory`.

mod auction_cell;
pub mod generator;
mod harmonizer;
mod lifecycle;
mod local;
mod metrics;
mod presence;
mod retire;
pub mod tags;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use ingot_bbs::{BbsApi, RepClient};
use ingot_core::{Clock, IdGen, Shutdown};
use ingot_garden::Garden;
use ingot_logging::EnvelopeSink;
use tokio::task::JoinHandle;

pub use local::LocalRepClients;

use crate::config::CellConfig;
use crate::error::Error;
use crate::executor::{Executor, ExecutorConfig, Resources};
use crate::logs::LogSink;

/// What a cell is given rather than creating.
#[derive(Clone)]
pub struct CellDeps {
    pub bbs: Arc<dyn BbsApi>,
    pub garden: Arc<dyn Garden>,
    pub logs: Arc<dyn LogSink>,
    /// Where the containers' usage goes, as container-metrics gauges.
    pub metrics: Arc<dyn EnvelopeSink>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    /// The registry the in-process BBS reaches its reps through; the cell registers itself
    /// here when it starts (see [`LocalRepClients`]).
    pub local_reps: Option<LocalRepClients>,
}

/// Shared state of one cell's rep.
pub(crate) struct Core {
    pub(crate) config: CellConfig,
    pub(crate) bbs: Arc<dyn BbsApi>,
    pub(crate) executor: Executor,
    pub(crate) logs: Arc<dyn LogSink>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    /// Guids with an operation under way; a second one for the same guid waits for the
    /// next sync.
    pub(crate) in_flight: Mutex<BTreeSet<String>>,
    /// Life cycles started by `perform` and not yet handed to the executor; `drain` waits
    /// for them so none creates a container after it.
    pub(crate) starting: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) shutdown: Shutdown,
}

/// A running cell: its rep loops and its executor.
pub struct Cell {
    core: Arc<Core>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("cell_id", &self.core.config.cell_id)
            .finish()
    }
}

impl Cell {
    /// Starts a cell: re-adopts the containers Garden still holds for `config.cell_id`
    /// (health-checking its LRP instances again), reconciles them with the BBS, registers
    /// its presence, and runs its loops until `shutdown` fires (or `stop` is called).
    ///
    /// Construction order with an in-process BBS: make a `LocalRepClients`, give a clone to
    /// `Bbs::start` as its rep client factory, start the BBS, then start the cell with the
    /// same `LocalRepClients` in `deps.local_reps`; the cell registers itself there before
    /// it announces its presence, so the BBS can reach it from its first auction.
    ///
    /// Errors: `Config` (no cell id), `Garden` (listing containers failed), `Bbs`
    /// (registering the presence failed).
    pub async fn start(
        config: CellConfig,
        deps: CellDeps,
        shutdown: Shutdown,
    ) -> Result<Self, Error> {
        if config.cell_id.is_empty() {
            return Err(Error::Config("cell_id is required".into()));
        }
        let executor = Executor::new(
            ExecutorConfig {
                owner: config.cell_id.clone(),
                total: Resources::new(
                    config.capacity.memory_mb,
                    config.capacity.disk_mb,
                    config.capacity.containers,
                ),
                grace_time: config.grace_time,
                health: config.health,
                host_ip: config.host_ip.clone(),
                cache_dir: config.download_cache_dir.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("ingot-cell-{}-downloads", config.cell_id))
                }),
                bind_mounts: config
                    .lifecycle_dir
                    .iter()
                    .map(|dir| ingot_garden::BindMount {
                        src: dir.display().to_string(),
                        dst: crate::config::LIFECYCLE_MOUNT.into(),
                        mode: ingot_garden::BindMountMode::Ro,
                    })
                    .collect(),
            },
            deps.garden.clone(),
        );
        let adopted = executor.adopt().await?;
        if !adopted.is_empty() {
            tracing::info!(cell_id = %config.cell_id, count = adopted.len(), "rep: re-adopted containers");
        }
        let core = Arc::new(Core {
            config,
            bbs: deps.bbs,
            executor,
            logs: deps.logs,
            clock: deps.clock,
            ids: deps.ids,
            in_flight: Mutex::new(BTreeSet::new()),
            starting: Mutex::new(Vec::new()),
            shutdown: shutdown.child_token(),
        });
        if let Some(local) = &deps.local_reps {
            local.register(core.clone());
        }
        // Subscribe before the first sync so no completion falls between the two.
        let events = core.executor.subscribe();
        core.monitor_adopted(&adopted).await;
        if let Err(err) = core.sync_all().await {
            tracing::warn!(error = %err, "rep: the first sync failed; the loop will retry");
        }
        core.register_presence().await?;
        let loops = vec![
            tokio::spawn(presence::heartbeat(core.clone())),
            tokio::spawn(harmonizer::run(core.clone(), events)),
            tokio::spawn(metrics::run(core.clone(), deps.metrics)),
        ];
        Ok(Self {
            core,
            loops: Mutex::new(loops),
        })
    }

    pub fn cell_id(&self) -> &str {
        &self.core.config.cell_id
    }

    /// The rep's HTTP API (state, perform, stop an LRP instance, cancel a task).
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.rep_client())
    }

    /// This cell as the BBS reaches it, in process.
    pub fn rep_client(&self) -> Arc<dyn RepClient> {
        Arc::new(local::LocalRep(self.core.clone()))
    }

    /// Registers the cell's metrics (`ingot_rep_*`: containers by state, creates and their
    /// failures, remaining capacity) in `metrics`.
    pub fn register_metrics(&self, metrics: &ingot_core::Metrics) {
        self.core.executor.register_metrics(metrics);
    }

    /// The cell's executor, to look at its containers.
    pub fn executor(&self) -> &Executor {
        &self.core.executor
    }

    /// Runs a bulk sync now. Errors: `Bbs`.
    pub async fn sync(&self) -> Result<(), Error> {
        self.core.sync_all().await
    }

    /// Stops the loops and leaves the containers running, as a crash of the cell would: a
    /// cell started later with the same id on the same Garden re-adopts them.
    pub async fn stop(&self) {
        self.core.shutdown.cancel();
        let loops: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.loops.lock().expect("loops lock"));
        for handle in loops {
            handle.abort();
            let _ = handle.await;
        }
        self.core.executor.abandon();
    }

    /// Stops the loops, refuses new work, then stops and deletes every container: for a
    /// cell that is going away for good. Its instances' records are crashed as missing so
    /// that they are placed elsewhere.
    pub async fn drain(&self) {
        self.core.shutdown.cancel();
        let starting: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.core.starting.lock().expect("starting lock"));
        for handle in starting {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), handle).await;
        }
        let containers = self.core.executor.list();
        for container in &containers {
            self.core.executor.stop(&container.guid);
        }
        for container in &containers {
            if let Err(err) = self.core.executor.delete(&container.guid).await {
                tracing::warn!(guid = %container.guid, error = %err, "rep: drain could not delete a container");
            }
        }
        let _ = self.core.sync_all().await;
        self.stop().await;
    }
}

impl Drop for Cell {
    fn drop(&mut self) {
        self.core.shutdown.cancel();
        for handle in self.loops.lock().expect("loops lock").iter() {
            handle.abort();
        }
    }
}
