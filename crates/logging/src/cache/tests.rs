use std::thread;

use chrono::{Duration, TimeZone};
use ingot_core::FixedClock;

use super::*;
use crate::envelope::{EnvelopeType, LogType, Message};

const SECOND: i64 = 1_000_000_000;
/// The fixed clock's "now": 2020-11-21T21:43:20Z.
const NOW: i64 = 1_606_000_000 * SECOND;

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(Utc.timestamp_nanos(NOW)))
}

fn cache_with(config: LogCacheConfig) -> LogCache {
    LogCache::new(config, clock())
}

fn cache() -> LogCache {
    cache_with(LogCacheConfig::default())
}

fn line(source: &str, text: &str, at: i64) -> Envelope {
    Envelope::log(source, "0", "APP/PROC/WEB", LogType::Out, text, at)
}

fn texts(envelopes: &[Envelope]) -> Vec<String> {
    envelopes
        .iter()
        .map(|e| match &e.message {
            Message::Log(log) => String::from_utf8_lossy(&log.payload).into_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// What one envelope adds to the cache's byte count.
fn bytes_of_one(envelope: Envelope) -> usize {
    let cache = cache();
    cache.ingest(envelope);
    cache.bytes()
}

/// The sum of every source's own byte count, which the global count must equal.
fn bytes_held(cache: &LogCache) -> usize {
    read(&cache.inner.sources)
        .values()
        .map(|s| lock(&s.log).bytes())
        .sum()
}

fn everything() -> ReadQuery {
    ReadQuery {
        start_time: i64::MIN,
        limit: MAX_LIMIT,
        ..ReadQuery::default()
    }
}

#[test]
fn reads_one_source_in_timestamp_order() {
    let cache = cache();
    cache.ingest(line("b", "other app", NOW - 5));
    for (text, at) in [("two", NOW - 20), ("one", NOW - 30), ("three", NOW - 10)] {
        cache.ingest(line("a", text, at));
    }
    assert_eq!(
        texts(&cache.read("a", &everything())),
        ["one", "two", "three"]
    );
    assert!(cache.read("missing", &everything()).is_empty());
}

#[test]
fn the_end_time_defaults_to_the_clocks_now() {
    let clock = clock();
    let cache = LogCache::new(LogCacheConfig::default(), clock.clone());
    cache.ingest(line("a", "past", NOW - 1));
    cache.ingest(line("a", "future", NOW + SECOND));
    assert_eq!(texts(&cache.read("a", &everything())), ["past"]);
    clock.advance(Duration::seconds(2));
    assert_eq!(texts(&cache.read("a", &everything())), ["past", "future"]);
    let until = ReadQuery {
        end_time: Some(NOW),
        ..everything()
    };
    assert_eq!(texts(&cache.read("a", &until)), ["past"]);
}

#[test]
fn answers_cf_logs_recent() {
    let cache = cache();
    for i in 0..1500 {
        cache.ingest(line("app", &i.to_string(), NOW - 10_000 + i));
        cache.ingest(Envelope::counter(
            "app",
            "0",
            "c",
            1,
            i as u64,
            NOW - 10_000 + i,
        ));
    }
    let recent = cache.read("app", &ReadQuery::recent());
    assert_eq!(recent.len(), 1000);
    assert!(
        recent
            .iter()
            .all(|e| e.envelope_type() == EnvelopeType::Log)
    );
    let newest_first = texts(&recent);
    assert_eq!(newest_first.first().unwrap(), "1499");
    assert_eq!(newest_first.last().unwrap(), "500");
}

/// The cf CLI's streaming: find the newest envelope, step back one second, then walk forward
/// from "last timestamp + 1" in batches of the default 100.
#[test]
fn a_forward_walk_sees_every_line_once_even_with_shared_timestamps() {
    let cache = cache();
    // Bursts of lines sharing one timestamp, straddling the 100-envelope batch boundary.
    for burst in 0..30 {
        for n in 0..7 {
            cache.ingest(line(
                "app",
                &format!("{burst}-{n}"),
                NOW - SECOND / 2 + burst,
            ));
        }
    }
    let newest = cache.read(
        "app",
        &ReadQuery {
            start_time: crate::query::GO_ZERO_TIME_NS,
            limit: 1,
            descending: true,
            ..ReadQuery::default()
        },
    );
    let mut cursor = newest[0].timestamp - SECOND;
    let mut seen = Vec::new();
    loop {
        let batch = cache.read(
            "app",
            &ReadQuery {
                start_time: cursor,
                envelope_types: vec![EnvelopeType::Log],
                ..ReadQuery::default()
            },
        );
        let Some(last) = batch.last() else { break };
        cursor = last.timestamp + 1;
        seen.extend(texts(&batch));
    }
    let expected: Vec<String> = (0..30)
        .flat_map(|b| (0..7).map(move |n| format!("{b}-{n}")))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn keeps_at_most_max_per_source_and_counts_the_rest_as_expired() {
    let cache = cache_with(LogCacheConfig {
        max_per_source: 3,
        ..LogCacheConfig::default()
    });
    for i in 1..=5 {
        cache.ingest(line("a", &i.to_string(), NOW - 100 + i));
    }
    cache.ingest(line("b", "kept", NOW - 1));
    assert_eq!(texts(&cache.read("a", &everything())), ["3", "4", "5"]);
    let meta = cache.meta();
    assert_eq!(
        meta["a"],
        SourceMeta {
            count: 3,
            expired: 2,
            oldest_timestamp: NOW - 97,
            newest_timestamp: NOW - 95
        }
    );
    assert_eq!(meta["b"].count, 1);
    assert_eq!(meta.len(), 2);
}

#[test]
fn a_late_envelope_older_than_everything_is_the_one_evicted_when_full() {
    let cache = cache_with(LogCacheConfig {
        max_per_source: 2,
        ..LogCacheConfig::default()
    });
    cache.ingest(line("a", "new", NOW - 10));
    cache.ingest(line("a", "newer", NOW - 5));
    cache.ingest(line("a", "late", NOW - 50));
    assert_eq!(texts(&cache.read("a", &everything())), ["new", "newer"]);
}

#[test]
fn the_memory_cap_trims_the_largest_source_first() {
    let one = bytes_of_one(line("noisy", "x", 0));
    let cache = cache_with(LogCacheConfig {
        max_per_source: 100_000,
        max_bytes: 1000 * one,
    });
    for i in 0..20 {
        cache.ingest(line("quiet", "x", NOW - 5000 + i));
    }
    for i in 0..2000 {
        cache.ingest(line("noisy", "x", NOW - 4000 + i));
    }
    assert!(cache.bytes() <= 1000 * one, "{} > cap", cache.bytes());
    let meta = cache.meta();
    assert_eq!(meta["quiet"].count, 20, "the small source keeps everything");
    assert!(meta["noisy"].expired > 0);
    // Only the oldest noisy envelopes went.
    assert_eq!(meta["noisy"].newest_timestamp, NOW - 4000 + 1999);
    assert_eq!(
        meta["noisy"].oldest_timestamp,
        NOW - 4000 + meta["noisy"].expired as i64
    );
    let held: usize = meta.values().map(|m| m.count as usize).sum();
    assert_eq!(cache.bytes(), held * one);
}

#[test]
fn pruning_spreads_over_equally_large_sources_and_drops_emptied_ones() {
    let one = bytes_of_one(line("s0", "x", 0));
    let cache = cache_with(LogCacheConfig {
        max_per_source: 100_000,
        max_bytes: 100 * one,
    });
    for i in 0..100 {
        for s in 0..4 {
            cache.ingest(line(&format!("s{s}"), "x", NOW - 1000 + i));
        }
    }
    let meta = cache.meta();
    let counts: Vec<u64> = meta.values().map(|m| m.count).collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "sources trimmed evenly: {counts:?}");

    // A cap smaller than one envelope empties every source, and empty sources are dropped.
    let tiny = cache_with(LogCacheConfig {
        max_per_source: 10,
        max_bytes: one / 2,
    });
    tiny.ingest(line("a", "x", 1));
    assert_eq!(tiny.bytes(), 0);
    assert!(tiny.meta().is_empty());
}

#[test]
fn water_level_frees_at_least_the_excess_from_the_largest() {
    assert_eq!(water_level(&[100, 50, 10], 30), 70);
    assert_eq!(water_level(&[100, 50, 10], 80), 35);
    assert_eq!(water_level(&[40, 40, 40], 30), 30);
    assert_eq!(water_level(&[10, 5], 100), 0);
    assert_eq!(water_level(&[], 1), 0);
    for (sizes, excess) in [(vec![100, 50, 10], 80), (vec![9, 7, 7, 3], 11)] {
        let level = water_level(&sizes, excess);
        let freed: usize = sizes.iter().map(|&s| s.saturating_sub(level)).sum();
        assert!(freed >= excess);
    }
}

#[test]
fn concurrent_ingest_from_many_threads_loses_nothing() {
    const THREADS: i64 = 8;
    const PER_THREAD: i64 = 5_000;
    let cache = cache();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let cache = cache.clone();
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    // Threads interleave timestamps, so every source sees them out of order.
                    let at = NOW - SECOND + i * THREADS + t;
                    cache.ingest(line(&format!("app-{}", i % 3), &at.to_string(), at));
                }
            });
        }
        // Readers run alongside the writers.
        scope.spawn(|| {
            for _ in 0..200 {
                let batch = cache.read("app-0", &everything());
                assert!(batch.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
            }
        });
    });
    let meta = cache.meta();
    let total: u64 = meta.values().map(|m| m.count).sum();
    assert_eq!(total, (THREADS * PER_THREAD) as u64);
    for source in ["app-0", "app-1", "app-2"] {
        let mut query = everything();
        let mut previous = i64::MIN;
        loop {
            let batch = cache.read(source, &query);
            let Some(last) = batch.last() else { break };
            for e in &batch {
                assert!(e.timestamp > previous, "sorted and unique");
                previous = e.timestamp;
                assert_eq!(texts(std::slice::from_ref(e))[0], e.timestamp.to_string());
            }
            query.start_time = last.timestamp + 1;
        }
    }
    assert_eq!(
        cache.bytes(),
        bytes_held(&cache),
        "byte accounting matches what is held"
    );
}

#[test]
fn concurrent_ingest_under_a_memory_cap_keeps_the_accounting_exact() {
    let one = bytes_of_one(line("app-0", "x", 0));
    let cache = cache_with(LogCacheConfig {
        max_per_source: 500,
        max_bytes: 1000 * one,
    });
    thread::scope(|scope| {
        for t in 0..4 {
            let cache = cache.clone();
            scope.spawn(move || {
                for i in 0..20_000 {
                    cache.ingest(line(&format!("app-{}", (i + t) % 5), "x", NOW - SECOND + i));
                }
            });
        }
    });
    assert_eq!(cache.bytes(), bytes_held(&cache));
    assert!(cache.bytes() <= 1000 * one);
    let meta = cache.meta();
    assert!(meta.values().all(|m| m.count <= 500));
}

#[test]
fn metrics_count_ingested_and_evicted_envelopes_and_read_what_is_held() {
    let cache = cache_with(LogCacheConfig {
        max_per_source: 3,
        ..LogCacheConfig::default()
    });
    let metrics = ingot_core::Metrics::new();
    cache.register_metrics(&metrics);
    for i in 1..=5 {
        cache.ingest(line("a", &i.to_string(), NOW - 100 + i));
    }
    cache.ingest(line("b", "kept", NOW - 1));

    let text = metrics.encode();
    let lines: Vec<&str> = text.lines().collect();
    for line in [
        "ingot_log_cache_envelopes_ingested_total 6",
        "ingot_log_cache_envelopes_evicted_total 2",
        "ingot_log_cache_sources 2",
        "ingot_log_cache_envelopes 4",
        &format!("ingot_log_cache_memory_bytes {}", cache.bytes()),
    ] {
        assert!(lines.contains(&line), "{line} in {text}");
    }
}
