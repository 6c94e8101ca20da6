//! The route emitter against a real in-process BBS (SQLite in a temp dir): routes appear when
//! instances start and endpoints leave within a second of their ActualLRP going away.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use ingot_auction::{Capacity, CellClient, CellError, CellState, Work};
use ingot_bbs::{
    Action, ActualLrp, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, Bbs, BbsApi, BbsConfig,
    BbsDeps, CellPresence, DesiredLrp, DesiredLrpFilter, DesiredLrpUpdate, Error, EventStream,
    NetInfo, PortMapping, RepClient, RepClientFactory, Task, TaskDefinition, TaskFilter,
};
use ingot_core::testing::eventually;
use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};
use ingot_router::{
    EmitterConfig, LoadBalancing, RouteEmitter, RouteKey, RouteTable, RouterConfig,
};
use serde_json::json;
use support::{TestRouter, backend};

/// No cells are registered, so no rep is ever reached; the test plays the rep itself.
struct NoReps;

struct NoRep;

#[async_trait]
impl CellClient for NoRep {
    async fn state(&self) -> Result<CellState, CellError> {
        Ok(CellState::new("none", "z1", Capacity::new(0, 0, 0)))
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        Ok(work)
    }
}

#[async_trait]
impl RepClient for NoRep {
    async fn stop_lrp_instance(
        &self,
        _key: &ActualLrpKey,
        _instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn cancel_task(&self, _task_guid: &str) -> Result<(), Error> {
        Ok(())
    }
}

impl RepClientFactory for NoReps {
    fn client(&self, _cell: &CellPresence) -> Arc<dyn RepClient> {
        Arc::new(NoRep)
    }
}

const DOMAIN: &str = "cf-apps";
const GUID: &str = "web-process";
const APP_GUID: &str = "app-guid";

fn web_lrp(instances: u32) -> DesiredLrp {
    let mut routes = BTreeMap::new();
    routes.insert(
        "cf-router".to_owned(),
        json!([{"hostnames": ["web.example.com", "web.example.com/api"], "port": 8080}]),
    );
    DesiredLrp {
        process_guid: GUID.into(),
        domain: DOMAIN.into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/app", &[])),
        memory_mb: 64,
        disk_mb: 64,
        ports: vec![8080],
        routes,
        log_guid: APP_GUID.into(),
        ..DesiredLrp::default()
    }
}

async fn run_instance(bbs: &dyn BbsApi, index: u32, addr: SocketAddr) -> ActualLrpInstanceKey {
    let key = ActualLrpKey::new(GUID, index, DOMAIN);
    let instance = ActualLrpInstanceKey::new(format!("instance-{index}"), "cell-1");
    bbs.claim_actual_lrp(&key, &instance).await.expect("claim");
    let net = NetInfo {
        address: addr.ip().to_string(),
        instance_address: String::new(),
        ports: vec![PortMapping {
            container_port: 8080,
            host_port: u32::from(addr.port()),
        }],
    };
    bbs.start_actual_lrp(&key, &instance, net)
        .await
        .expect("start");
    instance
}

/// Waits until the route's endpoints are exactly these instance guids; returns how long.
async fn wait_for_endpoints(table: &ingot_router::SharedRouteTable, want: &[&str]) -> Duration {
    let started = Instant::now();
    let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
    let route = RouteKey::parse("web.example.com");
    eventually(&format!("endpoints {want:?}"), || {
        let got: BTreeSet<String> = table
            .lock()
            .unwrap()
            .endpoints(&route)
            .into_iter()
            .map(|e| e.instance_guid)
            .collect();
        let done = got == want;
        async move { done.then_some(()) }
    })
    .await;
    started.elapsed()
}

async fn start_bbs(dir: &tempfile::TempDir, shutdown: &Shutdown) -> Bbs {
    let mut config = BbsConfig::new(DatabaseUrl::sqlite(dir.path().join("bbs.db")));
    config.convergence_interval = Duration::from_secs(24 * 3600);
    let deps = BbsDeps {
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidIds),
        rep_clients: Arc::new(NoReps),
    };
    let bbs = Bbs::start(config, deps, shutdown.clone()).await.unwrap();
    bbs.upsert_domain(DOMAIN, Duration::ZERO).await.unwrap();
    bbs
}

#[tokio::test]
async fn routes_follow_actual_lrps_in_the_bbs() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let bbs = start_bbs(&dir, &shutdown).await;
    let api: Arc<dyn BbsApi> = Arc::new(bbs.clone());

    let table = RouteTable::shared(LoadBalancing::RoundRobin);
    let emitter = RouteEmitter::new(api.clone(), table.clone(), EmitterConfig::default());
    tokio::spawn(emitter.run(shutdown.clone()));
    let router = TestRouter::start_with_table(RouterConfig::default(), table.clone()).await;

    api.desire_lrp(web_lrp(3)).await.unwrap();
    // Desired but not running: the route exists without endpoints.
    eventually("route declared", || {
        let declared = table.lock().unwrap().routes().len() == 2;
        async move { declared.then_some(()) }
    })
    .await;
    assert_eq!(router.get("web.example.com", "/").await.0, 503);

    let mut instances = Vec::new();
    for index in 0..3 {
        instances.push(run_instance(api.as_ref(), index, backend(index).await).await);
    }
    wait_for_endpoints(&table, &["instance-0", "instance-1", "instance-2"]).await;
    let seen: BTreeSet<String> = {
        let mut seen = BTreeSet::new();
        for _ in 0..6 {
            let (status, body) = router.get("web.example.com", "/api/x").await;
            assert_eq!(status, 200);
            seen.insert(body);
        }
        seen
    };
    assert_eq!(seen.len(), 3, "{seen:?}");

    // Removing an ActualLRP removes its endpoint at once (the next full sync is 60 s away).
    let removed_at = Instant::now();
    api.remove_actual_lrp(&ActualLrpKey::new(GUID, 0, DOMAIN), Some(&instances[0]))
        .await
        .unwrap();
    wait_for_endpoints(&table, &["instance-1", "instance-2"]).await;
    let took = removed_at.elapsed();
    println!("removed ActualLRP left the route table after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // So does a crash.
    let crashed_at = Instant::now();
    api.crash_actual_lrp(&ActualLrpKey::new(GUID, 1, DOMAIN), &instances[1], "boom")
        .await
        .unwrap();
    wait_for_endpoints(&table, &["instance-2"]).await;
    let took = crashed_at.elapsed();
    println!("crashed ActualLRP left the route table after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    for _ in 0..3 {
        assert_eq!(router.get("web.example.com", "/").await, (200, "2".into()));
    }
    // Each proxied request's access-log record names the app (the LRP's log guid) and the
    // instance that answered: what becomes the app's RTR line.
    let record = eventually("access log record", || {
        let last = router.log.0.lock().unwrap().last().cloned();
        async move { last.filter(|r| r.app_index == Some(2)) }
    })
    .await;
    assert_eq!(record.app_id.as_deref(), Some(APP_GUID));
    assert_eq!(record.instance_id.as_deref(), Some("instance-2"));
    let line = record.to_string();
    assert!(
        line.contains(r#"app_id:"app-guid" app_index:"2" instance_id:"instance-2""#),
        "{line}"
    );

    // Removing the DesiredLRP removes its routes.
    api.remove_desired_lrp(GUID).await.unwrap();
    eventually("routes removed", || {
        let empty = table.lock().unwrap().routes().is_empty();
        async move { empty.then_some(()) }
    })
    .await;
    assert_eq!(router.get("web.example.com", "/").await.0, 404);

    shutdown.cancel();
    bbs.close().await;
}

/// A BBS whose events stream the test can cut, as a network drop or a lagging subscriber would.
struct CuttableBbs {
    inner: Bbs,
    cut: std::sync::Mutex<Shutdown>,
    subscriptions: std::sync::atomic::AtomicUsize,
}

impl CuttableBbs {
    fn cut(&self) {
        let mut cut = self.cut.lock().unwrap();
        cut.cancel();
        *cut = Shutdown::new();
    }
}

#[async_trait]
impl BbsApi for CuttableBbs {
    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<(), Error> {
        self.inner.upsert_domain(domain, ttl).await
    }

    async fn domains(&self) -> Result<Vec<String>, Error> {
        self.inner.domains().await
    }

    async fn cells(&self) -> Result<Vec<CellPresence>, Error> {
        self.inner.cells().await
    }

    async fn register_cell(&self, presence: CellPresence, ttl: Duration) -> Result<(), Error> {
        self.inner.register_cell(presence, ttl).await
    }

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<(), Error> {
        self.inner.desire_lrp(lrp).await
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: DesiredLrpUpdate,
    ) -> Result<(), Error> {
        self.inner.update_desired_lrp(process_guid, update).await
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<(), Error> {
        self.inner.remove_desired_lrp(process_guid).await
    }

    async fn desired_lrps(&self, filter: DesiredLrpFilter) -> Result<Vec<DesiredLrp>, Error> {
        self.inner.desired_lrps(filter).await
    }

    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<DesiredLrp, Error> {
        self.inner.desired_lrp_by_process_guid(process_guid).await
    }

    async fn actual_lrps(&self, filter: ActualLrpFilter) -> Result<Vec<ActualLrp>, Error> {
        self.inner.actual_lrps(filter).await
    }

    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        self.inner.claim_actual_lrp(key, instance).await
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        net_info: NetInfo,
    ) -> Result<(), Error> {
        self.inner.start_actual_lrp(key, instance, net_info).await
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<(), Error> {
        self.inner.crash_actual_lrp(key, instance, reason).await
    }

    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> Result<(), Error> {
        self.inner.fail_actual_lrp(key, placement_error).await
    }

    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), Error> {
        self.inner.remove_actual_lrp(key, instance).await
    }

    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<(), Error> {
        self.inner.retire_actual_lrp(key).await
    }

    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: TaskDefinition,
    ) -> Result<(), Error> {
        self.inner.desire_task(task_guid, domain, definition).await
    }

    async fn tasks(&self, filter: TaskFilter) -> Result<Vec<Task>, Error> {
        self.inner.tasks(filter).await
    }

    async fn task_by_guid(&self, task_guid: &str) -> Result<Task, Error> {
        self.inner.task_by_guid(task_guid).await
    }

    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool, Error> {
        self.inner.start_task(task_guid, cell_id).await
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error> {
        self.inner.cancel_task(task_guid).await
    }

    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<(), Error> {
        self.inner.fail_task(task_guid, reason).await
    }

    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), Error> {
        self.inner
            .complete_task(task_guid, cell_id, failed, failure_reason, result)
            .await
    }

    async fn resolving_task(&self, task_guid: &str) -> Result<(), Error> {
        self.inner.resolving_task(task_guid).await
    }

    async fn delete_task(&self, task_guid: &str) -> Result<(), Error> {
        self.inner.delete_task(task_guid).await
    }

    async fn subscribe(&self) -> Result<EventStream, Error> {
        self.subscriptions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let cut = self.cut.lock().unwrap().clone();
        let events = self.inner.subscribe().await?;
        Ok(EventStream::new(events.take_until(cut.cancelled_owned())))
    }
}

#[tokio::test]
async fn a_dropped_events_stream_is_resubscribed_and_resynced() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let bbs = start_bbs(&dir, &shutdown).await;
    let api = Arc::new(CuttableBbs {
        inner: bbs.clone(),
        cut: std::sync::Mutex::new(Shutdown::new()),
        subscriptions: Default::default(),
    });
    let table = RouteTable::shared(LoadBalancing::RoundRobin);
    let emitter = RouteEmitter::new(api.clone(), table.clone(), EmitterConfig::default());
    tokio::spawn(emitter.run(shutdown.clone()));

    api.desire_lrp(web_lrp(2)).await.unwrap();
    let first = run_instance(api.as_ref(), 0, backend(0).await).await;
    wait_for_endpoints(&table, &["instance-0"]).await;

    // Cut the stream; the change made meanwhile reaches the table through the resync, long
    // before the 60 s periodic sync.
    api.cut();
    run_instance(api.as_ref(), 1, backend(1).await).await;
    wait_for_endpoints(&table, &["instance-0", "instance-1"]).await;
    eventually("a second subscription", || {
        let n = api.subscriptions.load(std::sync::atomic::Ordering::SeqCst);
        async move { (n >= 2).then_some(()) }
    })
    .await;

    // And events flow again on the new subscription.
    api.remove_actual_lrp(&ActualLrpKey::new(GUID, 0, DOMAIN), Some(&first))
        .await
        .unwrap();
    wait_for_endpoints(&table, &["instance-1"]).await;

    shutdown.cancel();
    bbs.close().await;
}

#[tokio::test]
async fn static_routes_survive_emitter_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let bbs = start_bbs(&dir, &shutdown).await;
    let api: Arc<dyn BbsApi> = Arc::new(bbs.clone());
    let table = RouteTable::shared(LoadBalancing::RoundRobin);
    // What `ingot up` configures for its Cloud Controller.
    let cloud_controller = support::endpoint(backend(7).await, 7);
    table
        .lock()
        .unwrap()
        .add_static(&RouteKey::parse("api.sys.test"), cloud_controller);
    let router = TestRouter::start_with_table(RouterConfig::default(), table.clone()).await;
    let emitter = RouteEmitter::new(api.clone(), table.clone(), EmitterConfig::default());

    api.desire_lrp(web_lrp(1)).await.unwrap();
    run_instance(api.as_ref(), 0, backend(0).await).await;
    emitter.sync().await.unwrap();
    assert_eq!(router.get("web.example.com", "/").await, (200, "0".into()));
    assert_eq!(router.get("api.sys.test", "/v3").await, (200, "7".into()));

    api.remove_desired_lrp(GUID).await.unwrap();
    emitter.sync().await.unwrap();
    assert_eq!(router.get("web.example.com", "/").await.0, 404);
    assert_eq!(router.get("api.sys.test", "/v3").await, (200, "7".into()));
    assert_eq!(
        table.lock().unwrap().routes(),
        [RouteKey::parse("api.sys.test")]
    );

    shutdown.cancel();
    bbs.close().await;
}
