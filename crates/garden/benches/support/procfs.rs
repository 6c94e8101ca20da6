//! What /proc and the memory cgroups say: processes with their memory, the host's free
//! memory, and what a cgroup is charged (user and kernel memory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One process, as /proc shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub cmdline: String,
    /// Its memory cgroup, relative to the hierarchy's root (e.g. `/ingot/<handle>`).
    pub memory_cgroup: String,
    pub rss: u64,
    /// Proportional set size: shared pages divided among their users.
    pub pss: u64,
}

/// Every process on the host (kernel threads have no memory and are left out).
pub fn processes() -> Vec<Proc> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process)
        .filter(|p| !p.cmdline.is_empty())
        .collect()
}

fn process(pid: i32) -> Option<Proc> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The command name is in parentheses and may contain anything; ppid is 2 fields after.
    let ppid = stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let cgroups = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
    let smaps = std::fs::read_to_string(dir.join("smaps_rollup")).unwrap_or_default();
    Some(Proc {
        pid,
        ppid,
        cmdline: cmdline.trim().to_string(),
        memory_cgroup: memory_cgroup_of(&cgroups).unwrap_or_default(),
        rss: kib_field(&smaps, "Rss:"),
        pss: kib_field(&smaps, "Pss:"),
    })
}

/// The memory cgroup in /proc/<pid>/cgroup text: the v1 memory controller's line, else the
/// unified (v2) one.
fn memory_cgroup_of(text: &str) -> Option<String> {
    let line = |wanted: &dyn Fn(&str) -> bool| {
        text.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            wanted(controllers).then(|| path.to_string())
        })
    };
    line(&|c| c.split(',').any(|c| c == "memory")).or_else(|| line(&|c| c.is_empty()))
}

/// The pids descended from `ancestor` (not itself).
pub fn descendants(all: &[Proc], ancestor: i32) -> Vec<&Proc> {
    let parents: BTreeMap<i32, i32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    all.iter()
        .filter(|p| {
            let mut pid = p.ppid;
            // Bounded: a pid's ancestry is finite, but /proc changes under us.
            for _ in 0..64 {
                if pid == ancestor {
                    return true;
                }
                match parents.get(&pid) {
                    Some(&parent) if parent != pid => pid = parent,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

fn kib_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// A field of /proc/meminfo, in bytes.
pub fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    kib_field(&text, &format!("{key}:"))
}

/// This process's resident memory.
pub fn own_rss() -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    kib_field(&text, "VmRSS:")
}

/// File descriptors this process has open.
pub fn own_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// What a memory cgroup (with its children) is charged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Charged {
    /// Anonymous memory: heaps and stacks of its processes.
    pub anon: u64,
    /// Page cache, which the kernel can mostly drop (MemAvailable counts it as free).
    pub file: u64,
    /// Kernel memory: slab, stacks, page tables, socket buffers.
    pub kernel: u64,
}

impl Charged {
    /// What the host cannot take back: anonymous and kernel memory.
    pub fn unreclaimable(&self) -> u64 {
        self.anon + self.kernel
    }

    pub fn plus(self, other: Self) -> Self {
        Self {
            anon: self.anon + other.anon,
            file: self.file + other.file,
            kernel: self.kernel + other.kernel,
        }
    }

    /// The growth from `before` to `self`, per field (negative when it shrank).
    pub fn growth(&self, before: &Self) -> [i64; 3] {
        let d = |a: u64, b: u64| a as i64 - b as i64;
        [
            d(self.anon, before.anon),
            d(self.file, before.file),
            d(self.kernel, before.kernel),
        ]
    }
}

/// What the memory cgroup `path` (as in [`Proc::memory_cgroup`]) is charged, on v1 or v2.
pub fn charged(path: &str) -> Charged {
    let relative = path.trim_start_matches('/');
    let v1 = Path::new("/sys/fs/cgroup/memory").join(relative);
    if v1.join("memory.stat").exists() {
        let stat = std::fs::read_to_string(v1.join("memory.stat")).unwrap_or_default();
        return Charged {
            anon: stat_field(&stat, "total_rss"),
            file: stat_field(&stat, "total_cache"),
            kernel: read_u64(&v1.join("memory.kmem.usage_in_bytes")),
        };
    }
    let v2 = Path::new("/sys/fs/cgroup").join(relative);
    let stat = std::fs::read_to_string(v2.join("memory.stat")).unwrap_or_default();
    Charged {
        anon: stat_field(&stat, "anon"),
        file: stat_field(&stat, "file"),
        kernel: stat_field(&stat, "kernel"),
    }
}

/// One `key value` line of a flat-keyed cgroup file.
fn stat_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// This process's own memory cgroup.
pub fn own_memory_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    memory_cgroup_of(&text).unwrap_or_default()
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}
