//! The route table: routes to endpoints, and the choice of an endpoint per request. Pure: no
//! I/O and no clock, so the proxy and the route emitter share it behind a mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::endpoint::{Endpoint, InFlight};
use crate::route::{RouteKey, normalized_host, path_matches};

/// The table as the router and the emitter share it.
pub type SharedRouteTable = Arc<Mutex<RouteTable>>;

/// How an endpoint is picked among a route's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadBalancing {
    #[default]
    RoundRobin,
    LeastConnection,
}

impl std::str::FromStr for LoadBalancing {
    type Err = String;

    /// gorouter's names: `round-robin`, `least-connection`.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "round-robin" => Ok(Self::RoundRobin),
            "least-connection" => Ok(Self::LeastConnection),
            other => Err(format!(
                "unknown load balancing {other:?}: use \"round-robin\" or \"least-connection\""
            )),
        }
    }
}

/// What the table answers for a request.
#[derive(Debug)]
pub enum Lookup {
    /// No route matches host and path.
    UnknownRoute,
    /// The route exists but has no endpoint left to try.
    NoEndpoints(RouteKey),
    /// The chosen endpoint; the request counts against it while `in_flight` lives.
    Found {
        route: RouteKey,
        endpoint: Arc<Endpoint>,
        in_flight: InFlight,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    endpoint: Arc<Endpoint>,
    /// `endpoint.addr()`, worked out once: the endpoint's identity within its route.
    addr: Box<str>,
    in_flight: Arc<AtomicUsize>,
}

impl Entry {
    fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            addr: endpoint.addr().into_boxed_str(),
            endpoint,
            in_flight: Arc::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Pool {
    entries: Vec<Entry>,
    next: usize,
}

type Hosts = HashMap<String, BTreeMap<String, Pool>>;

/// Routes by host, then by context path, each with its pool of endpoints.
#[derive(Debug, Default)]
pub struct RouteTable {
    hosts: Hosts,
    /// Routes configured with the router (the system domain's components), not learnt from
    /// the BBS: syncs keep them and the proxy never prunes them.
    statics: BTreeMap<RouteKey, Vec<Endpoint>>,
    balancing: LoadBalancing,
}

impl RouteTable {
    pub fn new(balancing: LoadBalancing) -> Self {
        Self {
            hosts: HashMap::new(),
            statics: BTreeMap::new(),
            balancing,
        }
    }

    /// Adds a static route to `endpoint`: it stays through every [`sync`](Self::sync) and
    /// [`unregister`](Self::unregister).
    pub fn add_static(&mut self, route: &RouteKey, endpoint: Endpoint) {
        self.statics
            .entry(route.clone())
            .or_default()
            .push(endpoint.clone());
        self.register(route, endpoint);
    }

    pub fn shared(balancing: LoadBalancing) -> SharedRouteTable {
        Arc::new(Mutex::new(Self::new(balancing)))
    }

    /// Adds the endpoint to the route (creating the route); an endpoint already there with the
    /// same `address:port` is replaced.
    pub fn register(&mut self, route: &RouteKey, endpoint: Endpoint) {
        let pool = self.pool_mut(route);
        let addr = endpoint.addr();
        match pool.entries.iter_mut().find(|e| *e.addr == *addr) {
            Some(entry) => entry.endpoint = Arc::new(endpoint),
            None => pool.entries.push(Entry::new(Arc::new(endpoint))),
        }
    }

    /// Declares a route with no endpoints yet (requests get 503, not 404).
    pub fn add_route(&mut self, route: &RouteKey) {
        self.pool_mut(route);
    }

    /// Removes the endpoint (by `address:port`) from the route; the route itself stays.
    /// Requests already sent to it complete: they hold their own reference. A static endpoint
    /// stays: nothing would bring it back.
    pub fn unregister(&mut self, route: &RouteKey, addr: &str) -> bool {
        let is_static = self
            .statics
            .get(route)
            .is_some_and(|endpoints| endpoints.iter().any(|e| e.addr() == addr));
        if is_static {
            return false;
        }
        let Some(pool) = self
            .hosts
            .get_mut(&route.host)
            .and_then(|paths| paths.get_mut(&route.path))
        else {
            return false;
        };
        let before = pool.entries.len();
        pool.entries.retain(|e| *e.addr != *addr);
        pool.entries.len() != before
    }

    /// Removes the route and all its endpoints.
    pub fn remove_route(&mut self, route: &RouteKey) {
        if let Some(paths) = self.hosts.get_mut(&route.host) {
            paths.remove(&route.path);
            if paths.is_empty() {
                self.hosts.remove(&route.host);
            }
        }
    }

    /// Makes the table exactly `registrations` plus the static routes, keeping the in-flight
    /// counts and round-robin positions of what stays.
    pub fn sync<'a>(
        &mut self,
        registrations: impl IntoIterator<Item = (&'a RouteKey, impl IntoIterator<Item = &'a Endpoint>)>,
    ) {
        let old = std::mem::take(&mut self.hosts);
        let mut next = Hosts::new();
        for (route, endpoints) in registrations {
            place(&old, &mut next, route, endpoints);
        }
        for (route, endpoints) in &self.statics {
            place(&old, &mut next, route, endpoints);
        }
        self.hosts = next;
    }

    /// Every route, sorted.
    pub fn routes(&self) -> Vec<RouteKey> {
        let mut routes: Vec<RouteKey> = self
            .hosts
            .iter()
            .flat_map(|(host, paths)| {
                paths.keys().map(|path| RouteKey {
                    host: host.clone(),
                    path: path.clone(),
                })
            })
            .collect();
        routes.sort();
        routes
    }

    /// The route's endpoints in registration order.
    pub fn endpoints(&self, route: &RouteKey) -> Vec<Endpoint> {
        self.hosts
            .get(&route.host)
            .and_then(|paths| paths.get(&route.path))
            .map(|pool| pool.entries.iter().map(|e| (*e.endpoint).clone()).collect())
            .unwrap_or_default()
    }

    /// The route for a request: its host (any case, any port) and the longest context path
    /// that holds the request path.
    /// A host that is already normal (as the proxy's is) is looked up without allocating.
    pub fn route_for(&self, host: &str, path: &str) -> Option<RouteKey> {
        let (host, paths) = self.hosts.get_key_value(normalized_host(host).as_ref())?;
        let best = paths
            .keys()
            .filter(|route_path| path_matches(route_path, path))
            .max_by_key(|route_path| route_path.len())?;
        Some(RouteKey {
            host: host.clone(),
            path: best.clone(),
        })
    }

    /// Picks an endpoint for a request. `sticky` (an instance guid from `__VCAP_ID__`) wins
    /// while that instance is registered; endpoints in `exclude` (already failed) are skipped.
    pub fn select(
        &mut self,
        host: &str,
        path: &str,
        sticky: Option<&str>,
        exclude: &[String],
    ) -> Lookup {
        let Some(route) = self.route_for(host, path) else {
            return Lookup::UnknownRoute;
        };
        self.select_route(route, sticky, exclude)
    }

    /// [`select`](Self::select) for a route already worked out (a retry keeps the route of its
    /// first attempt); `UnknownRoute` when the route has been removed since.
    pub fn select_route(
        &mut self,
        route: RouteKey,
        sticky: Option<&str>,
        exclude: &[String],
    ) -> Lookup {
        let balancing = self.balancing;
        let Some(pool) = self
            .hosts
            .get_mut(&route.host)
            .and_then(|paths| paths.get_mut(&route.path))
        else {
            return Lookup::UnknownRoute;
        };
        let candidates: Vec<usize> = if exclude.is_empty() {
            (0..pool.entries.len()).collect()
        } else {
            (0..pool.entries.len())
                .filter(|&i| !exclude.iter().any(|a| **a == *pool.entries[i].addr))
                .collect()
        };
        if candidates.is_empty() {
            return Lookup::NoEndpoints(route);
        }
        let sticky_pick = sticky.and_then(|guid| {
            candidates
                .iter()
                .copied()
                .find(|&i| pool.entries[i].endpoint.instance_guid == guid)
        });
        let chosen = sticky_pick.unwrap_or_else(|| match balancing {
            LoadBalancing::RoundRobin => {
                let i = candidates[pool.next % candidates.len()];
                pool.next = pool.next.wrapping_add(1);
                i
            }
            LoadBalancing::LeastConnection => {
                // Ties rotate so idle endpoints share the load too.
                let start = pool.next;
                pool.next = pool.next.wrapping_add(1);
                let n = candidates.len();
                (0..n)
                    .map(|k| candidates[(start + k) % n])
                    .min_by_key(|&i| pool.entries[i].in_flight.load(Ordering::Relaxed))
                    .expect("candidates is not empty")
            }
        });
        let entry = &pool.entries[chosen];
        Lookup::Found {
            route,
            endpoint: entry.endpoint.clone(),
            in_flight: InFlight::new(entry.in_flight.clone()),
        }
    }

    fn pool_mut(&mut self, route: &RouteKey) -> &mut Pool {
        self.hosts
            .entry(route.host.clone())
            .or_default()
            .entry(route.path.clone())
            .or_default()
    }
}

/// Adds `endpoints` to `route` in `next`, carrying over what `old` knew of each (in-flight
/// count) and of the route (round-robin position). An address already there is not doubled.
fn place<'a>(
    old: &Hosts,
    next: &mut Hosts,
    route: &RouteKey,
    endpoints: impl IntoIterator<Item = &'a Endpoint>,
) {
    let old = old
        .get(&route.host)
        .and_then(|paths| paths.get(&route.path));
    let pool = next
        .entry(route.host.clone())
        .or_default()
        .entry(route.path.clone())
        .or_insert_with(|| Pool {
            entries: Vec::new(),
            next: old.map_or(0, |pool| pool.next),
        });
    for endpoint in endpoints {
        let addr = endpoint.addr();
        if pool.entries.iter().any(|e| *e.addr == *addr) {
            continue;
        }
        let kept = old.and_then(|pool| pool.entries.iter().find(|e| *e.endpoint == *endpoint));
        pool.entries.push(
            kept.cloned()
                .unwrap_or_else(|| Entry::new(Arc::new(endpoint.clone()))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(port: u16, guid: &str) -> Endpoint {
        Endpoint {
            address: "10.0.0.1".into(),
            port,
            instance_guid: guid.into(),
            index: u32::from(port % 10),
            process_guid: "p".into(),
            app_id: "app".into(),
        }
    }

    fn pick(table: &mut RouteTable, host: &str, path: &str, sticky: Option<&str>) -> String {
        match table.select(host, path, sticky, &[]) {
            Lookup::Found { endpoint, .. } => endpoint.instance_guid.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn longest_context_path_wins() {
        let mut t = RouteTable::default();
        t.register(&RouteKey::parse("a.com"), ep(1, "root"));
        t.register(&RouteKey::parse("a.com/foo"), ep(2, "foo"));
        t.register(&RouteKey::parse("a.com/foo/bar"), ep(3, "foobar"));
        for (path, want) in [
            ("/", "root"),
            ("/foo", "foo"),
            ("/foo/", "foo"),
            ("/foobar", "root"),
            ("/foo/baz", "foo"),
            ("/foo/bar", "foobar"),
            ("/foo/bar/x/y", "foobar"),
        ] {
            assert_eq!(pick(&mut t, "a.com", path, None), want, "{path}");
        }
    }

    #[test]
    fn unknown_host_and_path() {
        let mut t = RouteTable::default();
        t.register(&RouteKey::parse("a.com/foo"), ep(1, "x"));
        assert!(matches!(
            t.select("b.com", "/", None, &[]),
            Lookup::UnknownRoute
        ));
        assert!(matches!(
            t.select("a.com", "/bar", None, &[]),
            Lookup::UnknownRoute
        ));
    }

    #[test]
    fn host_is_case_insensitive_and_port_is_stripped() {
        let mut t = RouteTable::default();
        t.register(&RouteKey::parse("App.Example.com"), ep(1, "x"));
        for host in [
            "app.example.com",
            "APP.EXAMPLE.COM",
            "app.example.com:8080",
            "app.example.com.",
        ] {
            assert_eq!(pick(&mut t, host, "/", None), "x", "{host}");
        }
    }

    #[test]
    fn round_robin_visits_every_endpoint_in_turn() {
        let mut t = RouteTable::default();
        let route = RouteKey::parse("a.com");
        for (port, guid) in [(1, "a"), (2, "b"), (3, "c")] {
            t.register(&route, ep(port, guid));
        }
        let picks: Vec<String> = (0..6).map(|_| pick(&mut t, "a.com", "/", None)).collect();
        assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
    }

    #[test]
    fn least_connection_prefers_the_idle_endpoint() {
        let mut t = RouteTable::new(LoadBalancing::LeastConnection);
        let route = RouteKey::parse("a.com");
        t.register(&route, ep(1, "a"));
        t.register(&route, ep(2, "b"));
        let Lookup::Found {
            endpoint: first,
            in_flight: held,
            ..
        } = t.select("a.com", "/", None, &[])
        else {
            panic!("no endpoint")
        };
        // While the first request is in flight, every new one goes to the other endpoint.
        for _ in 0..3 {
            let Lookup::Found { endpoint, .. } = t.select("a.com", "/", None, &[]) else {
                panic!("no endpoint")
            };
            assert_ne!(endpoint.instance_guid, first.instance_guid);
        }
        drop(held);
    }

    #[test]
    fn sticky_instance_wins_while_registered() {
        let mut t = RouteTable::default();
        let route = RouteKey::parse("a.com");
        t.register(&route, ep(1, "a"));
        t.register(&route, ep(2, "b"));
        for _ in 0..4 {
            assert_eq!(pick(&mut t, "a.com", "/", Some("b")), "b");
        }
        t.unregister(&route, "10.0.0.1:2");
        assert_eq!(pick(&mut t, "a.com", "/", Some("b")), "a");
    }

    #[test]
    fn route_without_endpoints_and_exclusions() {
        let mut t = RouteTable::default();
        let route = RouteKey::parse("a.com");
        t.add_route(&route);
        assert!(matches!(
            t.select("a.com", "/", None, &[]),
            Lookup::NoEndpoints(_)
        ));
        t.register(&route, ep(1, "a"));
        let excluded = ["10.0.0.1:1".to_owned()];
        assert!(matches!(
            t.select("a.com", "/", None, &excluded),
            Lookup::NoEndpoints(_)
        ));
        t.remove_route(&route);
        assert!(matches!(
            t.select("a.com", "/", None, &[]),
            Lookup::UnknownRoute
        ));
    }

    #[test]
    fn select_route_reuses_a_found_route() {
        let mut t = RouteTable::default();
        t.register(&RouteKey::parse("a.com/foo"), ep(1, "a"));
        t.register(&RouteKey::parse("a.com/foo"), ep(2, "b"));
        let Lookup::Found {
            route, endpoint, ..
        } = t.select("A.com:80", "/foo/x", None, &[])
        else {
            panic!("no endpoint")
        };
        assert_eq!(route, RouteKey::parse("a.com/foo"));
        let failed = [endpoint.addr()];
        let Lookup::Found {
            endpoint: retry, ..
        } = t.select_route(route.clone(), None, &failed)
        else {
            panic!("no endpoint")
        };
        assert_ne!(retry.addr(), endpoint.addr());
        t.remove_route(&route);
        assert!(matches!(
            t.select_route(route, None, &[]),
            Lookup::UnknownRoute
        ));
    }

    #[test]
    fn static_routes_survive_syncs_and_pruning() {
        let mut t = RouteTable::default();
        let api = RouteKey::parse("api.sys.test");
        t.add_static(&api, ep(9, "cloud_controller"));
        let app = RouteKey::parse("app.apps.test");
        let mut regs = BTreeMap::new();
        regs.insert(app.clone(), vec![ep(1, "app")]);
        t.sync(regs.iter());
        assert_eq!(t.routes(), [api.clone(), app.clone()]);
        assert!(!t.unregister(&api, "10.0.0.1:9"));
        // A static route shared with an app keeps both.
        regs.insert(api.clone(), vec![ep(2, "squatter")]);
        t.sync(regs.iter());
        assert_eq!(t.endpoints(&api).len(), 2);
        t.sync(BTreeMap::<RouteKey, Vec<Endpoint>>::new().iter());
        assert_eq!(
            pick(&mut t, "api.sys.test", "/v3", None),
            "cloud_controller"
        );
        assert_eq!(t.routes(), [api]);
    }

    #[test]
    fn sync_replaces_everything_and_keeps_counters() {
        let mut t = RouteTable::new(LoadBalancing::LeastConnection);
        let a = RouteKey::parse("a.com");
        let b = RouteKey::parse("b.com");
        t.register(&a, ep(1, "one"));
        t.register(&a, ep(2, "two"));
        let Lookup::Found {
            in_flight,
            endpoint,
            ..
        } = t.select("a.com", "/", None, &[])
        else {
            panic!()
        };
        let busy = endpoint.instance_guid.clone();
        let mut regs = BTreeMap::new();
        regs.insert(a.clone(), vec![ep(1, "one"), ep(2, "two")]);
        regs.insert(b.clone(), vec![ep(3, "three")]);
        t.sync(regs.iter());
        assert_eq!(t.routes(), [a.clone(), b.clone()]);
        // The busy endpoint kept its count, so the other one is chosen.
        assert_ne!(pick(&mut t, "a.com", "/", None), busy);
        drop(in_flight);

        let mut regs = BTreeMap::new();
        regs.insert(b.clone(), vec![ep(3, "three")]);
        t.sync(regs.iter());
        assert_eq!(t.routes(), [b]);
        assert!(t.endpoints(&a).is_empty());
    }
}
