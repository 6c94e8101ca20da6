//! The UAA workflow: authenticating users and clients, issuing and revoking tokens, and SCIM
//! user and group management. It talks to the store and the key ring; HTTP lives in `http`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ingot_core::{Clock, IdGen, Shutdown};

use crate::{
    Error, UaaConfig,
    error::Result,
    keys::{self, KeyRing},
    model::{
        UAA_ORIGIN, User, UserDraft,
        client::{admin_client, cf_client, ssh_proxy_client},
        group::{ADMIN_GROUPS, DEFAULT_USER_GROUPS, builtin_groups},
        lockout::LockoutPolicy,
    },
    password,
    store::{self, NewUser, UaaStore},
};

mod auth;
mod authorize;
mod directory;
mod oauth;
mod scim;
#[cfg(test)]
mod tests;

pub(crate) use auth::ClientCredentials;
pub(crate) use oauth::{TokenRequest, TokenResponse};
pub(crate) use scim::{ListQuery, Page};

/// How often expired revocations and refresh tokens are forgotten.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

pub(crate) struct Service {
    store: Arc<dyn UaaStore>,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    url: String,
    issuer: String,
    access_validity: Duration,
    refresh_validity: Duration,
    lockout: LockoutPolicy,
    /// Verified against when a user or client is unknown, so both cases take as long.
    dummy_hash: String,
    started_at: DateTime<Utc>,
}

fn chrono_duration(d: std::time::Duration) -> Result<Duration> {
    Duration::from_std(d).map_err(|e| Error::InvalidConfig(format!("token validity: {e}")))
}

impl Service {
    pub async fn start(
        config: UaaConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        shutdown: Shutdown,
    ) -> Result<Arc<Service>> {
        if config.admin.username.trim().is_empty() || config.admin.client_id.trim().is_empty() {
            return Err(Error::InvalidConfig(
                "the admin user name and admin client id must not be empty".into(),
            ));
        }
        let store = store::open(&config.database).await?;
        let result = Self::bootstrap(store.clone(), config, clock, ids).await;
        let service = match result {
            Ok(service) => Arc::new(service),
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        tokio::spawn(prune_loop(Arc::downgrade(&service), shutdown));
        Ok(service)
    }

    async fn bootstrap(
        store: Arc<dyn UaaStore>,
        config: UaaConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Result<Service> {
        let url = config.url.trim_end_matches('/').to_owned();
        let issuer = config.issuer();
        let now = clock.now();

        let mut key_records = store.signing_keys().await?;
        if key_records.is_empty() {
            let key = tokio::task::spawn_blocking(move || keys::generate(now))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            store.add_signing_key(&key).await?;
            tracing::info!(kid = %key.kid, "generated the UAA token signing key");
            key_records = store.signing_keys().await?;
        }
        let keys = KeyRing::load(&key_records, &issuer)?;

        let groups: Vec<(String, String)> = builtin_groups()
            .map(|name| (ids.new_guid(), name.to_owned()))
            .collect();
        store.ensure_groups(&groups, now).await?;
        store.create_client_if_missing(&cf_client(), now).await?;
        store
            .create_client_if_missing(&ssh_proxy_client(&url), now)
            .await?;
        let admin_client_exists = store.find_client(&config.admin.client_id).await?.is_some();
        if !admin_client_exists && config.admin.client_secret.is_empty() {
            // A confidential client with an empty secret would let anyone in.
            tracing::warn!("no admin client secret configured; the admin client is not created");
        } else if !admin_client_exists {
            let secret_hash = password::hash(config.admin.client_secret.clone()).await?;
            store
                .create_client_if_missing(&admin_client(&config.admin.client_id, secret_hash), now)
                .await?;
        }

        let service = Service {
            store,
            keys,
            clock,
            ids,
            url,
            issuer,
            access_validity: chrono_duration(config.access_token_validity)?,
            refresh_validity: chrono_duration(config.refresh_token_validity)?,
            lockout: LockoutPolicy::default(),
            dummy_hash: password::hash("no such user".into()).await?,
            started_at: now,
        };
        service
            .ensure_admin_user(&config.admin.username, &config.admin.password)
            .await?;
        Ok(service)
    }

    /// Creates the admin user on first start; later starts keep its password and only add
    /// group memberships it lacks.
    async fn ensure_admin_user(&self, username: &str, password: &str) -> Result<()> {
        let groups: Vec<String> = DEFAULT_USER_GROUPS
            .iter()
            .chain(ADMIN_GROUPS)
            .map(|g| (*g).to_owned())
            .collect();
        let existing = self
            .store
            .find_users_by_username(username, Some(UAA_ORIGIN))
            .await?;
        let Some(admin) = existing.into_iter().next() else {
            let fields = UserDraft {
                username: Some(username.to_owned()),
                origin: Some(UAA_ORIGIN.to_owned()),
                email: Some(username.to_owned()),
                ..UserDraft::default()
            }
            .validate()
            .map_err(Error::Validation)?;
            let password_hash = if password.is_empty() {
                tracing::warn!("no admin password configured; the admin user cannot log in");
                None
            } else {
                Some(password::hash(password.to_owned()).await?)
            };
            self.store
                .create_user(NewUser {
                    id: self.ids.new_guid(),
                    fields,
                    password_hash,
                    groups,
                    now: self.clock.now(),
                })
                .await?;
            return Ok(());
        };
        self.store
            .add_memberships_by_name(&admin.id, &groups, self.clock.now())
            .await?;
        Ok(())
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    pub async fn close(&self) {
        self.store.close().await;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn find_user(&self, id: &str) -> Result<User> {
        self.store
            .find_user(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("User {id} does not exist")))
    }
}

/// Forgets revocations, refresh tokens and codes that have expired anyway: at start, then
/// periodically until shutdown. Holds the service weakly so it never keeps it alive.
async fn prune_loop(service: std::sync::Weak<Service>, shutdown: Shutdown) {
    loop {
        {
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(e) = service.store.prune_expired(service.now()).await {
                tracing::warn!(error = %e, "could not prune expired UAA tokens");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
