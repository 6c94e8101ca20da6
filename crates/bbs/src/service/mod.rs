//! The in-process BBS: the workflows behind every `BbsApi` call. Each one writes through the
//! store, emits events after the commit, then talks to the auction or a rep.

mod api_impl;
mod converge;
mod lrps;
mod tasks;

pub use tasks::TASK_CANCELLED;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ingot_auction::{AuctionRunner, TokioClock};
use ingot_core::{Clock, Database, DatabaseUrl, IdGen, Metrics, Shutdown};
use tokio::task::JoinHandle;

use crate::auctioneer::{BbsAuctionDelegate, PresenceCellClients};
use crate::cells::CellRegistry;
use crate::config::BbsConfig;
use crate::error::Error;
use crate::events::EventHub;
use crate::loops::converger::{self, ConvergenceRules};
use crate::metrics::BbsMetrics;
use crate::models::{Nanos, TransitionContext, to_nanos};
use crate::rep_client::RepClientFactory;
use crate::store::{SqliteStore, Store};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// What the BBS is given rather than creating: time, ids and the way to reach reps.
#[derive(Clone)]
pub struct BbsDeps {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub rep_clients: Arc<dyn RepClientFactory>,
}

/// The BBS service. Cheap to clone; every clone is the same BBS.
#[derive(Clone)]
pub struct Bbs {
    pub(crate) core: Arc<Core>,
    background: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Bbs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bbs")
            .field("database", &self.core.config.database)
            .finish()
    }
}

/// Shared state behind `Bbs`. The auction runner's delegate and cell source hold a weak
/// reference back to it.
pub(crate) struct Core {
    pub(crate) config: BbsConfig,
    pub(crate) store: Arc<dyn Store>,
    database: Option<Database>,
    pub(crate) hub: EventHub,
    pub(crate) cells: CellRegistry,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    pub(crate) rep_clients: Arc<dyn RepClientFactory>,
    pub(crate) auctioneer: AuctionRunner,
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: BbsMetrics,
    pub(crate) shutdown: Shutdown,
}

impl Bbs {
    /// Opens (and migrates) the database, then starts the auctioneer and the converger. Both
    /// are "one active" per process; distributed mode will add a database lock.
    ///
    /// Errors: `Unavailable` (database cannot be opened; PostgreSQL is not yet supported).
    pub async fn start(
        config: BbsConfig,
        deps: BbsDeps,
        shutdown: Shutdown,
    ) -> Result<Self, Error> {
        if let DatabaseUrl::Postgres(_) = config.database {
            return Err(Error::unavailable(
                "the BBS does not yet support PostgreSQL; use a sqlite:// database URL",
            ));
        }
        let database = Database::open(&config.database, &SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
            .await
            .map_err(|e| Error::unavailable(format!("bbs database: {e}")))?;
        let store: Arc<dyn Store> = match &database {
            Database::Sqlite(pool) => Arc::new(SqliteStore::new(pool.clone())),
            Database::Postgres(_) => unreachable!("PostgreSQL URLs are refused above"),
        };
        Self::launch(config, store, Some(database), deps, shutdown)
    }

    /// Starts a BBS on a store the caller built (e.g. `store::MemoryStore` in tests); the
    /// configured database URL is not used.
    ///
    /// Errors: `Unavailable` (the HTTP client for callbacks cannot be built).
    pub fn start_with_store(
        config: BbsConfig,
        store: Arc<dyn Store>,
        deps: BbsDeps,
        shutdown: Shutdown,
    ) -> Result<Self, Error> {
        Self::launch(config, store, None, deps, shutdown)
    }

    fn launch(
        config: BbsConfig,
        store: Arc<dyn Store>,
        database: Option<Database>,
        deps: BbsDeps,
        shutdown: Shutdown,
    ) -> Result<Self, Error> {
        let shutdown = shutdown.child_token();
        let http = reqwest::Client::builder()
            .timeout(config.callback_timeout)
            .build()
            .map_err(|e| Error::unavailable(format!("http client: {e}")))?;

        let core = Arc::new_cyclic(|weak: &Weak<Core>| Core {
            auctioneer: AuctionRunner::new(
                config.auction,
                Arc::new(PresenceCellClients(weak.clone())),
                Arc::new(BbsAuctionDelegate(weak.clone())),
                Arc::new(TokioClock),
            ),
            hub: EventHub::new(config.event_buffer, shutdown.clone()),
            config,
            store,
            database,
            cells: CellRegistry::default(),
            clock: deps.clock,
            ids: deps.ids,
            rep_clients: deps.rep_clients,
            http,
            metrics: BbsMetrics::default(),
            shutdown: shutdown.clone(),
        });

        let auctioneer = tokio::spawn({
            let core = core.clone();
            async move {
                let stop = core.shutdown.clone();
                core.auctioneer.run(stop.cancelled_owned()).await;
            }
        });
        let converger = tokio::spawn({
            let core = core.clone();
            async move {
                let interval = core.config.convergence_interval;
                let stop = core.shutdown.clone();
                let expiry_core = core.clone();
                let next_expiry = move || {
                    let at = expiry_core.cells.next_expiry()?;
                    let wait = at.saturating_sub(expiry_core.now()).max(0);
                    Some(Duration::from_nanos(wait as u64))
                };
                converger::run(interval, next_expiry, stop, || {
                    let core = core.clone();
                    async move {
                        if let Err(err) = core.converge().await {
                            tracing::warn!(error = %err, "bbs: convergence failed");
                        }
                    }
                })
                .await;
            }
        });
        Ok(Self {
            core,
            background: Arc::new(Mutex::new(vec![auctioneer, converger])),
        })
    }

    /// The HTTP API for this BBS (see `docs/030-bbs-api.md`).
    pub fn router(&self) -> axum::Router {
        crate::http::router(Arc::new(self.clone()))
    }

    /// Registers the BBS's metrics (`ingot_bbs_*`, `ingot_auctioneer_*`) in `metrics`. The
    /// LRP and Task counts by state are those of the last convergence.
    pub fn register_metrics(&self, metrics: &Metrics) {
        self.core.metrics.register(metrics);
    }

    /// Runs one convergence now and returns what it planned. Tests and operators use this;
    /// the converger loop calls the same code.
    ///
    /// Errors: `Unavailable`.
    pub async fn converge(&self) -> Result<converger::ConvergenceResult, Error> {
        self.core.converge().await
    }

    /// Stops the background loops, ends event streams and closes the database.
    pub async fn close(&self) {
        self.core.shutdown.cancel();
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.background.lock().expect("bbs lock"));
        for handle in handles {
            let _ = handle.await;
        }
        if let Some(database) = &self.core.database {
            database.close().await;
        }
    }
}

impl Core {
    pub(crate) fn now(&self) -> Nanos {
        to_nanos(self.clock.now())
    }

    pub(crate) fn ctx(&self) -> TransitionContext {
        TransitionContext {
            now: self.now(),
            restart: self.config.restart,
        }
    }

    pub(crate) fn rules(&self) -> ConvergenceRules {
        ConvergenceRules {
            stale_unclaimed_actual_lrp: self.config.stale_unclaimed_actual_lrp,
            kick_task: self.config.kick_task,
            expire_pending_task: self.config.expire_pending_task,
            expire_completed_task: self.config.expire_completed_task,
            restart: self.config.restart,
        }
    }

    /// Expiry of a TTL starting now; zero means never.
    pub(crate) fn expiry(&self, ttl: Duration) -> Option<Nanos> {
        (!ttl.is_zero()).then(|| {
            self.now()
                .saturating_add(crate::models::duration_nanos(ttl))
        })
    }
}
