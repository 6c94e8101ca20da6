//! The linux backend against its OCI runtime, as root:
//!
//! 1. create+start latency of Ingot's `create` against the bare runtime's `run --detach` of
//!    an equivalent bundle (a copy of one Ingot wrote), time to a first process and destroy,
//!    with a create's steps replayed from outside to show where Ingot's extra time goes;
//! 2. many idle apps on one host: time to create, start and destroy them, and what each
//!    costs Ingot (its memory, the runtime processes beside every app, kernel memory).
//!
//! `cargo bench -p ingot-garden --bench linux`. Runs with runc, and crun if installed;
//! `INGOT_OCI_RUNTIME` picks one. `INGOT_BENCH_ITERATIONS` (30) and `INGOT_BENCH_APPS` (100)
//! size it. The tables are printed and written to `target/bench-linux.txt`. Network traffic
//! stays on the benchmark's own bridge; everything it makes is removed, after a panic too.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ingot_garden::LinuxGarden;
use ingot_garden::linux::unavailable_reason;
use support::host::BenchHost;
use support::report::{self, RuntimeRun};
use support::{density, latency};

/// Unrecorded rounds first: the first create makes the host stack's skeleton.
const WARMUP: usize = 3;

fn main() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("linux: skipped, the linux backend needs root");
        return Ok(());
    }
    let iterations = env_number("INGOT_BENCH_ITERATIONS", 30)?;
    let apps = env_number("INGOT_BENCH_APPS", 100)?;
    let runtimes: Vec<PathBuf> = match std::env::var_os("INGOT_OCI_RUNTIME") {
        Some(runtime) => vec![runtime.into()],
        None => ["runc", "crun"].map(PathBuf::from).to_vec(),
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let load_before = load_average();
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for (index, runtime) in runtimes.iter().enumerate() {
        if let Some(reason) = unavailable_reason(runtime) {
            skipped.push(format!("{}: {reason}", runtime.display()));
            continue;
        }
        eprintln!("linux: measuring with {}", runtime.display());
        let host = BenchHost::new(runtime, index as u32)?;
        let run = tokio.block_on(measure(&host, runtime, iterations, apps))?;
        // The host's guard removes anything left behind, which `run.leaks` has reported.
        drop(host);
        runs.push(run);
    }

    let mut text = format!(
        "Garden linux backend benchmark: kernel {}, {} CPUs, load average {} before, {} after, {:.0} s\n\n",
        first_line(Path::new("/proc/sys/kernel/osrelease")),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_average(),
        started.elapsed().as_secs_f64()
    );
    for run in &runs {
        text.push_str(&report::section(run));
        text.push('\n');
    }
    for skip in &skipped {
        text.push_str(&format!("skipped {skip}\n"));
    }
    text.push_str(&report::summary(&runs));
    print!("{text}");
    let path = target_dir()?.join("bench-linux.txt");
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("linux: written to {}", path.display());
    Ok(())
}

async fn measure(
    host: &BenchHost,
    runtime: &Path,
    iterations: usize,
    apps: usize,
) -> anyhow::Result<RuntimeRun> {
    let garden = LinuxGarden::open(host.config.clone()).await?;
    let latency = latency::measure(host, &garden, iterations, WARMUP).await?;
    let density = density::measure(host, &garden, apps).await?;
    garden.remove_network().await?;
    drop(garden);
    Ok(RuntimeRun {
        name: runtime.display().to_string(),
        version: version(runtime),
        warmup: WARMUP,
        latency,
        density,
        leaks: host.leaks(),
        cgroup_parents: host
            .cgroup_parents()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    })
}

fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value.parse().with_context(|| format!("{name}={value:?}")),
        Err(_) => Ok(default),
    }
}

/// The first line of `<runtime> --version`.
fn version(runtime: &Path) -> String {
    std::process::Command::new(runtime)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

fn first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn load_average() -> String {
    let text = first_line(Path::new("/proc/loadavg"));
    text.split(' ').take(3).collect::<Vec<_>>().join(" ")
}

/// The target directory this benchmark was built in: its binary is `<target>/<profile>/deps/<name>`.
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .context("the benchmark binary is not in a target directory")
}
