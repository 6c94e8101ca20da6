//! Runs auctions against 120 in-process fake cells through the real `CellClient` trait and
//! checks how the work spreads and how it fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ingot_auction::simulation::{
    SimulationCell, SimulationCells, distribution_score, overcommit_count,
};
use ingot_auction::{
    AuctionDelegate, AuctionResults, AuctionRunner, Capacity, CellState, LrpStartRequest,
    PlacementConstraint, PlacementError, Resource, RunnerConfig, Scheduler, SchedulerConfig,
    TaskStartRequest, TokioClock,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ZONES: [&str; 3] = ["z1", "z2", "z3"];
const SEGMENT: &str = "isolation-segment-a";

/// 120 cells over three zones: big and small ones, 12 with only the older stack, 12 with an NFS
/// volume driver, and 6 that belong to an isolation segment (a required placement tag).
fn fleet() -> Vec<CellState> {
    (0..120)
        .map(|i| {
            let capacity = if i % 2 == 0 {
                Capacity::new(32 * 1024, 64 * 1024, 250)
            } else {
                Capacity::new(16 * 1024, 32 * 1024, 120)
            };
            let mut cell = CellState::new(format!("cell-{i:03}"), ZONES[i % 3], capacity);
            if i % 10 == 7 {
                cell.stacks = vec!["cflinuxfs3".into()];
            }
            if i % 20 == 3 {
                cell.placement_tags = vec![SEGMENT.into()];
            }
            if i % 10 == 4 {
                cell.volume_drivers = vec!["nfs".into()];
            }
            cell
        })
        .collect()
}

fn start(
    guid: &str,
    instances: u32,
    memory_mb: u64,
    rootfs: &str,
    tags: &[&str],
) -> LrpStartRequest {
    LrpStartRequest {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        indices: (0..instances).collect(),
        resource: Resource::new(memory_mb, memory_mb * 2),
        constraint: PlacementConstraint {
            root_fs: rootfs.into(),
            placement_tags: tags.iter().map(|t| t.to_string()).collect(),
            volume_drivers: Vec::new(),
        },
    }
}

/// 400 ordinary processes of mixed sizes and instance counts, plus a few special ones.
fn workload() -> Vec<LrpStartRequest> {
    let mut rng = StdRng::seed_from_u64(7);
    let sizes = [128, 256, 512, 1024, 2048];
    let mut starts: Vec<LrpStartRequest> = (0..400)
        .map(|p| {
            let instances = rng.gen_range(1..=12);
            let memory = sizes[rng.gen_range(0..sizes.len())];
            start(
                &format!("app-{p:03}"),
                instances,
                memory,
                "preloaded:cflinuxfs4",
                &[],
            )
        })
        .collect();
    starts.push(start("old-stack", 6, 256, "preloaded:cflinuxfs3", &[]));
    starts.push(start(
        "segmented",
        6,
        256,
        "preloaded:cflinuxfs4",
        &[SEGMENT],
    ));
    starts.push(start(
        "docker-app",
        5,
        512,
        "docker:///cloudfoundry/grace",
        &[],
    ));
    starts.push(start("windows-app", 2, 256, "preloaded:windows2019", &[]));
    starts.push(start(
        "unknown-segment",
        2,
        256,
        "preloaded:cflinuxfs4",
        &["no-such-segment"],
    ));
    let mut nfs = start("nfs-app", 4, 256, "preloaded:cflinuxfs4", &[]);
    nfs.constraint.volume_drivers = vec!["nfs".into()];
    let mut ceph = start("ceph-app", 1, 256, "preloaded:cflinuxfs4", &[]);
    ceph.constraint.volume_drivers = vec!["ceph".into()];
    starts.extend([nfs, ceph]);
    starts.push(start("too-big", 1, 64 * 1024, "preloaded:cflinuxfs4", &[]));
    starts
}

#[derive(Default)]
struct Recorder(Mutex<Vec<AuctionResults>>);

#[async_trait]
impl AuctionDelegate for Recorder {
    async fn auction_completed(&self, results: &AuctionResults) {
        self.0.lock().unwrap().push(results.clone());
    }
}

#[tokio::test]
async fn a_fleet_of_fake_cells_spreads_work_and_names_failures() {
    let before = fleet();
    let cells: Vec<Arc<SimulationCell>> = before.iter().cloned().map(SimulationCell::new).collect();
    let recorder = Arc::new(Recorder::default());
    let runner = AuctionRunner::new(
        RunnerConfig::default(),
        Arc::new(SimulationCells(cells.clone())),
        recorder.clone(),
        Arc::new(TokioClock),
    );
    let starts = workload();
    let wanted: usize = starts.iter().map(|s| s.indices.len()).sum();
    runner.schedule_lrp_starts(starts.clone());
    runner.schedule_task_starts(
        (0..50)
            .map(|t| TaskStartRequest {
                task_guid: format!("task-{t:02}"),
                domain: "cf-tasks".into(),
                resource: Resource::new(512, 1024),
                constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
            })
            .collect(),
    );

    let results = runner.run_round().await.expect("work was waiting");
    assert!(
        runner.batch().is_empty(),
        "no cell rejected anything, so nothing is retried"
    );

    // Only the impossible requests fail, each with its named error.
    let mut failures: HashMap<&str, HashSet<PlacementError>> = HashMap::new();
    for failed in &results.failed_lrps {
        failures
            .entry(failed.lrp.process_guid.as_str())
            .or_default()
            .insert(failed.record.placement_error.clone().expect("named"));
    }
    let expect = |errors: &[PlacementError]| errors.iter().cloned().collect::<HashSet<_>>();
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert_eq!(
        failures["windows-app"],
        expect(&[PlacementError::CellMismatch])
    );
    assert_eq!(
        failures["unknown-segment"],
        expect(&[PlacementError::PlacementTagMismatch {
            tags: vec!["no-such-segment".into()]
        }])
    );
    assert_eq!(
        failures["too-big"],
        // 64 GiB of memory and 128 GiB of disk: more than any cell has of either.
        expect(&[PlacementError::InsufficientResources {
            memory: true,
            disk: true,
            containers: false
        }])
    );
    assert_eq!(
        results.successful_lrps.len() + results.failed_lrps.len(),
        wanted
    );
    assert_eq!(results.failed_lrps.len(), 6);
    assert_eq!(results.successful_tasks.len(), 50);

    let after: Vec<CellState> = cells.iter().map(|c| c.snapshot()).collect();
    let by_id: BTreeMap<&str, &CellState> = after.iter().map(|c| (c.cell_id.as_str(), c)).collect();

    // Zero overcommit, checked from what each fake cell actually runs.
    let sizes: HashMap<&str, Resource> = starts
        .iter()
        .map(|s| (s.process_guid.as_str(), s.resource))
        .collect();
    for cell in &after {
        let memory: u64 = cell
            .lrps
            .iter()
            .map(|l| sizes[l.process_guid.as_str()].memory_mb)
            .sum::<u64>()
            + 512 * cell.tasks.len() as u64;
        assert!(
            memory <= cell.total.memory_mb,
            "{} overcommitted",
            cell.cell_id
        );
        assert!(cell.lrps.len() + cell.tasks.len() <= cell.total.containers as usize);
    }

    // Constraints are honoured.
    let cells_of = |guid: &str| -> Vec<&CellState> {
        after
            .iter()
            .filter(|c| c.lrps.iter().any(|l| l.process_guid == guid))
            .collect()
    };
    assert!(
        cells_of("old-stack")
            .iter()
            .all(|c| c.stacks == ["cflinuxfs3"])
    );
    assert!(
        cells_of("segmented")
            .iter()
            .all(|c| c.placement_tags == [SEGMENT])
    );
    assert!(
        after
            .iter()
            .filter(|c| !c.placement_tags.is_empty())
            .all(|c| c.lrps.iter().all(|l| l.process_guid == "segmented"))
    );

    // Instances of one process land on different cells, and zones stay within one of each other.
    for s in &starts {
        let placed: Vec<&str> = results
            .successful_lrps
            .iter()
            .filter(|a| a.lrp.process_guid == s.process_guid)
            .map(|a| a.record.winner.as_deref().unwrap())
            .collect();
        if placed.is_empty() {
            continue;
        }
        let distinct: HashSet<&&str> = placed.iter().collect();
        assert_eq!(
            distinct.len(),
            placed.len(),
            "{} doubled up on a cell",
            s.process_guid
        );
        let mut per_zone: HashMap<&str, usize> = ZONES.iter().map(|z| (*z, 0)).collect();
        for cell in &placed {
            *per_zone.get_mut(by_id[cell].zone.as_str()).unwrap() += 1;
        }
        let (min, max) = (
            per_zone.values().min().unwrap(),
            per_zone.values().max().unwrap(),
        );
        assert!(
            max - min <= 1,
            "{} unbalanced across zones: {per_zone:?}",
            s.process_guid
        );
    }

    // Memory spreads evenly over the ordinary cells (the same size class, same stack, untagged).
    let ordinary: Vec<CellState> = after
        .iter()
        .filter(|c| {
            c.total.memory_mb == 32 * 1024
                && c.stacks == ["cflinuxfs4"]
                && c.placement_tags.is_empty()
        })
        .cloned()
        .collect();
    let spread = distribution_score(&ordinary);
    assert!(spread < 0.15, "distribution score {spread}");
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
}

#[test]
fn the_pure_scheduler_never_overcommits_under_pressure() {
    // Ask for more than the fleet has: the excess fails with a named error, nothing overflows.
    let before = fleet();
    let mut rng = StdRng::seed_from_u64(11);
    let lrps: Vec<ingot_auction::LrpAuction> = (0..3000)
        .flat_map(|p| {
            let memory = [512, 1024, 2048][rng.gen_range(0..3)];
            let instances = rng.gen_range(1..=4);
            (0..instances).map(move |i| {
                ingot_auction::LrpAuction::new(
                    ingot_auction::Lrp {
                        process_guid: format!("p{p}"),
                        index: i,
                        domain: "cf-apps".into(),
                        resource: Resource::new(memory, memory),
                        constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
                    },
                    tokio::time::Instant::now(),
                )
            })
        })
        .collect();
    let total = lrps.len();
    let schedule =
        Scheduler::new(SchedulerConfig::default(), before.clone()).schedule(lrps, Vec::new());
    assert_eq!(overcommit_count(&before, &schedule.work), 0);
    assert!(!schedule.results.failed_lrps.is_empty());
    assert_eq!(
        schedule.results.successful_lrps.len() + schedule.results.failed_lrps.len(),
        total
    );
    assert!(schedule.results.failed_lrps.iter().all(|a| matches!(
        a.record.placement_error,
        Some(PlacementError::InsufficientResources { .. })
    )));
}
