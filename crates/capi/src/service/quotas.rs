use super::{Actor, Service};
use crate::{
    Error,
    model::{
        OrganizationQuota,
        query::{ListParams, Page},
    },
};

impl Service {
    pub async fn list_organization_quotas(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<OrganizationQuota>, Error> {
        self.require_read(actor)?;
        let orgs = self.store.organizations().await?;
        let quotas = self
            .store
            .organization_quotas()
            .await?
            .into_iter()
            .filter(|q| params.allows("names", &q.name) && params.allows("guids", &q.guid))
            .filter(|q| {
                !params.filters.contains_key("organization_guids")
                    || orgs.iter().any(|o| {
                        o.quota_guid == q.guid
                            && actor.perms.can_see_organization(&o.guid)
                            && params.allows("organization_guids", &o.guid)
                    })
            })
            .collect();
        Ok(params.select(quotas))
    }

    pub async fn organization_quota(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<OrganizationQuota, Error> {
        self.require_read(actor)?;
        self.store
            .organization_quotas()
            .await?
            .into_iter()
            .find(|q| q.guid == guid)
            .ok_or(Error::NotFound("Organization quota"))
    }

    /// Organizations using the quota that the caller can see.
    pub async fn quota_organization_guids(
        &self,
        actor: &Actor,
        quota_guid: &str,
    ) -> Result<Vec<String>, Error> {
        Ok(self
            .store
            .organizations()
            .await?
            .into_iter()
            .filter(|o| o.quota_guid == quota_guid && actor.perms.can_see_organization(&o.guid))
            .map(|o| o.guid)
            .collect())
    }
}
