//! From an app writing a log line to a streaming reader (`cf logs APP`) receiving it.
//!
//! A pushed python app writes numbered, time-stamped lines to stdout and stderr on request
//! (`GET /log?n=N`); three readers follow the app's logs at once, each over log-cache's HTTP
//! API like the cf CLI:
//! - "cf CLI": the CLI's walk, polling every 250 ms and holding back the newest 2 s;
//! - "cf CLI polling, no hold-back": the same polling without the hold-back;
//! - "5 ms polling, no hold-back": close to the platform's own path, cell to log-cache.
//!
//! Per line it reports the latency from the app's write to each reader's receipt, and to the
//! envelope's timestamp (when the cell read the line from the app's pipe).
//!
//! Run with `cargo bench -p ingot --bench log_latency`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/stats.rs"]
mod stats;

use std::time::{Duration, UNIX_EPOCH};

use common::{Platform, push::sample_app};
use ingot_logging::{LogCacheClient, LogWalk, Message, WalkOptions};
use stats::percentile;

/// Requests, each writing one line to stdout and one to stderr.
const REQUESTS: usize = 200;
const REQUEST_EVERY: Duration = Duration::from_millis(20);

fn now_ns() -> i64 {
    i64::try_from(UNIX_EPOCH.elapsed().unwrap().as_nanos()).unwrap()
}

/// Follows the app until it has seen `lines` app lines; returns (written at, stamped at,
/// received at) in ns for each.
async fn follow(mut walk: LogWalk, token: String, lines: usize) -> Vec<(i64, i64, i64)> {
    let mut seen = Vec::with_capacity(lines);
    while seen.len() < lines {
        let batch = walk.next_batch(&token).await.expect("streaming read");
        let received = now_ns();
        for envelope in batch {
            let Message::Log(log) = &envelope.message else {
                continue;
            };
            let text = String::from_utf8_lossy(&log.payload);
            if let Some(written) = text
                .strip_prefix("log line ")
                .and_then(|rest| rest.rsplit(' ').next())
                .and_then(|ns| ns.parse::<i64>().ok())
            {
                seen.push((written, envelope.timestamp, received));
            }
        }
    }
    seen
}

fn report(name: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    println!(
        "{name:<44} p50 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
        percentile(&millis, 0.5),
        percentile(&millis, 0.99),
        millis[millis.len() - 1],
    );
}

#[tokio::main]
async fn main() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "bench", "logs").await;
    let manifest = "applications:\n- name: chatty\n  default-route: true\n";
    let app = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await
        .guid;
    let client = LogCacheClient::new(platform.log_cache.as_deref().unwrap()).unwrap();

    let readers = [
        (
            "cf CLI (250 ms polls, 2 s hold-back)",
            WalkOptions::default(),
        ),
        (
            "cf CLI polling, no hold-back",
            WalkOptions {
                hold_back: Duration::ZERO,
                ..WalkOptions::default()
            },
        ),
        (
            "5 ms polling, no hold-back",
            WalkOptions {
                poll_interval: Duration::from_millis(5),
                hold_back: Duration::ZERO,
            },
        ),
    ];
    let start = now_ns();
    let followers: Vec<_> = readers
        .iter()
        .map(|(_, options)| {
            let walk = LogWalk::new(client.clone(), &app, start, *options);
            tokio::spawn(follow(walk, token.clone(), 2 * REQUESTS))
        })
        .collect();

    let mut ticker = tokio::time::interval(REQUEST_EVERY);
    for _ in 0..REQUESTS {
        ticker.tick().await;
        let (status, _) = platform
            .via_router("chatty.apps.localhost", "/log?n=1")
            .await;
        assert!(status.is_success());
    }

    println!(
        "app write -> reader receipt, {} lines ({REQUESTS} requests every {} ms, stdout + stderr)",
        2 * REQUESTS,
        REQUEST_EVERY.as_millis()
    );
    let ms = |ns: i64| ns as f64 / 1e6;
    for ((name, _), follower) in readers.iter().zip(followers) {
        let seen = tokio::time::timeout(Duration::from_secs(60), follower)
            .await
            .expect("reader finished")
            .unwrap();
        if name.starts_with("5 ms") {
            report(
                "app write -> envelope stamped on the cell",
                seen.iter().map(|(w, s, _)| ms(s - w)).collect(),
            );
        }
        report(name, seen.iter().map(|(w, _, r)| ms(r - w)).collect());
    }
    platform.stop().await;
}
