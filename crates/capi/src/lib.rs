//! Ingot's Cloud Controller: organizations, spaces, users, roles and RBAC, feature flags,
//! audit events and async jobs, served as CAPI v3 (plus the v2 endpoints clients still call).
//!
//! It knows Cloud Foundry's policy objects and who may touch them. It must not know how apps
//! run (that is Diego's BBS, below it) nor how tokens are issued (UAA: it only verifies tokens
//! and looks users up through [`ingot_uaa::UserDirectory`]).
//!
//! Module map: `model` (pure types and rules: permissions, validation, queries, label
//! selectors), `store` (the CCDB behind a trait; SQLite and PostgreSQL), `service` (the workflows),
//! `http` (axum handlers, one file per resource; `http/error.rs` renders every error).
#![forbid(unsafe_code)]

mod archive;
mod blobstore;
mod bridge;
mod diego;
mod error;
mod http;
mod log_access;
mod model;
mod service;
mod stager;
mod store;

use std::{path::PathBuf, sync::Arc, time::Duration};

use ingot_bbs::BbsApi;
use ingot_core::{Clock, Database, DatabaseUrl, IdGen, Shutdown};
use ingot_uaa::{TokenVerifier, UserDirectory};

pub use bridge::metrics::{InstanceMetrics, LogCacheMetrics, Usage};
pub use error::Error;

use crate::{
    model::{OrganizationQuota, feature_flag, quota::DEFAULT_QUOTA_NAME},
    service::Service,
    store::{PostgresStore, SqliteStore, Store},
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How often the job worker looks for jobs a crash or a failed inline run left PROCESSING.
const JOB_SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Configuration of the Cloud Controller.
#[derive(Debug, Clone)]
pub struct CloudControllerConfig {
    /// The CCDB.
    pub database: DatabaseUrl,
    /// External base URL of the API, e.g. "http://127.0.0.1:9022" (no trailing slash); every
    /// href and Location is built from it.
    pub external_url: String,
    /// UAA base URL for links.login / links.uaa and /v2/info authorization_endpoint,
    /// token_endpoint.
    pub uaa_url: String,
    /// Optional log-cache and doppler URLs for the root document (None until logging exists).
    pub log_cache_url: Option<String>,
    /// How the Cloud Controller runs apps; see [`Settings`].
    pub settings: Settings,
}

/// A built-in buildpack the Cloud Controller installs at start (CF's `install_buildpacks`).
#[derive(Debug, Clone)]
pub struct BuiltinBuildpack {
    pub name: String,
    /// The buildpack as a zip (built into the binary).
    pub zip: &'static [u8],
}

/// The Cloud Controller's settings for apps: domains, blobstore, internal URLs, buildpacks.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API's external base URL (no trailing slash): VCAP_APPLICATION's `cf_api`.
    pub api_url: String,
    /// The default shared domain, seeded at start; default routes live on it.
    pub apps_domain: String,
    /// CF's system domain: a request for `api.<system_domain>` that came through the router
    /// gets discovery links at the router's `uaa.`, `login.` and `log-cache.` hosts.
    pub system_domain: String,
    /// Base URL cells and the BBS use to reach the Cloud Controller's internal endpoints
    /// (package and droplet downloads, droplet uploads, completion callbacks).
    pub internal_url: String,
    /// The key internal URLs are signed with; it must survive restarts so URLs handed to
    /// Diego stay valid.
    pub internal_secret: String,
    /// The local blobstore: packages, droplets, buildpacks and the resource cache.
    pub blobstore_dir: PathBuf,
    /// Installed at start, in this order (the detection order).
    pub builtin_buildpacks: Vec<BuiltinBuildpack>,
    /// (name, description) of each stack the cells offer.
    pub stacks: Vec<(String, String)>,
    /// Largest package or buildpack, unzipped (CC's `package_max_size`: 1 GiB).
    pub package_max_bytes: u64,
    /// Most entries one package or buildpack zip may hold.
    pub package_max_entries: usize,
    /// Smallest file the resource cache keeps (CC's `resource_pool.minimum_size`: 64 KiB).
    pub resource_min_bytes: u64,
    /// Largest file the resource cache keeps (CC's `resource_pool.maximum_size`: 512 MiB).
    pub resource_max_bytes: u64,
}

impl Settings {
    /// Settings for a Cloud Controller whose API is at `external_url` and which keeps blobs
    /// under `blobstore_dir`; no built-in buildpacks.
    pub fn new(external_url: &str, internal_secret: &str, blobstore_dir: PathBuf) -> Self {
        let api_url = external_url.trim_end_matches('/').to_owned();
        Self {
            internal_url: api_url.clone(),
            api_url,
            apps_domain: "apps.localhost".into(),
            system_domain: "localhost".into(),
            internal_secret: internal_secret.to_owned(),
            blobstore_dir,
            builtin_buildpacks: Vec::new(),
            stacks: vec![(
                "cflinuxfs4".into(),
                "Cloud Foundry Linux-based filesystem (the cell's host file system)".into(),
            )],
            package_max_bytes: 1 << 30,
            package_max_entries: 100_000,
            resource_min_bytes: 64 << 10,
            resource_max_bytes: 512 << 20,
        }
    }
}

/// What the Cloud Controller needs from the rest of Ingot.
pub struct CloudControllerDeps {
    pub verifier: TokenVerifier,
    pub users: Arc<dyn UserDirectory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    /// Diego's BBS: apps run as its LRPs and stage as its tasks.
    pub bbs: Arc<dyn BbsApi>,
    /// Where the Cloud Controller writes app log lines (staging progress, API actions).
    pub logs: Arc<dyn ingot_logging::EnvelopeSink>,
    /// Where process stats find instances' usage (the cells' container metrics).
    pub metrics: Arc<dyn InstanceMetrics>,
}

/// A running Cloud Controller. Cheap to clone.
#[derive(Clone)]
pub struct CloudController {
    state: http::AppState,
    stop: Shutdown,
}

impl CloudController {
    /// Opens/migrates the CCDB, seeds feature flags, the default quota, buildpacks, stacks,
    /// the apps domain and (once) the default security groups, resumes unfinished jobs, and
    /// starts the job worker (which stops on shutdown).
    pub async fn start(
        config: CloudControllerConfig,
        deps: CloudControllerDeps,
        shutdown: Shutdown,
    ) -> Result<CloudController, Error> {
        let store: Arc<dyn Store> =
            match Database::open(&config.database, &SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await?
            {
                Database::Sqlite(pool) => Arc::new(SqliteStore::new(pool)),
                Database::Postgres(pool) => Arc::new(PostgresStore::new(pool)),
            };
        store.seed_feature_flags(feature_flag::DEFAULTS).await?;
        let now = deps.clock.now();
        let quota = store
            .ensure_organization_quota(&OrganizationQuota {
                guid: deps.ids.new_guid(),
                name: DEFAULT_QUOTA_NAME.into(),
                created_at: now,
                updated_at: now,
            })
            .await?;
        let service = Service::new(
            store,
            service::Deps {
                directory: deps.users,
                verifier: deps.verifier,
                clock: deps.clock,
                ids: deps.ids,
                bbs: deps.bbs,
                logs: deps.logs,
                metrics: deps.metrics,
            },
            config.settings,
            quota.guid,
        );
        service.seed_builtin_buildpacks().await?;
        service.seed_default_domain().await?;
        service.seed_security_groups().await?;
        let resumed = service.resume_jobs().await?;
        if resumed > 0 {
            tracing::info!(resumed, "resumed unfinished jobs");
        }
        let state = Arc::new(http::Inner {
            service,
            external_url: config.external_url.trim_end_matches('/').to_owned(),
            uaa_url: config.uaa_url.trim_end_matches('/').to_owned(),
            log_cache_url: config.log_cache_url,
        });
        let stop = shutdown.child_token();
        tokio::spawn(job_worker(state.clone(), stop.clone()));
        bridge::spawn(&state, &stop);
        Ok(CloudController { state, stop })
    }

    /// The check log-cache runs before serving an app's logs.
    pub fn log_access(&self) -> Arc<dyn ingot_logging::LogAccess> {
        Arc::new(log_access::AppLogAccess {
            state: self.state.clone(),
        })
    }

    /// Registers the Cloud Controller's own metrics (`ingot_cc_staging_*`) in `metrics`; its
    /// HTTP requests are counted by the layer its router is served with.
    pub fn register_metrics(&self, metrics: &ingot_core::Metrics) {
        self.state.service.staging_counts.register(metrics);
    }

    /// The whole Cloud Controller HTTP API, state baked in.
    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// Stops the job worker and closes the database.
    pub async fn close(&self) {
        self.stop.cancel();
        self.state.service.store.close().await;
    }
}

/// Re-runs jobs left PROCESSING until shutdown.
async fn job_worker(state: http::AppState, stop: Shutdown) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(JOB_SWEEP_INTERVAL) => {
                if let Err(e) = state.service.resume_jobs().await {
                    tracing::warn!(error = %e, "job sweep failed");
                }
                if let Err(e) = state.service.expire_builds().await {
                    tracing::warn!(error = %e, "staging timeout sweep failed");
                }
            }
        }
    }
}
