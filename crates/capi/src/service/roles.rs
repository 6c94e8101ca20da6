use serde_json::json;

use super::{Actor, Service, require};
use crate::{
    Error,
    model::{
        AuditTarget, Job, JobOperation, Organization, Role, RoleType, Space,
        permissions::{Action, Decision, Target},
        query::{ListParams, Page},
        user::UserView,
    },
    store::StoreError,
};

/// Who a new role is for: a CC user guid, or a UAA user name (with an optional origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleUser {
    Guid(String),
    Username {
        username: String,
        origin: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct NewRole {
    pub role_type: RoleType,
    /// The organization (org roles) or space (space roles) guid.
    pub resource_guid: String,
    pub user: RoleUser,
}

/// A page of roles with the resources asked for by `include`.
pub struct RoleList {
    pub page: Page<Role>,
    pub users: Vec<UserView>,
    pub spaces: Vec<Space>,
    pub organizations: Vec<Organization>,
}

fn invalid_org() -> Error {
    Error::Unprocessable(
        "Invalid organization. Ensure that the organization exists and you have access to it."
            .into(),
    )
}

fn invalid_space() -> Error {
    Error::Unprocessable(
        "Invalid space. Ensure that the space exists and you have access to it.".into(),
    )
}

fn role_target<'a>(role: &'a Role, org: &Organization) -> Target<'a> {
    Target {
        organization_guid: &role.organization_guid,
        space_guid: role.space_guid.as_deref(),
        organization_suspended: org.suspended,
    }
}

impl Service {
    pub async fn list_roles(&self, actor: &Actor, params: &ListParams) -> Result<RoleList, Error> {
        self.require_read(actor)?;
        let roles = self
            .store
            .roles()
            .await?
            .into_iter()
            .filter(|r| actor.perms.can_see_role(r))
            .filter(|r| {
                params.allows("guids", &r.guid)
                    && params.allows("types", r.role_type.as_str())
                    && params.allows("user_guids", &r.user_guid)
                    && params.allows_opt("space_guids", r.space_guid.as_deref())
                    // Space roles have no organization relationship, so never match this.
                    && params.allows_opt(
                        "organization_guids",
                        r.space_guid.is_none().then_some(r.organization_guid.as_str()),
                    )
            })
            .collect();
        let page = params.select(roles);
        let users = if params.includes("user") {
            let wanted = Self::included_guids(page.items.iter().map(|r| r.user_guid.as_str()));
            let users = self.store.users_by_guids(&wanted).await?;
            self.user_views(users).await?
        } else {
            Vec::new()
        };
        let spaces = if params.includes("space") {
            let wanted =
                Self::included_guids(page.items.iter().filter_map(|r| r.space_guid.as_deref()));
            self.store.spaces_by_guids(&wanted).await?
        } else {
            Vec::new()
        };
        let organizations = if params.includes("organization") {
            let wanted = Self::included_guids(
                page.items
                    .iter()
                    .filter(|r| r.space_guid.is_none())
                    .map(|r| r.organization_guid.as_str()),
            );
            self.store.organizations_by_guids(&wanted).await?
        } else {
            Vec::new()
        };
        Ok(RoleList {
            page,
            users,
            spaces,
            organizations,
        })
    }

    pub async fn role(&self, actor: &Actor, guid: &str) -> Result<Role, Error> {
        self.require_read(actor)?;
        self.store
            .role(guid)
            .await?
            .filter(|r| actor.perms.can_see_role(r))
            .ok_or(Error::NotFound("Role"))
    }

    /// Finds the user a role is for, as (guid, name to show).
    async fn resolve_role_user(
        &self,
        actor: &Actor,
        user: &RoleUser,
    ) -> Result<(String, String), Error> {
        match user {
            RoleUser::Guid(guid) => {
                // A user UAA knows but the CC has not seen yet is fine: it is created with
                // the role.
                let user = match self.store.user(guid).await? {
                    Some(user) => user,
                    None if !self
                        .directory
                        .find_by_ids(std::slice::from_ref(guid))
                        .await?
                        .is_empty() =>
                    {
                        self.blank_user(guid)
                    }
                    None => {
                        return Err(Error::Unprocessable(
                            "Invalid user. Ensure that the user exists and you have access to it."
                                .into(),
                        ));
                    }
                };
                let view = self.user_views(vec![user]).await?.pop();
                let name = view
                    .map(|v| v.presentation_name().to_owned())
                    .unwrap_or_else(|| guid.clone());
                Ok((guid.clone(), name))
            }
            RoleUser::Username { username, origin } => {
                if !actor.is_admin() && !self.feature_enabled("set_roles_by_username").await? {
                    return Err(Error::FeatureDisabled("set_roles_by_username".into()));
                }
                let found = self
                    .directory
                    .find_by_username(username, origin.as_deref())
                    .await?;
                match found.as_slice() {
                    [one] => Ok((one.id.clone(), one.username.clone())),
                    [] => Err(Error::Unprocessable(match origin {
                        Some(o) => format!(
                            "No user exists with the username '{username}' and origin '{o}'."
                        ),
                        None => format!("No user exists with the username '{username}'."),
                    })),
                    many => {
                        let origins: Vec<&str> = many.iter().map(|u| u.origin.as_str()).collect();
                        Err(Error::Unprocessable(format!(
                            "Ambiguous user. User with username '{username}' exists in the following origins: {}. Specify an origin to disambiguate.",
                            origins.join(", ")
                        )))
                    }
                }
            }
        }
    }

    pub async fn create_role(&self, actor: &Actor, new: NewRole) -> Result<Role, Error> {
        let (org, space) = if new.role_type.is_space_role() {
            let space = self
                .store
                .space(&new.resource_guid)
                .await?
                .ok_or_else(invalid_space)?;
            let org = self
                .store
                .organization(&space.organization_guid)
                .await?
                .ok_or_else(invalid_space)?;
            (org, Some(space))
        } else {
            let org = self
                .store
                .organization(&new.resource_guid)
                .await?
                .ok_or_else(invalid_org)?;
            (org, None)
        };
        let target = Target {
            organization_guid: &org.guid,
            space_guid: space.as_ref().map(|s| s.guid.as_str()),
            organization_suspended: org.suspended,
        };
        let action = if space.is_some() {
            Action::AssignSpaceRole
        } else {
            Action::AssignOrganizationRole
        };
        match actor.perms.decide(action, target) {
            Decision::Allow => {}
            Decision::Deny => return Err(Error::NotAuthorized),
            Decision::Invisible if space.is_some() => return Err(invalid_space()),
            Decision::Invisible => return Err(invalid_org()),
        }
        let (user_guid, user_name) = self.resolve_role_user(actor, &new.user).await?;
        let existing = self.store.roles_for_user(&user_guid).await?;
        let type_name = new.role_type.as_str();
        let duplicate = || match &space {
            Some(s) => Error::Unprocessable(format!(
                "User '{user_name}' already has '{type_name}' role in space '{}'.",
                s.name
            )),
            None => Error::Unprocessable(format!(
                "User '{user_name}' already has '{type_name}' role in organization '{}'.",
                org.name
            )),
        };
        let space_guid = space.as_ref().map(|s| s.guid.clone());
        if existing.iter().any(|r| {
            r.role_type == new.role_type
                && r.organization_guid == org.guid
                && r.space_guid == space_guid
        }) {
            return Err(duplicate());
        }
        if space.is_some()
            && !existing
                .iter()
                .any(|r| r.organization_guid == org.guid && r.space_guid.is_none())
        {
            return Err(Error::Unprocessable(
                "Users cannot be assigned roles in a space if they do not have a role in that space's organization."
                    .into(),
            ));
        }
        let now = self.now();
        let role = Role {
            guid: self.new_guid(),
            role_type: new.role_type,
            user_guid: user_guid.clone(),
            organization_guid: org.guid.clone(),
            space_guid: space_guid.clone(),
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            actor,
            &format!("audit.user.{type_name}_add"),
            AuditTarget {
                guid: user_guid.clone(),
                target_type: "user".into(),
                name: user_name.clone(),
            },
            json!({"request": {"type": type_name, "user_guid": user_guid}}),
            space_guid.as_deref(),
            Some(&org.guid),
        );
        self.store
            .create_role(&self.blank_user(&user_guid), &role, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => duplicate(),
                other => other.into(),
            })?;
        Ok(role)
    }

    pub async fn delete_role(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let role = self.role(actor, guid).await?;
        let org = self
            .store
            .organization(&role.organization_guid)
            .await?
            .ok_or(Error::NotFound("Role"))?;
        let action = if role.space_guid.is_some() {
            Action::RemoveSpaceRole
        } else {
            Action::RemoveOrganizationRole
        };
        require(actor.perms.decide(action, role_target(&role, &org)), "Role")?;
        if role.role_type == RoleType::OrganizationUser {
            let has_space_roles = self
                .store
                .roles_for_user(&role.user_guid)
                .await?
                .iter()
                .any(|r| r.organization_guid == role.organization_guid && r.space_guid.is_some());
            if has_space_roles {
                return Err(Error::Unprocessable(
                    "Cannot delete organization_user role while user has roles in spaces in that organization."
                        .into(),
                ));
            }
        }
        let user_name = match self.store.user(&role.user_guid).await? {
            Some(u) => self
                .user_views(vec![u])
                .await?
                .pop()
                .map(|v| v.presentation_name().to_owned())
                .unwrap_or_else(|| role.user_guid.clone()),
            None => role.user_guid.clone(),
        };
        let event = self.event(
            actor,
            &format!("audit.user.{}_remove", role.role_type.as_str()),
            AuditTarget {
                guid: role.user_guid.clone(),
                target_type: "user".into(),
                name: user_name,
            },
            json!({"request": {"type": role.role_type.as_str(), "user_guid": role.user_guid}}),
            role.space_guid.as_deref(),
            Some(&role.organization_guid),
        );
        self.start_job(JobOperation::RoleDelete, &role.guid, &[event])
            .await
    }
}
