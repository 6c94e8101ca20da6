//! How fast the BBS records ActualLRP changes: the claim and start writes every instance start
//! costs, through the service (validation, the transition inside a SQLite transaction, the event
//! after commit), one writer at a time and with concurrent writers as many reps would be.
//!
//! Run with `cargo bench -p ingot-bbs --bench actual_lrp_writes`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, Bbs, BbsApi, BbsConfig, BbsDeps, CellPresence, DesiredLrp,
    NetInfo, RepClient, RepClientFactory,
};
use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};

const INSTANCES: u32 = 2_000;
const CONCURRENT_WRITERS: u32 = 8;

/// No cell ever registers, so the BBS never asks for one.
struct NoCells;

impl RepClientFactory for NoCells {
    fn client(&self, cell: &CellPresence) -> Arc<dyn RepClient> {
        unreachable!(
            "no cell registers in this benchmark, yet {} was asked for",
            cell.cell_id
        )
    }
}

fn lrp(process_guid: &str) -> DesiredLrp {
    DesiredLrp {
        process_guid: process_guid.into(),
        domain: "bench".into(),
        instances: INSTANCES,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(ingot_bbs::Action::Run(ingot_bbs::RunAction {
            path: "true".into(),
            user: "vcap".into(),
            ..ingot_bbs::RunAction::default()
        })),
        memory_mb: 16,
        disk_mb: 16,
        ..DesiredLrp::default()
    }
}

/// Claims and starts instances `indices` of `process_guid`: two ActualLRP writes each.
async fn claim_and_start(bbs: Arc<Bbs>, process_guid: String, indices: Vec<u32>) {
    for index in indices {
        let key = ActualLrpKey::new(&process_guid, index, "bench");
        let instance = ActualLrpInstanceKey::new(format!("{process_guid}-{index}"), "cell-bench");
        bbs.claim_actual_lrp(&key, &instance).await.expect("claim");
        let net_info = NetInfo {
            address: "127.0.0.1".into(),
            ..NetInfo::default()
        };
        bbs.start_actual_lrp(&key, &instance, net_info)
            .await
            .expect("start");
    }
}

fn rate(writes: u32, took: Duration) -> f64 {
    f64::from(writes) / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = Shutdown::new();
    let bbs = Arc::new(
        Bbs::start(
            BbsConfig::new(DatabaseUrl::sqlite(dir.path().join("bbs.db"))),
            BbsDeps {
                clock: Arc::new(SystemClock),
                ids: Arc::new(UuidIds),
                rep_clients: Arc::new(NoCells),
            },
            shutdown.clone(),
        )
        .await
        .unwrap(),
    );

    let begun = Instant::now();
    bbs.desire_lrp(lrp("serial")).await.unwrap();
    bbs.desire_lrp(lrp("concurrent")).await.unwrap();
    let desired = begun.elapsed();

    let begun = Instant::now();
    claim_and_start(bbs.clone(), "serial".into(), (0..INSTANCES).collect()).await;
    let serial = begun.elapsed();

    let begun = Instant::now();
    let writers: Vec<_> = (0..CONCURRENT_WRITERS)
        .map(|w| {
            let indices = (0..INSTANCES)
                .filter(|i| i % CONCURRENT_WRITERS == w)
                .collect();
            tokio::spawn(claim_and_start(bbs.clone(), "concurrent".into(), indices))
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let concurrent = begun.elapsed();

    shutdown.cancel();
    bbs.close().await;

    println!("BBS on SQLite (WAL), release build, through the service:");
    println!("  desire 2 LRPs x {INSTANCES} instances (ActualLRPs created): {desired:.2?}");
    println!(
        "  claim + start, 1 writer:  {} writes in {serial:.2?} = {:.0} ActualLRP writes/s",
        2 * INSTANCES,
        rate(2 * INSTANCES, serial)
    );
    println!(
        "  claim + start, {CONCURRENT_WRITERS} writers: {} writes in {concurrent:.2?} = {:.0} ActualLRP writes/s",
        2 * INSTANCES,
        rate(2 * INSTANCES, concurrent)
    );
}
