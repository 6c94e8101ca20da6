//! Places 100,000 LRP instances of mixed sizes onto 1,000 simulated cells and prints how long
//! it took and how evenly the memory spread, next to a random placement as the baseline.
//! Run with `cargo bench -p ingot-auction`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ingot_auction::simulation::{
    SimulationCell, SimulationCells, distribution_score, overcommit_count,
};
use ingot_auction::{
    AuctionDelegate, AuctionResults, AuctionRunner, Capacity, CellState, Lrp, LrpAuction,
    LrpStartRequest, PlacementConstraint, Resource, RunnerConfig, Scheduler, SchedulerConfig,
    TokioClock, scoring,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CELLS: usize = 1_000;
const INSTANCES: usize = 100_000;
const ZONES: [&str; 3] = ["z1", "z2", "z3"];

fn fleet() -> Vec<CellState> {
    (0..CELLS)
        .map(|i| {
            CellState::new(
                format!("cell-{i:04}"),
                ZONES[i % 3],
                Capacity::new(32 * 1024, 64 * 1024, 250),
            )
        })
        .collect()
}

/// About 10,000 processes of 1–30 instances (most small), 128 MB to 2 GB each, 100,000
/// instances in all.
fn workload() -> Vec<LrpStartRequest> {
    let mut rng = StdRng::seed_from_u64(42);
    // (memory MB, weight in percent)
    let sizes = [(128, 55), (256, 28), (512, 10), (1024, 5), (2048, 2)];
    let mut starts = Vec::new();
    let mut total = 0;
    while total < INSTANCES {
        let skew: f64 = rng.r#gen::<f64>().powi(2);
        let instances = (1 + (skew * 29.0).round() as usize).min(INSTANCES - total);
        let pick = rng.gen_range(0..100);
        let mut cumulative = 0;
        let memory = sizes
            .iter()
            .find(|(_, weight)| {
                cumulative += weight;
                pick < cumulative
            })
            .map_or(128, |(m, _)| *m);
        starts.push(LrpStartRequest {
            process_guid: format!("process-{:05}", starts.len()),
            domain: "cf-apps".into(),
            indices: (0..instances as u32).collect(),
            resource: Resource::new(memory, memory.max(256)),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        });
        total += instances;
    }
    starts
}

fn auctions(starts: &[LrpStartRequest]) -> Vec<LrpAuction> {
    let now = tokio::time::Instant::now();
    starts
        .iter()
        .flat_map(|s| {
            s.indices.iter().map(move |&index| {
                LrpAuction::new(
                    Lrp {
                        process_guid: s.process_guid.clone(),
                        index,
                        domain: s.domain.clone(),
                        resource: s.resource,
                        constraint: s.constraint.clone(),
                    },
                    now,
                )
            })
        })
        .collect()
}

/// The baseline: each instance goes to a uniformly random cell among those it fits.
fn random_placement(
    mut cells: Vec<CellState>,
    lrps: &[LrpAuction],
) -> (Vec<CellState>, usize, usize) {
    let mut rng = StdRng::seed_from_u64(7);
    let (mut placed, mut failed) = (0, 0);
    let mut fitting = Vec::with_capacity(cells.len());
    for auction in lrps {
        let need = auction.lrp.resource;
        fitting.clear();
        fitting
            .extend((0..cells.len()).filter(|&i| scoring::fit(&cells[i].available, &need).is_ok()));
        if fitting.is_empty() {
            failed += 1;
            continue;
        }
        let cell = &mut cells[fitting[rng.gen_range(0..fitting.len())]];
        cell.available.take(&need);
        placed += 1;
    }
    (cells, placed, failed)
}

struct Quiet;

#[async_trait]
impl AuctionDelegate for Quiet {
    async fn auction_completed(&self, _results: &AuctionResults) {}
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    let starts = workload();
    let lrps = auctions(&starts);
    let memory: u64 = lrps.iter().map(|a| a.lrp.resource.memory_mb).sum();
    println!(
        "workload: {} instances of {} processes, {} GiB of memory asked for, onto {} cells ({} GiB)",
        lrps.len(),
        starts.len(),
        memory / 1024,
        CELLS,
        CELLS * 32
    );

    // The pure scheduler, single-threaded.
    let cells = fleet();
    let (input_cells, input_lrps) = (cells.clone(), lrps.clone());
    let started = Instant::now();
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), input_cells);
    let schedule = scheduler.schedule(input_lrps, Vec::new());
    let took = started.elapsed();
    let overcommit = overcommit_count(&cells, &schedule.work);
    let placed_cells = scheduler.into_cells();
    println!(
        "scheduler: wall time {} ({:.2} µs per instance)",
        secs(took),
        took.as_secs_f64() * 1e6 / lrps.len() as f64
    );
    println!(
        "scheduler: placed {}, failed {}, overcommitted cells {}",
        schedule.results.successful_lrps.len(),
        schedule.results.failed_lrps.len(),
        overcommit
    );
    println!(
        "scheduler: DistributionScore {:.4}",
        distribution_score(&placed_cells)
    );
    let doubled = doubled_instances(&placed_cells);
    println!(
        "scheduler: instances sharing a cell with another instance of their process: {doubled}"
    );

    let started = Instant::now();
    let (random_cells, placed, failed) = random_placement(cells.clone(), &lrps);
    println!(
        "random baseline: placed {placed}, failed {failed}, DistributionScore {:.4} ({})",
        distribution_score(&random_cells),
        secs(started.elapsed())
    );

    // A full runner round through the fake cells' CellClient trait.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let (took, results, overcommit) = runtime.block_on(async {
        let fakes: Vec<Arc<SimulationCell>> =
            cells.iter().cloned().map(SimulationCell::new).collect();
        let runner = AuctionRunner::new(
            RunnerConfig::default(),
            Arc::new(SimulationCells(fakes.clone())),
            Arc::new(Quiet),
            Arc::new(TokioClock),
        );
        runner.schedule_lrp_starts(starts.clone());
        let started = Instant::now();
        let results = runner.run_round().await.expect("work was waiting");
        let took = started.elapsed();
        let over = fakes
            .iter()
            .map(|c| c.snapshot())
            .filter(|c| c.lrps.len() > c.total.containers as usize)
            .count();
        (took, results, over)
    });
    println!("runner round (1,000 fake cells): wall time {}", secs(took));
    println!(
        "runner round: placed {}, failed {}, cells over their container count {}",
        results.successful_lrps.len(),
        results.failed_lrps.len(),
        overcommit
    );
}

fn doubled_instances(cells: &[CellState]) -> usize {
    cells
        .iter()
        .map(|c| {
            let mut guids: Vec<&str> = c.lrps.iter().map(|l| l.process_guid.as_str()).collect();
            guids.sort_unstable();
            let total = guids.len();
            guids.dedup();
            total - guids.len()
        })
        .sum()
}
