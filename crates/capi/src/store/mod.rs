//! The CCDB behind a trait with domain-shaped methods. Every write is one transaction, and the
//! audit events that describe a change are written in the same transaction as the change.
//! SQL lives only in the implementations; sqlx types never leave this module.

pub mod docs;
mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use docs::{DocOp, Document, Filter, Table};
pub use sql::{PostgresStore, SqliteStore};

use crate::model::{
    AuditEvent, FeatureFlag, Job, Organization, OrganizationQuota, Role, Space, User, job::JobError,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; holds which one (e.g. "organization name").
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Marks the job that a deletion belongs to as COMPLETE in the deletion's own transaction.
#[derive(Debug, Clone, Copy)]
pub struct JobDone<'a> {
    pub job_guid: &'a str,
    pub at: DateTime<Utc>,
}

/// The Cloud Controller database. Reads return `Ok(None)` for a missing row; writes return
/// `Conflict` when a uniqueness rule is broken and `Database` for anything else.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts the quota unless one with its name exists; returns the stored one.
    async fn ensure_organization_quota(
        &self,
        quota: &OrganizationQuota,
    ) -> StoreResult<OrganizationQuota>;
    async fn organization_quotas(&self) -> StoreResult<Vec<OrganizationQuota>>;

    /// Inserts any flag that is missing, leaving changed flags alone.
    async fn seed_feature_flags(&self, defaults: &[(&str, bool)]) -> StoreResult<()>;
    async fn feature_flags(&self) -> StoreResult<Vec<FeatureFlag>>;
    async fn feature_flag(&self, name: &str) -> StoreResult<Option<FeatureFlag>>;
    async fn update_feature_flag(&self, flag: &FeatureFlag) -> StoreResult<()>;

    async fn organizations(&self) -> StoreResult<Vec<Organization>>;
    async fn organization(&self, guid: &str) -> StoreResult<Option<Organization>>;
    /// The organizations among `guids`; unknown guids are skipped.
    async fn organizations_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<Organization>>;
    /// Creates the organization with any initial roles (their users are created if new).
    /// Conflict: the name is taken.
    async fn create_organization(
        &self,
        org: &Organization,
        roles: &[(User, Role)],
        event: &AuditEvent,
    ) -> StoreResult<()>;
    /// Conflict: the new name is taken.
    async fn update_organization(&self, org: &Organization, event: &AuditEvent) -> StoreResult<()>;
    /// Deletes the organization with its spaces and roles; a missing one is fine.
    async fn delete_organization(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()>;

    async fn spaces(&self) -> StoreResult<Vec<Space>>;
    async fn space(&self, guid: &str) -> StoreResult<Option<Space>>;
    /// The spaces among `guids`; unknown guids are skipped.
    async fn spaces_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<Space>>;
    /// Conflict: the name is taken in the organization.
    async fn create_space(&self, space: &Space, event: &AuditEvent) -> StoreResult<()>;
    /// Conflict: the new name is taken in the organization.
    async fn update_space(&self, space: &Space, event: Option<&AuditEvent>) -> StoreResult<()>;
    /// Deletes the space with its roles; a missing one is fine.
    async fn delete_space(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()>;

    async fn users(&self) -> StoreResult<Vec<User>>;
    async fn user(&self, guid: &str) -> StoreResult<Option<User>>;
    /// The users among `guids`; unknown guids are skipped.
    async fn users_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<User>>;
    /// Users with any role in the organization (its spaces included), or only in the space
    /// when `space_guid` is given.
    async fn users_with_role(
        &self,
        org_guid: &str,
        space_guid: Option<&str>,
    ) -> StoreResult<Vec<User>>;
    /// Conflict: the guid exists.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Inserts the user unless it exists; true when it was inserted.
    async fn ensure_user(&self, user: &User) -> StoreResult<bool>;
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Deletes the user with their roles; a missing one is fine.
    async fn delete_user(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()>;

    async fn roles(&self) -> StoreResult<Vec<Role>>;
    async fn roles_for_user(&self, user_guid: &str) -> StoreResult<Vec<Role>>;
    async fn role(&self, guid: &str) -> StoreResult<Option<Role>>;
    /// Creates the role (and its user if new). Conflict: the user already has it.
    async fn create_role(&self, user: &User, role: &Role, event: &AuditEvent) -> StoreResult<()>;
    /// Deletes the role; a missing one is fine.
    async fn delete_role(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()>;

    async fn audit_events(&self) -> StoreResult<Vec<AuditEvent>>;
    async fn audit_event(&self, guid: &str) -> StoreResult<Option<AuditEvent>>;

    /// Persists a new job together with the events of the request that started it.
    async fn create_job(&self, job: &Job, events: &[AuditEvent]) -> StoreResult<()>;
    async fn job(&self, guid: &str) -> StoreResult<Option<Job>>;
    /// Jobs still PROCESSING, oldest first.
    async fn unfinished_jobs(&self) -> StoreResult<Vec<Job>>;
    /// Marks a processing job FAILED with the error; finished jobs are left alone.
    async fn fail_job(&self, guid: &str, error: &JobError, at: DateTime<Utc>) -> StoreResult<()>;

    /// The document with this guid in `table` (see [`docs`]).
    async fn doc(&self, table: Table, guid: &str) -> StoreResult<Option<String>>;
    /// The documents of `table` matching every filter, oldest first.
    async fn docs(&self, table: Table, filters: &[Filter]) -> StoreResult<Vec<String>>;
    /// Applies the writes and records the events in one transaction, and marks the job that
    /// asked for them COMPLETE in it too.
    async fn write_docs(
        &self,
        ops: &[DocOp],
        events: &[AuditEvent],
        done: Option<JobDone<'_>>,
    ) -> StoreResult<()>;

    async fn close(&self);
}
