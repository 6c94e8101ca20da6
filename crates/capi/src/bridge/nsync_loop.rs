//! nsync's loop: on every nudge and every [`BULK_INTERVAL`], compute the LRPs the Cloud
//! Controller wants, compare them with the BBS's `cf-apps` domain and close the gap. Only a
//! pass that completed refreshes the domain, so the BBS removes extra instances only while
//! the Cloud Controller's view is known to be fresh.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use ingot_bbs::{DesiredLrp, DesiredLrpFilter};
use ingot_core::Shutdown;

use super::nsync::{LrpSpec, Plan, RouteTarget, desired_lrp, lrp_process_guid, plan};
use crate::{
    Error, diego,
    model::{
        App, AppState, Domain, Droplet, DropletState, Organization, Process, Route, RouteMapping,
        Space,
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

/// Spaces and organizations looked up once per pass.
#[derive(Default)]
struct Places {
    spaces: HashMap<String, Option<Space>>,
    orgs: HashMap<String, Option<Organization>>,
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
    async fn wanted_lrps(&self) -> Result<Wanted, Error> {
        let apps: Vec<App> = docs::list(
            &*self.store,
            &[Filter::eq(
                "state",
                docs::key(&AppState::Started).unwrap_or_default(),
            )],
        )
        .await?;
        let group = self.group_variables("running").await?;
        let mut places = Places::default();
        let mut wanted = Wanted {
            lrps: Vec::new(),
            no_command: Vec::new(),
        };
        for app in apps {
            let Some(droplet) = self.staged_current_droplet(&app).await? else {
                continue;
            };
            let Some((space, org)) = self.nsync_place(&mut places, &app.space_guid).await? else {
                continue;
            };
            for process in self.app_processes(&app.guid).await? {
                match self
                    .process_lrp(&app, &process, &droplet, &space, &org, &group)
                    .await?
                {
                    Some(lrp) => wanted.lrps.push(lrp),
                    None => wanted.no_command.push((app.clone(), process)),
                }
            }
        }
        Ok(wanted)
    }

    /// The app's current droplet if it is staged (the only kind that can run).
    async fn staged_current_droplet(&self, app: &App) -> Result<Option<Droplet>, Error> {
        let Some(guid) = &app.droplet_guid else {
            return Ok(None);
        };
        Ok(docs::get::<Droplet>(&*self.store, guid)
            .await?
            .filter(|d| d.state == DropletState::Staged))
    }

    async fn nsync_place(
        &self,
        places: &mut Places,
        space_guid: &str,
    ) -> Result<Option<(Space, Organization)>, Error> {
        if !places.spaces.contains_key(space_guid) {
            let space = self.store.space(space_guid).await?;
            places.spaces.insert(space_guid.to_owned(), space);
        }
        let Some(space) = places.spaces.get(space_guid).cloned().flatten() else {
            return Ok(None);
        };
        let org_guid = space.organization_guid.clone();
        if !places.orgs.contains_key(&org_guid) {
            let org = self.store.organization(&org_guid).await?;
            places.orgs.insert(org_guid.clone(), org);
        }
        Ok(places
            .orgs
            .get(&org_guid)
            .cloned()
            .flatten()
            .map(|org| (space, org)))
    }

    async fn process_lrp(
        &self,
        app: &App,
        process: &Process,
        droplet: &Droplet,
        space: &Space,
        org: &Organization,
        group: &BTreeMap<String, String>,
    ) -> Result<Option<DesiredLrp>, Error> {
        let routes = self
            .process_routes(&app.guid, &process.process_type)
            .await?;
        let uris: Vec<String> = routes.iter().map(|(r, d, _)| route_url(r, d)).collect();
        let env = app_environment(
            &AppContext {
                app,
                process: Some(process),
                space,
                org,
                uris: &uris,
                api_url: &self.settings.api_url,
                memory_mb: process.memory_in_mb,
                disk_mb: process.disk_in_mb,
            },
            group,
        );
        Ok(desired_lrp(LrpSpec {
            app,
            process,
            droplet,
            droplet_url: self.droplet_download_url(droplet),
            env: super::actions::env_vars(env),
            routes: &route_targets(&routes),
        }))
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
