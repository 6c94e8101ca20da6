//! The tables: one section per runtime, and a summary across runtimes.

use std::fmt::Write;
use std::time::Duration;

use super::density::{APP_COMMAND, APP_MEMORY, Density};
use super::latency::{self, Latency};
use super::stats::{Series, Summary};

/// Ingot's create may cost at most this much more than the bare runtime's.
pub const OVERHEAD_TARGET_PERCENT: f64 = 20.0;

/// Everything measured with one runtime.
pub struct RuntimeRun {
    pub name: String,
    pub version: String,
    pub warmup: usize,
    pub latency: Latency,
    pub density: Density,
    /// What was left once Ingot had destroyed everything and removed its network.
    pub leaks: Vec<String>,
    pub cgroup_parents: Vec<String>,
}

impl RuntimeRun {
    fn overhead(&self, ingot: &str, bare: &str) -> Overhead {
        let s = &self.latency.series;
        Overhead {
            ingot: s.summary(ingot),
            bare: s.summary(bare),
        }
    }
}

/// Ingot's series against the bare runtime's.
struct Overhead {
    ingot: Summary,
    bare: Summary,
}

impl Overhead {
    fn percent(ingot: f64, bare: f64) -> f64 {
        (ingot / bare - 1.0) * 100.0
    }

    fn line(&self) -> String {
        let (i, b) = (&self.ingot, &self.bare);
        format!(
            "{:.2}x ({:+.0}%, {:+.1} ms) by p50, {:.2}x ({:+.0}%, {:+.1} ms) by mean",
            i.p50 / b.p50,
            Self::percent(i.p50, b.p50),
            i.p50 - b.p50,
            i.mean / b.mean,
            Self::percent(i.mean, b.mean),
            i.mean - b.mean,
        )
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1u64 << 20) as f64)
}

fn signed_mib(bytes: f64) -> String {
    format!("{:+.2} MiB", bytes / (1u64 << 20) as f64)
}

fn row(out: &mut String, s: &Series, name: &str) {
    let m = s.summary(name);
    let _ = writeln!(
        out,
        "  {name:<46} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
        m.p50, m.p90, m.mean, m.max
    );
}

/// One runtime's section.
pub fn section(run: &RuntimeRun) -> String {
    let mut out = String::new();
    let s = &run.latency.series;
    let _ = writeln!(
        out,
        "== {} ({}) ==\n\nCreate + start latency, N={} sequential (after {} warm-up rounds)",
        run.name,
        run.version,
        s.len(latency::CREATE),
        run.warmup
    );
    let _ = writeln!(
        out,
        "  {:<46} {:>8} {:>8} {:>8} {:>8}",
        "ms", "p50", "p90", "mean", "max"
    );
    let create = run.overhead(latency::CREATE, latency::BARE_RUN);
    let first = run.overhead(latency::FIRST_PROCESS, latency::BARE_FIRST_PROCESS);
    let destroy = run.overhead(latency::DESTROY, latency::BARE_DELETE);
    for (ingot, bare, overhead) in [
        (latency::CREATE, latency::BARE_RUN, &create),
        (latency::FIRST_PROCESS, latency::BARE_FIRST_PROCESS, &first),
        (latency::DESTROY, latency::BARE_DELETE, &destroy),
    ] {
        row(&mut out, s, ingot);
        row(&mut out, s, bare);
        let _ = writeln!(out, "    Ingot overhead: {}", overhead.line());
    }
    row(&mut out, s, latency::BARE_KILL_DELETE);
    let percent = Overhead::percent(create.ingot.p50, create.bare.p50);
    let verdict = if percent < OVERHEAD_TARGET_PERCENT {
        "met"
    } else {
        "MISSED"
    };
    let _ = writeln!(
        out,
        "  Create overhead target (< {OVERHEAD_TARGET_PERCENT}% over the bare runtime, p50): \
         {verdict} ({percent:+.0}%)"
    );
    let _ = writeln!(
        out,
        "  (bare: a copy of Ingot's config.json, own cgroup each, sharing the rootfs\n   \
         {} and netns {} of an Ingot container)",
        run.latency.bare_rootfs.display(),
        run.latency.bare_netns.display()
    );

    let _ = writeln!(
        out,
        "\nWhere the time goes: Ingot's steps replayed from outside, in its order, each timed"
    );
    for name in latency::REPLAY_CREATE
        .iter()
        .chain(&[latency::NETNS_ADD, latency::REPLAY_CREATE_TOTAL])
        .chain(&latency::REPLAY_DESTROY)
        .chain(&[latency::REPLAY_DESTROY_TOTAL])
    {
        row(&mut out, s, name);
    }
    // Medians: a single stall (the disk, other work on the host) moves a mean a lot.
    let p50 = |name: &str| s.summary(name).p50;
    let [overlay, plug, configure, nft, config, fresh_run] = latency::REPLAY_CREATE.map(p50);
    let _ = writeln!(
        out,
        "  Ingot's extra create time (p50s, ms): {:+.1} = overlay {overlay:.1} \
         + config.json {config:.1}\n    \
         + the runtime on a fresh rootfs and netns {:+.1} + Ingot's own work {:+.1} \
         (create - replayed total: etc files, state JSON, spawning, bookkeeping)\n    \
         (off the path: the network, ip {plug:.1} + ip -n {configure:.1}, is prepared ahead; \
         nft {nft:.1} runs while the runtime starts)",
        create.ingot.p50 - create.bare.p50,
        fresh_run - create.bare.p50,
        create.ingot.p50 - p50(latency::REPLAY_CREATE_TOTAL),
    );
    let [delete, nft, ip, overlay] = latency::REPLAY_DESTROY.map(p50);
    let _ = writeln!(
        out,
        "  Ingot's extra destroy time (p50s, ms): {:+.1} = nft {nft:.1} + ip {ip:.1} \
         + overlay {overlay:.1} + the runtime's delete of that container {:+.1}\n    \
         + Ingot's own work {:+.1} (destroy - replayed total: stopping processes, rm -r)",
        destroy.ingot.p50 - destroy.bare.p50,
        delete - destroy.bare.p50,
        destroy.ingot.p50 - p50(latency::REPLAY_DESTROY_TOTAL),
    );

    out.push_str(&density_table(&run.density));
    let _ = writeln!(
        out,
        "\nLeft behind once everything was destroyed and the network removed"
    );
    if run.leaks.is_empty() {
        let _ = writeln!(
            out,
            "  nothing: no mounts, runtime state, netns, veths, bridge, nft table or container cgroups"
        );
    }
    for leak in &run.leaks {
        let _ = writeln!(out, "  LEAK {leak}");
    }
    if !run.cgroup_parents.is_empty() {
        let _ = writeln!(
            out,
            "  (the empty cgroup parent stays in {} hierarchies: Ingot never removes it)",
            run.cgroup_parents.len()
        );
    }
    out
}

fn density_table(d: &Density) -> String {
    let mut out = String::new();
    let n = d.apps as f64;
    let per = |bytes: f64| mib(bytes / n);
    let signed_per = |bytes: i64| signed_mib(bytes as f64 / n);
    let secs = |t: Duration| t.as_secs_f64();
    let _ = writeln!(
        out,
        "\n{} idle apps (`{APP_COMMAND}`, {} MiB memory limit each)",
        d.apps,
        APP_MEMORY >> 20
    );
    let _ = writeln!(
        out,
        "  create + run all, sequential          {:>7.1} s ({:.0} ms per app)\n  \
         until every app answered HTTP 200     {:>7.1} s\n  \
         destroy all, sequential               {:>7.1} s ({:.0} ms per app)",
        secs(d.create_and_run),
        secs(d.create_and_run) * 1e3 / n,
        secs(d.all_answering),
        secs(d.destroy),
        secs(d.destroy) * 1e3 / n
    );
    let (before, running, after) = (&d.before, &d.running, &d.destroyed);
    let rss_growth = running.rss as i64 - before.rss as i64;
    let _ = writeln!(
        out,
        "  Ingot's RSS (this process)            {} before, {} running, {} after destroy: {:+.1} KiB per app",
        mib(before.rss as f64),
        mib(running.rss as f64),
        mib(after.rss as f64),
        rss_growth as f64 / 1024.0 / n
    );
    let _ = writeln!(
        out,
        "  Ingot's open fds                      {} before, {} running, {} after destroy: {:+.2} per app",
        before.fds,
        running.fds,
        after.fds,
        (running.fds as f64 - before.fds as f64) / n
    );
    let _ = writeln!(
        out,
        "  Per app                                    processes          RSS          PSS"
    );
    for (what, procs) in [
        ("runtime exec, host side (Ingot's)", d.runtime),
        ("container init: sh + sleep (Ingot's)", d.init),
        ("the app itself", d.app),
    ] {
        let _ = writeln!(
            out,
            "    {what:<40} {:>7.2} {:>12} {:>12}",
            procs.count as f64 / n,
            per(procs.rss as f64),
            per(procs.pss as f64)
        );
    }
    let apps = &d.apps_charged;
    let [own_anon, own_file, own_kernel] = running.own_cgroup.growth(&before.own_cgroup);
    let _ = writeln!(
        out,
        "  Memory cgroups, per app                   anon         file cache   kernel\n    \
         the app's own (app + init)         {:>12} {:>12} {:>12}\n    \
         Ingot's (growth: it, runtime exec, ip, nft) {:>6} {:>12} {:>12}",
        per(apps.anon as f64),
        per(apps.file as f64),
        per(apps.kernel as f64),
        signed_per(own_anon),
        signed_per(own_file),
        signed_per(own_kernel),
    );
    let available_drop = before.mem_available as i64 - running.mem_available as i64;
    let uncharged = available_drop - apps.unreclaimable() as i64 - (own_anon + own_kernel);
    let _ = writeln!(
        out,
        "  MemAvailable drop                     {} per app (Slab {} per app)\n  \
         charged to no cgroup                  {} per app (the drop - anon and kernel memory \
         charged above; host-wide, so noisy)\n  \
         kernel-side total                     {} per app (the app's cgroup kernel + Ingot's \
         cgroup kernel + uncharged)",
        signed_per(available_drop),
        signed_per(running.slab as i64 - before.slab as i64),
        signed_per(uncharged),
        signed_per(apps.kernel as i64 + own_kernel + uncharged),
    );
    let _ = writeln!(
        out,
        "  Ingot's overhead per app              {} (its RSS growth + runtime exec PSS + init PSS)",
        signed_per(rss_growth + d.runtime.pss as i64 + d.init.pss as i64)
    );
    let _ = writeln!(
        out,
        "  processes of Ingot's left after destroying them all: {}",
        d.leftover_children
    );
    out
}

/// One line per runtime.
pub fn summary(runs: &[RuntimeRun]) -> String {
    let mut out = String::from("Summary (p50 ms unless noted)\n");
    let _ = writeln!(
        out,
        "  {:<10} {:>8} {:>8} {:>9} {:>10} {:>9} {:>15} {:>13}",
        "runtime",
        "create",
        "bare",
        "overhead",
        "1st proc",
        "destroy",
        "Ingot mem/app",
        "all apps up"
    );
    for run in runs {
        let s = &run.latency.series;
        let create = run.overhead(latency::CREATE, latency::BARE_RUN);
        let d = &run.density;
        let overhead =
            d.running.rss as i64 - d.before.rss as i64 + d.runtime.pss as i64 + d.init.pss as i64;
        let _ = writeln!(
            out,
            "  {:<10} {:>8.1} {:>8.1} {:>8.0}% {:>10.1} {:>9.1} {:>15} {:>11.1} s",
            run.name,
            create.ingot.p50,
            create.bare.p50,
            Overhead::percent(create.ingot.p50, create.bare.p50),
            s.summary(latency::FIRST_PROCESS).p50,
            s.summary(latency::DESTROY).p50,
            mib(overhead as f64 / d.apps as f64),
            d.all_answering.as_secs_f64()
        );
    }
    out
}
