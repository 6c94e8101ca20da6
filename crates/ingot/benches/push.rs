//! `cf push` on a warm system, from the first request to the instance RUNNING, broken down by
//! phase, for a binary app and a staticfile app; then a re-push of the unchanged staticfile
//! app, whose upload resource matching should shrink to the few small files.
//!
//! The pushes follow the cf CLI's request sequence (tests/common/push.rs) but poll every
//! 100 ms instead of the CLI's 3 s, so the figures are the platform's, not the CLI's sleeps.
//! Phases inside staging and start come from the timestamps of the app's own log lines in
//! log-cache (the same lines `cf logs` shows).
//!
//! Run with `cargo bench -p ingot --bench push` (needs go on the stack for the binary app).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/stats.rs"]
mod stats;

use std::path::Path;

use common::{Platform, push::sample_app};
use ingot_logging::{Envelope, LogCacheClient, Message, ReadQuery};
use stats::percentile;

const RUNS: usize = 5;

/// One push's phases, in seconds.
#[derive(Debug, Default, Clone)]
struct Phases {
    upload: f64,
    staging_container: f64,
    buildpack: f64,
    droplet_upload: f64,
    scheduling: f64,
    container_start: f64,
    health_check: f64,
    total: f64,
}

const NAMES: [&str; 8] = [
    "upload (match + package + bits)",
    "staging: task placed, container, downloads",
    "staging: buildpack",
    "staging: droplet upload + result",
    "scheduling (start -> container create)",
    "container start (-> start command)",
    "health check (-> healthy)",
    "total, first request -> RUNNING",
];

impl Phases {
    fn values(&self) -> [f64; 8] {
        [
            self.upload,
            self.staging_container,
            self.buildpack,
            self.droplet_upload,
            self.scheduling,
            self.container_start,
            self.health_check,
            self.total,
        ]
    }
}

/// The app's log lines written since `since` (seconds since the epoch), oldest first:
/// (when, source type, text).
async fn log_lines(
    platform: &Platform,
    token: &str,
    app: &str,
    since: f64,
) -> Vec<(f64, String, String)> {
    let client = LogCacheClient::new(platform.log_cache.as_deref().unwrap()).unwrap();
    let mut query = ReadQuery::recent();
    query.descending = false;
    let envelopes: Vec<Envelope> = client.read(app, &query, token).await.unwrap();
    envelopes
        .into_iter()
        .filter(|e| e.timestamp as f64 / 1e9 >= since)
        .filter_map(|e| match &e.message {
            Message::Log(log) => Some((
                e.timestamp as f64 / 1e9,
                e.tags.get("source_type").cloned().unwrap_or_default(),
                String::from_utf8_lossy(&log.payload).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// When the first line matching `source` and `text` was written.
fn at(lines: &[(f64, String, String)], source: &str, text: &str) -> f64 {
    lines
        .iter()
        .find(|(_, s, m)| s.starts_with(source) && m.contains(text))
        .unwrap_or_else(|| panic!("no {source} line containing {text:?}: {lines:#?}"))
        .0
}

/// Lines the Cloud Controller writes itself during staging, not the buildpack.
fn is_buildpack_line((_, source, text): &(f64, String, String)) -> bool {
    source == "STG" && !text.contains("Staging app") && !text.contains("Uploaded droplet")
}

async fn push_once(
    platform: &Platform,
    token: &str,
    space: &str,
    dir: &Path,
    manifest: &str,
) -> (Phases, String, usize) {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let pushed = platform.push(token, space, dir, manifest).await;
    let t = &pushed.timings;
    let lines = log_lines(platform, token, &pushed.guid, since).await;
    let staging_start = at(&lines, "STG", "Staging app");
    let buildpack: Vec<f64> = lines
        .iter()
        .filter(|l| is_buildpack_line(l))
        .map(|l| l.0)
        .collect();
    let (first_bp, last_bp) = (buildpack[0], *buildpack.last().unwrap());
    let staged = at(&lines, "STG", "Uploaded droplet");
    let start_asked = at(&lines, "API", "Restarted app");
    let creating = at(&lines, "CELL", "creating container");
    let started = at(&lines, "APP/PROC/WEB", "Invoking start command");
    let healthy = at(&lines, "CELL", "became healthy");
    let phases = Phases {
        upload: t.upload.as_secs_f64(),
        staging_container: first_bp - staging_start,
        buildpack: last_bp - first_bp,
        droplet_upload: staged - last_bp,
        scheduling: creating - start_asked,
        container_start: started - creating,
        health_check: healthy - started,
        total: (t.manifest + t.upload + t.staging + t.start).as_secs_f64(),
    };
    (phases, pushed.guid, t.uploaded_bytes)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(&values, 0.5)
}

fn report(title: &str, runs: &[Phases]) {
    println!("{title} ({} pushes, median, ms)", runs.len());
    for (i, name) in NAMES.iter().enumerate() {
        let value = median(runs.iter().map(|p| p.values()[i]).collect());
        println!("  {name:<45} {:>8.1}", value * 1000.0);
    }
}

/// The go sample compiled into a directory, as a developer pushes a binary app.
fn binary_app() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(out.path().join("app"))
        .arg(".")
        .current_dir(sample_app("binary"))
        .env("GOPROXY", "off")
        .env("CGO_ENABLED", "0")
        .status()
        .expect("go on the stack");
    assert!(status.success());
    out
}

/// The staticfile sample plus a 4 MiB asset of its own (`seed`), so resource matching has
/// something to save on a re-push and nothing on the first push.
fn static_app(seed: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = sample_app("staticfile");
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(source.join("."))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copy.success());
    // xorshift: incompressible, so the first upload really carries 4 MiB.
    let mut state = u64::from(seed) | 1 << 40;
    let asset: Vec<u8> = (0..4usize << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.path().join("public/asset.bin"), asset).unwrap();
    dir
}

#[tokio::main]
async fn main() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "bench", "push").await;

    // Warm-up: the first staging of a buildpack fills the cell's download cache.
    let binary = binary_app();
    let statics = static_app(u32::MAX);
    // Small instances: the bench pushes 17 apps onto one cell and leaves them running.
    let small = "  memory: 64M\n  disk_quota: 128M\n";
    let warm = format!("  buildpacks: [binary_buildpack]\n  command: ./app\n{small}");
    platform
        .push(
            &token,
            &space,
            binary.path(),
            &format!("applications:\n- name: warm-bin\n{warm}"),
        )
        .await;
    platform
        .push(
            &token,
            &space,
            statics.path(),
            &format!("applications:\n- name: warm-static\n{small}"),
        )
        .await;

    let mut binary_runs = Vec::new();
    let mut static_runs = Vec::new();
    let mut repush = Vec::new();
    for run in 0..RUNS {
        let manifest = format!("applications:\n- name: bin-{run}\n{warm}");
        binary_runs.push(
            push_once(&platform, &token, &space, binary.path(), &manifest)
                .await
                .0,
        );
        let manifest = format!("applications:\n- name: static-{run}\n{small}");
        let fresh = static_app(run as u32);
        let (phases, _, first_bytes) =
            push_once(&platform, &token, &space, fresh.path(), &manifest).await;
        static_runs.push(phases);
        // The same app again, unchanged: only what resource matching cannot match goes up.
        let (phases, _, bytes) =
            push_once(&platform, &token, &space, fresh.path(), &manifest).await;
        repush.push((phases, first_bytes, bytes));
    }
    platform.stop_all_apps(&token).await;
    platform.stop().await;

    report("binary app (binary_buildpack)", &binary_runs);
    report("staticfile app with a 4 MiB asset", &static_runs);
    let repush_phases: Vec<Phases> = repush.iter().map(|r| r.0.clone()).collect();
    report("re-push of the unchanged staticfile app", &repush_phases);
    let (_, first, again) = repush[0];
    println!(
        "  uploaded zip: first push {:.1} KiB, re-push {:.1} KiB",
        first as f64 / 1024.0,
        again as f64 / 1024.0
    );
    let uploads = |runs: &[Phases]| median(runs.iter().map(|p| p.upload).collect()) * 1000.0;
    println!(
        "  upload phase: first push {:.1} ms, re-push {:.1} ms",
        uploads(&static_runs),
        uploads(&repush_phases)
    );
}
