//! Runs the real `ingot` binary on fixed ports (so token issuer URLs and the cell's address stay
//! the same across a restart), reading its banner for the endpoints.

use std::{path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub struct Ports {
    pub api: u16,
    pub uaa: u16,
    pub bbs: u16,
    pub router: u16,
    pub log_cache: u16,
}

impl Ports {
    pub fn free() -> Self {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        Self {
            api: port(),
            uaa: port(),
            bbs: port(),
            router: port(),
            log_cache: port(),
        }
    }
}

pub struct Running {
    child: Child,
    pub api: String,
    pub uaa: String,
    pub bbs: String,
    pub router: String,
}

pub async fn start(data_dir: &Path, ports: &Ports) -> Running {
    let addr = |port: u16| format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingot"))
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args([
            "--api-addr",
            &addr(ports.api),
            "--uaa-addr",
            &addr(ports.uaa),
            "--bbs-addr",
            &addr(ports.bbs),
            "--router-addr",
            &addr(ports.router),
            "--log-cache-addr",
            &addr(ports.log_cache),
            // These tests are about the process backend; containers have their own.
            "--garden-backend",
            "process",
        ])
        .env("INGOT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api, mut uaa, mut bbs, mut router) = (None, None, None, None);
    tokio::time::timeout(Duration::from_secs(60), async {
        while api.is_none() || uaa.is_none() || bbs.is_none() || router.is_none() {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("ingot exited before printing its endpoints");
            let line = line.trim();
            for (prefix, slot) in [
                ("API endpoint:", &mut api),
                ("UAA endpoint:", &mut uaa),
                ("BBS endpoint:", &mut bbs),
                ("router:", &mut router),
            ] {
                if let Some(rest) = line.strip_prefix(prefix) {
                    *slot = rest.split_whitespace().next().map(str::to_owned);
                }
            }
        }
    })
    .await
    .expect("ingot printed its endpoints within 60 s");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        api: api.unwrap(),
        uaa: uaa.unwrap(),
        bbs: bbs.unwrap(),
        router: router.unwrap(),
    }
}

impl Running {
    /// SIGKILL: no graceful shutdown at all.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, and wait for a clean exit.
    pub async fn terminate(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id().unwrap() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("ingot stops within 30 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "ingot exited with {status}");
    }
}

/// Kills every app process the process Garden backend started under `data_dir`, whatever
/// state a failed test left them in. Apps run in their own process groups and outlive ingot.
pub struct AppProcessGuard(pub std::path::PathBuf);

impl Drop for AppProcessGuard {
    fn drop(&mut self) {
        let Ok(containers) = std::fs::read_dir(self.0.join("garden")) else {
            return;
        };
        for container in containers.flatten() {
            let Ok(processes) = std::fs::read_dir(container.path().join("processes")) else {
                continue;
            };
            for process in processes.flatten() {
                let record = std::fs::read_to_string(process.path().join("process.json"))
                    .unwrap_or_default();
                let pid = serde_json::from_str::<serde_json::Value>(&record)
                    .ok()
                    .and_then(|v| v["pgid"].as_i64());
                if let Some(pid) = pid {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}
