use serde_json::json;

use super::{Actor, Service, require};
use crate::{
    Error,
    model::{
        AuditTarget, Job, JobOperation, Metadata, MetadataPatch, Organization, Space,
        permissions::{Action, Target},
        query::{ListParams, Page},
        user::UserView,
    },
    store::StoreError,
};

#[derive(Debug, Clone)]
pub struct NewSpace {
    pub name: String,
    pub organization_guid: String,
    pub metadata: MetadataPatch,
}

#[derive(Debug, Clone, Default)]
pub struct SpacePatch {
    pub name: Option<String>,
    pub metadata: Option<MetadataPatch>,
}

/// A page of spaces and, when asked for, their organizations.
pub struct SpaceList {
    pub page: Page<Space>,
    pub organizations: Vec<Organization>,
}

pub(crate) fn target<'a>(space: &'a Space, org: &Organization) -> Target<'a> {
    Target {
        organization_guid: &space.organization_guid,
        space_guid: Some(&space.guid),
        organization_suspended: org.suspended,
    }
}

fn name_taken() -> Error {
    Error::Unprocessable("Name must be unique per organization".into())
}

fn invalid_org() -> Error {
    Error::Unprocessable(
        "Invalid organization. Ensure the organization exists and you have access to it.".into(),
    )
}

fn space_target(space: &Space) -> AuditTarget {
    AuditTarget {
        guid: space.guid.clone(),
        target_type: "space".into(),
        name: space.name.clone(),
    }
}

impl Service {
    pub async fn list_spaces(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<SpaceList, Error> {
        self.require_read(actor)?;
        let spaces = self
            .store
            .spaces()
            .await?
            .into_iter()
            .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
            .filter(|s| {
                params.allows("names", &s.name)
                    && params.allows("guids", &s.guid)
                    && params.allows("organization_guids", &s.organization_guid)
            })
            .collect();
        let page = params.select(spaces);
        let organizations = if params.includes("organization") {
            let wanted =
                Self::included_guids(page.items.iter().map(|s| s.organization_guid.as_str()));
            self.store.organizations_by_guids(&wanted).await?
        } else {
            Vec::new()
        };
        Ok(SpaceList {
            page,
            organizations,
        })
    }

    pub async fn space(&self, actor: &Actor, guid: &str) -> Result<(Space, Organization), Error> {
        let (space, org) = self.visible_space(actor, guid).await?;
        require(
            actor.perms.decide(Action::ReadSpace, target(&space, &org)),
            "Space",
        )?;
        Ok((space, org))
    }

    pub async fn create_space(&self, actor: &Actor, new: NewSpace) -> Result<Space, Error> {
        let org = self
            .store
            .organization(&new.organization_guid)
            .await?
            .filter(|o| actor.perms.can_see_organization(&o.guid))
            .ok_or_else(invalid_org)?;
        require(
            actor
                .perms
                .decide(Action::CreateSpace, super::organizations::target(&org)),
            "Organization",
        )
        .map_err(|e| match e {
            Error::NotFound(_) => invalid_org(),
            other => other,
        })?;
        // The UNIQUE (organization_guid, name) constraint guards this; Conflict maps below.
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let space = Space {
            guid: self.new_guid(),
            name: new.name,
            organization_guid: org.guid.clone(),
            allow_ssh: true,
            metadata,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            actor,
            "audit.space.create",
            space_target(&space),
            json!({"request": {"name": space.name, "organization_guid": org.guid}}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.store
            .create_space(&space, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(),
                other => other.into(),
            })?;
        Ok(space)
    }

    pub async fn update_space(
        &self,
        actor: &Actor,
        guid: &str,
        patch: SpacePatch,
    ) -> Result<Space, Error> {
        let (before, org) = self.visible_space(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::UpdateSpace, target(&before, &org)),
            "Space",
        )?;
        let mut after = before.clone();
        if let Some(name) = &patch.name {
            after.name = name.clone();
        }
        if let Some(m) = &patch.metadata {
            after.metadata.apply(m);
        }
        after.updated_at = self.now();
        let mut request = serde_json::Map::new();
        if let Some(n) = &patch.name {
            request.insert("name".into(), json!(n));
        }
        let event = self.event(
            actor,
            "audit.space.update",
            space_target(&after),
            json!({ "request": request }),
            Some(&after.guid),
            Some(&after.organization_guid),
        );
        self.store
            .update_space(&after, Some(&event))
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(),
                other => other.into(),
            })?;
        Ok(after)
    }

    pub async fn set_space_ssh(
        &self,
        actor: &Actor,
        guid: &str,
        enabled: bool,
    ) -> Result<Space, Error> {
        let (mut space, org) = self.visible_space(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::UpdateSpace, target(&space, &org)),
            "Space",
        )?;
        space.allow_ssh = enabled;
        space.updated_at = self.now();
        let event = self.event(
            actor,
            "audit.space.update",
            space_target(&space),
            json!({"request": {"allow_ssh": enabled}}),
            Some(&space.guid),
            Some(&space.organization_guid),
        );
        self.store.update_space(&space, Some(&event)).await?;
        Ok(space)
    }

    pub async fn delete_space(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let (space, org) = self.visible_space(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::DeleteSpace, target(&space, &org)),
            "Space",
        )?;
        let event = self.event(
            actor,
            "audit.space.delete-request",
            space_target(&space),
            json!({"request": {"recursive": true}}),
            Some(&space.guid),
            Some(&space.organization_guid),
        );
        self.start_job(JobOperation::SpaceDelete, &space.guid, &[event])
            .await
    }

    /// Users with a role in the space.
    pub async fn space_users(
        &self,
        actor: &Actor,
        guid: &str,
        params: &ListParams,
    ) -> Result<Page<UserView>, Error> {
        let (space, org) = self.space(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::ReadSpaceUsers, target(&space, &org)),
            "Space",
        )?;
        let users = self
            .store
            .users_with_role(&space.organization_guid, Some(&space.guid))
            .await?;
        self.user_page(users, params).await
    }
}
