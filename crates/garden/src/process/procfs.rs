//! Reads processes' state from /proc: process group, start time, CPU and memory.
//!
//! The start time (clock ticks since boot) tells a recorded pid apart from a later process
//! that reused the number.

use std::fs;

/// /proc reports CPU times in USER_HZ, which Linux fixes at 100 for user space.
pub(crate) const TICKS_PER_SECOND: u64 = 100;

/// The fields of /proc/<pid>/stat this backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub pid: i32,
    pub state: char,
    pub pgid: i32,
    /// utime + stime + cutime + cstime, in ticks.
    pub cpu_ticks: u64,
    pub start_time: u64,
}

impl Stat {
    /// A zombie (or dead) process has exited and only waits to be reaped.
    pub fn is_running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// A process group this backend started: the leader's pid is the group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Group {
    pub pgid: i32,
    /// The leader's start time; members started no earlier than it.
    pub start_time: u64,
}

pub(crate) fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    // The command name sits in parentheses and may itself contain spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 of proc(5), so field n is `fields[n - 3]`.
    let field = |n: usize| fields.get(n - 3).copied();
    let number = |n: usize| field(n)?.parse::<u64>().ok();
    Some(Stat {
        pid,
        state: field(3)?.chars().next()?,
        pgid: field(5)?.parse().ok()?,
        cpu_ticks: number(14)? + number(15)? + number(16)? + number(17)?,
        start_time: number(22)?,
    })
}

pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

pub(crate) fn parse_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident memory of one process; 0 if it is gone or has none (kernel threads, zombies).
pub(crate) fn rss_bytes(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| parse_rss_bytes(&s))
        .unwrap_or(0)
}

/// Every running process in one of `groups`.
pub(crate) fn group_members(groups: &[Group]) -> Vec<Stat> {
    if groups.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .filter(|s| {
            s.is_running()
                && groups
                    .iter()
                    .any(|g| g.pgid == s.pgid && s.start_time >= g.start_time)
        })
        .collect()
}

/// Total memory of the host, from /proc/meminfo.
pub(crate) fn mem_total_bytes() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_an_awkward_command_name() {
        let text = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 12345 1000 10";
        let stat = parse_stat(42, text).unwrap();
        assert_eq!(
            stat,
            Stat {
                pid: 42,
                state: 'S',
                pgid: 42,
                cpu_ticks: 13,
                start_time: 12345
            }
        );
        assert!(stat.is_running());
    }

    #[test]
    fn zombies_are_not_running() {
        let text = "7 (sh) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0";
        assert!(!parse_stat(7, text).unwrap().is_running());
    }

    #[test]
    fn rejects_truncated_stat() {
        assert_eq!(parse_stat(1, "1 (init) S 0"), None);
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn parses_rss() {
        let status = "Name:\tsh\nVmPeak:\t 100 kB\nVmRSS:\t    1536 kB\n";
        assert_eq!(parse_rss_bytes(status), Some(1536 * 1024));
        assert_eq!(parse_rss_bytes("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let me = std::process::id() as i32;
        assert!(stat(me).unwrap().is_running());
        assert!(rss_bytes(me) > 0);
        assert!(mem_total_bytes().unwrap() > 0);
    }
}
