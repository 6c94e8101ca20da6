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

mod error;
mod http;
mod model;
mod service;
mod store;

use std::{sync::Arc, time::Duration};

use ingot_core::{Clock, Database, DatabaseUrl, IdGen, Shutdown};
use ingot_uaa::{TokenVerifier, UserDirectory};

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
}

/// What the Cloud Controller needs from the rest of Ingot.
pub struct CloudControllerDeps {
    pub verifier: TokenVerifier,
    pub users: Arc<dyn UserDirectory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
}

/// A running Cloud Controller. Cheap to clone.
#[derive(Clone)]
pub struct CloudController {
    state: http::AppState,
    stop: Shutdown,
}

impl CloudController {
    /// Opens/migrates the CCDB, seeds feature flags and the default quota, resumes unfinished
    /// jobs, and starts the job worker (which stops on shutdown).
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
            deps.users,
            deps.verifier,
            deps.clock,
            deps.ids,
            quota.guid,
        );
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
        Ok(CloudController { state, stop })
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
            }
        }
    }
}
