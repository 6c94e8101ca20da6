//! Many idle apps on one host: how long they take to create and start, what each costs
//! beyond the app itself (Ingot's own memory and file descriptors, the runtime processes
//! that stay beside every app, the container's init, kernel memory), and how long they
//! take to destroy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use ingot_garden::{Container, ContainerSpec, Garden, Limits, LinuxGarden, ProcessIo, ProcessSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::host::BenchHost;
use super::procfs::{self, Charged, Proc};

pub const APP_PORT: u16 = 8080;
pub const APP_MEMORY: u64 = 64 << 20;
/// What every app runs.
pub const APP_COMMAND: &str = "python3 -m http.server 8080";
/// How long all the apps together may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// Processes of one kind: how many, and their memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Procs {
    pub count: usize,
    pub rss: u64,
    pub pss: u64,
}

impl Procs {
    fn of<'a>(procs: impl IntoIterator<Item = &'a Proc>) -> Self {
        procs.into_iter().fold(Self::default(), |sum, p| Self {
            count: sum.count + 1,
            rss: sum.rss + p.rss,
            pss: sum.pss + p.pss,
        })
    }
}

/// Free memory and what Ingot's own process holds, at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub rss: u64,
    pub fds: usize,
    pub mem_available: u64,
    pub slab: u64,
    /// What the memory cgroup of this process (Ingot and every helper it runs: the
    /// runtime, ip, nft) is charged.
    pub own_cgroup: Charged,
}

impl Snapshot {
    fn now() -> Self {
        Self {
            rss: procfs::own_rss(),
            fds: procfs::own_fds(),
            mem_available: procfs::meminfo("MemAvailable"),
            slab: procfs::meminfo("Slab"),
            own_cgroup: procfs::charged(&procfs::own_memory_cgroup()),
        }
    }
}

pub struct Density {
    pub apps: usize,
    /// Every create and run, one after another.
    pub create_and_run: Duration,
    /// From the first create until the last app answered HTTP.
    pub all_answering: Duration,
    pub destroy: Duration,
    pub before: Snapshot,
    pub running: Snapshot,
    pub destroyed: Snapshot,
    /// Host-side runtime processes (`exec`, which stays the parent of each app process).
    pub runtime: Procs,
    /// Each container's init (the reaping shell and its sleep).
    pub init: Procs,
    pub app: Procs,
    /// What the apps' cgroups are charged, summed.
    pub apps_charged: Charged,
    /// Processes of this one still running after the destroys.
    pub leftover_children: usize,
}

pub async fn measure(
    host: &BenchHost,
    garden: &LinuxGarden,
    apps: usize,
) -> anyhow::Result<Density> {
    let before = Snapshot::now();
    let started = Instant::now();
    let mut containers = Vec::with_capacity(apps);
    for i in 0..apps {
        let container = garden.create(spec(&format!("app-{i}"))).await?;
        start_app(&container).await?;
        containers.push(container);
    }
    let create_and_run = started.elapsed();
    for container in &containers {
        let ip = container.info().await?.container_ip;
        let deadline = started + ANSWER_TIMEOUT;
        answers(&ip, deadline)
            .await
            .with_context(|| format!("app {} at {ip}", container.handle()))?;
    }
    let all_answering = started.elapsed();

    let running = Snapshot::now();
    let all = procfs::processes();
    let marker = format!("/{}/", host.config.cgroup_parent);
    let in_containers: Vec<&Proc> = all
        .iter()
        .filter(|p| p.memory_cgroup.contains(&marker))
        .collect();
    let (app, init): (Vec<&Proc>, Vec<&Proc>) = in_containers
        .iter()
        .partition(|p| p.cmdline.contains("http.server"));
    let runtime = procfs::descendants(&all, std::process::id() as i32)
        .into_iter()
        .filter(|p| !p.memory_cgroup.contains(&marker));
    let mut cgroups: Vec<&str> = in_containers
        .iter()
        .map(|p| p.memory_cgroup.as_str())
        .collect();
    cgroups.sort_unstable();
    cgroups.dedup();
    ensure!(
        cgroups.len() == apps,
        "{} app cgroups for {apps} apps",
        cgroups.len()
    );
    let apps_charged = cgroups
        .iter()
        .map(|c| procfs::charged(c))
        .fold(Charged::default(), Charged::plus);
    let (runtime, init, app) = (Procs::of(runtime), Procs::of(init), Procs::of(app));

    drop(containers);
    let started = Instant::now();
    for i in 0..apps {
        garden.destroy(&format!("app-{i}")).await?;
    }
    let destroy = started.elapsed();
    let destroyed = Snapshot::now();
    let leftover_children =
        procfs::descendants(&procfs::processes(), std::process::id() as i32).len();
    Ok(Density {
        apps,
        create_and_run,
        all_answering,
        destroy,
        before,
        running,
        destroyed,
        runtime,
        init,
        app,
        apps_charged,
        leftover_children,
    })
}

fn spec(handle: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        limits: Limits {
            memory_bytes: Some(APP_MEMORY),
            ..Limits::default()
        },
        ..ContainerSpec::default()
    }
}

async fn start_app(container: &Arc<dyn Container>) -> anyhow::Result<()> {
    let mut words = APP_COMMAND.split(' ').map(str::to_string);
    container
        .run(
            ProcessSpec {
                id: Some("web".into()),
                path: words.next().expect("a command"),
                args: words.collect(),
                ..ProcessSpec::default()
            },
            ProcessIo::default(),
        )
        .await?;
    Ok(())
}

/// Waits until the app at `ip` answers a GET with 200.
async fn answers(ip: &str, deadline: Instant) -> anyhow::Result<()> {
    let addr = format!("{ip}:{APP_PORT}");
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(2), get(&addr)).await;
        match attempt {
            Ok(Ok(status)) if status.starts_with("HTTP/1.0 200") => return Ok(()),
            Ok(Ok(status)) => bail!("answered {status:?}"),
            Ok(Err(_)) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Err(e)) => return Err(e.context("no answer in time")),
            Err(_) => bail!("no answer in time"),
        }
    }
}

/// The status line of `GET /`.
async fn get(addr: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    Ok(response.lines().next().unwrap_or_default().to_string())
}
