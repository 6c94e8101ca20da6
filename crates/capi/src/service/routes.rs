//! Routes (host + domain + path in a space) and their destinations (route mappings to app
//! processes). Every change of destinations wakes nsync so the DesiredLRPs' routes follow.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::{Actor, Service, require, spaces::target};
use crate::{
    Error,
    model::{
        App, AuditTarget, Domain, Job, JobOperation, Metadata, MetadataPatch, Organization, Route,
        RouteMapping, Space,
        permissions::Action,
        query::{ListParams, Page},
        route::NewDestination,
        route::{
            MAX_FQDN_LENGTH, WILDCARD_HOST, default_host_problem, fqdn, host_problems,
            parse_route_spec, path_problems, random_host, route_url,
        },
    },
    store::{DocOp, Filter, JobDone, StoreError, StoreResult, docs},
};

#[derive(Debug, Clone, Default)]
pub struct NewRoute {
    pub host: String,
    pub path: String,
    pub port: Option<u16>,
    pub space_guid: String,
    pub domain_guid: String,
    pub metadata: MetadataPatch,
}

/// A route with what its JSON shows: the domain (for `url`) and its destinations.
#[derive(Debug, Clone)]
pub struct RouteView {
    pub route: Route,
    pub domain: Domain,
    pub destinations: Vec<RouteMapping>,
}

/// A page of routes and, when asked for, their domains, spaces and organizations.
pub struct RouteList {
    pub page: Page<RouteView>,
    pub domains: Vec<Domain>,
    pub spaces: Vec<Space>,
    pub organizations: Vec<Organization>,
}

fn route_target(route: &Route) -> AuditTarget {
    AuditTarget {
        guid: route.guid.clone(),
        target_type: "route".into(),
        name: route.host.clone(),
    }
}

/// CC's wording for a taken route; the cf CLI keys on "Route already exists".
fn route_taken(route: &Route, domain: &Domain) -> Error {
    let d = &domain.name;
    Error::Unprocessable(
        match (route.host.as_str(), route.path.as_str(), route.port) {
            (_, _, Some(port)) => {
                format!("Route already exists with port '{port}' for domain '{d}'.")
            }
            ("", "", _) => format!("Route already exists for domain '{d}'."),
            ("", path, _) => format!("Route already exists with path '{path}' for domain '{d}'."),
            (host, "", _) => format!("Route already exists with host '{host}' for domain '{d}'."),
            (host, path, _) => {
                format!(
                    "Route already exists with host '{host}' and path '{path}' for domain '{d}'."
                )
            }
        },
    )
}

fn quoted(guids: &[&str]) -> String {
    guids.join("\", \"")
}

impl Service {
    /// The route, its space and organization, if the caller may see the space.
    async fn visible_route(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Route, Space, Organization), Error> {
        self.require_read(actor)?;
        let route = docs::get::<Route>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Route"))?;
        let (space, org) = self
            .visible_space(actor, &route.space_guid)
            .await
            .map_err(|_| Error::NotFound("Route"))?;
        require(
            actor.perms.decide(Action::ReadSpace, target(&space, &org)),
            "Route",
        )?;
        Ok((route, space, org))
    }

    async fn manageable_route(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Route, Space, Organization), Error> {
        let (route, space, org) = self.visible_route(actor, guid).await?;
        require(
            actor
                .perms
                .decide(Action::ManageRoutes, target(&space, &org)),
            "Route",
        )?;
        Ok((route, space, org))
    }

    /// Joins routes with their domains and destinations, in two reads.
    async fn route_views(&self, routes: Vec<Route>) -> Result<Vec<RouteView>, Error> {
        if routes.is_empty() {
            return Ok(Vec::new());
        }
        let domain_guids: BTreeSet<String> = routes.iter().map(|r| r.domain_guid.clone()).collect();
        let domains: HashMap<String, Domain> = docs::list::<Domain>(
            &*self.store,
            &[Filter::In("guid", domain_guids.into_iter().collect())],
        )
        .await?
        .into_iter()
        .map(|d| (d.guid.clone(), d))
        .collect();
        let mut mappings: HashMap<String, Vec<RouteMapping>> = HashMap::new();
        for m in docs::list::<RouteMapping>(
            &*self.store,
            &[Filter::In(
                "route_guid",
                routes.iter().map(|r| r.guid.clone()).collect(),
            )],
        )
        .await?
        {
            mappings.entry(m.route_guid.clone()).or_default().push(m);
        }
        routes
            .into_iter()
            .map(|route| {
                let domain = domains.get(&route.domain_guid).cloned().ok_or_else(|| {
                    Error::Internal(format!("route {} lost its domain", route.guid))
                })?;
                let mut destinations = mappings.remove(&route.guid).unwrap_or_default();
                destinations.sort_by(|a, b| a.guid.cmp(&b.guid));
                Ok(RouteView {
                    route,
                    domain,
                    destinations,
                })
            })
            .collect()
    }

    async fn route_view(&self, route: Route) -> Result<RouteView, Error> {
        self.route_views(vec![route])
            .await?
            .pop()
            .ok_or(Error::NotFound("Route"))
    }

    /// Routes visible to the caller; `app_guid` scopes the list to one app (`/v3/apps/:guid/routes`).
    pub async fn list_routes(
        &self,
        actor: &Actor,
        params: &ListParams,
        app_guid: Option<&str>,
    ) -> Result<RouteList, Error> {
        self.require_read(actor)?;
        let mut filters = Vec::new();
        let spaces = self.store.spaces().await?;
        if !actor.perms.reads_everything() {
            let visible = spaces
                .iter()
                .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
                .map(|s| s.guid.clone())
                .collect();
            filters.push(Filter::In("space_guid", visible));
        }
        if let Some(app) = app_guid {
            self.located_app(actor, app).await?;
        }
        let mut app_guids: Option<Vec<String>> = params.filters.get("app_guids").cloned();
        if let Some(app) = app_guid {
            app_guids = Some(vec![app.to_owned()]);
        }
        if let Some(apps) = app_guids {
            let mapped = docs::list::<RouteMapping>(&*self.store, &[Filter::In("app_guid", apps)])
                .await?
                .into_iter()
                .map(|m| m.route_guid)
                .collect();
            filters.push(Filter::In("guid", mapped));
        }
        if let Some(orgs) = params.filters.get("organization_guids") {
            let in_orgs = spaces
                .iter()
                .filter(|s| orgs.contains(&s.organization_guid))
                .map(|s| s.guid.clone())
                .collect();
            filters.push(Filter::In("space_guid", in_orgs));
        }
        for (param, column) in [
            ("space_guids", "space_guid"),
            ("domain_guids", "domain_guid"),
            ("hosts", "host"),
            ("paths", "path"),
        ] {
            if let Some(values) = params.filters.get(param) {
                filters.push(Filter::In(column, values.clone()));
            }
        }
        let routes = docs::list::<Route>(&*self.store, &filters)
            .await?
            .into_iter()
            // HTTP routes have port 0 in CC's filters.
            .filter(|r| params.allows("ports", &r.port.unwrap_or(0).to_string()))
            .collect();
        let page = params.select(routes);
        let items = self.route_views(page.items).await?;
        let domains = if params.includes("domain") {
            let mut seen = BTreeSet::new();
            items
                .iter()
                .filter(|v| seen.insert(v.domain.guid.clone()))
                .map(|v| v.domain.clone())
                .collect()
        } else {
            Vec::new()
        };
        let (spaces, organizations) = self
            .included_spaces(params, items.iter().map(|v| v.route.space_guid.as_str()))
            .await?;
        Ok(RouteList {
            page: Page {
                items,
                total_results: page.total_results,
                page: page.page,
                per_page: page.per_page,
            },
            domains,
            spaces,
            organizations,
        })
    }

    /// The spaces and organizations `include=space` / `include=space.organization` ask for.
    async fn included_spaces<'a>(
        &self,
        params: &ListParams,
        space_guids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(Vec<Space>, Vec<Organization>), Error> {
        let with_orgs = params.includes("space.organization");
        if !params.includes("space") && !with_orgs {
            return Ok((Vec::new(), Vec::new()));
        }
        let spaces = self
            .store
            .spaces_by_guids(&Self::included_guids(space_guids))
            .await?;
        let orgs = if with_orgs {
            let wanted = Self::included_guids(spaces.iter().map(|s| s.organization_guid.as_str()));
            self.store.organizations_by_guids(&wanted).await?
        } else {
            Vec::new()
        };
        let spaces = if params.includes("space") {
            spaces
        } else {
            Vec::new()
        };
        Ok((spaces, orgs))
    }

    /// One route with the includes `params` asks for.
    pub async fn route(
        &self,
        actor: &Actor,
        guid: &str,
        params: &ListParams,
    ) -> Result<RouteList, Error> {
        let (route, space, _) = self.visible_route(actor, guid).await?;
        let view = self.route_view(route).await?;
        let domains = if params.includes("domain") {
            vec![view.domain.clone()]
        } else {
            Vec::new()
        };
        let (spaces, organizations) = self.included_spaces(params, [space.guid.as_str()]).await?;
        Ok(RouteList {
            page: Page {
                items: vec![view],
                total_results: 1,
                page: 1,
                per_page: 1,
            },
            domains,
            spaces,
            organizations,
        })
    }

    pub async fn create_route(&self, actor: &Actor, new: NewRoute) -> Result<RouteView, Error> {
        let mut problems = host_problems(&new.host);
        problems.extend(path_problems(&new.path));
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        if !actor.is_admin() && !self.feature_enabled("route_creation").await? {
            return Err(Error::FeatureDisabled("route_creation".into()));
        }
        let invalid = |what: &str| {
            Error::Unprocessable(format!(
                "Invalid {what}. Ensure that the {what} exists and you have access to it."
            ))
        };
        let (space, org) = self
            .visible_space(actor, &new.space_guid)
            .await
            .map_err(|_| invalid("space"))?;
        let domain = self
            .visible_domain(actor, &new.domain_guid)
            .await
            .map_err(|_| invalid("domain"))?;
        require(
            actor
                .perms
                .decide(Action::ManageRoutes, target(&space, &org)),
            "Space",
        )
        .map_err(|_| Error::NotAuthorized)?;
        self.check_route_rules(actor, &new, &domain, &org).await?;
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let route = Route {
            guid: self.new_guid(),
            host: new.host,
            path: new.path,
            port: new.port,
            domain_guid: domain.guid.clone(),
            space_guid: space.guid.clone(),
            metadata,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            actor,
            "audit.route.create",
            route_target(&route),
            json!({"request": {
                "host": route.host,
                "path": route.path,
                "relationships": {
                    "space": {"data": {"guid": space.guid}},
                    "domain": {"data": {"guid": domain.guid}},
                },
            }}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.store
            .write_docs(&[DocOp::insert(&route)], &[event], None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => route_taken(&route, &domain),
                other => other.into(),
            })?;
        Ok(RouteView {
            route,
            domain,
            destinations: Vec::new(),
        })
    }

    /// CC's rules on a new route that need its domain, organization or other routes.
    async fn check_route_rules(
        &self,
        actor: &Actor,
        new: &NewRoute,
        domain: &Domain,
        org: &Organization,
    ) -> Result<(), Error> {
        let fail = |msg: String| Err(Error::Unprocessable(msg));
        if new.port.is_some() && domain.protocol() == "http" {
            return fail("Routes with protocol 'http' do not support ports.".into());
        }
        if new.host == WILDCARD_HOST && domain.is_shared() && !actor.is_admin() {
            return fail("You do not have sufficient permissions to create a route with a wildcard host on a domain not scoped to an organization.".into());
        }
        if domain.internal && new.host == WILDCARD_HOST {
            return fail("Wildcard hosts are not supported for internal domains.".into());
        }
        if domain.internal && !new.path.is_empty() {
            return fail("Paths are not supported for internal domains.".into());
        }
        if !domain.usable_by(&org.guid) {
            return fail(format!(
                "Invalid domain. Domain '{}' is not available in organization '{}'.",
                domain.name, org.name
            ));
        }
        if domain.is_shared() && new.host.is_empty() {
            return fail("Missing host. Routes in shared domains must have a host defined.".into());
        }
        let name = fqdn(&new.host, &domain.name);
        if name.len() > MAX_FQDN_LENGTH {
            return fail(format!(
                "Host combined with domain name must be no more than {MAX_FQDN_LENGTH} characters."
            ));
        }
        if !new.host.is_empty()
            && docs::find::<Domain>(&*self.store, &[Filter::eq("name", name.clone())])
                .await?
                .is_some()
        {
            return fail(format!("Route conflicts with domain '{name}'."));
        }
        // A host on a shared domain belongs to one space; other spaces may not add paths to it.
        if domain.is_shared() {
            let same_host = docs::list::<Route>(
                &*self.store,
                &[
                    Filter::eq("domain_guid", domain.guid.clone()),
                    Filter::eq("host", new.host.clone()),
                ],
            )
            .await?;
            if same_host.iter().any(|r| r.space_guid != new.space_guid) {
                return fail(format!(
                    "Host '{}' on domain '{}' is taken by a route in another space.",
                    new.host, domain.name
                ));
            }
        }
        Ok(())
    }

    pub async fn update_route(
        &self,
        actor: &Actor,
        guid: &str,
        metadata: &MetadataPatch,
    ) -> Result<RouteView, Error> {
        let (mut route, space, org) = self.manageable_route(actor, guid).await?;
        route.metadata.apply(metadata);
        route.updated_at = self.now();
        let event = self.event(
            actor,
            "audit.route.update",
            route_target(&route),
            json!({"request": {"metadata": {
                "labels": metadata.labels,
                "annotations": metadata.annotations,
            }}}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.store
            .write_docs(&[DocOp::update(&route)], &[event], None)
            .await?;
        self.route_view(route).await
    }

    /// Starts the job that deletes the route and its destinations.
    pub async fn delete_route(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let (route, space, org) = self.manageable_route(actor, guid).await?;
        let event = self.event(
            actor,
            "audit.route.delete-request",
            route_target(&route),
            json!({"request": {"recursive": true}}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.start_job(JobOperation::RouteDelete, &route.guid, &[event])
            .await
    }

    pub(crate) async fn run_route_delete(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        // Destinations go with the route (foreign keys cascade).
        self.store
            .write_docs(&[DocOp::delete::<Route>(guid)], &[], Some(done))
            .await?;
        self.nudge_nsync();
        Ok(())
    }

    /// `cf delete-orphaned-routes`: starts the job deleting the space's unmapped routes.
    pub async fn delete_unmapped_routes(
        &self,
        actor: &Actor,
        space_guid: &str,
    ) -> Result<Job, Error> {
        let (space, org) = self.visible_space(actor, space_guid).await?;
        require(
            actor
                .perms
                .decide(Action::ManageRoutes, target(&space, &org)),
            "Space",
        )?;
        self.start_job(JobOperation::SpaceUnmappedRoutesDelete, &space.guid, &[])
            .await
    }

    pub(crate) async fn run_unmapped_routes_delete(
        &self,
        space_guid: &str,
        done: JobDone<'_>,
    ) -> StoreResult<()> {
        let routes =
            docs::list::<Route>(&*self.store, &[Filter::eq("space_guid", space_guid)]).await?;
        let mapped: BTreeSet<String> = docs::list::<RouteMapping>(
            &*self.store,
            &[Filter::In(
                "route_guid",
                routes.iter().map(|r| r.guid.clone()).collect(),
            )],
        )
        .await?
        .into_iter()
        .map(|m| m.route_guid)
        .collect();
        let ops: Vec<DocOp> = routes
            .iter()
            .filter(|r| !mapped.contains(&r.guid))
            .map(|r| DocOp::delete::<Route>(&r.guid))
            .collect();
        self.store.write_docs(&ops, &[], Some(done)).await
    }

    pub async fn route_destinations(&self, actor: &Actor, guid: &str) -> Result<RouteView, Error> {
        let (route, _, _) = self.visible_route(actor, guid).await?;
        self.route_view(route).await
    }

    /// Adds destinations; ones the route already has are left as they are.
    pub async fn add_route_destinations(
        &self,
        actor: &Actor,
        guid: &str,
        wanted: Vec<NewDestination>,
    ) -> Result<RouteView, Error> {
        let (route, _, org) = self.manageable_route(actor, guid).await?;
        let view = self.route_view(route).await?;
        let apps = self.destination_apps(actor, &view.route, &wanted).await?;
        if view.destinations.iter().any(|d| d.weight.is_some()) {
            return Err(Error::Unprocessable(
                "Destinations cannot be inserted when there are weighted destinations already configured."
                    .into(),
            ));
        }
        let mut add = Vec::new();
        for new in self.new_mappings(&view, wanted)? {
            match view
                .destinations
                .iter()
                .find(|d| (&d.app_guid, &d.process_type) == (&new.app_guid, &new.process_type))
            {
                Some(old) if (old.app_port, &old.protocol) == (new.app_port, &new.protocol) => {}
                Some(old) => {
                    return Err(Error::Unprocessable(format!(
                        "Destination already exists for route: {}, app: {}, process: {}, port: {}, and protocol: {}.",
                        route_url(&view.route, &view.domain),
                        old.app_guid,
                        old.process_type,
                        old.port(),
                        old.protocol
                    )));
                }
                None => add.push(new),
            }
        }
        self.write_destinations(actor, &org.guid, &apps, &add, &[])
            .await?;
        self.route_view(view.route).await
    }

    /// Replaces every destination of the route with `wanted`.
    pub async fn replace_route_destinations(
        &self,
        actor: &Actor,
        guid: &str,
        wanted: Vec<NewDestination>,
    ) -> Result<RouteView, Error> {
        let (route, _, org) = self.manageable_route(actor, guid).await?;
        let view = self.route_view(route).await?;
        let apps = self.destination_apps(actor, &view.route, &wanted).await?;
        let same = |a: &RouteMapping, b: &RouteMapping| {
            (
                &a.app_guid,
                &a.process_type,
                a.app_port,
                &a.protocol,
                a.weight,
            ) == (
                &b.app_guid,
                &b.process_type,
                b.app_port,
                &b.protocol,
                b.weight,
            )
        };
        let new = self.new_mappings(&view, wanted)?;
        let add: Vec<RouteMapping> = new
            .iter()
            .filter(|n| !view.destinations.iter().any(|d| same(d, n)))
            .cloned()
            .collect();
        let remove: Vec<RouteMapping> = view
            .destinations
            .iter()
            .filter(|d| !new.iter().any(|n| same(d, n)))
            .cloned()
            .collect();
        self.write_destinations(actor, &org.guid, &apps, &add, &remove)
            .await?;
        self.route_view(view.route).await
    }

    pub async fn remove_route_destination(
        &self,
        actor: &Actor,
        guid: &str,
        destination_guid: &str,
    ) -> Result<(), Error> {
        let (route, _, org) = self.manageable_route(actor, guid).await?;
        let mapping = docs::get::<RouteMapping>(&*self.store, destination_guid)
            .await?
            .filter(|m| m.route_guid == route.guid)
            .ok_or_else(|| {
                Error::Unprocessable(
                    "Unable to unmap route from destination. Ensure the route has a destination with this guid."
                        .into(),
                )
            })?;
        if mapping.weight.is_some() {
            return Err(Error::Unprocessable(
                "Weighted destinations cannot be deleted individually.".into(),
            ));
        }
        let apps = self
            .apps_by_guid(std::slice::from_ref(&mapping.app_guid))
            .await?;
        self.write_destinations(actor, &org.guid, &apps, &[], &[mapping])
            .await
    }

    /// The apps destinations name: they must exist, be visible and live in the route's space.
    async fn destination_apps(
        &self,
        actor: &Actor,
        route: &Route,
        wanted: &[NewDestination],
    ) -> Result<HashMap<String, App>, Error> {
        let guids: Vec<String> = wanted
            .iter()
            .map(|d| d.app_guid.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let apps = self.apps_by_guid(&guids).await?;
        let missing: Vec<&str> = guids
            .iter()
            .filter(|g| !apps.contains_key(*g))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Unprocessable(format!(
                "App(s) with guid(s) \"{}\" do not exist.",
                quoted(&missing)
            )));
        }
        let spaces: HashMap<String, Space> = self
            .store
            .spaces_by_guids(&Self::included_guids(
                apps.values().map(|a| a.space_guid.as_str()),
            ))
            .await?
            .into_iter()
            .map(|s| (s.guid.clone(), s))
            .collect();
        let hidden: Vec<&str> = guids
            .iter()
            .filter(|g| {
                !apps
                    .get(*g)
                    .and_then(|a| spaces.get(&a.space_guid))
                    .is_some_and(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
            })
            .map(String::as_str)
            .collect();
        if !hidden.is_empty() {
            return Err(Error::Unprocessable(format!(
                "App(s) with guid(s) \"{}\" you do not have access.",
                quoted(&hidden)
            )));
        }
        if apps.values().any(|a| a.space_guid != route.space_guid) {
            return Err(Error::Unprocessable(
                "Routes destinations must be in either the route's space or the route's shared spaces"
                    .into(),
            ));
        }
        Ok(apps)
    }

    async fn apps_by_guid(&self, guids: &[String]) -> Result<HashMap<String, App>, Error> {
        Ok(
            docs::list::<App>(&*self.store, &[Filter::In("guid", guids.to_vec())])
                .await?
                .into_iter()
                .map(|a| (a.guid.clone(), a))
                .collect(),
        )
    }

    /// Mappings for requested destinations, with CC's defaults and protocol rules.
    fn new_mappings(
        &self,
        view: &RouteView,
        wanted: Vec<NewDestination>,
    ) -> Result<Vec<RouteMapping>, Error> {
        let now = self.now();
        let mut out: Vec<RouteMapping> = Vec::new();
        for d in wanted {
            let protocol = d.protocol.unwrap_or_else(|| "http1".into());
            if view.domain.protocol() == "http" && !matches!(protocol.as_str(), "http1" | "http2") {
                return Err(Error::Unprocessable(format!(
                    "Cannot use '{protocol}' protocol for http routes; valid options are: [http1, http2]."
                )));
            }
            let mapping = RouteMapping {
                guid: self.new_guid(),
                route_guid: view.route.guid.clone(),
                app_guid: d.app_guid,
                process_type: d.process_type,
                app_port: d.port,
                protocol,
                weight: d.weight,
                created_at: now,
                updated_at: now,
            };
            if out.iter().any(|m| {
                (&m.app_guid, &m.process_type) == (&mapping.app_guid, &mapping.process_type)
            }) {
                return Err(Error::Unprocessable(
                    "Destinations cannot contain duplicate entries".into(),
                ));
            }
            out.push(mapping);
        }
        Ok(out)
    }

    /// Removes and adds mappings in one transaction with their map/unmap events, then wakes
    /// nsync.
    async fn write_destinations(
        &self,
        actor: &Actor,
        org_guid: &str,
        apps: &HashMap<String, App>,
        add: &[RouteMapping],
        remove: &[RouteMapping],
    ) -> Result<(), Error> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let event = |kind: &str, m: &RouteMapping| {
            let app = apps.get(&m.app_guid);
            self.event(
                actor,
                kind,
                AuditTarget {
                    guid: m.app_guid.clone(),
                    target_type: "app".into(),
                    name: app.map(|a| a.name.clone()).unwrap_or_default(),
                },
                json!({
                    "route_guid": m.route_guid,
                    "app_port": m.port(),
                    "route_mapping_guid": m.guid,
                    "destination_guid": m.guid,
                    "process_type": m.process_type,
                    "weight": m.weight,
                    "protocol": m.protocol,
                }),
                app.map(|a| a.space_guid.as_str()),
                Some(org_guid),
            )
        };
        let mut ops: Vec<DocOp> = remove
            .iter()
            .map(|m| DocOp::delete::<RouteMapping>(&m.guid))
            .collect();
        ops.extend(add.iter().map(DocOp::insert));
        let events: Vec<_> = remove
            .iter()
            .map(|m| event("audit.app.unmap-route", m))
            .chain(add.iter().map(|m| event("audit.app.map-route", m)))
            .collect();
        self.store
            .write_docs(&ops, &events, None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Unprocessable("Destinations cannot contain duplicate entries".into())
                }
                other => other.into(),
            })?;
        self.nudge_nsync();
        Ok(())
    }

    // ---- For apps, manifests and nsync ----

    /// Every route mapped to the app, with its domain and the mapping.
    pub(crate) async fn routes_for_app(
        &self,
        app_guid: &str,
    ) -> Result<Vec<(Route, Domain, RouteMapping)>, Error> {
        self.routes_for_apps(vec![app_guid.to_owned()]).await
    }

    /// Every route mapped to any of the apps, with its domain and the mapping, in a fixed
    /// number of reads however many apps (nsync's input for the DesiredLRPs' routes).
    pub(crate) async fn routes_for_apps(
        &self,
        app_guids: Vec<String>,
    ) -> Result<Vec<(Route, Domain, RouteMapping)>, Error> {
        let mappings =
            docs::list::<RouteMapping>(&*self.store, &[Filter::In("app_guid", app_guids)]).await?;
        let routes = docs::list::<Route>(
            &*self.store,
            &[Filter::In(
                "guid",
                mappings.iter().map(|m| m.route_guid.clone()).collect(),
            )],
        )
        .await?;
        let views: HashMap<String, RouteView> = self
            .route_views(routes)
            .await?
            .into_iter()
            .map(|v| (v.route.guid.clone(), v))
            .collect();
        Ok(mappings
            .into_iter()
            .filter_map(|m| {
                let v = views.get(&m.route_guid)?;
                Some((v.route.clone(), v.domain.clone(), m))
            })
            .collect())
    }

    /// The routes mapped to this process type of the app, with their domains and mappings.
    pub(crate) async fn process_routes(
        &self,
        app_guid: &str,
        process_type: &str,
    ) -> Result<Vec<(Route, Domain, RouteMapping)>, Error> {
        let mut routes = self.routes_for_app(app_guid).await?;
        routes.retain(|(_, _, m)| m.process_type == process_type);
        Ok(routes)
    }

    /// The URLs of the routes mapped to this process type of the app (VCAP_APPLICATION's
    /// `uris`).
    pub(crate) async fn process_uris(
        &self,
        app_guid: &str,
        process_type: &str,
    ) -> Result<Vec<String>, Error> {
        Ok(self
            .process_routes(app_guid, process_type)
            .await?
            .iter()
            .map(|(route, domain, _)| route_url(route, domain))
            .collect())
    }

    /// The route a manifest names (`host.domain[:port][/path]`), created in the space unless
    /// it exists there. The domain is the whole name if such a domain exists, else all but the
    /// first label.
    pub(crate) async fn ensure_route(
        &self,
        actor: &Actor,
        space_guid: &str,
        url: &str,
    ) -> Result<Route, Error> {
        let spec = parse_route_spec(url).ok_or_else(|| {
            Error::Unprocessable(format!("The route '{url}' is not a properly formed URL"))
        })?;
        let for_route = |e: Error| match e {
            Error::Unprocessable(msg) => Error::Unprocessable(format!("For route '{url}': {msg}")),
            Error::Validation(problems) => {
                Error::Unprocessable(format!("For route '{url}': {}", problems.join(", ")))
            }
            other => other,
        };
        for (host, domain_name) in &spec.candidates {
            let Some(domain) =
                docs::find::<Domain>(&*self.store, &[Filter::eq("name", domain_name.clone())])
                    .await?
            else {
                continue;
            };
            let existing = docs::find::<Route>(
                &*self.store,
                &[
                    Filter::eq("domain_guid", domain.guid.clone()),
                    Filter::eq("host", host.clone()),
                    Filter::eq("path", spec.path.clone()),
                    Filter::eq("port", spec.port.map(|p| p.to_string()).unwrap_or_default()),
                ],
            )
            .await?;
            return match existing {
                Some(route) if route.space_guid == space_guid => Ok(route),
                Some(_) => Err(for_route(Error::Unprocessable(
                    "Routes cannot be mapped to destinations in different spaces".into(),
                ))),
                None => {
                    let new = NewRoute {
                        host: host.clone(),
                        path: spec.path.clone(),
                        port: spec.port,
                        space_guid: space_guid.to_owned(),
                        domain_guid: domain.guid.clone(),
                        metadata: MetadataPatch::default(),
                    };
                    self.create_route(actor, new)
                        .await
                        .map(|v| v.route)
                        .map_err(for_route)
                }
            };
        }
        Err(Error::Unprocessable(format!(
            "No domains exist for route {url}"
        )))
    }

    /// Maps the route to the app's process (a no-op when already mapped).
    pub(crate) async fn map_route(
        &self,
        actor: &Actor,
        app: &App,
        route: &Route,
        process_type: &str,
    ) -> Result<(), Error> {
        let (_, _, org) = self.manageable_route(actor, &route.guid).await?;
        let view = self.route_view(route.clone()).await?;
        if view
            .destinations
            .iter()
            .any(|d| d.app_guid == app.guid && d.process_type == process_type)
        {
            return Ok(());
        }
        let wanted = vec![NewDestination {
            app_guid: app.guid.clone(),
            process_type: process_type.to_owned(),
            port: None,
            protocol: None,
            weight: None,
        }];
        let apps = self.destination_apps(actor, route, &wanted).await?;
        let add = self.new_mappings(&view, wanted)?;
        self.write_destinations(actor, &org.guid, &apps, &add, &[])
            .await
    }

    /// `<app name>.<default domain>`, created unless the space has it (`default-route: true`).
    pub(crate) async fn default_route(&self, actor: &Actor, app: &App) -> Result<Route, Error> {
        if let Some(problem) = default_host_problem(&app.name) {
            return Err(Error::Unprocessable(problem));
        }
        let domain = self.app_default_domain(app).await?;
        self.ensure_route(
            actor,
            &app.space_guid,
            &format!("{}.{}", app.name, domain.name),
        )
        .await
    }

    /// A new route `<app name>-<adjective>-<noun>-<xy>` on the default domain (`--random-route`).
    pub(crate) async fn random_route(&self, actor: &Actor, app: &App) -> Result<Route, Error> {
        let domain = self.app_default_domain(app).await?;
        let mut host = random_host(&app.name, &self.new_guid());
        // A clash is unlikely; draw again a few times rather than reuse someone's route.
        for _ in 0..5 {
            let taken = docs::find::<Route>(
                &*self.store,
                &[
                    Filter::eq("domain_guid", domain.guid.clone()),
                    Filter::eq("host", host.clone()),
                ],
            )
            .await?;
            if taken.is_none() {
                break;
            }
            host = random_host(&app.name, &self.new_guid());
        }
        self.ensure_route(actor, &app.space_guid, &format!("{host}.{}", domain.name))
            .await
    }

    async fn app_default_domain(&self, app: &App) -> Result<Domain, Error> {
        let space = self
            .store
            .space(&app.space_guid)
            .await?
            .ok_or(Error::NotFound("Space"))?;
        self.default_domain_of(&space.organization_guid)
            .await?
            .ok_or_else(|| Error::Unprocessable("No default domains available".into()))
    }

    /// Removes every destination of the app (`no-route: true`).
    pub(crate) async fn unmap_all_routes(&self, actor: &Actor, app: &App) -> Result<(), Error> {
        let (space, org) = self.visible_space(actor, &app.space_guid).await?;
        require(
            actor
                .perms
                .decide(Action::ManageRoutes, target(&space, &org)),
            "App",
        )?;
        let mappings =
            docs::list::<RouteMapping>(&*self.store, &[Filter::eq("app_guid", app.guid.clone())])
                .await?;
        let apps = HashMap::from([(app.guid.clone(), app.clone())]);
        self.write_destinations(actor, &org.guid, &apps, &[], &mappings)
            .await
    }
}
