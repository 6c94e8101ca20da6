//! The default stack (bookworm with every package the built-in buildpacks need) built three
//! ways, in a fresh data directory: cold (no package cache, no stack), warm (already built: a
//! no-op) and forced (a rebuild from the package cache).
//!
//! Run with `INGOT_STACK_MIRROR=<Debian mirror URL> cargo bench -p ingot-stack --bench
//! stack_build` as root with debootstrap installed. The cold build downloads every package
//! from that mirror, so the mirror is never implied: name one you mean to use (e.g. a package
//! cache on loopback). The data directory is `INGOT_STACK_BENCH_DIR` if set, else a temporary
//! one, and is deleted afterwards.

use std::time::{Duration, Instant};

use ingot_stack::{BuildOptions, Progress, build};

#[tokio::main]
async fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("stack_build: skipped, building a stack needs root");
        return;
    }
    let Ok(mirror) = std::env::var("INGOT_STACK_MIRROR") else {
        eprintln!(
            "stack_build: skipped, set INGOT_STACK_MIRROR to the Debian mirror to download from"
        );
        return;
    };
    let data = match std::env::var_os("INGOT_STACK_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary data directory");
    let mut options = BuildOptions::new(data.path());
    options.mirror = Some(mirror);

    let mut times = Vec::new();
    for (label, force) in [("cold", false), ("warm", false), ("forced", true)] {
        options.force = force;
        let mut output_lines = 0usize;
        let started = Instant::now();
        let outcome = build(&options, &mut |progress| match progress {
            Progress::Step(step) => eprintln!("[{label}] {step}"),
            Progress::Output(_) => output_lines += 1,
        })
        .await
        .unwrap_or_else(|err| panic!("{label} build: {err}"));
        let elapsed = started.elapsed();
        eprintln!(
            "[{label}] {:.1} s, {output_lines} lines of output, {} MB",
            elapsed.as_secs_f64(),
            outcome.stack.size_bytes / 1_000_000
        );
        times.push((label, elapsed, outcome.reused));
    }

    let cache = data.path().join("stacks/.cache/debs");
    let cached = std::fs::read_dir(&cache).map_or(0, |entries| entries.count());
    println!(
        "stack build ({} packages, {cached} .debs cached):",
        options.packages.len()
    );
    for (label, elapsed, reused) in times {
        println!(
            "  {label:<7} {:>8}{}",
            seconds(elapsed),
            if reused {
                "  (no-op: already built)"
            } else {
                ""
            }
        );
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.2} s", elapsed.as_secs_f64())
}
