//! Test support: a fake in-process rep that accepts every piece of work the auction sends and
//! lets the test claim and start it through the `BbsApi`, as a real rep would.

#![allow(dead_code)]

use ingot_core::testing::eventually;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ingot_auction::{
    Capacity, CellClient, CellError, CellState, Lrp, LrpInstance, TaskStartRequest, Work,
};
use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, Bbs, BbsApi, BbsConfig, BbsDeps, CellCapacity,
    CellPresence, Error, NetInfo, PortMapping, RepClient, RepClientFactory, RootfsProvider,
};
use ingot_core::{DatabaseUrl, FixedClock, SequentialIds, Shutdown};

/// One fake cell.
pub struct FakeRep {
    pub cell_id: String,
    stacks: Vec<String>,
    received_lrps: Mutex<Vec<Lrp>>,
    received_tasks: Mutex<Vec<TaskStartRequest>>,
    pub stopped: Mutex<Vec<(ActualLrpKey, ActualLrpInstanceKey)>>,
    pub cancelled: Mutex<Vec<String>>,
    running: Mutex<Vec<LrpInstance>>,
}

impl FakeRep {
    pub fn new(cell_id: &str, stacks: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            cell_id: cell_id.into(),
            stacks: stacks.iter().map(|s| s.to_string()).collect(),
            received_lrps: Mutex::default(),
            received_tasks: Mutex::default(),
            stopped: Mutex::default(),
            cancelled: Mutex::default(),
            running: Mutex::default(),
        })
    }

    pub fn presence(&self) -> CellPresence {
        CellPresence {
            cell_id: self.cell_id.clone(),
            rep_address: format!("http://{}.cell.invalid:1800", self.cell_id),
            zone: "z1".into(),
            capacity: CellCapacity {
                memory_mb: 8192,
                disk_mb: 8192,
                containers: 100,
            },
            rootfs_providers: vec![
                RootfsProvider::preloaded(
                    &self.stacks.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
                RootfsProvider::scheme("docker"),
            ],
            ..CellPresence::default()
        }
    }

    /// The LRP instances the auction sent since the last call.
    pub fn take_lrps(&self) -> Vec<Lrp> {
        std::mem::take(&mut *self.received_lrps.lock().unwrap())
    }

    pub fn take_tasks(&self) -> Vec<TaskStartRequest> {
        std::mem::take(&mut *self.received_tasks.lock().unwrap())
    }

    pub fn stopped(&self) -> Vec<(ActualLrpKey, ActualLrpInstanceKey)> {
        self.stopped.lock().unwrap().clone()
    }

    /// Claims then starts an instance this cell won, as a rep does once its container runs.
    pub async fn run_lrp(
        &self,
        api: &dyn BbsApi,
        lrp: &Lrp,
        instance_guid: &str,
    ) -> ActualLrpInstanceKey {
        let key = ActualLrpKey::new(&lrp.process_guid, lrp.index, &lrp.domain);
        let instance = ActualLrpInstanceKey::new(instance_guid, &self.cell_id);
        api.claim_actual_lrp(&key, &instance).await.expect("claim");
        let net = NetInfo {
            address: "10.0.0.1".into(),
            instance_address: "10.255.0.2".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61000 + lrp.index,
            }],
        };
        api.start_actual_lrp(&key, &instance, net)
            .await
            .expect("start");
        self.running.lock().unwrap().push(LrpInstance {
            process_guid: lrp.process_guid.clone(),
            index: lrp.index,
        });
        instance
    }
}

#[async_trait]
impl CellClient for FakeRep {
    async fn state(&self) -> Result<CellState, CellError> {
        let mut state = CellState::new(&self.cell_id, "z1", Capacity::new(8192, 8192, 100));
        state.stacks.clone_from(&self.stacks);
        state.lrps = self.running.lock().unwrap().clone();
        Ok(state)
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        self.received_lrps.lock().unwrap().extend(work.lrps);
        self.received_tasks.lock().unwrap().extend(work.tasks);
        Ok(Work::default())
    }
}

#[async_trait]
impl RepClient for FakeRep {
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error> {
        self.stopped
            .lock()
            .unwrap()
            .push((key.clone(), instance.clone()));
        self.running
            .lock()
            .unwrap()
            .retain(|l| !(l.process_guid == key.process_guid && l.index == key.index));
        Ok(())
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error> {
        self.cancelled.lock().unwrap().push(task_guid.to_owned());
        Ok(())
    }
}

pub struct FakeReps(pub BTreeMap<String, Arc<FakeRep>>);

impl RepClientFactory for FakeReps {
    fn client(&self, cell: &CellPresence) -> Arc<dyn RepClient> {
        self.0
            .get(&cell.cell_id)
            .expect("a known fake cell")
            .clone()
    }
}

/// A BBS on a SQLite file in a temp dir, with fake cells and a clock that moves only when told.
pub struct Harness {
    pub bbs: Bbs,
    pub clock: Arc<FixedClock>,
    pub reps: Vec<Arc<FakeRep>>,
    pub shutdown: Shutdown,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(cells: &[(&str, &[&str])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ));
        let reps: Vec<Arc<FakeRep>> = cells
            .iter()
            .map(|(id, stacks)| FakeRep::new(id, stacks))
            .collect();
        let shutdown = Shutdown::new();
        let bbs = Self::start_bbs(&dir, &clock, &reps, &shutdown).await;
        for rep in &reps {
            bbs.register_cell(rep.presence(), Duration::from_secs(3600))
                .await
                .unwrap();
        }
        bbs.upsert_domain("cf-apps", Duration::ZERO).await.unwrap();
        Self {
            bbs,
            clock,
            reps,
            shutdown,
            dir,
        }
    }

    async fn start_bbs(
        dir: &tempfile::TempDir,
        clock: &Arc<FixedClock>,
        reps: &[Arc<FakeRep>],
        shutdown: &Shutdown,
    ) -> Bbs {
        let mut config = BbsConfig::new(DatabaseUrl::sqlite(dir.path().join("bbs.db")));
        // Tests converge by hand.
        config.convergence_interval = Duration::from_secs(24 * 3600);
        let deps = BbsDeps {
            clock: clock.clone(),
            ids: Arc::new(SequentialIds::default()),
            rep_clients: Arc::new(FakeReps(
                reps.iter()
                    .map(|r| (r.cell_id.clone(), r.clone()))
                    .collect(),
            )),
        };
        Bbs::start(config, deps, shutdown.clone()).await.unwrap()
    }

    /// Closes the BBS and starts a new one on the same database file.
    pub async fn restart(&mut self) {
        self.bbs.close().await;
        self.bbs = Self::start_bbs(&self.dir, &self.clock, &self.reps, &self.shutdown).await;
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }

    /// Waits until the fake cells together have received `n` LRP instances; returns them with
    /// the cell that won each.
    pub async fn placed_lrps(&self, n: usize) -> Vec<(Arc<FakeRep>, Lrp)> {
        let mut placed = Vec::new();
        eventually(&format!("{n} LRP instances placed"), || {
            for rep in &self.reps {
                placed.extend(rep.take_lrps().into_iter().map(|l| (rep.clone(), l)));
            }
            let done = placed.len() >= n;
            async move { done.then_some(()) }
        })
        .await;
        assert_eq!(placed.len(), n, "no more than {n} placed");
        placed.sort_by_key(|(_, l)| (l.process_guid.clone(), l.index));
        placed
    }

    pub async fn placed_tasks(&self, n: usize) -> Vec<(Arc<FakeRep>, TaskStartRequest)> {
        let mut placed = Vec::new();
        eventually(&format!("{n} tasks placed"), || {
            for rep in &self.reps {
                placed.extend(rep.take_tasks().into_iter().map(|t| (rep.clone(), t)));
            }
            let done = placed.len() >= n;
            async move { done.then_some(()) }
        })
        .await;
        placed
    }
}
