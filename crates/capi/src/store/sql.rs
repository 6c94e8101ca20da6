//! The CCDB in SQL: one implementation serves SQLite (`ingot up`) and PostgreSQL (distributed
//! deployments). Statements use `$n` placeholders, which both accept, and the two migrations
//! choose column types that bind and decode alike (TEXT timestamps and JSON, booleans as
//! INTEGER or BOOLEAN). What sqlx does not abstract over is in [`Dialect`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, Row, Sqlite,
    Transaction, Type,
};

use super::{
    JobDone, Store, StoreError, StoreResult,
    docs::{DocOp, Filter, Row as DocRow, Table, check_column},
};
use crate::model::{
    AuditActor, AuditEvent, AuditTarget, FeatureFlag, Job, JobOperation, JobState, Metadata,
    Organization, OrganizationQuota, Role, RoleType, Space, User, job::JobError,
};

/// The SQLite CCDB, used by `ingot up`.
pub type SqliteStore = SqlStore<Sqlite>;
/// The PostgreSQL CCDB, for distributed deployments.
pub type PostgresStore = SqlStore<Postgres>;

/// The little that differs between the databases and that sqlx leaves to each driver.
pub trait Dialect: Database {
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl Dialect for Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl Dialect for Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

#[derive(Debug)]
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Database> SqlStore<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// Maps a unique-constraint failure to Conflict(`what`).
fn unique(what: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => db(e),
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Database(format!("bad timestamp {s:?}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Row mapping, statements shared by several writes, and query plumbing. The bounds (repeated on
/// the `Store` impl) say that the pool and its connections run queries, and that the value types
/// the CCDB binds and reads (text, optional text, booleans) convert in that database.
impl<DB: Dialect> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    fn col<'r, T: Decode<'r, DB> + Type<DB>>(row: &'r DB::Row, name: &str) -> StoreResult<T> {
        row.try_get(name).map_err(db)
    }

    fn ts_col(row: &DB::Row, name: &str) -> StoreResult<DateTime<Utc>> {
        parse_ts(&Self::col::<String>(row, name)?)
    }

    fn json_col<T: serde::de::DeserializeOwned>(row: &DB::Row, name: &str) -> StoreResult<T> {
        let raw: String = Self::col(row, name)?;
        serde_json::from_str(&raw).map_err(|e| StoreError::Database(format!("bad {name}: {e}")))
    }

    fn metadata(row: &DB::Row) -> StoreResult<Metadata> {
        Ok(Metadata {
            labels: Self::json_col::<BTreeMap<String, String>>(row, "labels")?,
            annotations: Self::json_col::<BTreeMap<String, String>>(row, "annotations")?,
        })
    }

    fn quota_row(row: &DB::Row) -> StoreResult<OrganizationQuota> {
        Ok(OrganizationQuota {
            guid: Self::col(row, "guid")?,
            name: Self::col(row, "name")?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    fn org_row(row: &DB::Row) -> StoreResult<Organization> {
        Ok(Organization {
            guid: Self::col(row, "guid")?,
            name: Self::col(row, "name")?,
            suspended: Self::col(row, "suspended")?,
            quota_guid: Self::col(row, "quota_guid")?,
            metadata: Self::metadata(row)?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    fn space_row(row: &DB::Row) -> StoreResult<Space> {
        Ok(Space {
            guid: Self::col(row, "guid")?,
            name: Self::col(row, "name")?,
            organization_guid: Self::col(row, "organization_guid")?,
            allow_ssh: Self::col(row, "allow_ssh")?,
            metadata: Self::metadata(row)?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    fn user_row(row: &DB::Row) -> StoreResult<User> {
        Ok(User {
            guid: Self::col(row, "guid")?,
            metadata: Self::metadata(row)?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    fn role_row(row: &DB::Row) -> StoreResult<Role> {
        let raw: String = Self::col(row, "type")?;
        Ok(Role {
            guid: Self::col(row, "guid")?,
            role_type: RoleType::parse(&raw)
                .ok_or_else(|| StoreError::Database(format!("bad role type {raw}")))?,
            user_guid: Self::col(row, "user_guid")?,
            organization_guid: Self::col(row, "organization_guid")?,
            space_guid: Self::col(row, "space_guid")?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    fn flag_row(row: &DB::Row) -> StoreResult<FeatureFlag> {
        let updated: Option<String> = Self::col(row, "updated_at")?;
        Ok(FeatureFlag {
            name: Self::col(row, "name")?,
            enabled: Self::col(row, "enabled")?,
            custom_error_message: Self::col(row, "custom_error_message")?,
            updated_at: updated.as_deref().map(parse_ts).transpose()?,
        })
    }

    fn event_row(row: &DB::Row) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            guid: Self::col(row, "guid")?,
            event_type: Self::col(row, "type")?,
            actor: AuditActor {
                guid: Self::col(row, "actor_guid")?,
                actor_type: Self::col(row, "actor_type")?,
                name: Self::col(row, "actor_name")?,
            },
            target: AuditTarget {
                guid: Self::col(row, "target_guid")?,
                target_type: Self::col(row, "target_type")?,
                name: Self::col(row, "target_name")?,
            },
            data: Self::json_col(row, "data")?,
            space_guid: Self::col(row, "space_guid")?,
            organization_guid: Self::col(row, "organization_guid")?,
            created_at: Self::ts_col(row, "created_at")?,
        })
    }

    fn job_row(row: &DB::Row) -> StoreResult<Job> {
        let op: String = Self::col(row, "operation")?;
        let state: String = Self::col(row, "state")?;
        Ok(Job {
            guid: Self::col(row, "guid")?,
            operation: JobOperation::parse(&op)
                .ok_or_else(|| StoreError::Database(format!("bad job operation {op}")))?,
            resource_guid: Self::col(row, "resource_guid")?,
            state: JobState::parse(&state)
                .ok_or_else(|| StoreError::Database(format!("bad job state {state}")))?,
            errors: Self::json_col(row, "errors")?,
            warnings: Self::json_col(row, "warnings")?,
            created_at: Self::ts_col(row, "created_at")?,
            updated_at: Self::ts_col(row, "updated_at")?,
        })
    }

    async fn insert_event(tx: &mut Transaction<'_, DB>, e: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (guid, type, actor_guid, actor_type, actor_name, target_guid, \
             target_type, target_name, data, space_guid, organization_guid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&e.guid)
        .bind(&e.event_type)
        .bind(&e.actor.guid)
        .bind(&e.actor.actor_type)
        .bind(&e.actor.name)
        .bind(&e.target.guid)
        .bind(&e.target.target_type)
        .bind(&e.target.name)
        .bind(to_json(&e.data))
        .bind(&e.space_guid)
        .bind(&e.organization_guid)
        .bind(ts(e.created_at))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_user_if_missing(tx: &mut Transaction<'_, DB>, u: &User) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO users (guid, labels, annotations, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guid) DO NOTHING",
        )
        .bind(&u.guid)
        .bind(to_json(&u.metadata.labels))
        .bind(to_json(&u.metadata.annotations))
        .bind(ts(u.created_at))
        .bind(ts(u.updated_at))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn insert_role(tx: &mut Transaction<'_, DB>, r: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (guid, type, user_guid, organization_guid, space_guid, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.guid)
        .bind(r.role_type.as_str())
        .bind(&r.user_guid)
        .bind(&r.organization_guid)
        .bind(&r.space_guid)
        .bind(ts(r.created_at))
        .bind(ts(r.updated_at))
        .execute(&mut **tx)
        .await
        .map_err(unique("role"))?;
        Ok(())
    }

    async fn complete_job(tx: &mut Transaction<'_, DB>, done: JobDone<'_>) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET state = $1, updated_at = $2 WHERE guid = $3 AND state = $4")
            .bind(JobState::Complete.as_str())
            .bind(ts(done.at))
            .bind(done.job_guid)
            .bind(JobState::Processing.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// A plain `BEGIN`: deferred on SQLite, READ COMMITTED on PostgreSQL. Every transaction here
    /// opens with a write statement, so SQLite takes its write lock at the first statement rather
    /// than upgrading from a read.
    async fn write_doc(tx: &mut Transaction<'_, DB>, op: &DocOp) -> StoreResult<()> {
        match op {
            DocOp::Insert(row) => {
                let columns = row.table.columns();
                let names: Vec<&str> = ["guid", "doc", "created_at"]
                    .into_iter()
                    .chain(columns.iter().copied())
                    .collect();
                let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    row.table.name(),
                    names.join(", "),
                    marks.join(", ")
                );
                Self::bind_row(sqlx::query(&sql), row)
                    .execute(&mut **tx)
                    .await
                    .map_err(unique(row.table.conflict()))?;
            }
            DocOp::Update(row) => {
                let sets: Vec<String> = ["doc", "created_at"]
                    .into_iter()
                    .chain(row.table.columns().iter().copied())
                    .enumerate()
                    .map(|(i, name)| format!("{name} = ${}", i + 2))
                    .collect();
                let sql = format!(
                    "UPDATE {} SET {} WHERE guid = $1",
                    row.table.name(),
                    sets.join(", ")
                );
                Self::bind_row(sqlx::query(&sql), row)
                    .execute(&mut **tx)
                    .await
                    .map_err(unique(row.table.conflict()))?;
            }
            DocOp::Delete { table, guid } => {
                let sql = format!("DELETE FROM {} WHERE guid = $1", table.name());
                sqlx::query(&sql)
                    .bind(guid.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
            }
        }
        Ok(())
    }

    /// Binds guid, doc, created_at and the key columns, in that order.
    fn bind_row<'q>(
        query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
        row: &'q DocRow,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        let query = query
            .bind(row.guid.as_str())
            .bind(row.doc.as_str())
            .bind(ts(row.created_at));
        row.keys
            .iter()
            .fold(query, |query, key| query.bind(key.clone()))
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, DB>> {
        self.pool.begin().await.map_err(db)
    }

    async fn all<T>(&self, sql: &str, map: fn(&DB::Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(map).collect()
    }

    /// Rows of `table` whose guid is among `guids`, in creation order.
    async fn by_guids<T>(
        &self,
        table: &str,
        guids: &[&str],
        map: fn(&DB::Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        if guids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=guids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM {table} WHERE guid IN ({}) ORDER BY created_at, guid",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for guid in guids {
            query = query.bind(*guid);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(map).collect()
    }

    async fn one<T>(
        &self,
        sql: &str,
        key: &str,
        map: fn(&DB::Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(map).transpose()
    }

    /// Deletes one row by guid and completes the job, in one transaction.
    async fn delete_and_complete(
        &self,
        sql: &str,
        guid: &str,
        done: JobDone<'_>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(sql)
            .bind(guid)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Self::complete_job(&mut tx, done).await?;
        tx.commit().await.map_err(db)
    }
}

#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    async fn ensure_organization_quota(
        &self,
        quota: &OrganizationQuota,
    ) -> StoreResult<OrganizationQuota> {
        sqlx::query(
            "INSERT INTO organization_quotas (guid, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&quota.guid)
        .bind(&quota.name)
        .bind(ts(quota.created_at))
        .bind(ts(quota.updated_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.one(
            "SELECT * FROM organization_quotas WHERE name = $1",
            &quota.name,
            Self::quota_row,
        )
        .await?
        .ok_or_else(|| StoreError::Database("organization quota vanished".into()))
    }

    async fn organization_quotas(&self) -> StoreResult<Vec<OrganizationQuota>> {
        self.all("SELECT * FROM organization_quotas", Self::quota_row)
            .await
    }

    async fn seed_feature_flags(&self, defaults: &[(&str, bool)]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (name, enabled) in defaults {
            sqlx::query(
                "INSERT INTO feature_flags (name, enabled) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(enabled)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn feature_flags(&self) -> StoreResult<Vec<FeatureFlag>> {
        self.all("SELECT * FROM feature_flags ORDER BY name", Self::flag_row)
            .await
    }

    async fn feature_flag(&self, name: &str) -> StoreResult<Option<FeatureFlag>> {
        self.one(
            "SELECT * FROM feature_flags WHERE name = $1",
            name,
            Self::flag_row,
        )
        .await
    }

    async fn update_feature_flag(&self, flag: &FeatureFlag) -> StoreResult<()> {
        sqlx::query(
            "UPDATE feature_flags SET enabled = $1, custom_error_message = $2, updated_at = $3 \
             WHERE name = $4",
        )
        .bind(flag.enabled)
        .bind(&flag.custom_error_message)
        .bind(flag.updated_at.map(ts))
        .bind(&flag.name)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn organizations(&self) -> StoreResult<Vec<Organization>> {
        self.all("SELECT * FROM organizations", Self::org_row).await
    }

    async fn organization(&self, guid: &str) -> StoreResult<Option<Organization>> {
        self.one(
            "SELECT * FROM organizations WHERE guid = $1",
            guid,
            Self::org_row,
        )
        .await
    }

    async fn create_organization(
        &self,
        org: &Organization,
        roles: &[(User, Role)],
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO organizations (guid, name, suspended, quota_guid, labels, annotations, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&org.guid)
        .bind(&org.name)
        .bind(org.suspended)
        .bind(&org.quota_guid)
        .bind(to_json(&org.metadata.labels))
        .bind(to_json(&org.metadata.annotations))
        .bind(ts(org.created_at))
        .bind(ts(org.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(unique("organization name"))?;
        for (user, role) in roles {
            Self::insert_user_if_missing(&mut tx, user).await?;
            Self::insert_role(&mut tx, role).await?;
        }
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_organization(&self, org: &Organization, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE organizations SET name = $1, suspended = $2, labels = $3, annotations = $4, \
             updated_at = $5 WHERE guid = $6",
        )
        .bind(&org.name)
        .bind(org.suspended)
        .bind(to_json(&org.metadata.labels))
        .bind(to_json(&org.metadata.annotations))
        .bind(ts(org.updated_at))
        .bind(&org.guid)
        .execute(&mut *tx)
        .await
        .map_err(unique("organization name"))?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_organization(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        // Spaces and roles go with it through ON DELETE CASCADE.
        self.delete_and_complete("DELETE FROM organizations WHERE guid = $1", guid, done)
            .await
    }

    async fn organizations_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<Organization>> {
        self.by_guids("organizations", guids, Self::org_row).await
    }

    async fn spaces(&self) -> StoreResult<Vec<Space>> {
        self.all("SELECT * FROM spaces", Self::space_row).await
    }

    async fn space(&self, guid: &str) -> StoreResult<Option<Space>> {
        self.one(
            "SELECT * FROM spaces WHERE guid = $1",
            guid,
            Self::space_row,
        )
        .await
    }

    async fn create_space(&self, space: &Space, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO spaces (guid, name, organization_guid, allow_ssh, labels, annotations, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&space.guid)
        .bind(&space.name)
        .bind(&space.organization_guid)
        .bind(space.allow_ssh)
        .bind(to_json(&space.metadata.labels))
        .bind(to_json(&space.metadata.annotations))
        .bind(ts(space.created_at))
        .bind(ts(space.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(unique("space name"))?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_space(&self, space: &Space, event: Option<&AuditEvent>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE spaces SET name = $1, allow_ssh = $2, labels = $3, annotations = $4, \
             updated_at = $5 WHERE guid = $6",
        )
        .bind(&space.name)
        .bind(space.allow_ssh)
        .bind(to_json(&space.metadata.labels))
        .bind(to_json(&space.metadata.annotations))
        .bind(ts(space.updated_at))
        .bind(&space.guid)
        .execute(&mut *tx)
        .await
        .map_err(unique("space name"))?;
        if let Some(event) = event {
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_space(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        self.delete_and_complete("DELETE FROM spaces WHERE guid = $1", guid, done)
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.all("SELECT * FROM users", Self::user_row).await
    }

    async fn user(&self, guid: &str) -> StoreResult<Option<User>> {
        self.one("SELECT * FROM users WHERE guid = $1", guid, Self::user_row)
            .await
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if !Self::insert_user_if_missing(&mut tx, user).await? {
            return Err(StoreError::Conflict("user guid".into()));
        }
        tx.commit().await.map_err(db)
    }

    async fn ensure_user(&self, user: &User) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let created = Self::insert_user_if_missing(&mut tx, user).await?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET labels = $1, annotations = $2, updated_at = $3 WHERE guid = $4",
        )
        .bind(to_json(&user.metadata.labels))
        .bind(to_json(&user.metadata.annotations))
        .bind(ts(user.updated_at))
        .bind(&user.guid)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_user(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        self.delete_and_complete("DELETE FROM users WHERE guid = $1", guid, done)
            .await
    }

    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.all("SELECT * FROM roles", Self::role_row).await
    }

    async fn spaces_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<Space>> {
        self.by_guids("spaces", guids, Self::space_row).await
    }

    async fn users_by_guids(&self, guids: &[&str]) -> StoreResult<Vec<User>> {
        self.by_guids("users", guids, Self::user_row).await
    }

    async fn users_with_role(
        &self,
        org_guid: &str,
        space_guid: Option<&str>,
    ) -> StoreResult<Vec<User>> {
        const BASE: &str = "SELECT DISTINCT u.* FROM users u JOIN roles r ON r.user_guid = u.guid \
                            WHERE r.organization_guid = $1";
        let rows = match space_guid {
            None => sqlx::query(BASE).bind(org_guid).fetch_all(&self.pool).await,
            Some(space) => {
                sqlx::query(&format!("{BASE} AND r.space_guid = $2"))
                    .bind(org_guid)
                    .bind(space)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db)?;
        rows.iter().map(Self::user_row).collect()
    }

    async fn roles_for_user(&self, user_guid: &str) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query("SELECT * FROM roles WHERE user_guid = $1")
            .bind(user_guid)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(Self::role_row).collect()
    }

    async fn role(&self, guid: &str) -> StoreResult<Option<Role>> {
        self.one("SELECT * FROM roles WHERE guid = $1", guid, Self::role_row)
            .await
    }

    async fn create_role(&self, user: &User, role: &Role, event: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        Self::insert_user_if_missing(&mut tx, user).await?;
        Self::insert_role(&mut tx, role).await?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_role(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        self.delete_and_complete("DELETE FROM roles WHERE guid = $1", guid, done)
            .await
    }

    async fn audit_events(&self) -> StoreResult<Vec<AuditEvent>> {
        self.all("SELECT * FROM audit_events", Self::event_row)
            .await
    }

    async fn audit_event(&self, guid: &str) -> StoreResult<Option<AuditEvent>> {
        self.one(
            "SELECT * FROM audit_events WHERE guid = $1",
            guid,
            Self::event_row,
        )
        .await
    }

    async fn create_job(&self, job: &Job, events: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO jobs (guid, operation, resource_guid, state, errors, warnings, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&job.guid)
        .bind(job.operation.as_str())
        .bind(&job.resource_guid)
        .bind(job.state.as_str())
        .bind(to_json(&job.errors))
        .bind(to_json(&job.warnings))
        .bind(ts(job.created_at))
        .bind(ts(job.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for event in events {
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn job(&self, guid: &str) -> StoreResult<Option<Job>> {
        self.one("SELECT * FROM jobs WHERE guid = $1", guid, Self::job_row)
            .await
    }

    async fn unfinished_jobs(&self) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE state = $1 ORDER BY created_at")
            .bind(JobState::Processing.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(Self::job_row).collect()
    }

    async fn fail_job(&self, guid: &str, error: &JobError, at: DateTime<Utc>) -> StoreResult<()> {
        let errors = to_json(&[error]);
        sqlx::query(
            "UPDATE jobs SET state = $1, errors = $2, updated_at = $3 WHERE guid = $4 AND state = $5",
        )
        .bind(JobState::Failed.as_str())
        .bind(errors)
        .bind(ts(at))
        .bind(guid)
        .bind(JobState::Processing.as_str())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn doc(&self, table: Table, guid: &str) -> StoreResult<Option<String>> {
        let sql = format!("SELECT doc FROM {} WHERE guid = $1", table.name());
        self.one(&sql, guid, |row| Self::col(row, "doc")).await
    }

    async fn docs(&self, table: Table, filters: &[Filter]) -> StoreResult<Vec<String>> {
        let mut sql = format!("SELECT doc FROM {} WHERE 1 = 1", table.name());
        let mut binds: Vec<&str> = Vec::new();
        for filter in filters {
            check_column(table, filter.column())?;
            match filter {
                Filter::In(_, values) if values.is_empty() => sql.push_str(" AND 1 = 0"),
                Filter::In(column, values) => {
                    let marks: Vec<String> = (0..values.len())
                        .map(|i| format!("${}", binds.len() + i + 1))
                        .collect();
                    sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
                    binds.extend(values.iter().map(String::as_str));
                }
            }
        }
        sql.push_str(" ORDER BY created_at, guid");
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|row| Self::col(row, "doc")).collect()
    }

    async fn write_docs(
        &self,
        ops: &[DocOp],
        events: &[AuditEvent],
        done: Option<JobDone<'_>>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for op in ops {
            Self::write_doc(&mut tx, op).await?;
        }
        for event in events {
            Self::insert_event(&mut tx, event).await?;
        }
        if let Some(done) = done {
            Self::complete_job(&mut tx, done).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
