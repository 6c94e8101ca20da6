use std::sync::Mutex;

use tokio::time::Instant;

use super::*;
use crate::clock::{FakeClock, TokioClock};
use crate::model::{Capacity, PlacementConstraint, Resource};
use crate::simulation::{Behaviour, SimulationCell, SimulationCells};

#[derive(Default)]
struct Recorder {
    rounds: Mutex<Vec<AuctionResults>>,
    failed_cells: Mutex<Vec<String>>,
    fetches: Mutex<Vec<(usize, usize)>>,
}

#[async_trait]
impl AuctionDelegate for Recorder {
    async fn auction_completed(&self, results: &AuctionResults) {
        self.rounds.lock().unwrap().push(results.clone());
    }

    async fn fetch_states_completed(&self, _took: Duration, answered: usize, failed: usize) {
        self.fetches.lock().unwrap().push((answered, failed));
    }

    async fn failed_cell_state_request(&self, cell_id: &str, _error: &CellError) {
        self.failed_cells.lock().unwrap().push(cell_id.to_owned());
    }
}

fn cells(n: usize) -> Vec<Arc<SimulationCell>> {
    (0..n)
        .map(|i| {
            SimulationCell::new(CellState::new(
                format!("cell-{i}"),
                "z1",
                Capacity::new(1024, 4096, 10),
            ))
        })
        .collect()
}

fn start(guid: &str, indices: &[u32]) -> LrpStartRequest {
    LrpStartRequest {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        indices: indices.to_vec(),
        resource: Resource::new(256, 256),
        constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
    }
}

fn runner(cells: &[Arc<SimulationCell>], clock: Arc<dyn Clock>) -> (AuctionRunner, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let runner = AuctionRunner::new(
        RunnerConfig::default(),
        Arc::new(SimulationCells(cells.to_vec())),
        recorder.clone(),
        clock,
    );
    (runner, recorder)
}

#[tokio::test]
async fn a_round_places_work_on_the_cells_and_reports_it() {
    let fleet = cells(2);
    let clock = Arc::new(FakeClock::new(Instant::now()));
    let (runner, recorder) = runner(&fleet, clock.clone());
    runner.schedule_lrp_starts(vec![start("p", &[0, 1])]);
    runner.schedule_task_starts(vec![TaskStartRequest {
        task_guid: "t".into(),
        domain: "cf-tasks".into(),
        resource: Resource::new(128, 128),
        constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
    }]);
    clock.advance(Duration::from_secs(2));

    let results = runner.run_round().await.expect("work was waiting");
    assert_eq!(results.successful_lrps.len(), 2);
    assert_eq!(results.successful_tasks.len(), 1);
    for auction in &results.successful_lrps {
        assert_eq!(auction.record.attempts, 1);
        assert_eq!(auction.record.wait_duration, Duration::from_secs(2));
    }
    let running: usize = fleet.iter().map(|c| c.snapshot().instances_of("p")).sum();
    assert_eq!(running, 2);
    assert!(
        fleet.iter().all(|c| c.snapshot().instances_of("p") == 1),
        "instances spread"
    );
    assert_eq!(recorder.rounds.lock().unwrap().len(), 1);
    assert_eq!(*recorder.fetches.lock().unwrap(), [(2, 0)]);

    assert!(runner.run_round().await.is_none(), "nothing left");
}

#[tokio::test(start_paused = true)]
async fn cells_that_fail_or_time_out_sit_the_round_out() {
    let fleet = cells(3);
    fleet[0].set_behaviour(Behaviour {
        unavailable: true,
        ..Behaviour::default()
    });
    fleet[1].set_behaviour(Behaviour {
        state_delay: Some(Duration::from_secs(11)),
        ..Behaviour::default()
    });
    let (runner, recorder) = runner(&fleet, Arc::new(TokioClock));
    runner.schedule_lrp_starts(vec![start("p", &[0, 1])]);

    let results = runner.run_round().await.unwrap();
    assert!(
        results
            .successful_lrps
            .iter()
            .all(|a| a.record.winner.as_deref() == Some("cell-2"))
    );
    assert_eq!(results.successful_lrps.len(), 2);
    let mut failed = recorder.failed_cells.lock().unwrap().clone();
    failed.sort();
    assert_eq!(failed, ["cell-0", "cell-1"]);
    assert_eq!(*recorder.fetches.lock().unwrap(), [(1, 2)]);
}

#[tokio::test(start_paused = true)]
async fn no_reachable_cells_fails_everything_as_unreachable() {
    let fleet = cells(1);
    fleet[0].set_behaviour(Behaviour {
        unavailable: true,
        ..Behaviour::default()
    });
    let (runner, _) = runner(&fleet, Arc::new(TokioClock));
    runner.schedule_lrp_starts(vec![start("p", &[0])]);
    let results = runner.run_round().await.unwrap();
    assert_eq!(
        results.failed_lrps[0].record.placement_error,
        Some(PlacementError::CellCommunication)
    );
    assert_eq!(results.failed_lrps[0].record.attempts, 1);
}

#[tokio::test]
async fn rejected_work_is_retried_then_failed() {
    let fleet = cells(1);
    fleet[0].set_behaviour(Behaviour {
        reject_all: true,
        ..Behaviour::default()
    });
    let (runner, recorder) = runner(&fleet, Arc::new(FakeClock::new(Instant::now())));
    runner.schedule_lrp_starts(vec![start("p", &[0])]);

    for _ in 0..2 {
        let results = runner.run_round().await.unwrap();
        assert!(results.successful_lrps.is_empty() && results.failed_lrps.is_empty());
        assert_eq!(runner.batch().len(), (1, 0), "requeued");
    }
    let results = runner.run_round().await.unwrap();
    assert_eq!(results.failed_lrps.len(), 1);
    assert_eq!(
        results.failed_lrps[0].record.placement_error,
        Some(PlacementError::Rejected { attempts: 3 })
    );
    assert!(runner.batch().is_empty());
    assert_eq!(recorder.rounds.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn rejected_work_lands_once_the_cell_accepts() {
    let fleet = cells(1);
    fleet[0].set_behaviour(Behaviour {
        reject_all: true,
        ..Behaviour::default()
    });
    let (runner, _) = runner(&fleet, Arc::new(FakeClock::new(Instant::now())));
    runner.schedule_lrp_starts(vec![start("p", &[0])]);
    runner.run_round().await.unwrap();
    fleet[0].set_behaviour(Behaviour::default());
    let results = runner.run_round().await.unwrap();
    assert_eq!(results.successful_lrps.len(), 1);
    assert_eq!(results.successful_lrps[0].record.attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn run_auctions_when_work_arrives_and_stops_on_shutdown() {
    let fleet = cells(2);
    let (runner, recorder) = runner(&fleet, Arc::new(TokioClock));
    let runner = Arc::new(runner);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    runner.schedule_lrp_starts(vec![start("p", &[0, 1, 2])]);
    tokio::time::timeout(Duration::from_secs(5), async {
        while recorder.rounds.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a round ran");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stopped")
        .unwrap();
    let running: usize = fleet.iter().map(|c| c.snapshot().instances_of("p")).sum();
    assert_eq!(running, 3);
}
