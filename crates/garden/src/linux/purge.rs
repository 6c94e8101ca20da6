//! Removing everything a linux backend with a given configuration may have made, without
//! a running backend: for a host that stops running containers, and for tests, which must
//! leave nothing behind even when they fail half-way.

use std::path::Path;
use std::process::{Command, Stdio};

use super::Config;
use super::network;

fn run(program: &Path, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Best effort, synchronous, and safe to call twice: deletes the runtime's containers (and
/// with them every process in them and their cgroups), unmounts everything under the depot,
/// deletes the namespaces, the bridge and the firewall table, and the cgroup parent.
pub fn purge(config: &Config) {
    let state = config.state_dir.join("runtime");
    let state_arg = state.display().to_string();
    for entry in std::fs::read_dir(&state).into_iter().flatten().flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        run(
            &config.runtime,
            &["--root", &state_arg, "delete", "--force", &id],
        );
    }
    for mount in super::rootfs::mounts_under(&config.depot).unwrap_or_default() {
        let _ = super::rootfs::unmount(&mount);
    }
    for name in network::namespaces(&config.network) {
        run(Path::new("ip"), &["netns", "delete", &name]);
    }
    let bridge = &config.network.bridge;
    if Path::new("/sys/class/net").join(bridge).exists() {
        run(Path::new("ip"), &["link", "delete", bridge]);
    }
    run(
        Path::new("nft"),
        &[
            "delete",
            "table",
            "ip",
            &super::firewall::table(&config.network),
        ],
    );
    for controller in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let parent = controller
            .path()
            .join(config.cgroup_parent.trim_matches('/'));
        for child in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(child.path());
        }
        let _ = std::fs::remove_dir(&parent);
    }
}
