//! Plain timing of log-cache ingest: envelopes per second on one and several threads, and
//! memory per 100,000 typical app log lines. Run with `cargo bench -p ingot-logging`.

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ingot_core::SystemClock;
use ingot_logging::{Envelope, LogCache, LogCacheConfig, LogType, ReadQuery};

const APPS: usize = 20;
const LINE: &str = "2020-11-21T22:08:39.42Z INFO  handled GET /api/orders/1234 in 12ms status=200";

fn cache() -> LogCache {
    LogCache::new(LogCacheConfig::default(), Arc::new(SystemClock))
}

fn envelope(app: usize, i: i64) -> Envelope {
    let source = format!("4b1e5c0a-9d8f-4c1e-a3b2-{app:012}");
    Envelope::log(
        source,
        "0",
        "APP/PROC/WEB",
        LogType::Out,
        LINE,
        1_606_000_000_000_000_000 + i,
    )
}

fn ingest_rate(threads: usize, per_thread: usize) {
    let cache = cache();
    // Build envelopes first: the figure is for ingest alone.
    let batches: Vec<Vec<Envelope>> = (0..threads)
        .map(|t| {
            (0..per_thread)
                .map(|i| envelope(i % APPS, (i * threads + t) as i64))
                .collect()
        })
        .collect();
    let started = Instant::now();
    thread::scope(|scope| {
        for batch in batches {
            let cache = cache.clone();
            scope.spawn(move || batch.into_iter().for_each(|e| cache.ingest(e)));
        }
    });
    let elapsed = started.elapsed();
    let total = threads * per_thread;
    println!(
        "ingest, {threads} thread(s): {total} envelopes in {elapsed:.2?} = {:.0} envelopes/s",
        total as f64 / elapsed.as_secs_f64()
    );
}

fn read_rate() {
    let cache = cache();
    for i in 0..100_000 {
        cache.ingest(envelope(0, i));
    }
    let source = envelope(0, 0).source_id;
    let reads = 2_000;
    let started = Instant::now();
    for _ in 0..reads {
        assert_eq!(cache.read(&source, &ReadQuery::recent()).len(), 1000);
    }
    let elapsed = started.elapsed();
    println!(
        "read --recent (1000 of 100k): {:.0} reads/s",
        reads as f64 / elapsed.as_secs_f64()
    );
}

/// Resident memory in bytes, from /proc (Linux); None elsewhere.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn memory_per_100k() {
    let before = resident_bytes();
    let cache = cache();
    for i in 0..100_000 {
        cache.ingest(envelope(i as usize % APPS, i));
    }
    let after = resident_bytes();
    println!(
        "memory per 100k envelopes ({}-byte lines): accounted {:.1} MiB, resident growth {}",
        LINE.len(),
        cache.bytes() as f64 / (1 << 20) as f64,
        match (before, after) {
            (Some(b), Some(a)) =>
                format!("{:.1} MiB", a.saturating_sub(b) as f64 / (1 << 20) as f64),
            _ => "unknown".to_owned(),
        }
    );
    drop(cache);
}

fn main() {
    memory_per_100k();
    ingest_rate(1, 1_000_000);
    ingest_rate(2, 500_000);
    ingest_rate(4, 250_000);
    read_rate();
}
