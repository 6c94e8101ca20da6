use super::{Actor, Service};
use crate::{
    Error,
    model::{
        AuditEvent,
        query::{ListParams, Page},
    },
};

impl Service {
    /// Global readers see every event; others see events of spaces and orgs they can see.
    fn can_see_event(&self, actor: &Actor, e: &AuditEvent) -> bool {
        if actor.perms.reads_everything() {
            return true;
        }
        match (&e.space_guid, &e.organization_guid) {
            (Some(space), Some(org)) => actor.perms.can_see_space(org, space),
            (None, Some(org)) => actor.perms.can_see_organization(org),
            _ => false,
        }
    }

    pub async fn list_audit_events(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<AuditEvent>, Error> {
        self.require_read(actor)?;
        let events = self
            .store
            .audit_events()
            .await?
            .into_iter()
            .filter(|e| self.can_see_event(actor, e))
            .filter(|e| {
                params.allows("types", &e.event_type)
                    && params.allows("target_guids", &e.target.guid)
                    && params.allows_opt("space_guids", e.space_guid.as_deref())
                    && params.allows_opt("organization_guids", e.organization_guid.as_deref())
            })
            .collect();
        Ok(params.select(events))
    }

    pub async fn audit_event(&self, actor: &Actor, guid: &str) -> Result<AuditEvent, Error> {
        self.require_read(actor)?;
        self.store
            .audit_event(guid)
            .await?
            .filter(|e| self.can_see_event(actor, e))
            .ok_or(Error::NotFound("Event"))
    }
}
