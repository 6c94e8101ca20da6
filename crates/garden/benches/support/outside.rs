//! The pieces of a container create, done from outside Ingot so each can be timed alone:
//! the bare OCI runtime on a copy of a bundle Ingot wrote, the overlay mount, the `ip`
//! batches that make the network namespace and veth pair, and the `nft` script that adds a
//! container's chain. The commands are the ones the backend runs for a container without
//! net-out rules (see src/linux/network.rs and firewall.rs); keep them in step.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use ingot_garden::linux::NetworkConfig;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The runtime without Ingot: containers from a copy of one of Ingot's bundles, in a state
/// directory of their own.
pub struct BareRuntime {
    binary: PathBuf,
    root: PathBuf,
    bundle: PathBuf,
    config: serde_json::Value,
    /// A process spec Ingot wrote for `/bin/true`.
    process: PathBuf,
}

/// Where a bundle's container lives: what differs between two copies of one bundle.
pub struct Site<'a> {
    pub rootfs: &'a Path,
    pub netns: &'a Path,
    pub cgroups_path: &'a str,
}

impl BareRuntime {
    /// Copies the bundle of the container at `container_dir` and the spec of its process
    /// `process_id` into `dir`.
    pub fn copy_of(
        binary: &Path,
        root: PathBuf,
        container_dir: &Path,
        process_id: &str,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(&bundle)?;
        std::fs::create_dir_all(&root)?;
        let config = container_dir.join("bundle/config.json");
        let config: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&config).with_context(|| format!("reading {}", config.display()))?,
        )?;
        let process = dir.join("true.json");
        std::fs::copy(
            container_dir
                .join("processes")
                .join(process_id)
                .join("spec.json"),
            &process,
        )
        .context("copying the process spec")?;
        Ok(Self {
            binary: binary.to_path_buf(),
            root,
            bundle,
            config,
            process,
        })
    }

    /// The root file system and network namespace of the bundle copied.
    pub fn template_paths(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let rootfs = self.config["root"]["path"].as_str();
        let netns = self.network_namespace().and_then(|n| n["path"].as_str());
        match (rootfs, netns) {
            (Some(rootfs), Some(netns)) => Ok((rootfs.into(), netns.into())),
            _ => bail!("the bundle names no root file system or network namespace"),
        }
    }

    fn network_namespace(&self) -> Option<&serde_json::Value> {
        self.config["linux"]["namespaces"]
            .as_array()?
            .iter()
            .find(|n| n["type"] == "network")
    }

    /// Writes the bundle for a container at `site`, the rest as Ingot wrote it.
    pub fn prepare(&mut self, site: &Site) -> anyhow::Result<()> {
        self.config["root"]["path"] = site.rootfs.display().to_string().into();
        self.config["linux"]["cgroupsPath"] = site.cgroups_path.into();
        let namespaces = self.config["linux"]["namespaces"]
            .as_array_mut()
            .context("the bundle has no namespaces")?;
        for namespace in namespaces.iter_mut().filter(|n| n["type"] == "network") {
            namespace["path"] = site.netns.display().to_string().into();
        }
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.config)?,
        )?;
        Ok(())
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--root")
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// `run --detach`, then `state` until it says running (it does at once: `run` returns
    /// once the init runs). Returns the init's pid.
    pub async fn run(&self, id: &str) -> anyhow::Result<i32> {
        // The init inherits `run`'s streams: a pipe would never close, so a file it is.
        let log_path = self.bundle.join("runtime.log");
        let log = std::fs::File::create(&log_path)?;
        let started = Instant::now();
        let status = self
            .command()
            .args(["run", "--detach", "--bundle"])
            .arg(&self.bundle)
            .arg(id)
            .stderr(log)
            .status()
            .await?;
        if !status.success() {
            bail!("run {id}: {}", std::fs::read_to_string(&log_path)?.trim());
        }
        loop {
            let mut state = self.command();
            state.args(["state", id]).stdout(Stdio::piped());
            let output = check(state, "state").await?;
            let state: serde_json::Value = serde_json::from_slice(&output)?;
            if state["status"] == "running" {
                return state["pid"]
                    .as_i64()
                    .map(|pid| pid as i32)
                    .context("state has no pid");
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "{id} never ran"
            );
        }
    }

    /// `exec` of Ingot's `/bin/true` process spec, to its exit.
    pub async fn exec_true(&self, id: &str, pid_file: &Path) -> anyhow::Result<()> {
        let mut exec = self.command();
        exec.arg("exec")
            .arg("--process")
            .arg(&self.process)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        check(exec, "exec").await.map(drop)
    }

    pub async fn delete(&self, id: &str) -> anyhow::Result<()> {
        let mut delete = self.command();
        delete.args(["delete", "--force", id]);
        check(delete, "delete").await.map(drop)
    }

    /// Ingot's destroy: SIGKILL the init from the host, watch /proc until it is gone, then
    /// `delete --force` (which finds it stopped and does not wait).
    pub async fn signal_init_then_delete(&self, id: &str, init: i32) -> anyhow::Result<()> {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(init),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let started = Instant::now();
        while is_running(init) {
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "{id} survived SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.delete(id).await
    }

    /// A destroy that does not wait on the runtime's schedule: `kill` the init (which takes
    /// the whole pid namespace with it), watch /proc until it is gone, then `delete`.
    pub async fn kill_then_delete(&self, id: &str, init: i32) -> anyhow::Result<()> {
        let mut kill = self.command();
        kill.args(["kill", id, "KILL"]);
        check(kill, "kill").await?;
        let started = Instant::now();
        while is_running(init) {
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "{id} survived SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut delete = self.command();
        delete.args(["delete", id]);
        check(delete, "delete").await.map(drop)
    }
}

/// Whether `pid` exists and is not a zombie.
fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next());
        !matches!(state, Some("Z" | "X"))
    })
}

/// Runs `command` to completion; its stdout, or its stderr as the error.
async fn check(mut command: Command, what: &str) -> anyhow::Result<Vec<u8>> {
    let output = command.output().await.with_context(|| what.to_string())?;
    if !output.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

/// A container's overlay on `lower` under `dir`: the directories and the mount, as the
/// backend makes them.
pub fn mount_overlay(lower: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("rootfs"));
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d)?;
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .context("mounting the overlay")?;
    Ok(merged)
}

/// Detaches the overlay and removes the container's directory, as a destroy does.
pub fn unmount_overlay(merged: &Path, dir: &Path) -> anyhow::Result<()> {
    umount2(merged, MntFlags::MNT_DETACH).context("unmounting the overlay")?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// One container's network pieces under names of the backend's pattern.
pub struct Veth {
    netns: String,
    host: String,
}

impl Veth {
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }

    pub fn new(network: &NetworkConfig, ip: Ipv4Addr) -> Self {
        let id = format!("{:08x}", u32::from(ip));
        Self {
            netns: format!("{}-{id}", network.bridge),
            host: format!("iv{id}"),
        }
    }

    /// The backend's first `ip -batch`: the namespace, and the veth pair with its host end
    /// on the bridge and its peer made in the namespace as eth0.
    pub async fn plug(&self, network: &NetworkConfig) -> anyhow::Result<()> {
        let (netns, host) = (&self.netns, &self.host);
        ip_batch(
            &[],
            &[
                format!("netns add {netns}"),
                format!("link add {host} type veth peer name eth0 netns {netns}"),
                format!("link set {host} master {}", network.bridge),
                format!("link set {host} type bridge_slave isolated on"),
                format!("link set {host} up"),
            ],
        )
        .await
    }

    /// The second, `ip -n <netns> -batch`: eth0, its address and the default route (Ingot
    /// runs it while the runtime starts the init; the replay times it alone).
    pub async fn configure(&self, network: &NetworkConfig, ip: Ipv4Addr) -> anyhow::Result<()> {
        let prefix = network.subnet.prefix;
        ip_batch(
            &["-n", &self.netns],
            &[
                format!("addr add {ip}/{prefix} dev eth0"),
                "link set lo up".into(),
                "link set eth0 up".into(),
                format!("route add default via {}", network.subnet.gateway()),
            ],
        )
        .await
    }

    /// Deleting the namespace takes the veth pair with it (in the background); a host end
    /// still there is deleted, as the backend does.
    pub async fn detach(&self) -> anyhow::Result<()> {
        ip_batch(&[], &[format!("netns delete {}", self.netns)]).await?;
        if Path::new("/sys/class/net").join(&self.host).exists() {
            let _ = ip_batch(&[], &[format!("link delete {}", self.host)]).await;
        }
        Ok(())
    }

    /// Only the namespace, made and deleted: what creating one costs on its own.
    pub async fn namespace_alone(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        ip_batch(&[], &[format!("netns add {}", self.netns)]).await?;
        let made = started.elapsed();
        ip_batch(&[], &[format!("netns delete {}", self.netns)]).await?;
        Ok(made)
    }
}

async fn ip_batch(args: &[&str], commands: &[String]) -> anyhow::Result<()> {
    let mut ip = Command::new("ip");
    ip.args(args).args(["-batch", "-"]);
    feed(ip, &commands.join("\n")).await.context("ip")
}

/// The nft scripts of a container's chain: added, then removed.
pub fn chain_scripts(network: &NetworkConfig, ip: Ipv4Addr) -> (String, String) {
    let (t, c) = (
        format!("ingot_{}", network.bridge),
        format!("c_{:08x}", u32::from(ip)),
    );
    (
        format!(
            "add chain ip {t} {c}\n\
             add rule ip {t} {c} meta l4proto tcp reject with tcp reset\n\
             add rule ip {t} {c} reject with icmp type admin-prohibited\n\
             add element ip {t} egress {{ {ip} : jump {c} }}\n"
        ),
        format!(
            "delete element ip {t} egress {{ {ip} }}\n\
             flush chain ip {t} {c}\n\
             delete chain ip {t} {c}\n"
        ),
    )
}

/// `nft -f -` with `script`.
pub async fn nft(script: &str) -> anyhow::Result<()> {
    let mut nft = Command::new("nft");
    nft.args(["-f", "-"]);
    feed(nft, script).await.context("nft")
}

/// Runs `command` with `input` on its stdin, to a successful exit.
async fn feed(mut command: Command, input: &str) -> anyhow::Result<()> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}
