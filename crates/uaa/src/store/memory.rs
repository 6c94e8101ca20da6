//! An in-memory store: the fake for tests, held to the same conformance suite as SQLite.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AuthorizationCodeRecord, NewUser, RefreshTokenRecord, SigningKeyRecord, StoreError,
    StoreResult, UaaStore,
};
use crate::model::{Client, Group, GroupRef, User, UserFields, group::Member, user::username_key};

struct UserRow {
    user: User,
    password_hash: Option<String>,
}

#[derive(Default)]
struct State {
    keys: Vec<SigningKeyRecord>,
    clients: BTreeMap<String, Client>,
    /// Groups without members, in creation order.
    groups: Vec<Group>,
    /// (group id, user id, added at), in insertion order.
    memberships: Vec<(String, String, DateTime<Utc>)>,
    /// Users without groups, in creation order.
    users: Vec<UserRow>,
    failures: Vec<(String, DateTime<Utc>)>,
    refresh_tokens: BTreeMap<String, RefreshTokenRecord>,
    revoked: BTreeMap<String, DateTime<Utc>>,
    codes: BTreeMap<String, AuthorizationCodeRecord>,
}

impl State {
    fn user(&self, id: &str) -> Option<User> {
        self.users
            .iter()
            .find(|row| row.user.id == id)
            .map(|row| self.with_groups(row.user.clone()))
    }

    fn with_groups(&self, mut user: User) -> User {
        let mut groups: Vec<GroupRef> = self
            .memberships
            .iter()
            .filter(|(_, user_id, _)| *user_id == user.id)
            .filter_map(|(group_id, _, _)| self.groups.iter().find(|g| g.id == *group_id))
            .map(|g| GroupRef {
                id: g.id.clone(),
                display: g.display_name.clone(),
            })
            .collect();
        groups.sort_by(|a, b| a.display.cmp(&b.display));
        user.groups = groups;
        user
    }

    fn group(&self, id: &str) -> Option<Group> {
        let mut group = self.groups.iter().find(|g| g.id == id)?.clone();
        group.members = self
            .memberships
            .iter()
            .filter(|(group_id, _, _)| group_id == id)
            .filter_map(|(_, user_id, _)| {
                self.users
                    .iter()
                    .find(|row| row.user.id == *user_id)
                    .map(|row| Member {
                        user_id: user_id.clone(),
                        origin: row.user.origin.clone(),
                    })
            })
            .collect();
        Some(group)
    }

    fn name_taken(&self, fields: &UserFields, except: Option<&str>) -> bool {
        let key = username_key(&fields.username);
        self.users.iter().any(|row| {
            Some(row.user.id.as_str()) != except
                && username_key(&row.user.username) == key
                && row.user.origin == fields.origin
        })
    }

    /// Adds the user to each named group they are not in yet; unknown names are skipped.
    fn add_memberships_by_name(&mut self, user_id: &str, names: &[String], now: DateTime<Utc>) {
        for name in names {
            let Some(group_id) = self
                .groups
                .iter()
                .find(|g| g.display_name == *name)
                .map(|g| g.id.clone())
            else {
                continue;
            };
            if !self
                .memberships
                .iter()
                .any(|(g, u, _)| *g == group_id && u == user_id)
            {
                self.memberships.push((group_id, user_id.to_owned(), now));
            }
        }
    }

    fn touch_group(&mut self, id: &str, now: DateTime<Utc>) {
        if let Some(group) = self.groups.iter_mut().find(|g| g.id == id) {
            group.version += 1;
            group.last_modified = now;
        }
    }
}

#[derive(Default)]
pub(crate) struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> StoreResult<T>) -> StoreResult<T> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| StoreError::Other("memory store poisoned".into()))?;
        f(&mut state)
    }
}

fn apply(user: &mut User, fields: &UserFields) {
    user.username = fields.username.clone();
    user.origin = fields.origin.clone();
    user.email = fields.email.clone();
    user.given_name = fields.given_name.clone();
    user.family_name = fields.family_name.clone();
    user.active = fields.active;
    user.verified = fields.verified;
}

#[async_trait]
impl UaaStore for MemoryStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.with(|s| {
            let mut keys = s.keys.clone();
            keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
            Ok(keys)
        })
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.with(|s| {
            if s.keys.iter().any(|k| k.kid == key.kid) {
                return Err(StoreError::Conflict(format!("key {} exists", key.kid)));
            }
            s.keys.push(key.clone());
            Ok(())
        })
    }

    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        self.with(|s| Ok(s.clients.get(client_id).cloned()))
    }

    async fn create_client_if_missing(
        &self,
        client: &Client,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.with(|s| {
            if s.clients.contains_key(&client.id) {
                return Ok(false);
            }
            s.clients.insert(client.id.clone(), client.clone());
            Ok(true)
        })
    }

    async fn ensure_groups(
        &self,
        groups: &[(String, String)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.with(|s| {
            for (id, name) in groups {
                if !s.groups.iter().any(|g| g.display_name == *name) {
                    s.groups.push(Group {
                        id: id.clone(),
                        display_name: name.clone(),
                        description: None,
                        version: 0,
                        created: now,
                        last_modified: now,
                        members: Vec::new(),
                    });
                }
            }
            Ok(())
        })
    }

    async fn create_group(
        &self,
        id: &str,
        display_name: &str,
        description: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        self.with(|s| {
            if s.groups
                .iter()
                .any(|g| g.display_name == display_name || g.id == id)
            {
                return Err(StoreError::Conflict(format!(
                    "A group with displayName: {display_name} already exists."
                )));
            }
            s.groups.push(Group {
                id: id.to_owned(),
                display_name: display_name.to_owned(),
                description: description.map(str::to_owned),
                version: 0,
                created: now,
                last_modified: now,
                members: Vec::new(),
            });
            s.group(id)
                .ok_or_else(|| StoreError::Other("group vanished".into()))
        })
    }

    async fn find_group(&self, id: &str) -> StoreResult<Option<Group>> {
        self.with(|s| Ok(s.group(id)))
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        self.with(|s| Ok(s.groups.iter().filter_map(|g| s.group(&g.id)).collect()))
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        self.with(|s| {
            if s.group(group_id).is_none() {
                return Err(StoreError::NotFound(format!(
                    "Group {group_id} does not exist"
                )));
            }
            if s.user(user_id).is_none() {
                return Err(StoreError::NotFound(format!(
                    "User {user_id} does not exist"
                )));
            }
            if s.memberships
                .iter()
                .any(|(g, u, _)| g == group_id && u == user_id)
            {
                return Err(StoreError::Conflict(format!(
                    "Member {user_id} already exists in group {group_id}"
                )));
            }
            s.memberships
                .push((group_id.to_owned(), user_id.to_owned(), now));
            s.touch_group(group_id, now);
            s.group(group_id)
                .ok_or_else(|| StoreError::Other("group vanished".into()))
        })
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Group> {
        self.with(|s| {
            let before = s.memberships.len();
            s.memberships
                .retain(|(g, u, _)| !(g == group_id && u == user_id));
            if s.memberships.len() == before {
                return Err(StoreError::NotFound(format!(
                    "Member {user_id} does not exist in group {group_id}"
                )));
            }
            s.touch_group(group_id, now);
            s.group(group_id)
                .ok_or_else(|| StoreError::Other("group vanished".into()))
        })
    }

    async fn add_memberships_by_name(
        &self,
        user_id: &str,
        group_names: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.with(|s| {
            if s.user(user_id).is_none() {
                return Err(StoreError::NotFound(format!(
                    "User {user_id} does not exist"
                )));
            }
            s.add_memberships_by_name(user_id, group_names, now);
            Ok(())
        })
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.with(|s| {
            if s.name_taken(&new.fields, None) {
                return Err(StoreError::Conflict(format!(
                    "Username already in use: {}",
                    new.fields.username
                )));
            }
            let mut user = User {
                id: new.id.clone(),
                username: String::new(),
                origin: String::new(),
                email: String::new(),
                given_name: None,
                family_name: None,
                active: true,
                verified: true,
                version: 0,
                created: new.now,
                last_modified: new.now,
                password_last_modified: new.password_hash.as_ref().map(|_| new.now),
                last_logon: None,
                previous_logon: None,
                groups: Vec::new(),
            };
            apply(&mut user, &new.fields);
            s.users.push(UserRow {
                user,
                password_hash: new.password_hash,
            });
            s.add_memberships_by_name(&new.id, &new.groups, new.now);
            s.user(&new.id)
                .ok_or_else(|| StoreError::Other("user vanished".into()))
        })
    }

    async fn find_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.with(|s| Ok(s.user(id)))
    }

    async fn find_users_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> StoreResult<Vec<User>> {
        let key = username_key(username);
        self.with(|s| {
            Ok(s.users
                .iter()
                .filter(|row| username_key(&row.user.username) == key)
                .filter(|row| origin.is_none_or(|o| row.user.origin == o))
                .map(|row| s.with_groups(row.user.clone()))
                .collect())
        })
    }

    async fn find_login(
        &self,
        username: &str,
        origin: &str,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        let key = username_key(username);
        self.with(|s| {
            Ok(s.users
                .iter()
                .find(|row| username_key(&row.user.username) == key && row.user.origin == origin)
                .map(|row| (s.with_groups(row.user.clone()), row.password_hash.clone())))
        })
    }

    async fn find_users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        self.with(|s| {
            Ok(s.users
                .iter()
                .filter(|row| ids.contains(&row.user.id))
                .map(|row| s.with_groups(row.user.clone()))
                .collect())
        })
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.with(|s| {
            Ok(s.users
                .iter()
                .map(|row| s.with_groups(row.user.clone()))
                .collect())
        })
    }

    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        self.with(|s| {
            Ok(s.users
                .iter()
                .find(|row| row.user.id == user_id)
                .and_then(|row| row.password_hash.clone()))
        })
    }

    async fn update_user(
        &self,
        id: &str,
        fields: &UserFields,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<(User, User)> {
        self.with(|s| {
            let before = s
                .user(id)
                .ok_or_else(|| StoreError::NotFound(format!("User {id} does not exist")))?;
            if let Some(expected) = expected_version.filter(|v| *v != before.version) {
                return Err(StoreError::VersionMismatch(format!(
                    "Version mismatch: the user is at version {}, not {expected}",
                    before.version
                )));
            }
            if s.name_taken(fields, Some(id)) {
                return Err(StoreError::Conflict(format!(
                    "Username already in use: {}",
                    fields.username
                )));
            }
            if let Some(row) = s.users.iter_mut().find(|row| row.user.id == id) {
                apply(&mut row.user, fields);
                row.user.version += 1;
                row.user.last_modified = now;
            }
            let after = s
                .user(id)
                .ok_or_else(|| StoreError::Other("user vanished".into()))?;
            Ok((before, after))
        })
    }

    async fn delete_user(&self, id: &str) -> StoreResult<User> {
        self.with(|s| {
            let user = s
                .user(id)
                .ok_or_else(|| StoreError::NotFound(format!("User {id} does not exist")))?;
            s.users.retain(|row| row.user.id != id);
            s.memberships.retain(|(_, u, _)| u != id);
            s.failures.retain(|(u, _)| u != id);
            s.refresh_tokens.retain(|_, t| t.user_id != id);
            s.codes.retain(|_, c| c.user_id != id);
            Ok(user)
        })
    }

    async fn set_password(&self, user_id: &str, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        self.with(|s| {
            let row = s
                .users
                .iter_mut()
                .find(|row| row.user.id == user_id)
                .ok_or_else(|| StoreError::NotFound(format!("User {user_id} does not exist")))?;
            row.password_hash = Some(hash.to_owned());
            row.user.password_last_modified = Some(now);
            row.user.version += 1;
            row.user.last_modified = now;
            s.refresh_tokens.retain(|_, t| t.user_id != user_id);
            Ok(())
        })
    }

    async fn record_failed_login(
        &self,
        user_id: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<Vec<DateTime<Utc>>> {
        self.with(|s| {
            s.failures.push((user_id.to_owned(), at));
            s.failures
                .retain(|(u, t)| u != user_id || *t >= forget_before);
            Ok(s.failures
                .iter()
                .filter(|(u, _)| u == user_id)
                .map(|(_, t)| *t)
                .collect())
        })
    }

    async fn failed_logins(&self, user_id: &str) -> StoreResult<Vec<DateTime<Utc>>> {
        self.with(|s| {
            Ok(s.failures
                .iter()
                .filter(|(u, _)| u == user_id)
                .map(|(_, t)| *t)
                .collect())
        })
    }

    async fn record_successful_login(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.with(|s| {
            s.failures.retain(|(u, _)| u != user_id);
            if let Some(row) = s.users.iter_mut().find(|row| row.user.id == user_id) {
                row.user.previous_logon = row.user.last_logon;
                row.user.last_logon = Some(at);
            }
            Ok(())
        })
    }

    async fn add_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.with(|s| {
            s.refresh_tokens.insert(token.jti.clone(), token.clone());
            Ok(())
        })
    }

    async fn find_refresh_token(&self, jti: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        self.with(|s| {
            Ok(s.refresh_tokens
                .get(jti)
                .filter(|_| !s.revoked.contains_key(jti))
                .cloned())
        })
    }

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.with(|s| {
            s.revoked.entry(jti.to_owned()).or_insert(expires_at);
            s.refresh_tokens.remove(jti);
            Ok(())
        })
    }

    async fn is_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.with(|s| Ok(s.revoked.contains_key(jti)))
    }

    async fn add_authorization_code(&self, code: &AuthorizationCodeRecord) -> StoreResult<()> {
        self.with(|s| {
            s.codes.insert(code.code_hash.clone(), code.clone());
            Ok(())
        })
    }

    async fn take_authorization_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AuthorizationCodeRecord>> {
        self.with(|s| Ok(s.codes.remove(code_hash).filter(|c| c.expires_at > now)))
    }

    async fn prune_expired(&self, now: DateTime<Utc>) -> StoreResult<()> {
        self.with(|s| {
            s.revoked.retain(|_, expires_at| *expires_at >= now);
            s.refresh_tokens.retain(|_, t| t.expires_at >= now);
            s.codes.retain(|_, c| c.expires_at >= now);
            Ok(())
        })
    }

    async fn close(&self) {}
}
