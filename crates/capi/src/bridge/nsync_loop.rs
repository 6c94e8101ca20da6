//! nsync's loop: on every nudge and every [`BULK_INTERVAL`], compute the LRPs the Cloud
//! Controller wants, compare them with the BBS's `cf-apps` domain and close the gap. Only a
//! pass that completed refreshes the domain, so the BBS removes extra instances only while
//! the Cloud Controller's view is known to be fresh.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::Duration,
};

use ingot_bbs::{DesiredLrp, DesiredLrpFilter, SecurityGroupRule};
use ingot_core::Shutdown;

use super::{
    egress::egress_rules,
    nsync::{LrpSpec, Plan, RouteTarget, desired_lrp, lrp_process_guid, plan},
};
use crate::{
    Error, diego,
    model::{
        App, AppState, Domain, Droplet, DropletState, Organization, Process, Route, RouteMapping,
        SecurityGroupLifecycle, Space,
        environment::{AppContext, app_environment},
        route::route_url,
    },
    service::Service,
    store::{Filter, docs},
};

/// How often nsync compares everything even without a nudge (CF: 30 s).
pub(crate) const BULK_INTERVAL: Duration = Duration::from_secs(30);

/// How long one complete pass vouches for the apps domain (CF's nsync: 2 minutes, several
/// bulk intervals, so one slow pass does not let it lapse).
const DOMAIN_TTL: Duration = Duration::from_secs(120);

/// Runs passes until shutdown: right away, then on every nudge or bulk interval.
pub(crate) async fn run(service: &Service, stop: Shutdown) {
    let mut told = HashSet::new();
    loop {
        if let Err(e) = service.sync_lrps(&mut told).await {
            tracing::warn!(error = %e, "nsync: pass failed; retrying at the next nudge or bulk sync");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = service.nsync.notified() => {}
            () = tokio::time::sleep(BULK_INTERVAL) => {}
        }
    }
}

/// The LRPs the Cloud Controller wants, and the processes that cannot run for want of a
/// start command.
struct Wanted {
    lrps: Vec<DesiredLrp>,
    no_command: Vec<(App, Process)>,
}

/// Where an app runs: what its environment and egress rules are made from besides the app.
struct Place<'a> {
    space: &'a Space,
    org: &'a Organization,
    group: &'a BTreeMap<String, String>,
    egress_rules: &'a [SecurityGroupRule],
}

impl Service {
    /// One nsync pass. `told` holds the LRP process guids whose missing start command the
    /// developer was already told about, so each is logged once.
    pub(crate) async fn sync_lrps(&self, told: &mut HashSet<String>) -> Result<(), Error> {
        let wanted = self.wanted_lrps().await?;
        let current: HashSet<String> = wanted
            .no_command
            .iter()
            .map(|(_, p)| lrp_process_guid(p))
            .collect();
        told.retain(|guid| current.contains(guid));
        for (app, process) in &wanted.no_command {
            if told.insert(lrp_process_guid(process)) {
                self.emit_app_log(
                    &app.guid,
                    "CELL",
                    &format!(
                        "Process '{}' has no start command: the droplet detected none for this \
                         type; set one with a Procfile or `cf push -c`",
                        process.process_type
                    ),
                );
            }
        }
        let actual = self
            .bbs
            .desired_lrps(DesiredLrpFilter {
                domain: diego::APPS_DOMAIN.to_owned(),
                ..DesiredLrpFilter::default()
            })
            .await
            .map_err(super::unavailable)?;
        let plan = plan(wanted.lrps, &actual);
        if !plan.is_empty() {
            tracing::info!(
                desire = plan.desire.len(),
                update = plan.update.len(),
                remove = plan.remove.len(),
                "nsync: converging LRPs"
            );
        }
        if self.apply_nsync_plan(plan).await {
            self.bbs
                .upsert_domain(diego::APPS_DOMAIN, DOMAIN_TTL)
                .await
                .map_err(super::unavailable)?;
        }
        Ok(())
    }

    /// Carries out the plan; false when any step failed (the next pass retries it).
    async fn apply_nsync_plan(&self, plan: Plan) -> bool {
        let mut complete = true;
        let mut failed = |what: &str, guid: &str, e: ingot_bbs::Error| {
            tracing::warn!(process_guid = guid, error = %e, "nsync: {what} failed");
            complete = false;
        };
        for lrp in plan.desire {
            let guid = lrp.process_guid.clone();
            match self.bbs.desire_lrp(lrp).await {
                // Desired by a concurrent pass: the next one compares it again.
                Ok(()) | Err(ingot_bbs::Error::Conflict { .. }) => {}
                Err(e) => failed("desire", &guid, e),
            }
        }
        for (guid, update) in plan.update {
            if let Err(e) = self.bbs.update_desired_lrp(&guid, update).await {
                failed("update", &guid, e);
            }
        }
        for guid in plan.remove {
            match self.bbs.remove_desired_lrp(&guid).await {
                Ok(()) | Err(ingot_bbs::Error::NotFound { .. }) => {}
                Err(e) => failed("remove", &guid, e),
            }
        }
        complete
    }

    /// Every process of every started app with a staged current droplet, as a DesiredLRP.
    /// The reads are one per table, however many apps there are: this runs on every nudge.
    async fn wanted_lrps(&self) -> Result<Wanted, Error> {
        let store = &*self.store;
        let apps: Vec<App> = docs::list(
            store,
            &[Filter::eq(
                "state",
                docs::key(&AppState::Started).unwrap_or_default(),
            )],
        )
        .await?;
        let droplet_guids = apps.iter().filter_map(|a| a.droplet_guid.clone()).collect();
        let droplets: HashMap<String, Droplet> =
            docs::list::<Droplet>(store, &[Filter::In("guid", droplet_guids)])
                .await?
                .into_iter()
                .filter(|d| d.state == DropletState::Staged)
                .map(|d| (d.guid.clone(), d))
                .collect();
        // Only an app whose current droplet is staged can run.
        let apps: Vec<(App, &Droplet)> = apps
            .into_iter()
            .filter_map(|app| {
                let droplet = droplets.get(app.droplet_guid.as_deref()?)?;
                Some((app, droplet))
            })
            .collect();
        let space_guids: BTreeSet<&str> = apps.iter().map(|(a, _)| a.space_guid.as_str()).collect();
        let spaces: HashMap<String, Space> = store
            .spaces_by_guids(&space_guids.into_iter().collect::<Vec<_>>())
            .await?
            .into_iter()
            .map(|s| (s.guid.clone(), s))
            .collect();
        let org_guids: BTreeSet<&str> = spaces
            .values()
            .map(|s| s.organization_guid.as_str())
            .collect();
        let orgs: HashMap<String, Organization> = store
            .organizations_by_guids(&org_guids.into_iter().collect::<Vec<_>>())
            .await?
            .into_iter()
            .map(|o| (o.guid.clone(), o))
            .collect();
        let app_guids: Vec<String> = apps.iter().map(|(a, _)| a.guid.clone()).collect();
        let mut processes: HashMap<String, Vec<Process>> = HashMap::new();
        for p in docs::list::<Process>(store, &[Filter::In("app_guid", app_guids.clone())]).await? {
            processes.entry(p.app_guid.clone()).or_default().push(p);
        }
        let mut routes: HashMap<String, Vec<(Route, Domain, RouteMapping)>> = HashMap::new();
        for r in self.routes_for_apps(app_guids).await? {
            routes.entry(r.2.app_guid.clone()).or_default().push(r);
        }
        let group = self.group_variables("running").await?;
        let security_groups = self.security_group_set().await?;
        let mut space_rules: HashMap<&str, Vec<SecurityGroupRule>> = HashMap::new();
        let mut wanted = Wanted {
            lrps: Vec::new(),
            no_command: Vec::new(),
        };
        for (app, droplet) in apps {
            let Some(space) = spaces.get(&app.space_guid) else {
                continue;
            };
            let Some(org) = orgs.get(&space.organization_guid) else {
                continue;
            };
            let rules = space_rules.entry(space.guid.as_str()).or_insert_with(|| {
                egress_rules(
                    &security_groups.applying_to(&space.guid, SecurityGroupLifecycle::Running),
                )
            });
            let app_routes = routes.get(&app.guid).map_or(&[][..], Vec::as_slice);
            for process in processes.remove(&app.guid).unwrap_or_default() {
                let process_routes: Vec<_> = app_routes
                    .iter()
                    .filter(|(_, _, m)| m.process_type == process.process_type)
                    .cloned()
                    .collect();
                let place = Place {
                    space,
                    org,
                    group: &group,
                    egress_rules: rules,
                };
                match self.process_lrp(&app, &process, droplet, &place, &process_routes) {
                    Some(lrp) => wanted.lrps.push(lrp),
                    None => wanted.no_command.push((app.clone(), process)),
                }
            }
        }
        Ok(wanted)
    }

    fn process_lrp(
        &self,
        app: &App,
        process: &Process,
        droplet: &Droplet,
        place: &Place<'_>,
        routes: &[(Route, Domain, RouteMapping)],
    ) -> Option<DesiredLrp> {
        let uris: Vec<String> = routes.iter().map(|(r, d, _)| route_url(r, d)).collect();
        let env = app_environment(
            &AppContext {
                app,
                process: Some(process),
                space: place.space,
                org: place.org,
                uris: &uris,
                api_url: &self.settings.api_url,
                memory_mb: process.memory_in_mb,
                disk_mb: process.disk_in_mb,
            },
            place.group,
        );
        desired_lrp(LrpSpec {
            app,
            process,
            droplet,
            droplet_url: self.droplet_download_url(droplet),
            env: super::actions::env_vars(env),
            routes: &route_targets(routes),
            egress_rules: place.egress_rules.to_vec(),
        })
    }
}

/// The HTTP routes among a process's routes (TCP routes are not the HTTP router's).
fn route_targets(routes: &[(Route, Domain, RouteMapping)]) -> Vec<RouteTarget> {
    routes
        .iter()
        .filter(|(route, _, _)| route.port.is_none())
        .map(|(route, domain, mapping)| RouteTarget {
            url: route_url(route, domain),
            port: mapping.port(),
        })
        .collect()
}
