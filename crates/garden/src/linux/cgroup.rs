//! Reading a container's cgroup: memory, CPU, and whether the OOM killer struck. Works on
//! cgroup v1 (the memory and cpuacct controllers) and v2 (the unified hierarchy).

use std::path::{Path, PathBuf};

/// The cgroup directories of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cgroup {
    V1 { memory: PathBuf, cpuacct: PathBuf },
    V2 { dir: PathBuf },
}

/// What the cgroup reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Memory in use, without the page cache the kernel can drop (inactive files).
    pub memory_bytes: u64,
    pub cpu_ns: u64,
    /// How many times the OOM killer killed a process of the cgroup.
    pub oom_kills: u64,
}

/// Where each controller's hierarchy is mounted, from /proc/self/mountinfo text.
fn mount_point(mountinfo: &str, controller: Option<&str>) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mut after = after.split(' ');
        let fstype = after.next()?;
        let options = after.nth(1)?;
        let point = before.split(' ').nth(4)?;
        let wanted = match controller {
            None => fstype == "cgroup2",
            Some(c) => fstype == "cgroup" && options.split(',').any(|o| o == c),
        };
        wanted.then(|| PathBuf::from(point))
    })
}

impl Cgroup {
    /// The cgroup of `pid` (the container's init), from /proc/<pid>/cgroup.
    pub fn of_pid(pid: i32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Self::parse(&text, &mountinfo)
    }

    fn parse(cgroup: &str, mountinfo: &str) -> Option<Self> {
        let path_of = |name: &str| {
            cgroup.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let matches = if name.is_empty() {
                    controllers.is_empty()
                } else {
                    controllers.split(',').any(|c| c == name)
                };
                matches.then(|| path.trim_start_matches('/').to_string())
            })
        };
        if let (Some(memory), Some(cpuacct)) = (path_of("memory"), path_of("cpuacct")) {
            return Some(Self::V1 {
                memory: mount_point(mountinfo, Some("memory"))?.join(memory),
                cpuacct: mount_point(mountinfo, Some("cpuacct"))?.join(cpuacct),
            });
        }
        let unified = path_of("")?;
        Some(Self::V2 {
            dir: mount_point(mountinfo, None)?.join(unified),
        })
    }

    pub fn usage(&self) -> Usage {
        match self {
            Self::V1 { memory, cpuacct } => Usage {
                memory_bytes: read_u64(&memory.join("memory.usage_in_bytes"))
                    .saturating_sub(stat(&memory.join("memory.stat"), "total_inactive_file")),
                cpu_ns: read_u64(&cpuacct.join("cpuacct.usage")),
                oom_kills: stat(&memory.join("memory.oom_control"), "oom_kill"),
            },
            Self::V2 { dir } => Usage {
                memory_bytes: read_u64(&dir.join("memory.current"))
                    .saturating_sub(stat(&dir.join("memory.stat"), "inactive_file")),
                cpu_ns: stat(&dir.join("cpu.stat"), "usage_usec") * 1_000,
                oom_kills: stat(&dir.join("memory.events"), "oom_kill"),
            },
        }
    }
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// One `key value` line of a flat-keyed cgroup file.
fn stat(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,nosuid - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_controllers_are_found_in_a_hybrid_layout() {
        let cgroup = "4:memory:/ingot/h\n2:cpuacct:/ingot/h\n0::/ingot/h\n";
        assert_eq!(
            Cgroup::parse(cgroup, MOUNTINFO),
            Some(Cgroup::V1 {
                memory: "/sys/fs/cgroup/memory/ingot/h".into(),
                cpuacct: "/sys/fs/cgroup/cpuacct/ingot/h".into(),
            })
        );
    }

    #[test]
    fn v2_uses_the_unified_hierarchy() {
        let mountinfo = "40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Cgroup::parse("0::/ingot/h\n", mountinfo),
            Some(Cgroup::V2 {
                dir: "/sys/fs/cgroup/ingot/h".into()
            })
        );
    }

    #[test]
    fn flat_keyed_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.oom_control");
        std::fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(stat(&file, "oom_kill"), 2);
        assert_eq!(stat(&file, "missing"), 0);
    }
}
