use serde_json::json;

use super::{Actor, Service, require};
use crate::{
    Error,
    model::{
        AuditTarget, Job, JobOperation, Metadata, MetadataPatch, Organization, Role, RoleType,
        permissions::{Action, Decision, Target},
        query::{ListParams, Page},
        user::UserView,
    },
    store::StoreError,
};

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: String,
    pub suspended: bool,
    pub metadata: MetadataPatch,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub suspended: Option<bool>,
    pub metadata: Option<MetadataPatch>,
}

pub(crate) fn target(org: &Organization) -> Target<'_> {
    Target {
        organization_guid: &org.guid,
        space_guid: None,
        organization_suspended: org.suspended,
    }
}

fn name_taken(name: &str) -> Error {
    Error::Unprocessable(format!("Organization '{name}' already exists."))
}

fn org_target(org: &Organization) -> AuditTarget {
    AuditTarget {
        guid: org.guid.clone(),
        target_type: "organization".into(),
        name: org.name.clone(),
    }
}

impl Service {
    pub async fn list_organizations(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<Organization>, Error> {
        self.require_read(actor)?;
        let orgs = self
            .store
            .organizations()
            .await?
            .into_iter()
            .filter(|o| actor.perms.can_see_organization(&o.guid))
            .filter(|o| params.allows("names", &o.name) && params.allows("guids", &o.guid))
            .collect();
        Ok(params.select(orgs))
    }

    pub async fn organization(&self, actor: &Actor, guid: &str) -> Result<Organization, Error> {
        let org = self.visible_organization(actor, guid).await?;
        require(
            actor.perms.decide(Action::ReadOrganization, target(&org)),
            "Organization",
        )?;
        Ok(org)
    }

    pub async fn create_organization(
        &self,
        actor: &Actor,
        new: NewOrganization,
    ) -> Result<Organization, Error> {
        let flag = self.feature_enabled("user_org_creation").await?;
        if actor.perms.can_create_organization(flag) != Decision::Allow {
            return Err(Error::NotAuthorized);
        }
        // The UNIQUE constraint on the name guards this; the store's Conflict maps below.
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let org = Organization {
            guid: self.new_guid(),
            name: new.name,
            suspended: new.suspended,
            quota_guid: self.default_quota_guid.clone(),
            metadata,
            created_at: now,
            updated_at: now,
        };
        // A non-admin creator (user_org_creation) becomes the org's manager.
        let roles: Vec<_> = if actor.is_admin() {
            Vec::new()
        } else {
            [RoleType::OrganizationUser, RoleType::OrganizationManager]
                .into_iter()
                .map(|t| {
                    let role = Role {
                        guid: self.new_guid(),
                        role_type: t,
                        user_guid: actor.guid.clone(),
                        organization_guid: org.guid.clone(),
                        space_guid: None,
                        created_at: now,
                        updated_at: now,
                    };
                    (self.blank_user(&actor.guid), role)
                })
                .collect()
        };
        let event = self.event(
            actor,
            "audit.organization.create",
            org_target(&org),
            json!({"request": {"name": org.name, "suspended": org.suspended}}),
            None,
            Some(&org.guid),
        );
        self.store
            .create_organization(&org, &roles, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(&org.name),
                other => other.into(),
            })?;
        Ok(org)
    }

    pub async fn update_organization(
        &self,
        actor: &Actor,
        guid: &str,
        patch: OrganizationPatch,
    ) -> Result<Organization, Error> {
        let before = self.visible_organization(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::UpdateOrganization, target(&before)),
            "Organization",
        )?;
        if patch.suspended.is_some() && !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        let mut after = before.clone();
        if let Some(name) = &patch.name {
            after.name = name.clone();
        }
        if let Some(s) = patch.suspended {
            after.suspended = s;
        }
        if let Some(m) = &patch.metadata {
            after.metadata.apply(m);
        }
        after.updated_at = self.now();
        let mut request = serde_json::Map::new();
        if let Some(n) = &patch.name {
            request.insert("name".into(), json!(n));
        }
        if let Some(s) = patch.suspended {
            request.insert("suspended".into(), json!(s));
        }
        let event = self.event(
            actor,
            "audit.organization.update",
            org_target(&after),
            json!({ "request": request }),
            None,
            Some(&after.guid),
        );
        self.store
            .update_organization(&after, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(&after.name),
                other => other.into(),
            })?;
        Ok(after)
    }

    /// Records the delete request and starts the job that deletes the org, its spaces and
    /// roles.
    pub async fn delete_organization(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let org = self.visible_organization(actor, guid).await?;
        require(
            actor.perms.decide(Action::DeleteOrganization, target(&org)),
            "Organization",
        )?;
        let event = self.event(
            actor,
            "audit.organization.delete-request",
            org_target(&org),
            json!({"request": {"recursive": true}}),
            None,
            Some(&org.guid),
        );
        self.start_job(JobOperation::OrganizationDelete, &org.guid, &[event])
            .await
    }

    /// Users with any role in the organization or its spaces.
    pub async fn organization_users(
        &self,
        actor: &Actor,
        guid: &str,
        params: &ListParams,
    ) -> Result<Page<UserView>, Error> {
        self.require_read(actor)?;
        let org = self.visible_organization(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::ReadOrganizationRoles, target(&org)),
            "Organization",
        )?;
        let users = self.store.users_with_role(&org.guid, None).await?;
        self.user_page(users, params).await
    }
}
