//! Retiring through the real BBS (in memory) and a cell on a fake Garden, on paused time: the
//! record leaves the BBS first, the process is signalled only when the drain wait is over,
//! and a bulk sync meanwhile does not hurry it.

use std::sync::Arc;
use std::time::Duration;

use ingot_bbs::{
    Action, ActualLrpFilter, ActualLrpState, Bbs, BbsApi, BbsConfig, BbsDeps, DesiredLrp,
    DesiredLrpUpdate, Event, RunAction,
};
use ingot_core::{DatabaseUrl, SequentialIds, Shutdown, SystemClock};
use ingot_garden::Signal;
use ingot_garden::testing::{FakeCall, FakeGarden, ProcessScript};
use ingot_logging::{Envelope, EnvelopeSink};

use crate::config::CellConfig;
use crate::logs::MemoryLogSink;
use crate::rep::{Cell, CellDeps, LocalRepClients};

const APP: &str = "/bin/web";

struct Discard;

impl EnvelopeSink for Discard {
    fn ingest(&self, _: Envelope) {}
}

struct Diego {
    bbs: Bbs,
    cell: Cell,
    garden: FakeGarden,
}

async fn diego() -> Diego {
    let shutdown = Shutdown::new();
    let reps = LocalRepClients::new();
    let bbs = Bbs::start_with_store(
        BbsConfig::new(DatabaseUrl::sqlite("unused.db")),
        Arc::new(ingot_bbs::store::MemoryStore::new()),
        BbsDeps {
            clock: Arc::new(SystemClock),
            ids: Arc::new(SequentialIds::default()),
            rep_clients: Arc::new(reps.clone()),
        },
        shutdown.clone(),
    )
    .unwrap();
    let garden = FakeGarden::new();
    garden.script(APP, ProcessScript::runs_until_signalled());
    let cell = Cell::start(
        CellConfig::new("cell-1"),
        CellDeps {
            bbs: Arc::new(bbs.clone()),
            garden: Arc::new(garden.clone()),
            logs: Arc::new(MemoryLogSink::new()),
            metrics: Arc::new(Discard),
            clock: Arc::new(SystemClock),
            ids: Arc::new(SequentialIds::default()),
            local_reps: Some(reps),
        },
        shutdown,
    )
    .await
    .unwrap();
    Diego { bbs, cell, garden }
}

fn run(path: &str) -> Action {
    Action::Run(RunAction {
        path: path.into(),
        user: "vcap".into(),
        ..RunAction::default()
    })
}

fn lrp(monitor: Option<Action>) -> DesiredLrp {
    DesiredLrp {
        process_guid: "web".into(),
        domain: "cf-apps".into(),
        instances: 1,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run(APP)),
        monitor,
        memory_mb: 64,
        disk_mb: 64,
        log_guid: "web".into(),
        ..DesiredLrp::default()
    }
}

impl Diego {
    async fn state(&self) -> Option<ActualLrpState> {
        let filter = ActualLrpFilter {
            process_guid: "web".into(),
            ..ActualLrpFilter::default()
        };
        let lrps = self.bbs.actual_lrps(filter).await.unwrap();
        lrps.first().map(|l| l.state)
    }

    /// Polls (paused time moves on while everything waits) until `done`, for at most 30 s.
    async fn until(&self, what: &str, done: impl AsyncFn(&Self) -> bool) {
        for _ in 0..3000 {
            if done(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn terminated(&self) -> bool {
        self.garden.calls().iter().any(|c| {
            matches!(
                c,
                FakeCall::Signal {
                    signal: Signal::Terminate,
                    ..
                }
            )
        })
    }

    async fn scale_to_zero(&self) {
        let update = DesiredLrpUpdate {
            instances: Some(0),
            ..DesiredLrpUpdate::default()
        };
        self.bbs.update_desired_lrp("web", update).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_running_instance_is_unregistered_then_drained_then_signalled() {
    let d = diego().await;
    let drain_wait = CellConfig::new("cell-1").drain_wait;
    d.bbs.desire_lrp(lrp(None)).await.unwrap();
    d.until("RUNNING", async |d| {
        d.state().await == Some(ActualLrpState::Running)
    })
    .await;
    let mut events = d.bbs.subscribe().await.unwrap();

    d.scale_to_zero().await;
    let retired = tokio::time::Instant::now();
    // The record is gone (the route emitter unregisters it) while the process runs on.
    assert_eq!(d.state().await, None);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(1), events.next())
            .await
            .expect("the removal is announced")
            .expect("open")
            .unwrap();
        if matches!(event, Event::ActualLrpInstanceRemoved { .. }) {
            break;
        }
    }
    assert!(!d.terminated(), "signalled before it was drained");

    // A bulk sync finds a container with no record: stopping it must not skip the wait.
    d.cell.sync().await.unwrap();
    tokio::time::sleep_until(retired + drain_wait - Duration::from_millis(10)).await;
    assert!(!d.terminated(), "signalled before the drain wait was over");
    assert_eq!(d.cell.executor().list().len(), 1);

    d.until("SIGTERM", async |d| d.terminated()).await;
    assert!(retired.elapsed() >= drain_wait);
    d.until("the container deleted", async |d| {
        d.cell.executor().list().is_empty()
    })
    .await;
    d.cell.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_instance_still_starting_is_stopped_at_once() {
    let d = diego().await;
    d.garden.script("/bin/unhealthy", ProcessScript::exits(1));
    d.bbs
        .desire_lrp(lrp(Some(run("/bin/unhealthy"))))
        .await
        .unwrap();
    d.until("CLAIMED with its process started", async |d| {
        let started = d
            .garden
            .calls()
            .iter()
            .any(|c| matches!(c, FakeCall::Run { spec, .. } if spec.path == APP));
        started && d.state().await == Some(ActualLrpState::Claimed)
    })
    .await;

    d.scale_to_zero().await;
    let retired = tokio::time::Instant::now();
    d.until("SIGTERM", async |d| d.terminated()).await;
    assert!(
        retired.elapsed() < Duration::from_millis(100),
        "a starting instance has nothing to drain"
    );
    d.cell.stop().await;
}
