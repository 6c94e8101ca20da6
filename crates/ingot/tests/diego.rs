//! Diego through `ingot up`'s BBS API, with the real binary: an LRP's instances run on the local
//! cell and answer HTTP; a killed instance is replaced; after `ingot` itself is SIGKILLed and
//! started again, the desired state is intact and the instances are re-adopted or restarted.

mod common;

use std::time::{Duration, Instant};

use common::binary::{self, AppProcessGuard, Ports};
use ingot_bbs::{
    Action, ActualLrp, ActualLrpFilter, ActualLrpState, BbsApi, BbsClient, Check, CheckDefinition,
    DesiredLrp, DesiredLrpFilter, DesiredLrpUpdate, RunAction, TcpCheck,
};

const WAIT: Duration = Duration::from_secs(60);
const HOST: &str = "web-app.apps.test";

/// Answers every GET with its instance index.
const SERVER: &str = r#"
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
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

fn web_lrp(instances: u32) -> DesiredLrp {
    DesiredLrp {
        process_guid: "web-app".into(),
        domain: "test-apps".into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::Run(RunAction {
            path: "python3".into(),
            args: vec!["-c".into(), SERVER.into()],
            user: "vcap".into(),
            log_source: "APP/PROC/WEB".into(),
            ..RunAction::default()
        })),
        check_definition: Some(CheckDefinition {
            checks: vec![Check::TcpCheck(TcpCheck {
                port: 8080,
                connect_timeout_ms: 500,
            })],
            log_source: String::new(),
        }),
        ports: vec![8080],
        memory_mb: 64,
        disk_mb: 64,
        log_guid: "web-app".into(),
        log_source: "APP/PROC/WEB".into(),
        start_timeout_ms: 30_000,
        routes: [(
            "cf-router".to_owned(),
            serde_json::json!([{"hostnames": [HOST], "port": 8080}]),
        )]
        .into(),
        ..DesiredLrp::default()
    }
}

async fn running(bbs: &BbsClient) -> Vec<ActualLrp> {
    let filter = ActualLrpFilter {
        process_guid: "web-app".into(),
        ..ActualLrpFilter::default()
    };
    let mut lrps: Vec<_> = bbs
        .actual_lrps(filter)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|lrp| lrp.state == ActualLrpState::Running)
        .collect();
    lrps.sort_by_key(|lrp| lrp.index);
    lrps
}

/// Polls until `count` instances are RUNNING and each answers HTTP with its own index.
async fn wait_for_running(bbs: &BbsClient, count: usize) -> Vec<ActualLrp> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lrps = running(bbs).await;
        if lrps.len() == count && answers_with_index(&lrps).await {
            return lrps;
        }
        assert!(
            Instant::now() < deadline,
            "{count} instances RUNNING and answering within {WAIT:?}; have {lrps:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn answers_with_index(lrps: &[ActualLrp]) -> bool {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    for lrp in lrps {
        let Some(port) = lrp.net_info.ports.first().map(|p| p.host_port) else {
            return false;
        };
        let body = match http
            .get(format!("http://{}:{port}/", lrp.net_info.address))
            .send()
            .await
        {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => return false,
        };
        if body != lrp.index.to_string() {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lrps_survive_instance_crashes_and_an_ingot_sigkill() {
    let data_dir = tempfile::tempdir().unwrap();
    let _apps = AppProcessGuard(data_dir.path().to_path_buf());
    let ports = Ports::free();
    let first = binary::start(data_dir.path(), &ports).await;
    let bbs = BbsClient::new(&first.bbs).unwrap();

    bbs.upsert_domain("test-apps", Duration::from_secs(600))
        .await
        .unwrap();
    bbs.desire_lrp(web_lrp(2)).await.unwrap();
    let before = wait_for_running(&bbs, 2).await;
    assert_router_reaches(&first.router, &["0", "1"]).await;

    // Kill one instance's process group: the cell reports the crash and it is replaced.
    let pgid = instance_pgid(data_dir.path(), &before[0].instance_guid)
        .expect("the instance's process record");
    let killed_at = Instant::now();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let after_crash = loop {
        let lrps = running(&bbs).await;
        if lrps.len() == 2
            && lrps
                .iter()
                .all(|l| l.instance_guid != before[0].instance_guid)
            && answers_with_index(&lrps).await
        {
            break lrps;
        }
        assert!(
            killed_at.elapsed() < WAIT,
            "the killed instance was not replaced: {lrps:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "crash -> replacement RUNNING and answering: {:?}",
        killed_at.elapsed()
    );

    // SIGKILL ingot itself: the apps keep running; the next start finds them again.
    first.kill().await;
    let second = binary::start(data_dir.path(), &ports).await;
    let bbs = BbsClient::new(&second.bbs).unwrap();
    let desired = bbs.desired_lrps(DesiredLrpFilter::default()).await.unwrap();
    assert_eq!(desired.len(), 1);
    assert_eq!(desired[0].instances, 2);
    let restarted = wait_for_running(&bbs, 2).await;
    assert_router_reaches(&second.router, &["0", "1"]).await;
    let readopted = restarted
        .iter()
        .filter(|l| {
            after_crash
                .iter()
                .any(|a| a.instance_guid == l.instance_guid)
        })
        .count();
    eprintln!("after an ingot SIGKILL: {readopted} of 2 instances re-adopted, the rest restarted");

    // Scale to zero and remove: every container is gone before ingot stops.
    bbs.update_desired_lrp(
        "web-app",
        DesiredLrpUpdate {
            instances: Some(0),
            ..DesiredLrpUpdate::default()
        },
    )
    .await
    .unwrap();
    bbs.remove_desired_lrp("web-app").await.unwrap();
    let deadline = Instant::now() + WAIT;
    while containers(data_dir.path()) > 0 {
        assert!(
            Instant::now() < deadline,
            "containers left behind after removing the LRP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.terminate().await;
}

/// Polls the router with the route's Host until every expected instance index has answered.
async fn assert_router_reaches(router: &str, indices: &[&str]) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + WAIT;
    while !indices.iter().all(|i| seen.contains(*i)) {
        assert!(
            Instant::now() < deadline,
            "the router reached only {seen:?} of {indices:?}"
        );
        if let Ok(response) = http
            .get(format!("{router}/"))
            .header("host", HOST)
            .send()
            .await
            && response.status().is_success()
        {
            seen.insert(response.text().await.unwrap_or_default());
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The process group of the process the process backend recorded for an instance's container.
fn instance_pgid(data_dir: &std::path::Path, instance_guid: &str) -> Option<i32> {
    let container = data_dir.join("garden").join(instance_guid);
    let processes = std::fs::read_dir(container.join("processes")).ok()?;
    processes.flatten().find_map(|p| {
        let record = std::fs::read_to_string(p.path().join("process.json")).ok()?;
        let value: serde_json::Value = serde_json::from_str(&record).ok()?;
        value["pgid"].as_i64().map(|pgid| pgid as i32)
    })
}

fn containers(data_dir: &std::path::Path) -> usize {
    std::fs::read_dir(data_dir.join("garden"))
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

/// `ingot bbs` and `ingot cell` run apart: the cell registers and reports over the BBS's HTTP
/// API, and the auctioneer reaches the rep over the rep's HTTP API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbs_and_cell_apart_run_lrps_over_http() {
    use ingot::{Config, Ingot, up::Role};
    let dir = tempfile::tempdir().unwrap();
    let cell_dir = dir.path().join("cell");
    let _apps = AppProcessGuard(cell_dir.clone());
    let bbs_process = Ingot::start(Config::ephemeral(dir.path().join("bbs")), Role::Bbs)
        .await
        .unwrap();
    let bbs_url = bbs_process.endpoints().bbs_url.clone().unwrap();
    let mut cell_config = Config::ephemeral(&cell_dir);
    cell_config.bbs_url = Some(bbs_url.clone());
    let cell_process = Ingot::start(cell_config, Role::Cell).await.unwrap();
    assert!(cell_process.endpoints().rep_url.is_some());

    let bbs = BbsClient::new(&bbs_url).unwrap();
    assert_eq!(
        bbs.cells().await.unwrap().len(),
        1,
        "the cell registered over HTTP"
    );
    bbs.upsert_domain("test-apps", Duration::from_secs(600))
        .await
        .unwrap();
    bbs.desire_lrp(web_lrp(2)).await.unwrap();
    wait_for_running(&bbs, 2).await;

    bbs.remove_desired_lrp("web-app").await.unwrap();
    let deadline = Instant::now() + WAIT;
    while containers(&cell_dir) > 0 {
        assert!(
            Instant::now() < deadline,
            "containers left behind after removing the LRP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cell_process.stop().await.unwrap();
    bbs_process.stop().await.unwrap();
}
