//! SCIM users and groups, with the scope rules UAA applies to each endpoint.

use crate::{
    Claims, Error,
    error::Result,
    model::{
        Group, MAX_LEN, User, UserDraft,
        filter::{AttrValue, Filter, Filterable},
        group::DEFAULT_USER_GROUPS,
        user::check_password,
    },
    password,
    store::NewUser,
};

use super::{
    Service,
    auth::{is_self, require_any},
};

const READ: &[&str] = &["scim.read", "uaa.admin"];
const WRITE: &[&str] = &["scim.write", "uaa.admin"];
const CREATE: &[&str] = &["scim.write", "scim.create", "uaa.admin"];

/// What a SCIM list request asked for.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
}

/// One page of a SCIM list.
#[derive(Debug, Clone)]
pub(crate) struct Page<T> {
    pub resources: Vec<T>,
    pub start_index: usize,
    pub total_results: usize,
}

fn page<T: Filterable>(items: Vec<T>, query: &ListQuery) -> Page<T> {
    let matching: Vec<T> = items
        .into_iter()
        .filter(|item| query.filter.as_ref().is_none_or(|f| f.matches(item)))
        .collect();
    let total_results = matching.len();
    let resources = matching
        .into_iter()
        .skip(query.start_index.saturating_sub(1))
        .take(query.count)
        .collect();
    Page {
        resources,
        start_index: query.start_index,
        total_results,
    }
}

fn strs(value: &str) -> Vec<AttrValue> {
    vec![AttrValue::Str(value.to_owned())]
}

fn opt(value: &Option<String>) -> Vec<AttrValue> {
    value.as_deref().map(strs).unwrap_or_default()
}

impl Filterable for User {
    fn attribute(&self, name: &str) -> Vec<AttrValue> {
        match name {
            "id" => strs(&self.id),
            "username" => strs(&self.username),
            "origin" => strs(&self.origin),
            "email" | "emails" | "emails.value" => strs(&self.email),
            "name.givenname" | "givenname" => opt(&self.given_name),
            "name.familyname" | "familyname" => opt(&self.family_name),
            "active" => vec![AttrValue::Bool(self.active)],
            "verified" => vec![AttrValue::Bool(self.verified)],
            "zoneid" => strs(crate::model::ZONE),
            "groups" | "groups.display" => self
                .groups
                .iter()
                .map(|g| AttrValue::Str(g.display.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Filterable for Group {
    fn attribute(&self, name: &str) -> Vec<AttrValue> {
        match name {
            "id" => strs(&self.id),
            "displayname" => strs(&self.display_name),
            "description" => opt(&self.description),
            "zoneid" => strs(crate::model::ZONE),
            "members" | "members.value" => self
                .members
                .iter()
                .map(|m| AttrValue::Str(m.user_id.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Service {
    pub async fn list_users(&self, caller: &Claims, query: &ListQuery) -> Result<Page<User>> {
        require_any(caller, READ)?;
        Ok(page(self.store.list_users().await?, query))
    }

    pub async fn get_user(&self, caller: &Claims, id: &str) -> Result<User> {
        if !is_self(caller, id) {
            require_any(caller, READ)?;
        }
        self.find_user(id).await
    }

    /// Creates a user in the default groups. Bad fields give Validation (all of them at once);
    /// a bad password for a UAA user gives InvalidPassword.
    pub async fn create_user(
        &self,
        caller: &Claims,
        draft: UserDraft,
        password: Option<String>,
    ) -> Result<User> {
        require_any(caller, CREATE)?;
        let fields = draft.validate().map_err(Error::Validation)?;
        let password_hash = if fields.origin == crate::model::UAA_ORIGIN {
            let checked = check_password(password.as_deref()).map_err(Error::InvalidPassword)?;
            Some(password::hash(checked.to_owned()).await?)
        } else {
            match password.filter(|p| !p.is_empty()) {
                Some(p) => Some(
                    password::hash(
                        check_password(Some(&p))
                            .map_err(Error::InvalidPassword)?
                            .to_owned(),
                    )
                    .await?,
                ),
                None => None,
            }
        };
        let user = self
            .store
            .create_user(NewUser {
                id: self.ids.new_guid(),
                fields,
                password_hash,
                groups: DEFAULT_USER_GROUPS
                    .iter()
                    .map(|g| (*g).to_owned())
                    .collect(),
                now: self.now(),
            })
            .await?;
        tracing::info!(user_id = %user.id, origin = %user.origin, "created user");
        Ok(user)
    }

    /// Replaces a user's writable fields. Users may update themselves, except to (de)activate.
    pub async fn update_user(
        &self,
        caller: &Claims,
        id: &str,
        draft: UserDraft,
        expected_version: Option<i64>,
    ) -> Result<User> {
        let admin = require_any(caller, WRITE).is_ok();
        if !admin && !is_self(caller, id) {
            return Err(Error::InsufficientScope);
        }
        let current = self.find_user(id).await?;
        let mut fields = draft.validate().map_err(Error::Validation)?;
        if !admin {
            fields.active = current.active;
            fields.verified = current.verified;
            fields.origin = current.origin;
        }
        let (_, after) = self
            .store
            .update_user(id, &fields, expected_version, self.now())
            .await?;
        Ok(after)
    }

    pub async fn delete_user(&self, caller: &Claims, id: &str) -> Result<User> {
        require_any(caller, WRITE)?;
        let user = self.store.delete_user(id).await?;
        tracing::info!(user_id = %user.id, "deleted user");
        Ok(user)
    }

    /// Users change their own password with the old one; admins may set any password.
    pub async fn change_password(
        &self,
        caller: &Claims,
        id: &str,
        old_password: Option<String>,
        new_password: Option<String>,
    ) -> Result<()> {
        let admin = caller.has_scope("uaa.admin");
        // As in UAA, changing one's own password needs the password.write scope.
        let own = is_self(caller, id) && caller.has_scope("password.write");
        if !admin && !own {
            return Err(Error::InsufficientScope);
        }
        self.find_user(id).await?;
        let new_password = check_password(new_password.as_deref())
            .map_err(Error::InvalidPassword)?
            .to_owned();
        let current_hash = self.store.password_hash(id).await?;
        if own && !admin {
            let old = old_password
                .ok_or_else(|| Error::InvalidRequest("The old password is required".into()))?;
            let ok = match &current_hash {
                Some(hash) => password::verify(old, hash.clone()).await?,
                None => false,
            };
            if !ok {
                return Err(Error::Unauthorized("Old password is incorrect".into()));
            }
        }
        let unchanged = match current_hash {
            Some(hash) => password::verify(new_password.clone(), hash).await?,
            None => false,
        };
        if unchanged {
            return Err(Error::InvalidPassword(
                "Your new password cannot be the same as the old password.".into(),
            ));
        }
        let hash = password::hash(new_password).await?;
        self.store.set_password(id, &hash, self.now()).await?;
        Ok(())
    }

    pub async fn list_groups(&self, caller: &Claims, query: &ListQuery) -> Result<Page<Group>> {
        require_any(caller, READ)?;
        Ok(page(self.store.list_groups().await?, query))
    }

    pub async fn get_group(&self, caller: &Claims, id: &str) -> Result<Group> {
        require_any(caller, READ)?;
        self.find_group(id).await
    }

    pub async fn create_group(
        &self,
        caller: &Claims,
        display_name: Option<String>,
        description: Option<String>,
        members: Vec<String>,
    ) -> Result<Group> {
        require_any(caller, WRITE)?;
        let mut problems = Vec::new();
        let display_name = display_name.unwrap_or_default();
        if display_name.trim().is_empty() {
            problems.push("A group must have a displayName.".to_owned());
        } else if display_name.chars().count() > MAX_LEN
            || display_name.contains(char::is_whitespace)
        {
            problems.push(format!(
                "displayName must be at most {MAX_LEN} characters without spaces."
            ));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_LEN)
        {
            problems.push(format!("description must be at most {MAX_LEN} characters."));
        }
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        if !members.is_empty() {
            let found = self.store.find_users_by_ids(&members).await?;
            if let Some(missing) = members.iter().find(|m| !found.iter().any(|u| &u.id == *m)) {
                return Err(Error::Validation(vec![format!(
                    "Member {missing} does not exist"
                )]));
            }
        }
        let now = self.now();
        let id = self.ids.new_guid();
        let mut group = self
            .store
            .create_group(&id, &display_name, description.as_deref(), now)
            .await?;
        for member in &members {
            group = self.store.add_member(&id, member, now).await?;
        }
        Ok(group)
    }

    pub async fn add_member(
        &self,
        caller: &Claims,
        group_id: &str,
        user_id: &str,
    ) -> Result<Group> {
        require_any(caller, WRITE)?;
        self.find_group(group_id).await?;
        if self.store.find_user(user_id).await?.is_none() {
            return Err(Error::Validation(vec![format!(
                "Member {user_id} does not exist"
            )]));
        }
        Ok(self.store.add_member(group_id, user_id, self.now()).await?)
    }

    /// Returns the removed member's origin.
    pub async fn remove_member(
        &self,
        caller: &Claims,
        group_id: &str,
        user_id: &str,
    ) -> Result<String> {
        require_any(caller, WRITE)?;
        let group = self.find_group(group_id).await?;
        let origin = group
            .members
            .iter()
            .find(|m| m.user_id == user_id)
            .map(|m| m.origin.clone())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Member {user_id} does not exist in group {group_id}"
                ))
            })?;
        self.store
            .remove_member(group_id, user_id, self.now())
            .await?;
        Ok(origin)
    }

    async fn find_group(&self, id: &str) -> Result<Group> {
        self.store
            .find_group(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Group {id} does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct N(usize);

    impl Filterable for N {
        fn attribute(&self, _: &str) -> Vec<AttrValue> {
            vec![AttrValue::Bool(matches!(self.0 % 2, 0))]
        }
    }

    #[test]
    fn pages_after_filtering() {
        let items: Vec<N> = (0..10).map(N).collect();
        let query = ListQuery {
            filter: Some(Filter::parse("even eq true").expect("filter")),
            start_index: 2,
            count: 2,
        };
        let page = page(items, &query);
        assert_eq!(page.total_results, 5);
        assert_eq!(page.resources, vec![N(2), N(4)]);
    }
}
