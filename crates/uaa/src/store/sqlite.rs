//! The SQLite store (the embedded default). Runtime queries with binds; no compile-time macros.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction, sqlite::SqliteRow,
};

use super::{
    AuthorizationCodeRecord, NewUser, RefreshTokenRecord, SigningKeyRecord, StoreError,
    StoreResult, UaaStore,
};
use crate::model::{Client, Group, GroupRef, User, UserFields, group::Member, user::username_key};

pub(crate) struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Every transaction here writes. Taking the write lock up front makes a concurrent writer
    /// wait (busy timeout) instead of failing when a read transaction tries to upgrade.
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(other)
    }
}

fn other(e: sqlx::Error) -> StoreError {
    StoreError::Other(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn join(items: &[String]) -> String {
    items.join(" ")
}

fn split(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_owned).collect()
}

const USER_COLUMNS: &str = "id, username, origin, email, given_name, family_name, active, \
     verified, version, created_at, last_modified, password_last_modified, last_logon_at, \
     previous_logon_at";

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        origin: row.try_get("origin")?,
        email: row.try_get("email")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        active: row.try_get("active")?,
        verified: row.try_get("verified")?,
        version: row.try_get("version")?,
        created: row.try_get("created_at")?,
        last_modified: row.try_get("last_modified")?,
        password_last_modified: row.try_get("password_last_modified")?,
        last_logon: row.try_get("last_logon_at")?,
        previous_logon: row.try_get("previous_logon_at")?,
        groups: Vec::new(),
    })
}

fn client_from_row(row: &SqliteRow) -> Result<Client, sqlx::Error> {
    Ok(Client {
        id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        grant_types: split(row.try_get("authorized_grant_types")?),
        scope: split(row.try_get("scope")?),
        authorities: split(row.try_get("authorities")?),
        redirect_uris: split(row.try_get("redirect_uris")?),
        autoapprove: row.try_get("autoapprove")?,
        access_token_validity: row.try_get("access_token_validity")?,
        refresh_token_validity: row.try_get("refresh_token_validity")?,
    })
}

/// Fills in the direct group memberships of `users`.
async fn attach_groups(conn: &mut SqliteConnection, users: &mut [User]) -> StoreResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT m.user_id, g.id, g.display_name FROM group_memberships m \
         JOIN groups g ON g.id = m.group_id WHERE m.user_id IN (",
    );
    let mut ids = query.separated(", ");
    for user in users.iter() {
        ids.push_bind(user.id.clone());
    }
    query.push(") ORDER BY g.display_name");
    let rows = query.build().fetch_all(&mut *conn).await.map_err(other)?;
    let mut by_user: HashMap<String, Vec<GroupRef>> = HashMap::new();
    for row in rows {
        let user_id: String = row.try_get(0).map_err(other)?;
        by_user.entry(user_id).or_default().push(GroupRef {
            id: row.try_get(1).map_err(other)?,
            display: row.try_get(2).map_err(other)?,
        });
    }
    for user in users.iter_mut() {
        user.groups = by_user.remove(&user.id).unwrap_or_default();
    }
    Ok(())
}

async fn users_where(
    conn: &mut SqliteConnection,
    mut query: QueryBuilder<'_, Sqlite>,
) -> StoreResult<Vec<User>> {
    let rows = query.build().fetch_all(&mut *conn).await.map_err(other)?;
    let mut users = rows
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(other)?;
    attach_groups(conn, &mut users).await?;
    Ok(users)
}

fn select_users() -> QueryBuilder<'static, Sqlite> {
    QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users "))
}

async fn user_by_id(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<User>> {
    let mut query = select_users();
    query.push("WHERE id = ").push_bind(id.to_owned());
    Ok(users_where(conn, query).await?.into_iter().next())
}

async fn group_by_id(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<Group>> {
    let row = sqlx::query(
        "SELECT id, display_name, description, version, created_at, last_modified \
         FROM groups WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(other)?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = vec![group_from_row(&row).map_err(other)?];
    attach_members(conn, &mut groups).await?;
    Ok(groups.pop())
}

fn group_from_row(row: &SqliteRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        version: row.try_get("version")?,
        created: row.try_get("created_at")?,
        last_modified: row.try_get("last_modified")?,
        members: Vec::new(),
    })
}

/// Fills in the members of `groups`, reading only their memberships.
async fn attach_members(conn: &mut SqliteConnection, groups: &mut [Group]) -> StoreResult<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT m.group_id, m.user_id, u.origin FROM group_memberships m \
         JOIN users u ON u.id = m.user_id WHERE m.group_id IN (",
    );
    let mut ids = query.separated(", ");
    for group in groups.iter() {
        ids.push_bind(group.id.clone());
    }
    query.push(") ORDER BY m.added_at, m.user_id");
    let rows = query.build().fetch_all(&mut *conn).await.map_err(other)?;
    fill_members(rows, groups)
}

/// Fills in the members of every group: one query for every membership, rather than an IN
/// list of every group.
async fn attach_all_members(conn: &mut SqliteConnection, groups: &mut [Group]) -> StoreResult<()> {
    let rows = sqlx::query(
        "SELECT m.group_id, m.user_id, u.origin FROM group_memberships m \
         JOIN users u ON u.id = m.user_id ORDER BY m.added_at, m.user_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    fill_members(rows, groups)
}

fn fill_members(rows: Vec<SqliteRow>, groups: &mut [Group]) -> StoreResult<()> {
    let mut by_group: HashMap<String, Vec<Member>> = HashMap::new();
    for row in rows {
        let group_id: String = row.try_get(0).map_err(other)?;
        by_group.entry(group_id).or_default().push(Member {
            user_id: row.try_get(1).map_err(other)?,
            origin: row.try_get(2).map_err(other)?,
        });
    }
    for group in groups.iter_mut() {
        group.members = by_group.remove(&group.id).unwrap_or_default();
    }
    Ok(())
}

/// Adds the user to each named group they are not in yet; unknown names are skipped.
async fn insert_memberships_by_name(
    conn: &mut SqliteConnection,
    user_id: &str,
    group_names: &[String],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if group_names.is_empty() {
        return Ok(());
    }
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO group_memberships (group_id, user_id, added_at) SELECT id, ",
    );
    query
        .push_bind(user_id.to_owned())
        .push(", ")
        .push_bind(now)
        .push(" FROM groups WHERE display_name IN (");
    let mut names = query.separated(", ");
    for name in group_names {
        names.push_bind(name.clone());
    }
    query.push(") ON CONFLICT (group_id, user_id) DO NOTHING");
    query.build().execute(&mut *conn).await.map_err(other)?;
    Ok(())
}

async fn touch_group(
    conn: &mut SqliteConnection,
    group_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE groups SET version = version + 1, last_modified = ? WHERE id = ?")
        .bind(now)
        .bind(group_id)
        .execute(&mut *conn)
        .await
        .map_err(other)?;
    Ok(())
}

#[async_trait]
impl UaaStore for SqliteStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, private_pem, created_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    kid: row.try_get("kid")?,
                    private_pem: row.try_get("private_pem")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(other)
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO signing_keys (kid, private_pem, created_at) VALUES (?, ?, ?)")
            .bind(&key.kid)
            .bind(&key.private_pem)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(other)?;
        Ok(())
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let row = sqlx::query("SELECT * FROM oauth_clients WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        row.as_ref().map(client_from_row).transpose().map_err(other)
    }

    async fn create_client_if_missing(
        &self,
        client: &Client,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO oauth_clients (client_id, secret_hash, authorized_grant_types, scope, \
             authorities, redirect_uris, autoapprove, access_token_validity, \
             refresh_token_validity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(&client.id)
        .bind(&client.secret_hash)
        .bind(join(&client.grant_types))
        .bind(join(&client.scope))
        .bind(join(&client.authorities))
        .bind(join(&client.redirect_uris))
        .bind(client.autoapprove)
        .bind(client.access_token_validity)
        .bind(client.refresh_token_validity)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(other)?;
        Ok(result.rows_affected() == 1)
    }

    async fn ensure_groups(
        &self,
        groups: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for (id, name) in groups {
            sqlx::query(
                "INSERT INTO groups (id, display_name, description, version, created_at, \
                 last_modified) VALUES (?, ?, NULL, 0, ?, ?) ON CONFLICT (display_name) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        }
        tx.commit().await.map_err(other)
    }

    async fn create_group(
        &self,
        id: &str,
        display_name: &str,
        description: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        sqlx::query(
            "INSERT INTO groups (id, display_name, description, version, created_at, \
             last_modified) VALUES (?, ?, ?, 0, ?, ?)",
        )
        .bind(id)
        .bind(display_name)
        .bind(description)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "A group with displayName: {display_name} already exists."
                ))
            } else {
                other(e)
            }
        })?;
        group_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::Other("group vanished after insert".into()))
    }

    async fn find_group(&self, id: &str) -> StoreResult<Option<Group>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        group_by_id(&mut conn, id).await
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let rows = sqlx::query(
            "SELECT id, display_name, description, version, created_at, last_modified \
             FROM groups ORDER BY created_at, display_name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(other)?;
        let mut groups = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(other)?;
        attach_all_members(&mut conn, &mut groups).await?;
        Ok(groups)
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        let mut tx = self.write_tx().await?;
        if group_by_id(&mut tx, group_id).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "Group {group_id} does not exist"
            )));
        }
        if user_by_id(&mut tx, user_id).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "User {user_id} does not exist"
            )));
        }
        sqlx::query("INSERT INTO group_memberships (group_id, user_id, added_at) VALUES (?, ?, ?)")
            .bind(group_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!(
                        "Member {user_id} already exists in group {group_id}"
                    ))
                } else {
                    other(e)
                }
            })?;
        touch_group(&mut tx, group_id, now).await?;
        let group = group_by_id(&mut tx, group_id)
            .await?
            .ok_or_else(|| StoreError::Other("group vanished".into()))?;
        tx.commit().await.map_err(other)?;
        Ok(group)
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        let mut tx = self.write_tx().await?;
        let removed =
            sqlx::query("DELETE FROM group_memberships WHERE group_id = ? AND user_id = ?")
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        if removed.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "Member {user_id} does not exist in group {group_id}"
            )));
        }
        touch_group(&mut tx, group_id, now).await?;
        let group = group_by_id(&mut tx, group_id)
            .await?
            .ok_or_else(|| StoreError::Other("group vanished".into()))?;
        tx.commit().await.map_err(other)?;
        Ok(group)
    }

    async fn add_memberships_by_name(
        &self,
        user_id: &str,
        group_names: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(other)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "User {user_id} does not exist"
            )));
        }
        insert_memberships_by_name(&mut tx, user_id, group_names, now).await?;
        tx.commit().await.map_err(other)
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let fields = &user.fields;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO users (id, username, username_key, origin, email, given_name, \
             family_name, password_hash, active, verified, version, created_at, last_modified, \
             password_last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&fields.username)
        .bind(username_key(&fields.username))
        .bind(&fields.origin)
        .bind(&fields.email)
        .bind(&fields.given_name)
        .bind(&fields.family_name)
        .bind(&user.password_hash)
        .bind(fields.active)
        .bind(fields.verified)
        .bind(user.now)
        .bind(user.now)
        .bind(user.password_hash.as_ref().map(|_| user.now))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("Username already in use: {}", fields.username))
            } else {
                other(e)
            }
        })?;
        insert_memberships_by_name(&mut tx, &user.id, &user.groups, user.now).await?;
        let created = user_by_id(&mut tx, &user.id)
            .await?
            .ok_or_else(|| StoreError::Other("user vanished after insert".into()))?;
        tx.commit().await.map_err(other)?;
        Ok(created)
    }

    async fn find_user(&self, id: &str) -> StoreResult<Option<User>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        user_by_id(&mut conn, id).await
    }

    async fn find_users_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> StoreResult<Vec<User>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let mut query = select_users();
        query
            .push("WHERE username_key = ")
            .push_bind(username_key(username));
        if let Some(origin) = origin {
            query.push(" AND origin = ").push_bind(origin.to_owned());
        }
        query.push(" ORDER BY created_at, id");
        users_where(&mut conn, query).await
    }

    async fn find_login(
        &self,
        username: &str,
        origin: &str,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users \
             WHERE username_key = ? AND origin = ? ORDER BY created_at, id LIMIT 1"
        ))
        .bind(username_key(username))
        .bind(origin)
        .fetch_optional(&mut *conn)
        .await
        .map_err(other)?;
        let Some(row) = row else { return Ok(None) };
        let hash: Option<String> = row.try_get("password_hash").map_err(other)?;
        let mut users = vec![user_from_row(&row).map_err(other)?];
        attach_groups(&mut conn, &mut users).await?;
        Ok(users.pop().map(|user| (user, hash)))
    }

    async fn find_users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let mut query = select_users();
        query.push("WHERE id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        query.push(") ORDER BY created_at, id");
        users_where(&mut conn, query).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(other)?;
        let mut users = rows
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(other)?;
        // One query for every membership, rather than an IN list of every user.
        let memberships = sqlx::query(
            "SELECT m.user_id, g.id, g.display_name FROM group_memberships m \
             JOIN groups g ON g.id = m.group_id ORDER BY g.display_name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(other)?;
        let mut by_user: HashMap<String, Vec<GroupRef>> = HashMap::new();
        for row in memberships {
            let user_id: String = row.try_get(0).map_err(other)?;
            by_user.entry(user_id).or_default().push(GroupRef {
                id: row.try_get(1).map_err(other)?,
                display: row.try_get(2).map_err(other)?,
            });
        }
        for user in &mut users {
            user.groups = by_user.remove(&user.id).unwrap_or_default();
        }
        Ok(users)
    }

    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        match row {
            Some(row) => row.try_get("password_hash").map_err(other),
            None => Ok(None),
        }
    }

    async fn update_user(
        &self,
        id: &str,
        fields: &UserFields,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<(User, User)> {
        let mut tx = self.write_tx().await?;
        let before = user_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("User {id} does not exist")))?;
        if let Some(expected) = expected_version.filter(|v| *v != before.version) {
            return Err(StoreError::VersionMismatch(format!(
                "Version mismatch: the user is at version {}, not {expected}",
                before.version
            )));
        }
        sqlx::query(
            "UPDATE users SET username = ?, username_key = ?, origin = ?, email = ?, \
             given_name = ?, family_name = ?, active = ?, verified = ?, version = version + 1, \
             last_modified = ? WHERE id = ?",
        )
        .bind(&fields.username)
        .bind(username_key(&fields.username))
        .bind(&fields.origin)
        .bind(&fields.email)
        .bind(&fields.given_name)
        .bind(&fields.family_name)
        .bind(fields.active)
        .bind(fields.verified)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("Username already in use: {}", fields.username))
            } else {
                other(e)
            }
        })?;
        let after = user_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Other("user vanished during update".into()))?;
        tx.commit().await.map_err(other)?;
        Ok((before, after))
    }

    async fn delete_user(&self, id: &str) -> StoreResult<User> {
        let mut tx = self.write_tx().await?;
        let user = user_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("User {id} does not exist")))?;
        for statement in [
            "DELETE FROM group_memberships WHERE user_id = ?",
            "DELETE FROM failed_logins WHERE user_id = ?",
            "DELETE FROM refresh_tokens WHERE user_id = ?",
            "DELETE FROM authorization_codes WHERE user_id = ?",
            "DELETE FROM users WHERE id = ?",
        ] {
            sqlx::query(statement)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)?;
        Ok(user)
    }

    async fn set_password(&self, user_id: &str, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = ?, password_last_modified = ?, \
             version = version + 1, last_modified = ? WHERE id = ?",
        )
        .bind(hash)
        .bind(now)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(other)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "User {user_id} does not exist"
            )));
        }
        // A new password ends every session that the old one started.
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        tx.commit().await.map_err(other)
    }

    async fn record_failed_login(
        &self,
        user_id: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<Vec<DateTime<Utc>>> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO failed_logins (user_id, failed_at) VALUES (?, ?)")
            .bind(user_id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        let failures = failures_of(&mut tx, user_id).await?;
        let (keep, forget): (Vec<_>, Vec<_>) =
            failures.into_iter().partition(|t| *t >= forget_before);
        for t in forget {
            sqlx::query("DELETE FROM failed_logins WHERE user_id = ? AND failed_at = ?")
                .bind(user_id)
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)?;
        Ok(keep)
    }

    async fn failed_logins(&self, user_id: &str) -> StoreResult<Vec<DateTime<Utc>>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        failures_of(&mut conn, user_id).await
    }

    async fn record_successful_login(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM failed_logins WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        sqlx::query(
            "UPDATE users SET previous_logon_at = last_logon_at, last_logon_at = ? WHERE id = ?",
        )
        .bind(at)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(other)?;
        tx.commit().await.map_err(other)
    }

    async fn add_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (jti, user_id, client_id, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.jti)
        .bind(&token.user_id)
        .bind(&token.client_id)
        .bind(token.expires_at)
        .bind(token.created_at)
        .execute(&self.pool)
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn find_refresh_token(&self, jti: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = sqlx::query(
            "SELECT jti, user_id, client_id, expires_at, created_at FROM refresh_tokens t \
             WHERE t.jti = ? \
             AND NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = t.jti)",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await
        .map_err(other)?;
        row.map(|row| {
            Ok(RefreshTokenRecord {
                jti: row.try_get("jti")?,
                user_id: row.try_get("user_id")?,
                client_id: row.try_get("client_id")?,
                expires_at: row.try_get("expires_at")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(other)
    }

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(other)?;
        sqlx::query("DELETE FROM refresh_tokens WHERE jti = ?")
            .bind(jti)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        tx.commit().await.map_err(other)
    }

    async fn is_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        Ok(row.is_some())
    }

    async fn add_authorization_code(&self, code: &AuthorizationCodeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, user_id, client_id, scope, \
             redirect_uri, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&code.code_hash)
        .bind(&code.user_id)
        .bind(&code.client_id)
        .bind(join(&code.scope))
        .bind(&code.redirect_uri)
        .bind(code.expires_at)
        .bind(code.created_at)
        .execute(&self.pool)
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn take_authorization_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AuthorizationCodeRecord>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT code_hash, user_id, client_id, scope, redirect_uri, expires_at, created_at \
             FROM authorization_codes WHERE code_hash = ?",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(other)?;
        let Some(row) = row else { return Ok(None) };
        let code = AuthorizationCodeRecord {
            code_hash: row.try_get("code_hash").map_err(other)?,
            user_id: row.try_get("user_id").map_err(other)?,
            client_id: row.try_get("client_id").map_err(other)?,
            scope: split(row.try_get("scope").map_err(other)?),
            redirect_uri: row.try_get("redirect_uri").map_err(other)?,
            expires_at: row.try_get("expires_at").map_err(other)?,
            created_at: row.try_get("created_at").map_err(other)?,
        };
        let deleted = sqlx::query("DELETE FROM authorization_codes WHERE code_hash = ?")
            .bind(code_hash)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        tx.commit().await.map_err(other)?;
        // Two concurrent redemptions: only the one that deleted the row wins.
        if deleted.rows_affected() == 0 || code.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(code))
    }

    async fn prune_expired(&self, now: DateTime<Utc>) -> StoreResult<()> {
        // Compared in Rust: the stored text form of a time is not guaranteed to sort.
        let mut tx = self.write_tx().await?;
        for (table, key) in [
            ("revoked_tokens", "jti"),
            ("refresh_tokens", "jti"),
            ("authorization_codes", "code_hash"),
        ] {
            let rows = sqlx::query(&format!("SELECT {key} AS id, expires_at FROM {table}"))
                .fetch_all(&mut *tx)
                .await
                .map_err(other)?;
            for row in rows {
                let expires_at: DateTime<Utc> = row.try_get("expires_at").map_err(other)?;
                if expires_at < now {
                    let id: String = row.try_get("id").map_err(other)?;
                    sqlx::query(&format!("DELETE FROM {table} WHERE {key} = ?"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(other)?;
                }
            }
        }
        tx.commit().await.map_err(other)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

async fn failures_of(
    conn: &mut SqliteConnection,
    user_id: &str,
) -> StoreResult<Vec<DateTime<Utc>>> {
    let rows = sqlx::query("SELECT failed_at FROM failed_logins WHERE user_id = ?")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(other)?;
    rows.iter()
        .map(|row| row.try_get::<DateTime<Utc>, _>("failed_at"))
        .collect::<Result<_, _>>()
        .map_err(other)
}
