//! Domains: shared ones (admins), private ones owned by an organization (its managers), and
//! the default shared domain routes of `cf push` live on.

use super::{Actor, Service, organizations::target, require};
use crate::{
    Error,
    model::{
        Domain, Job, JobOperation, Metadata, MetadataPatch, Organization, Route,
        permissions::{Action, Decision},
        query::{ListParams, Page},
        route::{domain_name_problems, fqdn, host_splits},
    },
    store::{DocOp, Filter, JobDone, StoreError, StoreResult, docs},
};

#[derive(Debug, Clone, Default)]
pub struct NewDomain {
    pub name: String,
    pub internal: bool,
    /// Set for a private domain.
    pub organization_guid: Option<String>,
    pub shared_organization_guids: Vec<String>,
    pub router_group_guid: Option<String>,
    pub metadata: MetadataPatch,
}

fn no_such_org(guid: &str) -> Error {
    Error::Unprocessable(format!(
        "Organization with guid '{guid}' does not exist or you do not have access to it."
    ))
}

impl Service {
    /// Shared domains are visible to every reader; private ones with their owner or an
    /// organization they are shared with.
    fn can_see_domain(actor: &Actor, domain: &Domain) -> bool {
        domain.is_shared()
            || domain
                .organization_guid
                .iter()
                .chain(&domain.shared_organization_guids)
                .any(|org| actor.perms.can_see_organization(org))
    }

    pub(crate) async fn visible_domain(&self, actor: &Actor, guid: &str) -> Result<Domain, Error> {
        self.require_read(actor)?;
        docs::get::<Domain>(&*self.store, guid)
            .await?
            .filter(|d| Self::can_see_domain(actor, d))
            .ok_or(Error::NotFound("Domain"))
    }

    /// The domains visible to the caller; with `org_guid`, only those that organization may
    /// use (what `cf domains` lists).
    pub async fn list_domains(
        &self,
        actor: &Actor,
        params: &ListParams,
        org_guid: Option<&str>,
    ) -> Result<Page<Domain>, Error> {
        self.require_read(actor)?;
        if let Some(org) = org_guid {
            self.visible_organization(actor, org).await?;
        }
        let domains = docs::list::<Domain>(&*self.store, &[])
            .await?
            .into_iter()
            .filter(|d| Self::can_see_domain(actor, d))
            .filter(|d| org_guid.is_none_or(|org| d.usable_by(org)))
            .filter(|d| {
                params.allows("names", &d.name)
                    && params.allows("guids", &d.guid)
                    && params.allows_opt("organization_guids", d.organization_guid.as_deref())
            })
            .collect();
        Ok(params.select(domains))
    }

    pub async fn domain(&self, actor: &Actor, guid: &str) -> Result<Domain, Error> {
        self.visible_domain(actor, guid).await
    }

    /// CC's default domain of an organization: the oldest plain shared domain, else the
    /// organization's oldest private one.
    pub async fn default_domain(&self, actor: &Actor, org_guid: &str) -> Result<Domain, Error> {
        self.visible_organization(actor, org_guid).await?;
        self.default_domain_of(org_guid)
            .await?
            .ok_or(Error::NotFound("Domain"))
    }

    pub(crate) async fn default_domain_of(&self, org_guid: &str) -> Result<Option<Domain>, Error> {
        let domains = docs::list::<Domain>(&*self.store, &[]).await?;
        let plain_shared = domains
            .iter()
            .find(|d| d.is_shared() && !d.internal && d.router_group_guid.is_none());
        let owned = || {
            domains
                .iter()
                .find(|d| d.organization_guid.as_deref() == Some(org_guid))
        };
        Ok(plain_shared.or_else(owned).cloned())
    }

    /// The caller may change this domain: admins any, org managers their org's private ones.
    async fn manageable_domain(&self, actor: &Actor, guid: &str) -> Result<Domain, Error> {
        let domain = self.visible_domain(actor, guid).await?;
        match &domain.organization_guid {
            None if actor.is_admin() => {}
            None => return Err(Error::NotAuthorized),
            Some(owner) => {
                let org = self.visible_organization(actor, owner).await?;
                require(
                    actor.perms.decide(Action::ManageDomains, target(&org)),
                    "Domain",
                )?;
            }
        }
        Ok(domain)
    }

    /// Organizations a private domain may be shared with: visible, managed by the caller,
    /// not suspended, and not the owner.
    async fn share_targets(
        &self,
        actor: &Actor,
        guids: &[String],
        owner: &str,
    ) -> Result<Vec<Organization>, Error> {
        let mut orgs = Vec::new();
        for guid in guids {
            let org = self
                .store
                .organization(guid)
                .await?
                .filter(|o| actor.perms.can_see_organization(&o.guid))
                .ok_or_else(|| no_such_org(guid))?;
            if actor.perms.decide(Action::ManageDomains, target(&org)) != Decision::Allow {
                return Err(Error::Unprocessable(format!(
                    "You do not have sufficient permissions for organization '{}' to share domain.",
                    org.name
                )));
            }
            orgs.push(org);
        }
        if guids.iter().any(|g| g == owner) {
            return Err(Error::Unprocessable(
                "Domain cannot be shared with owning organization.".into(),
            ));
        }
        Ok(orgs)
    }

    /// A new name must not take over a route (`a.example.com` when host `a` exists on
    /// `example.com`) nor nest in another organization's private domain.
    async fn check_name_free(&self, name: &str, owner: Option<&str>) -> Result<(), Error> {
        let splits = host_splits(name);
        let parents: Vec<String> = splits.iter().map(|(_, p)| (*p).to_owned()).collect();
        let parent_domains =
            docs::list::<Domain>(&*self.store, &[Filter::In("name", parents)]).await?;
        for parent in &parent_domains {
            if parent.organization_guid.is_some() && parent.organization_guid.as_deref() != owner {
                return Err(Error::Unprocessable(format!(
                    r#"The domain name "{name}" cannot be created because "{}" is already reserved by another domain"#,
                    parent.name
                )));
            }
            for (host, _) in splits.iter().filter(|(_, p)| *p == parent.name) {
                let taken = docs::find::<Route>(
                    &*self.store,
                    &[
                        Filter::eq("domain_guid", parent.guid.clone()),
                        Filter::eq("host", *host),
                    ],
                )
                .await?;
                if taken.is_some() {
                    return Err(Error::Unprocessable(format!(
                        r#"The domain name "{name}" cannot be created because "{}" is already reserved by a route"#,
                        fqdn(host, &parent.name)
                    )));
                }
            }
        }
        Ok(())
    }

    pub async fn create_domain(&self, actor: &Actor, new: NewDomain) -> Result<Domain, Error> {
        let mut problems = domain_name_problems(&new.name);
        if new.internal && new.organization_guid.is_some() {
            problems.push("Cannot associate an internal domain with an organization".into());
        }
        if new.organization_guid.is_some() && new.router_group_guid.is_some() {
            problems.push(
                "Domains scoped to an organization cannot be associated to a router group.".into(),
            );
        }
        if new.organization_guid.is_none() && !new.shared_organization_guids.is_empty() {
            problems.push(
                "Relationships cannot contain shared_organizations without an owning organization."
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        let shared_orgs = match &new.organization_guid {
            Some(owner) => {
                let org = self
                    .store
                    .organization(owner)
                    .await?
                    .filter(|o| actor.perms.can_see_organization(&o.guid))
                    .ok_or_else(|| no_such_org(owner))?;
                require(
                    actor.perms.decide(Action::ManageDomains, target(&org)),
                    "Organization",
                )
                .map_err(|_| Error::NotAuthorized)?;
                if !actor.is_admin() && !self.feature_enabled("private_domain_creation").await? {
                    return Err(Error::FeatureDisabled("private_domain_creation".into()));
                }
                self.share_targets(actor, &new.shared_organization_guids, owner)
                    .await?
            }
            None if actor.is_admin() => Vec::new(),
            None => return Err(Error::NotAuthorized),
        };
        if new.router_group_guid.is_some() {
            // TCP domains need the routing API, which Ingot does not run.
            return Err(Error::Unavailable("The Routing API is disabled.".into()));
        }
        self.check_name_free(&new.name, new.organization_guid.as_deref())
            .await?;
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let domain = Domain {
            guid: self.new_guid(),
            name: new.name,
            internal: new.internal,
            organization_guid: new.organization_guid,
            shared_organization_guids: shared_orgs.into_iter().map(|o| o.guid).collect(),
            supported_protocols: vec!["http".into()],
            router_group_guid: None,
            metadata,
            created_at: now,
            updated_at: now,
        };
        self.store
            .write_docs(&[DocOp::insert(&domain)], &[], None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Unprocessable(format!(
                    r#"The domain name "{}" is already in use"#,
                    domain.name
                )),
                other => other.into(),
            })?;
        Ok(domain)
    }

    pub async fn update_domain(
        &self,
        actor: &Actor,
        guid: &str,
        metadata: &MetadataPatch,
    ) -> Result<Domain, Error> {
        let mut domain = self.manageable_domain(actor, guid).await?;
        domain.metadata.apply(metadata);
        domain.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&domain)], &[], None)
            .await?;
        Ok(domain)
    }

    /// Starts the job that deletes the domain with its routes and their destinations.
    pub async fn delete_domain(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let domain = self.manageable_domain(actor, guid).await?;
        if !domain.shared_organization_guids.is_empty() {
            return Err(Error::Unprocessable(
                "This domain is shared with other organizations. Unshare before deleting.".into(),
            ));
        }
        self.start_job(JobOperation::DomainDelete, &domain.guid, &[])
            .await
    }

    pub(crate) async fn run_domain_delete(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        // Routes and their destinations go with the domain (foreign keys cascade).
        self.store
            .write_docs(&[DocOp::delete::<Domain>(guid)], &[], Some(done))
            .await?;
        self.nudge_nsync();
        Ok(())
    }

    pub async fn share_domain(
        &self,
        actor: &Actor,
        guid: &str,
        org_guids: &[String],
    ) -> Result<Domain, Error> {
        let mut domain = self.manageable_domain(actor, guid).await?;
        let Some(owner) = domain.organization_guid.clone() else {
            return Err(Error::Unprocessable(
                "Domains cannot be shared with other organizations unless they are scoped to an organization."
                    .into(),
            ));
        };
        for org in self.share_targets(actor, org_guids, &owner).await? {
            if !domain.shared_organization_guids.contains(&org.guid) {
                domain.shared_organization_guids.push(org.guid);
            }
        }
        domain.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&domain)], &[], None)
            .await?;
        Ok(domain)
    }

    /// Managers of the owner or of the organization it is shared with may unshare.
    pub async fn unshare_domain(
        &self,
        actor: &Actor,
        guid: &str,
        org_guid: &str,
    ) -> Result<(), Error> {
        let mut domain = self.visible_domain(actor, guid).await?;
        let org = self
            .store
            .organization(org_guid)
            .await?
            .filter(|o| actor.perms.can_see_organization(&o.guid))
            .ok_or_else(|| no_such_org(org_guid))?;
        let manages = |o: &Organization| {
            actor.perms.decide(Action::ManageDomains, target(o)) == Decision::Allow
        };
        let owner = match &domain.organization_guid {
            Some(owner) => self.store.organization(owner).await?,
            None => None,
        };
        if !manages(&org) && !owner.as_ref().is_some_and(manages) {
            return Err(Error::NotAuthorized);
        }
        if !domain.shared_organization_guids.contains(&org.guid) {
            return Err(Error::Unprocessable(format!(
                "Unable to unshare domain from organization with name '{}'. Ensure the domain is shared to this organization.",
                org.name
            )));
        }
        let org_spaces: Vec<String> = self
            .store
            .spaces()
            .await?
            .into_iter()
            .filter(|s| s.organization_guid == org.guid)
            .map(|s| s.guid)
            .collect();
        let routes = docs::find::<Route>(
            &*self.store,
            &[
                Filter::eq("domain_guid", domain.guid.clone()),
                Filter::In("space_guid", org_spaces),
            ],
        )
        .await?;
        if routes.is_some() {
            return Err(Error::Unprocessable(
                "This domain has associated routes in this organization. Delete the routes before unsharing."
                    .into(),
            ));
        }
        domain.shared_organization_guids.retain(|g| *g != org.guid);
        domain.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&domain)], &[], None)
            .await?;
        Ok(())
    }

    /// `cf check-route`: whether a route with this host, path and port exists anywhere.
    pub async fn route_reserved(
        &self,
        actor: &Actor,
        domain_guid: &str,
        host: &str,
        path: &str,
        port: Option<u16>,
    ) -> Result<bool, Error> {
        let domain = self.visible_domain(actor, domain_guid).await?;
        let found = docs::find::<Route>(
            &*self.store,
            &[
                Filter::eq("domain_guid", domain.guid),
                Filter::eq("host", host),
                Filter::eq("path", path),
                Filter::eq("port", port.map(|p| p.to_string()).unwrap_or_default()),
            ],
        )
        .await?;
        Ok(found.is_some())
    }

    /// Creates the configured apps domain as a shared domain unless a domain has its name.
    pub async fn seed_default_domain(&self) -> Result<(), Error> {
        let name = self.settings.apps_domain.clone();
        if docs::find::<Domain>(&*self.store, &[Filter::eq("name", name.clone())])
            .await?
            .is_some()
        {
            return Ok(());
        }
        let now = self.now();
        let domain = Domain {
            guid: self.new_guid(),
            name,
            internal: false,
            organization_guid: None,
            shared_organization_guids: Vec::new(),
            supported_protocols: vec!["http".into()],
            router_group_guid: None,
            metadata: Metadata::default(),
            created_at: now,
            updated_at: now,
        };
        match self
            .store
            .write_docs(&[DocOp::insert(&domain)], &[], None)
            .await
        {
            // Another Cloud Controller seeded it first.
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
