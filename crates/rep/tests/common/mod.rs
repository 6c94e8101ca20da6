//! An in-process Diego for the cell's integration tests: the real BBS on a SQLite file in a
//! temp dir, the real process Garden on a temp depot, and one or more cells, loopback only.
//! Dropping the harness kills every process group its containers started, even when a test
//! fails part-way, and removes the temp dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ingot_bbs::{
    Action, ActualLrp, ActualLrpFilter, ActualLrpState, Bbs, BbsApi, BbsConfig, BbsDeps, RunAction,
};
use ingot_core::{DatabaseUrl, Shutdown, SystemClock, UuidIds};
use ingot_garden::{ProcessConfig, ProcessGarden};
use ingot_logging::{LogCache, LogCacheConfig};
use ingot_rep::{Cell, CellConfig, CellDeps, HealthCheckConfig, LocalRepClients, MemoryLogSink};

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub bbs: Bbs,
    pub local: LocalRepClients,
    pub logs: Arc<MemoryLogSink>,
    /// Where the cells' container metrics go.
    pub metrics: LogCache,
    pub cells: Vec<Cell>,
    pub shutdown: Shutdown,
}

pub fn fast_cell_config(cell_id: &str, dir: &Path) -> CellConfig {
    let mut config = CellConfig::new(cell_id);
    config.sync_interval = Duration::from_millis(500);
    config.heartbeat_interval = Duration::from_millis(200);
    config.presence_ttl = Duration::from_secs(3);
    config.metrics_interval = Duration::from_millis(200);
    config.grace_time = Duration::from_secs(2);
    config.health = HealthCheckConfig {
        starting_interval: Duration::from_millis(25),
        healthy_interval: Duration::from_millis(300),
        default_start_timeout: Duration::from_secs(20),
        default_check_timeout: Duration::from_millis(500),
    };
    config.download_cache_dir = Some(dir.join(format!("{cell_id}-cache")));
    config
}

impl Harness {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = Shutdown::new();
        let local = LocalRepClients::new();
        let mut config = BbsConfig::new(DatabaseUrl::sqlite(dir.path().join("bbs.db")));
        config.convergence_interval = Duration::from_secs(1);
        let bbs = Bbs::start(
            config,
            BbsDeps {
                clock: Arc::new(SystemClock),
                ids: Arc::new(UuidIds),
                rep_clients: Arc::new(local.clone()),
            },
            shutdown.clone(),
        )
        .await
        .unwrap();
        let mut harness = Self {
            dir,
            bbs,
            local,
            logs: Arc::new(MemoryLogSink::new()),
            metrics: LogCache::new(LogCacheConfig::default(), Arc::new(SystemClock)),
            cells: Vec::new(),
            shutdown,
        };
        harness.add_cell("cell-1").await;
        harness
    }

    pub fn depot(&self, cell_id: &str) -> PathBuf {
        self.dir.path().join(format!("{cell_id}-depot"))
    }

    /// Starts a cell that the BBS reaches only over HTTP, as in distributed mode: its rep API
    /// is served on a loopback port and it is not in the in-process registry.
    pub async fn add_remote_cell(&mut self, cell_id: &str) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = fast_cell_config(cell_id, self.dir.path());
        config.rep_url = format!("http://{}", listener.local_addr().unwrap());
        let cell = self.start_cell(config, None).await;
        tokio::spawn(ingot_core::serve(
            listener,
            cell.router(),
            self.shutdown.clone(),
        ));
        self.cells.push(cell);
    }

    async fn start_cell(&self, config: CellConfig, local: Option<LocalRepClients>) -> Cell {
        let garden = ProcessGarden::open(ProcessConfig::new(self.depot(&config.cell_id)))
            .await
            .unwrap();
        let deps = CellDeps {
            bbs: Arc::new(self.bbs.clone()),
            garden: Arc::new(garden),
            logs: self.logs.clone(),
            metrics: Arc::new(self.metrics.clone()),
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidIds),
            local_reps: local,
        };
        Cell::start(config, deps, self.shutdown.clone())
            .await
            .unwrap()
    }

    /// Starts a cell (again, for a restart) on its depot; a fresh Garden backend each time,
    /// as after a crash of the whole process.
    pub async fn add_cell(&mut self, cell_id: &str) {
        self.add_cell_with(fast_cell_config(cell_id, self.dir.path()))
            .await;
    }

    /// `add_cell` with a configuration of the test's own (start from `fast_cell_config`).
    pub async fn add_cell_with(&mut self, config: CellConfig) {
        let cell = self.start_cell(config, Some(self.local.clone())).await;
        self.cells.push(cell);
    }

    /// Drains every cell (stopping and destroying its containers), then closes the BBS.
    /// Tests call it at the end; `Drop` is the fallback when a test fails part-way.
    pub async fn finish(mut self) {
        for cell in self.cells.drain(..) {
            cell.drain().await;
        }
        self.bbs.close().await;
    }

    pub fn cell(&self, cell_id: &str) -> &Cell {
        self.cells.iter().find(|c| c.cell_id() == cell_id).unwrap()
    }

    pub async fn actual_lrps(&self, process_guid: &str) -> Vec<ActualLrp> {
        self.bbs
            .actual_lrps(ActualLrpFilter {
                process_guid: process_guid.into(),
                ..ActualLrpFilter::default()
            })
            .await
            .unwrap()
    }

    pub async fn running(&self, process_guid: &str) -> Vec<ActualLrp> {
        self.actual_lrps(process_guid)
            .await
            .into_iter()
            .filter(|l| l.state == ActualLrpState::Running)
            .collect()
    }

    /// The process groups of a container's processes, from the depot's records.
    pub fn pgids(&self, cell_id: &str, handle: &str) -> Vec<i32> {
        pgids_in(&self.depot(cell_id).join(handle))
    }
}

fn pgids_in(container: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(container.join("processes")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("process.json")).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter_map(|v| v["pgid"].as_i64())
        .map(|p| p as i32)
        .collect()
}

pub fn kill_group(pgid: i32) {
    signal_group("KILL", pgid);
}

/// Sends `signal` (a name such as `STOP`) to a process group.
pub fn signal_group(signal: &str, pgid: i32) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Process groups a test stopped (SIGSTOP) so that they hang: SIGKILLed when dropped, even
/// when the test fails part-way or their container's records are gone from the depot.
pub struct StoppedGroups(pub Vec<i32>);

impl StoppedGroups {
    pub fn stop(pgids: Vec<i32>) -> Self {
        let stopped = Self(pgids);
        for pgid in &stopped.0 {
            signal_group("STOP", *pgid);
        }
        stopped
    }
}

impl Drop for StoppedGroups {
    fn drop(&mut self) {
        for pgid in &self.0 {
            kill_group(*pgid);
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // Every container of every depot: kill its process groups.
        let Ok(dirs) = std::fs::read_dir(self.dir.path()) else {
            return;
        };
        for depot in dirs
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().ends_with("-depot"))
        {
            for container in std::fs::read_dir(depot.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                for pgid in pgids_in(&container.path()) {
                    kill_group(pgid);
                }
            }
        }
    }
}

/// The real python interpreter (not a shim script), so its start-up is quick.
pub fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed by these tests");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// An HTTP server on $PORT that answers with its CF_INSTANCE_INDEX.
pub const SERVER: &str = r#"
import os, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["CF_INSTANCE_INDEX"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening on", os.environ["PORT"], flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

pub fn run(path: &str, args: &[&str], log_source: &str) -> Action {
    Action::Run(RunAction {
        path: path.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        user: "vcap".into(),
        log_source: log_source.into(),
        ..RunAction::default()
    })
}
