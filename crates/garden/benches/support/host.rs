//! A linux backend of the benchmark's own: a temp dir, bridge, subnet and cgroup parent that
//! no other user of the host shares, a check for anything left behind, and a guard that
//! takes it all apart when dropped, after a panic too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ingot_garden::LinuxConfig;
use ingot_garden::linux::{NetworkConfig, Subnet};

pub struct BenchHost {
    pub dir: tempfile::TempDir,
    pub config: LinuxConfig,
}

impl BenchHost {
    /// A host for run number `index` of this process (one per runtime). The subnets sit
    /// below the 10.200-249 range the integration tests use.
    pub fn new(runtime: &Path, index: u32) -> anyhow::Result<Self> {
        let pid = std::process::id();
        let dir = tempfile::Builder::new().prefix("ingot-bench-").tempdir()?;
        let mut config = LinuxConfig::new(dir.path().join("depot"), dir.path().join("state"));
        config.runtime = runtime.to_path_buf();
        config.network = NetworkConfig {
            bridge: format!("igb{}{index}", pid % 100_000),
            subnet: Subnet::parse(&format!("10.{}.{}.0/24", 190 + index % 10, pid % 250))
                .map_err(anyhow::Error::msg)?,
        };
        config.cgroup_parent = format!("ingot-bench-{pid}-{index}");
        Ok(Self { dir, config })
    }

    /// The state directory of containers run on the bare runtime, without Ingot.
    pub fn bare_root(&self) -> PathBuf {
        self.dir.path().join("bare-root")
    }

    fn runtime_roots(&self) -> [PathBuf; 2] {
        [self.config.state_dir.join("runtime"), self.bare_root()]
    }

    fn netns_prefix(&self) -> String {
        format!("{}-", self.config.network.bridge)
    }

    /// The prefix of the host veth names of this subnet's addresses (`iv` + hex address).
    fn veth_prefix(&self) -> String {
        let network = u32::from(self.config.network.subnet.network);
        format!("iv{:06x}", network >> 8)
    }

    fn table(&self) -> String {
        format!("ingot_{}", self.config.network.bridge)
    }

    /// Everything of this host still present, one line per kind; empty when clean.
    pub fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        let mut note = |what: &str, items: Vec<String>| {
            if !items.is_empty() {
                leaks.push(format!("{what}: {}", items.join(", ")));
            }
        };
        note("mounts", mounts_under(self.dir.path()));
        for root in self.runtime_roots() {
            note(
                &format!("runtime state in {}", root.display()),
                names_in(&root, ""),
            );
        }
        note(
            "network namespaces",
            names_in(Path::new("/run/netns"), &self.netns_prefix()),
        );
        let mut links = names_in(Path::new("/sys/class/net"), &self.veth_prefix());
        if Path::new("/sys/class/net")
            .join(&self.config.network.bridge)
            .exists()
        {
            links.push(self.config.network.bridge.clone());
        }
        note("links", links);
        let tables = output("nft", &["list", "tables"]);
        if tables
            .lines()
            .any(|l| l.trim() == format!("table ip {}", self.table()))
        {
            note("nftables", vec![self.table()]);
        }
        let cgroups = cgroup_parents(&self.config.cgroup_parent)
            .iter()
            .flat_map(|parent| {
                names_in(parent, "")
                    .into_iter()
                    .filter(|name| parent.join(name).is_dir())
                    .map(|name| parent.join(name).display().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        note("cgroups", cgroups);
        leaks
    }

    /// The cgroup parent directories that exist (Ingot makes them and never removes them).
    pub fn cgroup_parents(&self) -> Vec<PathBuf> {
        cgroup_parents(&self.config.cgroup_parent)
    }
}

impl Drop for BenchHost {
    fn drop(&mut self) {
        let run = |program: &str, args: &[&str]| {
            let _ = Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        // The bare runtime's containers first: they use the backend's mounts, namespace and
        // cgroup parent, which the purge then removes.
        let runtime = self.config.runtime.display().to_string();
        let root = self.bare_root().display().to_string();
        for id in names_in(Path::new(&root), "") {
            run(&runtime, &["--root", &root, "delete", "--force", &id]);
        }
        ingot_garden::linux::purge(&self.config);
        // What the purge does not know: the replay's overlay (outside the depot) and a veth
        // pair left half made.
        for point in mounts_under(self.dir.path()) {
            run("umount", &["-l", &point]);
        }
        for link in names_in(Path::new("/sys/class/net"), &self.veth_prefix()) {
            run("ip", &["link", "delete", &link]);
        }
    }
}

/// Mount points at or under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points
}

/// The names in `dir` starting with `prefix`.
fn names_in(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// `parent` in every cgroup hierarchy where it exists.
fn cgroup_parents(parent: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|controller| controller.path().join(parent))
        .collect();
    dirs.push(Path::new("/sys/fs/cgroup").join(parent));
    dirs.retain(|dir| dir.is_dir());
    dirs
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
