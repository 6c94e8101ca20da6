//! Storage behind a trait with UAA-shaped methods. Transactions and SQL stay in here; sqlx
//! types never leave. A PostgreSQL implementation only needs a sibling of `sqlite.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ingot_core::{Database, DatabaseUrl};
use sqlx::migrate::Migrator;

use crate::{
    Error,
    model::{Client, Group, User, UserFields},
};

#[cfg(test)]
mod memory;
mod sqlite;
#[cfg(test)]
mod tests;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Opens and migrates the UAA database and returns the store for its dialect.
pub(crate) async fn open(url: &DatabaseUrl) -> Result<Arc<dyn UaaStore>, Error> {
    // Refused before connecting, so a PostgreSQL URL never opens a pool or runs migrations.
    if let DatabaseUrl::Postgres(_) = url {
        return Err(Error::Unsupported(
            "a PostgreSQL UAA database is not yet supported; use a sqlite:// URL".into(),
        ));
    }
    match Database::open(url, &SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await? {
        Database::Sqlite(pool) => Ok(Arc::new(sqlite::SqliteStore::new(pool))),
        Database::Postgres(_) => unreachable!("PostgreSQL URLs are refused above"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    VersionMismatch(String),
    #[error("{0}")]
    Other(String),
}

pub(crate) type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::VersionMismatch(m) => Self::VersionMismatch(m),
            StoreError::Other(m) => Self::Store(m),
        }
    }
}

/// A persisted RSA signing key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SigningKeyRecord {
    pub kid: String,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("private_pem", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A user to create, with the groups (by name) they join.
pub(crate) struct NewUser {
    pub id: String,
    pub fields: UserFields,
    pub password_hash: Option<String>,
    pub groups: Vec<String>,
    pub now: DateTime<Utc>,
}

/// A refresh token that was handed out and may still be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefreshTokenRecord {
    pub jti: String,
    pub user_id: String,
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A one-time code of the authorization_code grant, known only by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizationCodeRecord {
    pub code_hash: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub(crate) trait UaaStore: Send + Sync + 'static {
    // --- signing keys ---

    /// All signing keys, oldest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;

    // --- clients ---

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// Registers the client unless one with that id exists; true if it was created.
    async fn create_client_if_missing(
        &self,
        client: &Client,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // --- groups ---

    /// Creates the named groups that do not exist yet; `ids` supplies ids for new ones.
    async fn ensure_groups(
        &self,
        groups: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Errors: Conflict if the display name is taken.
    async fn create_group(
        &self,
        id: &str,
        display_name: &str,
        description: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Group>;
    async fn find_group(&self, id: &str) -> StoreResult<Option<Group>>;
    async fn list_groups(&self) -> StoreResult<Vec<Group>>;
    /// Errors: NotFound (group or user), Conflict (already a member).
    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group>;
    /// Errors: NotFound (group, or the user is not a member).
    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group>;

    /// Adds the user to each named group they are not in yet; unknown names are skipped.
    /// Idempotent. Errors: NotFound (user).
    async fn add_memberships_by_name(
        &self,
        user_id: &str,
        group_names: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    // --- users ---

    /// Creates the user and their memberships in one transaction. Errors: Conflict.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn find_user(&self, id: &str) -> StoreResult<Option<User>>;
    /// Users with this name (ignoring case), in `origin` or in any origin.
    async fn find_users_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> StoreResult<Vec<User>>;
    /// The oldest user with this name (ignoring case) in `origin`, with their password hash:
    /// what a password login needs, in one lookup.
    async fn find_login(
        &self,
        username: &str,
        origin: &str,
    ) -> StoreResult<Option<(User, Option<String>)>>;
    async fn find_users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>>;
    /// Every user, oldest first.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
    /// Returns the user before and after. Errors: NotFound, Conflict (name taken),
    /// VersionMismatch (`expected_version` given and stale).
    async fn update_user(
        &self,
        id: &str,
        fields: &UserFields,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<(User, User)>;
    /// Deletes the user with their memberships and refresh tokens. Errors: NotFound.
    async fn delete_user(&self, id: &str) -> StoreResult<User>;
    /// Replaces the password hash and drops the user's refresh tokens. Errors: NotFound.
    async fn set_password(&self, user_id: &str, hash: &str, now: DateTime<Utc>) -> StoreResult<()>;

    // --- logins ---

    /// Records a failed login, forgets failures older than `forget_before`, and returns the
    /// failures that remain.
    async fn record_failed_login(
        &self,
        user_id: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<Vec<DateTime<Utc>>>;
    async fn failed_logins(&self, user_id: &str) -> StoreResult<Vec<DateTime<Utc>>>;
    /// Clears failures and moves the last logon time to the previous one.
    async fn record_successful_login(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()>;

    // --- tokens ---

    async fn add_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// The refresh token, unless it is unknown or revoked.
    async fn find_refresh_token(&self, jti: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Marks a token id revoked (and drops it if it is a refresh token).
    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn is_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn add_authorization_code(&self, code: &AuthorizationCodeRecord) -> StoreResult<()>;
    /// Removes and returns the code, so it works once; expired codes are not returned.
    async fn take_authorization_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AuthorizationCodeRecord>>;
    /// Forgets revocations and refresh tokens that expired before `now`.
    async fn prune_expired(&self, now: DateTime<Utc>) -> StoreResult<()>;

    async fn close(&self);
}
