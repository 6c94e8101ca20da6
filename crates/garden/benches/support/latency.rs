//! Create+start latency: Ingot's `create` against the bare runtime's `run --detach` of an
//! equivalent bundle, the time to a first process, and destroy against `delete`. To see
//! where Ingot's extra time goes, a replay does a create's steps from outside, in Ingot's
//! order, timing each. Every round measures every series, each after a short pause so the
//! kernel's leftover work from the step before does not land on it, and load from elsewhere
//! on the host falls on all series alike.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use ingot_garden::linux::NetworkConfig;
use ingot_garden::{
    Container, ContainerSpec, ExitStatus, Garden, LinuxGarden, ProcessIo, ProcessSpec,
};

use super::host::BenchHost;
use super::outside::{self, BareRuntime, Site, Veth};
use super::stats::Series;

pub const CREATE: &str = "Ingot create (to init running)";
pub const BARE_RUN: &str = "bare run --detach + state";
pub const FIRST_PROCESS: &str = "Ingot create + run /bin/true to exit";
pub const BARE_FIRST_PROCESS: &str = "bare run + state + exec /bin/true";
pub const DESTROY: &str = "Ingot destroy";
pub const BARE_DELETE: &str = "bare delete --force";
pub const BARE_KILL_DELETE: &str = "bare kill KILL, wait for exit, delete";

/// The replay of a create, step by step, and its total.
pub const REPLAY_CREATE: [&str; 6] = [
    "overlay mkdir + mount",
    "ip -batch (netns, veth pair, bridge port), ahead",
    "ip -n <netns> -batch (eth0, address, route), ahead",
    "nft -f (chain, verdict map element), beside the runtime",
    "write config.json",
    "run --detach + state (fresh rootfs, netns)",
];
/// Steps of the replayed create that are off Ingot's create path, left out of the total:
/// the network is prepared ahead, and the firewall chain is added while the runtime starts.
pub const REPLAY_OFF_PATH: [usize; 3] = [1, 2, 3];
pub const REPLAY_CREATE_TOTAL: &str = "replayed create, total (steps on the path)";
/// The first `ip` step's namespace alone.
pub const NETNS_ADD: &str = "  of the ip -batch: ip netns add alone";
/// The replay of a destroy, step by step, and its total.
pub const REPLAY_DESTROY: [&str; 4] = [
    "SIGKILL init, wait, delete --force",
    "nft -f (remove chain)",
    "ip netns delete",
    "overlay umount + rm -r",
];
pub const REPLAY_DESTROY_TOTAL: &str = "replayed destroy, total";

/// One round may not take longer than this (one takes 1 to 3 s).
const ROUND_TIMEOUT: Duration = Duration::from_secs(120);
/// The pause before each timed step: tearing down a network namespace goes on in the
/// kernel after `ip` returns.
const SETTLE: Duration = Duration::from_millis(100);

pub struct Latency {
    pub series: Series,
    /// The root file system and network namespace the bare runs share with Ingot's
    /// template container.
    pub bare_rootfs: PathBuf,
    pub bare_netns: PathBuf,
}

/// Measures `iterations` rounds after `warmup` unrecorded ones.
pub async fn measure(
    host: &BenchHost,
    garden: &LinuxGarden,
    iterations: usize,
    warmup: usize,
) -> anyhow::Result<Latency> {
    // The bare runs use the bundle, root file system and network namespace of this one.
    let template = garden.create(spec("template")).await?;
    run_true(&template, Some("probe")).await?;
    let mut bare = BareRuntime::copy_of(
        &host.config.runtime,
        host.bare_root(),
        &host.config.depot.join("template"),
        "probe",
        &host.dir.path().join("bare"),
    )?;
    let (bare_rootfs, bare_netns) = bare.template_paths()?;
    let mut replay = Replay::new(host);
    let mut series = Series::default();
    for i in 0..warmup + iterations {
        let round = Round {
            host,
            garden,
            bare: &mut bare,
            template: (&bare_rootfs, &bare_netns),
            replay: &mut replay,
            samples: Vec::new(),
        };
        let samples = tokio::time::timeout(ROUND_TIMEOUT, round.run(i))
            .await
            .context("a round timed out")??;
        if i >= warmup {
            for (name, sample) in samples {
                series.record(name, sample);
            }
        }
    }
    drop(template);
    garden.destroy("template").await?;
    Ok(Latency {
        series,
        bare_rootfs,
        bare_netns,
    })
}

/// A container on the default stack, without limits.
fn spec(handle: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        ..ContainerSpec::default()
    }
}

async fn run_true(container: &Arc<dyn Container>, id: Option<&str>) -> anyhow::Result<()> {
    let process = container
        .run(
            ProcessSpec {
                id: id.map(str::to_string),
                path: "/bin/true".into(),
                ..ProcessSpec::default()
            },
            ProcessIo::default(),
        )
        .await?;
    let status = process.wait().await?;
    ensure!(
        status == ExitStatus::Exited(0),
        "/bin/true ended with {status:?}"
    );
    Ok(())
}

/// One of each measurement, in the same order every time.
struct Round<'a> {
    host: &'a BenchHost,
    garden: &'a LinuxGarden,
    bare: &'a mut BareRuntime,
    template: (&'a PathBuf, &'a PathBuf),
    replay: &'a mut Replay,
    samples: Vec<(&'static str, Duration)>,
}

impl Round<'_> {
    /// Pauses, then starts timing a step.
    async fn start(&self) -> Instant {
        tokio::time::sleep(SETTLE).await;
        Instant::now()
    }

    fn record(&mut self, name: &'static str, started: Instant) {
        self.samples.push((name, started.elapsed()));
    }

    async fn run(mut self, i: usize) -> anyhow::Result<Vec<(&'static str, Duration)>> {
        let garden = self.garden;
        let handle = format!("create-{i}");
        let started = self.start().await;
        garden.create(spec(&handle)).await?;
        self.record(CREATE, started);
        let started = self.start().await;
        garden.destroy(&handle).await?;
        self.record(DESTROY, started);

        let handle = format!("first-{i}");
        let started = self.start().await;
        let container = garden.create(spec(&handle)).await?;
        run_true(&container, None).await?;
        self.record(FIRST_PROCESS, started);
        garden.destroy(&handle).await?;

        let (rootfs, netns) = self.template;
        let parent = &self.host.config.cgroup_parent;
        let id = format!("bare-{i}");
        self.bare.prepare(&Site {
            rootfs,
            netns,
            cgroups_path: &format!("/{parent}/{id}"),
        })?;
        let started = self.start().await;
        self.bare.run(&id).await?;
        self.record(BARE_RUN, started);
        let started = self.start().await;
        self.bare.delete(&id).await?;
        self.record(BARE_DELETE, started);
        let id = format!("bare-kill-{i}");
        self.bare.prepare(&Site {
            rootfs,
            netns,
            cgroups_path: &format!("/{parent}/{id}"),
        })?;
        let init = self.bare.run(&id).await?;
        let started = self.start().await;
        self.bare.kill_then_delete(&id, init).await?;
        self.record(BARE_KILL_DELETE, started);

        let id = format!("bare-first-{i}");
        self.bare.prepare(&Site {
            rootfs,
            netns,
            cgroups_path: &format!("/{parent}/{id}"),
        })?;
        let pid_file = self.host.dir.path().join("bare/true.pid");
        let started = self.start().await;
        self.bare.run(&id).await?;
        self.bare.exec_true(&id, &pid_file).await?;
        self.record(BARE_FIRST_PROCESS, started);
        self.bare.delete(&id).await?;

        tokio::time::sleep(SETTLE).await;
        let id = format!("replay-{i}");
        let steps = self
            .replay
            .create(self.bare, &id, &format!("/{parent}/{id}"))
            .await?;
        self.samples
            .extend(REPLAY_CREATE.iter().copied().zip(steps));
        let on_the_path = steps
            .iter()
            .enumerate()
            .filter(|(i, _)| !REPLAY_OFF_PATH.contains(i))
            .map(|(_, d)| *d)
            .sum();
        self.samples.push((REPLAY_CREATE_TOTAL, on_the_path));
        tokio::time::sleep(SETTLE).await;
        let steps = self.replay.destroy(self.bare, &id).await?;
        self.steps(&REPLAY_DESTROY, REPLAY_DESTROY_TOTAL, steps);
        tokio::time::sleep(SETTLE).await;
        let made = self.replay.veth.namespace_alone().await?;
        self.samples.push((NETNS_ADD, made));
        Ok(self.samples)
    }

    fn steps<const N: usize>(
        &mut self,
        names: &[&'static str; N],
        total: &'static str,
        steps: [Duration; N],
    ) {
        self.samples.extend(names.iter().copied().zip(steps));
        self.samples.push((total, steps.iter().sum()));
    }
}

/// A container made and taken apart from outside Ingot, in the backend's order, on an
/// overlay, namespace and firewall chain of its own.
struct Replay {
    lower: PathBuf,
    dir: PathBuf,
    network: NetworkConfig,
    ip: Ipv4Addr,
    veth: Veth,
    chain: (String, String),
    merged: PathBuf,
    init: i32,
}

impl Replay {
    fn new(host: &BenchHost) -> Self {
        let network = host.config.network.clone();
        // The subnet's last host: Ingot hands out the lowest free address first.
        let subnet = network.subnet;
        let ip = Ipv4Addr::from(u32::from(subnet.network) + (1 << (32 - subnet.prefix)) - 2);
        let dir = host.dir.path().join("replay");
        Self {
            lower: host.config.state_dir.join("host-stack"),
            merged: dir.join("rootfs"),
            dir,
            veth: Veth::new(&network, ip),
            chain: outside::chain_scripts(&network, ip),
            network,
            ip,
            init: 0,
        }
    }

    async fn create(
        &mut self,
        bare: &mut BareRuntime,
        id: &str,
        cgroups_path: &str,
    ) -> anyhow::Result<[Duration; 6]> {
        let mut lap = Lap::new();
        self.merged = outside::mount_overlay(&self.lower, &self.dir)?;
        let overlay = lap.next();
        self.veth.plug(&self.network).await?;
        let plug = lap.next();
        self.veth.configure(&self.network, self.ip).await?;
        let configure = lap.next();
        outside::nft(&self.chain.0).await?;
        let nft = lap.next();
        bare.prepare(&Site {
            rootfs: &self.merged,
            netns: &self.veth.netns_path(),
            cgroups_path,
        })?;
        let bundle = lap.next();
        self.init = bare.run(id).await?;
        Ok([overlay, plug, configure, nft, bundle, lap.next()])
    }

    async fn destroy(&mut self, bare: &BareRuntime, id: &str) -> anyhow::Result<[Duration; 4]> {
        let mut lap = Lap::new();
        bare.signal_init_then_delete(id, self.init).await?;
        let delete = lap.next();
        outside::nft(&self.chain.1).await?;
        let nft = lap.next();
        self.veth.detach().await?;
        let ip = lap.next();
        outside::unmount_overlay(&self.merged, &self.dir)?;
        Ok([delete, nft, ip, lap.next()])
    }
}

/// Consecutive laps of a stopwatch.
struct Lap(Instant);

impl Lap {
    fn new() -> Self {
        Self(Instant::now())
    }

    /// The time since the last lap.
    fn next(&mut self) -> Duration {
        let now = Instant::now();
        let lap = now - self.0;
        self.0 = now;
        lap
    }
}
