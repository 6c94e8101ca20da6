use tokio::time::Instant;

use super::*;
use crate::model::{Capacity, LrpInstance};

fn cell(id: &str, zone: &str) -> CellState {
    CellState::new(id, zone, Capacity::new(1000, 2000, 10))
}

fn lrp(guid: &str, index: u32, memory: u64) -> LrpAuction {
    LrpAuction::new(
        Lrp {
            process_guid: guid.into(),
            index,
            domain: "cf-apps".into(),
            resource: Resource::new(memory, 10),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        },
        Instant::now(),
    )
}

fn task(guid: &str, memory: u64) -> TaskAuction {
    TaskAuction::new(
        TaskStartRequest {
            task_guid: guid.into(),
            domain: "cf-tasks".into(),
            resource: Resource::new(memory, 10),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        },
        Instant::now(),
    )
}

fn winners(s: &Schedule) -> Vec<(String, u32, String)> {
    s.results
        .successful_lrps
        .iter()
        .map(|a| {
            (
                a.lrp.process_guid.clone(),
                a.lrp.index,
                a.record.winner.clone().unwrap(),
            )
        })
        .collect()
}

fn failure(s: &Schedule) -> PlacementError {
    s.results
        .failed_lrps
        .first()
        .map(|a| a.record.placement_error.clone())
        .or_else(|| {
            s.results
                .failed_tasks
                .first()
                .map(|a| a.record.placement_error.clone())
        })
        .flatten()
        .expect("a failure")
}

fn schedule(cells: Vec<CellState>, lrps: Vec<LrpAuction>, tasks: Vec<TaskAuction>) -> Schedule {
    Scheduler::new(SchedulerConfig::default(), cells).schedule(lrps, tasks)
}

#[test]
fn order_is_first_instances_then_tasks_then_the_rest_biggest_first() {
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), vec![cell("a", "z1")]);
    let s = scheduler.schedule(
        vec![
            lrp("small", 1, 10),
            lrp("small", 0, 10),
            lrp("big", 1, 50),
            lrp("big", 0, 50),
            lrp("mid", 2, 30),
        ],
        vec![task("t-small", 5), task("t-big", 40)],
    );
    let placed: Vec<String> = scheduler.cells()[0]
        .lrps
        .iter()
        .map(|l| format!("{}/{}", l.process_guid, l.index))
        .collect();
    assert_eq!(placed, ["big/0", "small/0", "big/1", "small/1", "mid/2"]);
    assert_eq!(scheduler.cells()[0].tasks, ["t-big", "t-small"]);
    let work = &s.work["a"];
    let order: Vec<String> = work
        .lrps
        .iter()
        .map(|l| format!("{}/{}", l.process_guid, l.index))
        .collect();
    assert_eq!(order, placed);
}

#[test]
fn the_same_input_gives_the_same_placement() {
    let cells: Vec<CellState> = (0..12)
        .map(|i| cell(&format!("cell-{i:02}"), ["z1", "z2", "z3"][i % 3]))
        .collect();
    let lrps = || {
        (0..30)
            .flat_map(|p| (0..4).map(move |i| lrp(&format!("p{p}"), i, 64)))
            .collect::<Vec<_>>()
    };
    let mut shuffled = lrps();
    shuffled.reverse();
    let mut reversed_cells = cells.clone();
    reversed_cells.reverse();
    let a = schedule(cells, lrps(), Vec::new());
    let b = schedule(reversed_cells, shuffled, Vec::new());
    assert_eq!(winners(&a), winners(&b));
}

#[test]
fn ties_go_to_the_lowest_cell_id() {
    let s = schedule(
        vec![cell("c", "z1"), cell("a", "z1"), cell("b", "z1")],
        vec![lrp("p", 0, 100)],
        Vec::new(),
    );
    assert_eq!(winners(&s)[0].2, "a");
}

#[test]
fn instances_of_one_process_spread_across_cells() {
    let cells = (0..4).map(|i| cell(&format!("c{i}"), "z1")).collect();
    let s = schedule(
        cells,
        (0..4).map(|i| lrp("p", i, 100)).collect(),
        Vec::new(),
    );
    let mut used: Vec<String> = winners(&s).into_iter().map(|w| w.2).collect();
    used.sort();
    assert_eq!(used, ["c0", "c1", "c2", "c3"]);
}

#[test]
fn zones_are_balanced_before_scores() {
    // z1 has a roomier cell, but already runs an instance of the process; z2 must win.
    let mut busy = cell("a-busy", "z1");
    busy.lrps.push(LrpInstance {
        process_guid: "p".into(),
        index: 0,
    });
    busy.available.memory_mb -= 100;
    busy.available.containers -= 1;
    let roomy = cell("b-roomy", "z1");
    let mut crowded = cell("c-crowded", "z2");
    crowded.available = Capacity::new(300, 1000, 2);
    let s = schedule(
        vec![busy, roomy, crowded],
        vec![lrp("p", 1, 100)],
        Vec::new(),
    );
    assert_eq!(winners(&s)[0].2, "c-crowded");

    // Three zones, six instances: two per zone.
    let cells: Vec<CellState> = (0..9)
        .map(|i| cell(&format!("c{i}"), ["z1", "z2", "z3"][i % 3]))
        .collect();
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), cells);
    scheduler.schedule((0..6).map(|i| lrp("q", i, 10)).collect(), Vec::new());
    for zone in ["z1", "z2", "z3"] {
        let n: usize = scheduler
            .cells()
            .iter()
            .filter(|c| c.zone == zone)
            .map(|c| c.instances_of("q"))
            .sum();
        assert_eq!(n, 2, "{zone}");
    }
}

#[test]
fn a_zone_with_no_room_is_skipped() {
    let mut full = cell("a", "z1");
    full.available = Capacity::new(50, 2000, 10);
    let mut other = cell("b", "z2");
    other.lrps.push(LrpInstance {
        process_guid: "p".into(),
        index: 0,
    });
    let s = schedule(vec![full, other], vec![lrp("p", 1, 100)], Vec::new());
    assert_eq!(winners(&s)[0].2, "b");
}

#[test]
fn placements_update_the_cell_state() {
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), vec![cell("a", "z1")]);
    scheduler.schedule(
        vec![lrp("p", 0, 300), lrp("q", 0, 200)],
        vec![task("t", 100)],
    );
    let a = &scheduler.cells()[0];
    assert_eq!(a.available, Capacity::new(400, 1970, 7));
    assert_eq!(a.starting_container_count, 3);
    assert_eq!(a.lrps.len(), 2);
    assert_eq!(a.tasks, ["t"]);
}

#[test]
fn the_fast_path_agrees_with_the_plain_score() {
    let w = Weights {
        starting_container: 0.25,
        bin_pack_first_fit: 0.01,
    };
    let mut cells: Vec<CellState> = (0..20).map(|i| cell(&format!("c{i:02}"), "z1")).collect();
    for (i, c) in cells.iter_mut().enumerate() {
        c.available.memory_mb -= (i as u64 * 37) % 500;
        c.available.disk_mb -= (i as u64 * 91) % 900;
        c.starting_container_count = (i as u32 * 7) % 3;
        if i % 4 == 0 {
            c.lrps.push(LrpInstance {
                process_guid: "p".into(),
                index: 9,
            });
        }
    }
    let config = SchedulerConfig {
        weights: w,
        ..SchedulerConfig::default()
    };
    let request = lrp("p", 1, 120);
    let expected = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            scoring::score_lrp(c, i, &request.lrp, &w)
                .ok()
                .map(|s| (s, c.cell_id.clone()))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
        .1;
    let s = Scheduler::new(config, cells).schedule(vec![request], Vec::new());
    assert_eq!(winners(&s)[0].2, expected);
}

#[test]
fn bin_pack_weight_fills_low_cells_first() {
    let config = SchedulerConfig {
        weights: Weights {
            starting_container: 0.0,
            bin_pack_first_fit: 10.0,
        },
        ..SchedulerConfig::default()
    };
    let cells = (0..3).map(|i| cell(&format!("c{i}"), "z1")).collect();
    let s = Scheduler::new(config, cells).schedule(
        (0..3).map(|i| lrp(&format!("p{i}"), 0, 100)).collect(),
        Vec::new(),
    );
    assert!(winners(&s).iter().all(|w| w.2 == "c0"));
}

#[test]
fn tasks_spread_by_tasks_per_cell() {
    let s = schedule(
        vec![cell("a", "z1"), cell("b", "z1")],
        Vec::new(),
        vec![task("t1", 10), task("t2", 10)],
    );
    let cells: Vec<&str> = s
        .results
        .successful_tasks
        .iter()
        .map(|t| t.record.winner.as_deref().unwrap())
        .collect();
    assert_eq!(cells, ["a", "b"]);
}

#[test]
fn every_placement_error() {
    let mut tagged = cell("tagged", "z1");
    tagged.placement_tags = vec!["gpu".into()];
    tagged.volume_drivers = vec!["nfs".into()];

    let with = |f: &dyn Fn(&mut LrpAuction)| {
        let mut a = lrp("p", 0, 100);
        f(&mut a);
        a
    };
    let table: Vec<(Vec<CellState>, LrpAuction, PlacementError)> = vec![
        (
            vec![cell("a", "z1")],
            with(&|a| a.lrp.constraint.root_fs = "preloaded:windows2016".into()),
            PlacementError::CellMismatch,
        ),
        (
            vec![cell("a", "z1"), tagged.clone()],
            with(&|a| a.lrp.constraint.volume_drivers = vec!["ceph".into()]),
            PlacementError::VolumeDriverMismatch,
        ),
        (
            vec![cell("a", "z1"), tagged.clone()],
            with(&|a| {
                a.lrp.constraint.volume_drivers = vec!["nfs".into()];
                a.lrp.constraint.placement_tags = vec!["ssd".into()];
            }),
            PlacementError::PlacementTagMismatch {
                tags: vec!["ssd".into()],
            },
        ),
        (
            vec![cell("a", "z1")],
            with(&|a| a.lrp.resource.memory_mb = 5000),
            PlacementError::InsufficientResources {
                memory: true,
                disk: false,
                containers: false,
            },
        ),
        (
            vec![cell("a", "z1")],
            with(&|a| a.lrp.resource.disk_mb = 5000),
            PlacementError::InsufficientResources {
                memory: false,
                disk: true,
                containers: false,
            },
        ),
        (
            vec![{
                let mut c = cell("a", "z1");
                c.available.containers = 0;
                c
            }],
            lrp("p", 0, 100),
            PlacementError::InsufficientResources {
                memory: false,
                disk: false,
                containers: true,
            },
        ),
        (
            Vec::new(),
            lrp("p", 0, 100),
            PlacementError::CellCommunication,
        ),
    ];
    for (cells, auction, want) in table {
        let s = schedule(cells, vec![auction], Vec::new());
        assert_eq!(failure(&s), want);
    }

    // Short of memory on one cell and of disk on another: neither is short everywhere.
    let mut low_memory = cell("a", "z1");
    low_memory.available.memory_mb = 10;
    let mut low_disk = cell("b", "z1");
    low_disk.available.disk_mb = 5;
    let s = schedule(
        vec![low_memory, low_disk],
        vec![lrp("p", 0, 100)],
        Vec::new(),
    );
    assert_eq!(
        failure(&s),
        PlacementError::InsufficientResources {
            memory: false,
            disk: false,
            containers: false
        }
    );

    // Tasks get the same errors.
    let mut t = task("t", 100);
    t.task.constraint.root_fs = "preloaded:nope".into();
    let s = schedule(vec![cell("a", "z1")], Vec::new(), vec![t]);
    assert_eq!(failure(&s), PlacementError::CellMismatch);
}

#[test]
fn evacuating_cells_take_no_work() {
    let mut leaving = cell("a", "z1");
    leaving.evacuating = true;
    let s = schedule(
        vec![leaving.clone(), cell("b", "z1")],
        vec![lrp("p", 0, 100)],
        Vec::new(),
    );
    assert_eq!(winners(&s)[0].2, "b");
    let s = schedule(vec![leaving], vec![lrp("p", 0, 100)], Vec::new());
    assert_eq!(failure(&s), PlacementError::CellCommunication);
}

#[test]
fn the_in_flight_start_limit_counts_existing_and_new_starts() {
    let mut a = cell("a", "z1");
    a.starting_container_count = 1;
    let config = SchedulerConfig {
        max_in_flight_starts: Some(3),
        ..SchedulerConfig::default()
    };
    let s = Scheduler::new(config, vec![a, cell("b", "z1")]).schedule(
        (0..3).map(|i| lrp(&format!("p{i}"), 0, 10)).collect(),
        vec![task("t", 10)],
    );
    assert_eq!(s.results.successful_lrps.len(), 2);
    assert_eq!(s.results.failed_lrps.len(), 1);
    assert_eq!(s.results.failed_tasks.len(), 1);
    assert_eq!(failure(&s), PlacementError::StartLimitReached);
}

#[test]
fn the_per_cell_start_limit_moves_work_elsewhere_then_fails_it() {
    let config = SchedulerConfig {
        max_starting_per_cell: Some(2),
        ..SchedulerConfig::default()
    };
    let s = Scheduler::new(config, vec![cell("a", "z1"), cell("b", "z1")])
        .schedule((0..5).map(|i| lrp("p", i, 10)).collect(), Vec::new());
    let per_cell = |id: &str| winners(&s).iter().filter(|w| w.2 == id).count();
    assert_eq!((per_cell("a"), per_cell("b")), (2, 2));
    assert_eq!(s.results.failed_lrps.len(), 1);
    assert_eq!(failure(&s), PlacementError::StartLimitReached);
}

#[test]
fn never_overcommits() {
    let cells: Vec<CellState> = (0..3).map(|i| cell(&format!("c{i}"), "z1")).collect();
    let before = cells.clone();
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), cells);
    let s = scheduler.schedule(
        (0..40)
            .map(|i| lrp(&format!("p{}", i % 7), i / 7, 130))
            .collect(),
        Vec::new(),
    );
    assert!(!s.results.failed_lrps.is_empty());
    assert_eq!(crate::simulation::overcommit_count(&before, &s.work), 0);
    let placed: usize = s.work.values().map(|w| w.lrps.len()).sum();
    assert_eq!(placed, s.results.successful_lrps.len());
    // 1000 MB / 130 MB = 7 per cell.
    assert_eq!(placed, 21);
}
