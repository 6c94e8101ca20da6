//! Helpers for tests against the real process backend: a depot in a temp dir that kills
//! every process group it recorded when dropped (also when a test fails), and polling.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use ingot_garden::{OutputChunk, ProcessConfig, ProcessGarden, ProcessSpec};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::mpsc;

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A temporary depot. Dropping it SIGKILLs every recorded process group, then removes it.
pub struct TestDepot {
    pub dir: tempfile::TempDir,
}

impl TestDepot {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn config(&self) -> ProcessConfig {
        ProcessConfig::new(self.dir.path())
    }

    /// A backend on this depot (a second call simulates a restart).
    pub async fn open(&self) -> ProcessGarden {
        ProcessGarden::open(self.config())
            .await
            .expect("open depot")
    }
}

impl Drop for TestDepot {
    fn drop(&mut self) {
        kill_recorded_groups(self.dir.path());
    }
}

#[derive(serde::Deserialize)]
struct Recorded {
    pgid: i32,
}

fn kill_recorded_groups(depot: &Path) {
    let Ok(containers) = std::fs::read_dir(depot) else {
        return;
    };
    for container in containers.flatten() {
        let Ok(processes) = std::fs::read_dir(container.path().join("processes")) else {
            continue;
        };
        for process in processes.flatten() {
            let Ok(text) = std::fs::read_to_string(process.path().join("process.json")) else {
                continue;
            };
            if let Ok(recorded) = serde_json::from_str::<Recorded>(&text) {
                let _ = killpg(Pid::from_raw(recorded.pgid), Signal::SIGKILL);
            }
        }
    }
}

/// A process spec running a shell script.
pub fn sh(script: &str) -> ProcessSpec {
    ProcessSpec {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        ..ProcessSpec::default()
    }
}

/// Reads output until it contains `needle`; returns everything read.
pub async fn read_until(rx: &mut mpsc::Receiver<OutputChunk>, needle: &str) -> String {
    let mut seen = String::new();
    tokio::time::timeout(TIMEOUT, async {
        while !seen.contains(needle) {
            let chunk = rx.recv().await.expect("stream closed before {needle:?}");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; got {seen:?}"));
    seen
}

/// Whether `pid` is a running (not zombie) process.
pub fn is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}
