//! The route emitter: turns DesiredLRPs' `cf-router` routes and their RUNNING ActualLRPs into
//! registrations, and keeps the route table equal to them. A full sync runs at start and on a
//! timer; BBS events are applied as they arrive so a crashed instance leaves at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ingot_bbs::{
    ActualLrp, ActualLrpFilter, ActualLrpState, BbsApi, DesiredLrp, DesiredLrpFilter, Event,
};
use ingot_core::{Backoff, Shutdown};
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::route::RouteKey;
use crate::table::SharedRouteTable;

/// The key of DesiredLRP `routes` this emitter reads (HTTP routes for the router).
pub const CF_ROUTER_KEY: &str = "cf-router";

/// Every route and its endpoints. A route with no endpoints is declared but not running.
pub type Registrations = BTreeMap<RouteKey, BTreeSet<Endpoint>>;

/// One entry of `routes["cf-router"]`: hostnames (each maybe with a context path) served by
/// one container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfRoute {
    pub hostnames: Vec<String>,
    pub port: u32,
}

/// The `cf-router` routes of a DesiredLRP; malformed entries are skipped, since the BBS keeps
/// routes opaque and cannot have validated them.
pub fn cf_routes(lrp: &DesiredLrp) -> Vec<CfRoute> {
    let Some(Value::Array(entries)) = lrp.routes.get(CF_ROUTER_KEY) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let port = u32::try_from(entry.get("port")?.as_u64()?).ok()?;
            let hostnames = entry
                .get("hostnames")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
            Some(CfRoute { hostnames, port })
        })
        .collect()
}

/// The registrations for these LRPs: every `cf-router` route of every DesiredLRP, with one
/// endpoint per RUNNING ActualLRP of that process whose container port is mapped.
pub fn registrations<'a>(
    desired: impl IntoIterator<Item = &'a DesiredLrp>,
    actual: impl IntoIterator<Item = &'a ActualLrp>,
) -> Registrations {
    let mut running: BTreeMap<&str, Vec<&ActualLrp>> = BTreeMap::new();
    for lrp in actual {
        if lrp.state == ActualLrpState::Running && !lrp.net_info.address.is_empty() {
            running.entry(&lrp.process_guid).or_default().push(lrp);
        }
    }
    let mut out = Registrations::new();
    for lrp in desired {
        let instances = running.get(lrp.process_guid.as_str());
        for route in cf_routes(lrp) {
            let endpoints: Vec<Endpoint> = instances
                .into_iter()
                .flatten()
                .filter_map(|actual| endpoint_for(actual, route.port, &lrp.log_guid))
                .collect();
            for hostname in &route.hostnames {
                out.entry(RouteKey::parse(hostname))
                    .or_default()
                    .extend(endpoints.iter().cloned());
            }
        }
    }
    out
}

fn endpoint_for(actual: &ActualLrp, container_port: u32, app_id: &str) -> Option<Endpoint> {
    let mapping = actual
        .net_info
        .ports
        .iter()
        .find(|p| p.container_port == container_port)?;
    let port = u16::try_from(mapping.host_port).ok().filter(|p| *p != 0)?;
    Some(Endpoint {
        address: actual.net_info.address.clone(),
        port,
        instance_guid: actual.instance_guid.clone(),
        index: actual.index,
        process_guid: actual.process_guid.clone(),
        app_id: app_id.to_owned(),
    })
}

/// What the emitter last heard from the BBS. Pure: events in, registrations out.
#[derive(Debug, Default, Clone)]
pub struct EmitterCache {
    desired: BTreeMap<String, DesiredLrp>,
    /// Keyed by process guid, index and instance guid: an evacuating and a replacement
    /// instance of one index may both run.
    actual: BTreeMap<(String, u32, String), ActualLrp>,
}

impl EmitterCache {
    pub fn new(desired: Vec<DesiredLrp>, actual: Vec<ActualLrp>) -> Self {
        let mut cache = Self::default();
        for lrp in desired {
            cache.desired.insert(lrp.process_guid.clone(), lrp);
        }
        for lrp in actual {
            cache.actual.insert(actual_key(&lrp), lrp);
        }
        cache
    }

    /// Applies one event; true when it may change the registrations.
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::DesiredLrpCreated { desired_lrp } => {
                self.desired
                    .insert(desired_lrp.process_guid.clone(), *desired_lrp);
            }
            Event::DesiredLrpChanged { after, .. } => {
                self.desired.insert(after.process_guid.clone(), *after);
            }
            Event::DesiredLrpRemoved { desired_lrp } => {
                self.desired.remove(&desired_lrp.process_guid);
            }
            Event::ActualLrpInstanceCreated { actual_lrp } => {
                self.actual.insert(actual_key(&actual_lrp), *actual_lrp);
            }
            Event::ActualLrpInstanceChanged { before, after } => {
                self.actual.remove(&actual_key(&before));
                self.actual.insert(actual_key(&after), *after);
            }
            Event::ActualLrpInstanceRemoved { actual_lrp } => {
                self.actual.remove(&actual_key(&actual_lrp));
            }
            Event::ActualLrpCrashed {
                actual_lrp_key,
                actual_lrp_instance_key,
                ..
            } => {
                // The changed event follows, but the instance is gone now: drop it at once.
                self.actual.remove(&(
                    actual_lrp_key.process_guid,
                    actual_lrp_key.index,
                    actual_lrp_instance_key.instance_guid,
                ));
            }
            Event::TaskCreated { .. } | Event::TaskChanged { .. } | Event::TaskRemoved { .. } => {
                return false;
            }
        }
        true
    }

    pub fn registrations(&self) -> Registrations {
        registrations(self.desired.values(), self.actual.values())
    }
}

fn actual_key(lrp: &ActualLrp) -> (String, u32, String) {
    (
        lrp.process_guid.clone(),
        lrp.index,
        lrp.instance_guid.clone(),
    )
}

/// How the emitter runs. `Default` gives Diego's sync interval.
#[derive(Debug, Clone)]
pub struct EmitterConfig {
    /// Full sync period (Diego's route emitter: 60 s).
    pub sync_interval: Duration,
    /// First wait before resubscribing after the events stream drops; doubles up to the max.
    pub resubscribe_min: Duration,
    pub resubscribe_max: Duration,
}

impl Default for EmitterConfig {
    fn default() -> Self {
        Self {
            sync_interval: Duration::from_secs(60),
            resubscribe_min: Duration::from_millis(100),
            resubscribe_max: Duration::from_secs(10),
        }
    }
}

/// Keeps a route table equal to the BBS's registrations.
pub struct RouteEmitter {
    bbs: Arc<dyn BbsApi>,
    table: SharedRouteTable,
    config: EmitterConfig,
}

impl RouteEmitter {
    pub fn new(bbs: Arc<dyn BbsApi>, table: SharedRouteTable, config: EmitterConfig) -> Self {
        Self { bbs, table, config }
    }

    /// Reads every LRP from the BBS and replaces the table with their registrations.
    /// Errors: `Bbs` (the BBS is unavailable).
    pub async fn sync(&self) -> Result<EmitterCache, Error> {
        self.full_sync().await.map(|(cache, _)| cache)
    }

    /// [`sync`](Self::sync), also returning the registrations it published. Always publishes,
    /// even when nothing changed, so endpoints the proxy pruned come back while they run.
    async fn full_sync(&self) -> Result<(EmitterCache, Registrations), Error> {
        let desired = self.bbs.desired_lrps(DesiredLrpFilter::default()).await?;
        let actual = self.bbs.actual_lrps(ActualLrpFilter::default()).await?;
        let cache = EmitterCache::new(desired, actual);
        let regs = cache.registrations();
        self.publish(&regs);
        Ok((cache, regs))
    }

    fn publish(&self, regs: &Registrations) {
        self.table
            .lock()
            .expect("route table lock")
            .sync(regs.iter());
    }

    /// Runs until `shutdown`: subscribe, full sync, then events plus periodic syncs; when the
    /// stream drops, back off and start over.
    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = Backoff::new(self.config.resubscribe_min, self.config.resubscribe_max);
        loop {
            match self.subscription(&shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "route emitter: resubscribing"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// One subscription. `Ok` only on shutdown. Once it has completed its first full sync it
    /// is healthy, so `backoff` starts again from the minimum.
    async fn subscription(&self, shutdown: &Shutdown, backoff: &mut Backoff) -> Result<(), Error> {
        // Subscribe before the sync so no event between the two is lost.
        let mut events = self.bbs.subscribe().await?;
        let (mut cache, mut published) = self.full_sync().await?;
        backoff.reset();
        let start = tokio::time::Instant::now() + self.config.sync_interval;
        let mut ticker = tokio::time::interval_at(start, self.config.sync_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = ticker.tick() => match self.full_sync().await {
                    Ok(fresh) => (cache, published) = fresh,
                    Err(e) => tracing::warn!(error = %e, "route emitter: sync failed"),
                },
                event = events.next() => match event {
                    Some(Ok(event)) => {
                        // Most LRP events (claims, evacuations, other processes' changes) leave
                        // the registrations as they were: rebuild the table only when not.
                        if cache.apply(event) {
                            let regs = cache.registrations();
                            if regs != published {
                                self.publish(&regs);
                                published = regs;
                            }
                        }
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(ingot_bbs::Error::unavailable("events stream ended").into()),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey, NetInfo, PortMapping};
    use serde_json::json;

    fn desired(guid: &str, routes: Value) -> DesiredLrp {
        let mut lrp = DesiredLrp {
            process_guid: guid.into(),
            log_guid: format!("{guid}-app"),
            ..DesiredLrp::default()
        };
        lrp.routes.insert(CF_ROUTER_KEY.into(), routes);
        lrp
    }

    fn actual(guid: &str, index: u32, state: ActualLrpState, ports: &[(u32, u32)]) -> ActualLrp {
        ActualLrp {
            process_guid: guid.into(),
            index,
            instance_guid: format!("{guid}-i{index}"),
            state,
            net_info: NetInfo {
                address: "10.0.0.1".into(),
                instance_address: String::new(),
                ports: ports
                    .iter()
                    .map(|&(container_port, host_port)| PortMapping {
                        container_port,
                        host_port,
                    })
                    .collect(),
            },
            ..ActualLrp::default()
        }
    }

    fn summary(regs: &Registrations) -> Vec<(String, Vec<String>)> {
        regs.iter()
            .map(|(route, eps)| {
                (
                    route.to_string(),
                    eps.iter()
                        .map(|e| format!("{}#{}@{}", e.process_guid, e.index, e.port))
                        .collect(),
                )
            })
            .collect()
    }

    use ActualLrpState::{Claimed, Crashed, Running, Unclaimed};

    #[test]
    fn registrations_table() {
        let web = json!([{"hostnames": ["web.example.com", "Web.Example.com/api"], "port": 8080}]);
        let two_ports = json!([
            {"hostnames": ["a.example.com"], "port": 8080},
            {"hostnames": ["admin.example.com"], "port": 9090}
        ]);
        type Case = (
            &'static str,
            Vec<DesiredLrp>,
            Vec<ActualLrp>,
            Vec<(&'static str, Vec<&'static str>)>,
        );
        let cases: Vec<Case> = vec![
            ("nothing", vec![], vec![], vec![]),
            (
                "desired without instances declares its routes",
                vec![desired("p", web.clone())],
                vec![],
                vec![("web.example.com", vec![]), ("web.example.com/api", vec![])],
            ),
            (
                "only RUNNING instances become endpoints",
                vec![desired("p", web.clone())],
                vec![
                    actual("p", 0, Running, &[(8080, 61000)]),
                    actual("p", 1, Claimed, &[]),
                    actual("p", 2, Crashed, &[(8080, 61002)]),
                    actual("p", 3, Unclaimed, &[]),
                    actual("p", 4, Running, &[(8080, 61004)]),
                ],
                vec![
                    ("web.example.com", vec!["p#0@61000", "p#4@61004"]),
                    ("web.example.com/api", vec!["p#0@61000", "p#4@61004"]),
                ],
            ),
            (
                "host port is the one mapped to the route's container port",
                vec![desired("p", two_ports)],
                vec![actual("p", 0, Running, &[(8080, 61000), (9090, 61001)])],
                vec![
                    ("a.example.com", vec!["p#0@61000"]),
                    ("admin.example.com", vec!["p#0@61001"]),
                ],
            ),
            (
                "an unmapped port gives no endpoint",
                vec![desired("p", web.clone())],
                vec![actual("p", 0, Running, &[(9999, 61000)])],
                vec![("web.example.com", vec![]), ("web.example.com/api", vec![])],
            ),
            (
                "actuals of other processes are ignored",
                vec![desired(
                    "p",
                    json!([{"hostnames": ["x.com"], "port": 8080}]),
                )],
                vec![actual("q", 0, Running, &[(8080, 61000)])],
                vec![("x.com", vec![])],
            ),
            (
                "a route shared by two processes gets both",
                vec![
                    desired("p", json!([{"hostnames": ["x.com"], "port": 8080}])),
                    desired("q", json!([{"hostnames": ["X.com"], "port": 8080}])),
                ],
                vec![
                    actual("p", 0, Running, &[(8080, 61000)]),
                    actual("q", 0, Running, &[(8080, 62000)]),
                ],
                vec![("x.com", vec!["p#0@61000", "q#0@62000"])],
            ),
            (
                "malformed routes are skipped",
                vec![
                    desired("p", json!({"not": "a list"})),
                    desired(
                        "q",
                        json!([{"hostnames": ["ok.com"]}, {"port": 1}, {"hostnames": ["y.com", 3, ""], "port": 8080}]),
                    ),
                ],
                vec![actual("q", 0, Running, &[(8080, 70000)])],
                vec![("y.com", vec![])],
            ),
            (
                "no address, no endpoint",
                vec![desired(
                    "p",
                    json!([{"hostnames": ["x.com"], "port": 8080}]),
                )],
                vec![{
                    let mut a = actual("p", 0, Running, &[(8080, 61000)]);
                    a.net_info.address.clear();
                    a
                }],
                vec![("x.com", vec![])],
            ),
        ];
        for (name, desired, actual, want) in cases {
            let got = summary(&registrations(&desired, &actual));
            let want: Vec<(String, Vec<String>)> = want
                .into_iter()
                .map(|(r, eps)| (r.to_owned(), eps.into_iter().map(str::to_owned).collect()))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn endpoint_carries_instance_identity() {
        let d = desired("p", json!([{"hostnames": ["x.com"], "port": 8080}]));
        let a = actual("p", 3, Running, &[(8080, 61003)]);
        let regs = registrations([&d], [&a]);
        let ep = regs[&RouteKey::parse("x.com")].first().unwrap().clone();
        assert_eq!(
            ep,
            Endpoint {
                address: "10.0.0.1".into(),
                port: 61003,
                instance_guid: "p-i3".into(),
                index: 3,
                process_guid: "p".into(),
                app_id: "p-app".into(),
            }
        );
    }

    #[test]
    fn cache_follows_events() {
        let d = desired("p", json!([{"hostnames": ["x.com"], "port": 8080}]));
        let route = RouteKey::parse("x.com");
        let mut cache = EmitterCache::default();
        assert!(cache.apply(Event::DesiredLrpCreated {
            desired_lrp: Box::new(d.clone())
        }));
        assert!(cache.registrations()[&route].is_empty());

        let unclaimed = {
            let mut a = actual("p", 0, Unclaimed, &[]);
            a.instance_guid.clear();
            a
        };
        let running = actual("p", 0, Running, &[(8080, 61000)]);
        cache.apply(Event::ActualLrpInstanceCreated {
            actual_lrp: Box::new(unclaimed.clone()),
        });
        cache.apply(Event::ActualLrpInstanceChanged {
            before: Box::new(unclaimed),
            after: Box::new(running.clone()),
        });
        assert_eq!(cache.registrations()[&route].len(), 1);

        cache.apply(Event::ActualLrpCrashed {
            actual_lrp_key: ActualLrpKey::new("p", 0, ""),
            actual_lrp_instance_key: ActualLrpInstanceKey::new("p-i0", "cell"),
            crash_count: 1,
            crash_reason: "boom".into(),
            since: Default::default(),
        });
        assert!(cache.registrations()[&route].is_empty());

        cache.apply(Event::ActualLrpInstanceCreated {
            actual_lrp: Box::new(running.clone()),
        });
        assert_eq!(cache.registrations()[&route].len(), 1);
        cache.apply(Event::ActualLrpInstanceRemoved {
            actual_lrp: Box::new(running),
        });
        assert!(cache.registrations()[&route].is_empty());

        cache.apply(Event::DesiredLrpRemoved {
            desired_lrp: Box::new(d),
        });
        assert!(cache.registrations().is_empty());
    }
}
