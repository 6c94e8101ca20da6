use super::{Actor, Service};
use crate::{
    Error,
    model::{
        Organization, OrganizationQuota,
        query::{ListParams, Page},
        quota::QuotaWithOrganizations,
    },
};

/// Guids of the organizations using the quota that the caller can see.
fn visible_org_guids(actor: &Actor, orgs: &[Organization], quota_guid: &str) -> Vec<String> {
    orgs.iter()
        .filter(|o| o.quota_guid == quota_guid && actor.perms.can_see_organization(&o.guid))
        .map(|o| o.guid.clone())
        .collect()
}

impl Service {
    pub async fn list_organization_quotas(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<QuotaWithOrganizations>, Error> {
        self.require_read(actor)?;
        let orgs = self.store.organizations().await?;
        let quotas = self
            .store
            .organization_quotas()
            .await?
            .into_iter()
            .filter(|q| params.allows("names", &q.name) && params.allows("guids", &q.guid))
            .map(|quota| QuotaWithOrganizations {
                organization_guids: visible_org_guids(actor, &orgs, &quota.guid),
                quota,
            })
            .filter(|q| {
                !params.filters.contains_key("organization_guids")
                    || q.organization_guids
                        .iter()
                        .any(|g| params.allows("organization_guids", g))
            })
            .collect();
        Ok(params.select(quotas))
    }

    pub async fn organization_quota(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<QuotaWithOrganizations, Error> {
        self.require_read(actor)?;
        let quota: OrganizationQuota = self
            .store
            .organization_quotas()
            .await?
            .into_iter()
            .find(|q| q.guid == guid)
            .ok_or(Error::NotFound("Organization quota"))?;
        let orgs = self.store.organizations().await?;
        Ok(QuotaWithOrganizations {
            organization_guids: visible_org_guids(actor, &orgs, &quota.guid),
            quota,
        })
    }
}
