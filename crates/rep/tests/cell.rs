//! The Diego proof: LRPs and tasks run for real through BBS -> auction -> rep -> process
//! Garden, in process, on loopback.

mod common;

use ingot_core::testing::eventually_within;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Harness, SERVER, StoppedGroups, fast_cell_config, kill_group, python, run};
use ingot_bbs::{
    Action, ActualLrpState, BbsApi, Check, CheckDefinition, DesiredLrp, DesiredLrpUpdate,
    DownloadAction, HttpCheck, SerialAction, TaskDefinition, TaskState, TcpCheck, TimeoutAction,
    UploadAction,
};
use ingot_logging::{Envelope, EnvelopeType, MAX_LIMIT, Message, ReadQuery};

const WAIT: Duration = Duration::from_secs(30);

fn web_lrp(process_guid: &str, instances: u32) -> DesiredLrp {
    DesiredLrp {
        process_guid: process_guid.into(),
        domain: "cf-apps".into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run(&python(), &["-c", SERVER], "APP/PROC/WEB")),
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
        log_guid: process_guid.into(),
        log_source: "APP/PROC/WEB".into(),
        start_timeout_ms: 20_000,
        ..DesiredLrp::default()
    }
}

async fn get(url: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    response.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lrp_instances_run_crash_and_scale() {
    let h = Harness::start().await;
    let started = Instant::now();
    h.bbs.desire_lrp(web_lrp("web", 3)).await.unwrap();

    // 1. Three instances RUNNING, each answering on its host port with its own index.
    let running = eventually_within("3 RUNNING", WAIT, || async {
        let running = h.running("web").await;
        (running.len() == 3).then_some(running)
    })
    .await;
    eprintln!("desire -> 3 RUNNING: {:?}", started.elapsed());
    for lrp in &running {
        assert_eq!(lrp.net_info.address, "127.0.0.1");
        assert_eq!(lrp.net_info.ports[0].container_port, 8080);
        let url = format!("http://127.0.0.1:{}/", lrp.net_info.ports[0].host_port);
        let body = get(&url).await.expect("the instance answers");
        assert_eq!(body, lrp.index.to_string());
    }
    assert!(
        h.logs.contains("listening on"),
        "app output reaches the log sink"
    );
    assert_eq!(h.cell("cell-1").executor().list().len(), 3);

    // ActualLRP write rate: re-reporting a RUNNING instance goes through the whole BBS
    // write path (transaction, transition, event).
    let lrp = &running[0];
    let writes = 200;
    let timer = Instant::now();
    for _ in 0..writes {
        h.bbs
            .start_actual_lrp(&lrp.key(), &lrp.instance_key(), lrp.net_info.clone())
            .await
            .unwrap();
    }
    let took = timer.elapsed();
    eprintln!(
        "ActualLRP start writes: {writes} in {took:?} = {:.0}/s",
        f64::from(writes) / took.as_secs_f64()
    );

    // 2. Kill one instance's process: the crash is reported and a replacement runs.
    let victim = running.iter().find(|l| l.index == 1).unwrap().clone();
    let pgids = h.pgids("cell-1", &victim.instance_guid);
    assert!(
        !pgids.is_empty(),
        "the instance's process is recorded in the depot"
    );
    let killed = Instant::now();
    for pgid in pgids {
        kill_group(pgid);
    }
    let replacement = eventually_within("index 1 replaced and RUNNING", WAIT, || async {
        h.running("web")
            .await
            .into_iter()
            .find(|l| l.index == 1 && l.instance_guid != victim.instance_guid)
    })
    .await;
    eprintln!("crash -> replacement RUNNING: {:?}", killed.elapsed());
    assert_eq!(replacement.crash_count, 1);
    assert_eq!(
        replacement.crash_reason,
        "APP/PROC/WEB: Exited with status 137"
    );
    let url = format!(
        "http://127.0.0.1:{}/",
        replacement.net_info.ports[0].host_port
    );
    assert_eq!(get(&url).await.as_deref(), Some("1"));
    eventually_within("3 RUNNING again", WAIT, || async {
        (h.running("web").await.len() == 3).then_some(())
    })
    .await;

    // 3. Scale to 1: two instances are stopped, removed, and their containers destroyed.
    h.bbs
        .update_desired_lrp(
            "web",
            DesiredLrpUpdate {
                instances: Some(1),
                ..DesiredLrpUpdate::default()
            },
        )
        .await
        .unwrap();
    let survivors = eventually_within("1 instance left", WAIT, || async {
        let all = h.actual_lrps("web").await;
        (all.len() == 1 && all[0].state == ActualLrpState::Running).then_some(all)
    })
    .await;
    assert_eq!(survivors[0].index, 0);
    eventually_within("2 containers destroyed", WAIT, || async {
        let containers = h.cell("cell-1").executor().list();
        let depot = std::fs::read_dir(h.depot("cell-1")).unwrap().count();
        (depot == 1 && containers.len() == 1 && containers[0].guid == survivors[0].instance_guid)
            .then_some(())
    })
    .await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_complete_with_their_result_or_time_out() {
    let h = Harness::start().await;

    // 4. A task writes its result file.
    let script = "echo running; echo -n 42 > result.txt";
    let definition = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run("/bin/sh", &["-c", script], "APP/TASK/migrate")),
        memory_mb: 32,
        disk_mb: 32,
        log_guid: "app-guid".into(),
        result_file: "result.txt".into(),
        ..TaskDefinition::default()
    };
    h.bbs
        .desire_task("task-ok", "cf-tasks", definition)
        .await
        .unwrap();
    let task = eventually_within("task completed", WAIT, || async {
        let task = h.bbs.task_by_guid("task-ok").await.unwrap();
        (task.state == TaskState::Completed).then_some(task)
    })
    .await;
    assert!(!task.failed, "{}", task.failure_reason);
    assert_eq!(task.result, "42");
    assert_eq!(task.cell_id, "cell-1");
    assert!(h.logs.contains("running"));

    // 5. A task whose Timeout action is exceeded fails, naming the timeout.
    let definition = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::Timeout(TimeoutAction {
            action: Box::new(run("/bin/sleep", &["30"], "")),
            timeout_ms: 300,
        })),
        memory_mb: 32,
        disk_mb: 32,
        ..TaskDefinition::default()
    };
    h.bbs
        .desire_task("task-slow", "cf-tasks", definition)
        .await
        .unwrap();
    let task = eventually_within("slow task completed", WAIT, || async {
        let task = h.bbs.task_by_guid("task-slow").await.unwrap();
        (task.state == TaskState::Completed).then_some(task)
    })
    .await;
    assert!(task.failed);
    assert_eq!(task.failure_reason, "exceeded 300ms timeout");

    // Both containers are gone once reported.
    eventually_within("task containers deleted", WAIT, || async {
        h.cell("cell-1").executor().list().is_empty().then_some(())
    })
    .await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_is_stopped() {
    let h = Harness::start().await;
    let definition = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run("/bin/sleep", &["30"], "")),
        memory_mb: 32,
        disk_mb: 32,
        ..TaskDefinition::default()
    };
    h.bbs
        .desire_task("long", "cf-tasks", definition)
        .await
        .unwrap();
    eventually_within("task running", WAIT, || async {
        let task = h.bbs.task_by_guid("long").await.unwrap();
        (task.state == TaskState::Running && !h.cell("cell-1").executor().list().is_empty())
            .then_some(())
    })
    .await;
    h.bbs.cancel_task("long").await.unwrap();
    eventually_within("container gone", WAIT, || async {
        h.cell("cell-1").executor().list().is_empty().then_some(())
    })
    .await;
    let task = h.bbs.task_by_guid("long").await.unwrap();
    assert!(task.failed);
    assert_eq!(task.failure_reason, "task was cancelled");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_lrp_counts_its_crashes() {
    let h = Harness::start().await;
    let mut lrp = web_lrp("crasher", 1);
    lrp.action = Some(run(
        "/bin/sh",
        &["-c", "echo booting; exit 1"],
        "APP/PROC/WEB",
    ));
    lrp.check_definition = None; // process-only
    h.bbs.desire_lrp(lrp).await.unwrap();
    // Crashes 1 and 2 restart at once; the third leaves it CRASHED, waiting out its back-off.
    let crashed = eventually_within("CRASHED after 3 crashes", WAIT, || async {
        h.actual_lrps("crasher")
            .await
            .into_iter()
            .find(|l| l.state == ActualLrpState::Crashed)
    })
    .await;
    assert_eq!(crashed.crash_count, 3);
    assert_eq!(crashed.crash_reason, "APP/PROC/WEB: Exited with status 1");
    assert!(h.logs.contains("booting"));
    eventually_within("crashed containers deleted", WAIT, || async {
        h.cell("cell-1").executor().list().is_empty().then_some(())
    })
    .await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_cell_readopts_its_containers() {
    let mut h = Harness::start().await;
    h.bbs.desire_lrp(web_lrp("web", 3)).await.unwrap();
    let before = eventually_within("3 RUNNING", WAIT, || async {
        let running = h.running("web").await;
        (running.len() == 3).then_some(running)
    })
    .await;

    // 7. The cell goes away without stopping its containers, and a new one starts on the
    // same depot and BBS.
    let old = h.cells.remove(0);
    old.stop().await;
    drop(old);
    let restarted = Instant::now();
    h.add_cell("cell-1").await;
    assert_eq!(
        h.cell("cell-1").executor().list().len(),
        3,
        "the containers are re-adopted"
    );
    let after = eventually_within("3 RUNNING after the restart", WAIT, || async {
        let running = h.running("web").await;
        (running.len() == 3).then_some(running)
    })
    .await;
    eprintln!("cell restart -> 3 RUNNING: {:?}", restarted.elapsed());
    let mut guids_before: Vec<_> = before.iter().map(|l| l.instance_guid.clone()).collect();
    let mut guids_after: Vec<_> = after.iter().map(|l| l.instance_guid.clone()).collect();
    guids_before.sort();
    guids_after.sort();
    assert_eq!(guids_before, guids_after, "the same instances kept running");
    for lrp in &after {
        let url = format!("http://127.0.0.1:{}/", lrp.net_info.ports[0].host_port);
        assert_eq!(get(&url).await, Some(lrp.index.to_string()));
    }

    // A re-adopted instance that dies is still noticed and replaced.
    let victim = after[0].clone();
    for pgid in h.pgids("cell-1", &victim.instance_guid) {
        kill_group(pgid);
    }
    eventually_within("the re-adopted instance replaced", WAIT, || async {
        h.running("web")
            .await
            .into_iter()
            .find(|l| l.index == victim.index && l.instance_guid != victim.instance_guid)
    })
    .await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readopted_instance_that_hangs_is_crashed_and_replaced() {
    let mut h = Harness::start().await;
    h.bbs.desire_lrp(web_lrp("hangs", 2)).await.unwrap();
    let before = eventually_within("2 RUNNING", WAIT, || async {
        let running = h.running("hangs").await;
        (running.len() == 2).then_some(running)
    })
    .await;

    // The cell restarts on the same depot and BBS, with a short healthy interval.
    let old = h.cells.remove(0);
    old.stop().await;
    drop(old);
    let mut config = fast_cell_config("cell-1", h.dir.path());
    config.health.healthy_interval = Duration::from_millis(100);
    h.add_cell_with(config).await;
    assert_eq!(h.cell("cell-1").executor().list().len(), 2);

    // One re-adopted instance hangs: its process stays alive but answers nothing, so its
    // port check fails (once the listen backlog fills, connections time out).
    let victim = before[0].clone();
    let survivor = before[1].clone();
    let pgids = h.pgids("cell-1", &victim.instance_guid);
    assert!(!pgids.is_empty(), "the instance's process is in the depot");
    let hung = StoppedGroups::stop(pgids);
    let stopped_at = Instant::now();
    let replacement = eventually_within("the hung instance crashed and replaced", WAIT, || async {
        h.running("hangs")
            .await
            .into_iter()
            .find(|l| l.index == victim.index && l.instance_guid != victim.instance_guid)
    })
    .await;
    eprintln!(
        "re-adopted instance hangs -> replacement RUNNING: {:?}",
        stopped_at.elapsed()
    );
    assert_eq!(replacement.crash_count, 1);
    assert!(
        replacement
            .crash_reason
            .starts_with("Instance became unhealthy: Failed to make TCP connection to port 8080"),
        "{}",
        replacement.crash_reason
    );
    assert!(h.logs.contains("Container became unhealthy"));
    assert!(
        h.cell("cell-1")
            .executor()
            .get(&victim.instance_guid)
            .is_none(),
        "the hung instance's container is destroyed"
    );
    drop(hung);

    // Back to 2 RUNNING; the healthy re-adopted instance was left alone.
    let after = eventually_within("2 RUNNING again", WAIT, || async {
        let running = h.running("hangs").await;
        (running.len() == 2).then_some(running)
    })
    .await;
    let kept = after.iter().find(|l| l.index == survivor.index).unwrap();
    assert_eq!(kept.instance_guid, survivor.instance_guid);
    assert_eq!(kept.crash_count, 0);
    let url = format!("http://127.0.0.1:{}/", kept.net_info.ports[0].host_port);
    assert_eq!(get(&url).await, Some(survivor.index.to_string()));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_reached_over_http_runs_and_stops_instances() {
    let mut h = Harness::start().await;
    h.add_remote_cell("cell-2").await;
    h.bbs.desire_lrp(web_lrp("spread", 4)).await.unwrap();
    let running = eventually_within("4 RUNNING", WAIT, || async {
        let running = h.running("spread").await;
        (running.len() == 4).then_some(running)
    })
    .await;
    // The auction spreads instances over both cells; cell-2's went through HTTP.
    let on_remote: Vec<_> = running.iter().filter(|l| l.cell_id == "cell-2").collect();
    assert!(
        !on_remote.is_empty(),
        "some instances run on the remote cell"
    );
    for lrp in &running {
        let url = format!("http://127.0.0.1:{}/", lrp.net_info.ports[0].host_port);
        assert_eq!(get(&url).await, Some(lrp.index.to_string()));
    }
    // Removing the LRP stops every instance, the remote ones through the rep's HTTP API.
    h.bbs.remove_desired_lrp("spread").await.unwrap();
    eventually_within("all containers gone", WAIT, || async {
        let left: usize = h.cells.iter().map(|c| c.executor().list().len()).sum();
        (left == 0 && h.actual_lrps("spread").await.is_empty()).then_some(())
    })
    .await;
    h.finish().await;
}

/// An app that answers its health check twice, then starts failing it.
const FLAKY: &str = r#"
import os, http.server
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        count[0] += 1
        self.send_response(200 if count[0] <= 2 else 503)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_turns_unhealthy_is_crashed() {
    let h = Harness::start().await;
    let mut lrp = web_lrp("flaky", 1);
    lrp.action = Some(run(&python(), &["-c", FLAKY], "APP/PROC/WEB"));
    lrp.check_definition = Some(CheckDefinition {
        checks: vec![Check::HttpCheck(HttpCheck {
            port: 8080,
            request_timeout_ms: 500,
            path: "/health".into(),
        })],
        log_source: String::new(),
    });
    h.bbs.desire_lrp(lrp).await.unwrap();
    let crashed = eventually_within("a health-check crash", WAIT, || async {
        h.actual_lrps("flaky")
            .await
            .into_iter()
            .find(|l| l.crash_count > 0)
    })
    .await;
    assert_eq!(
        crashed.crash_reason,
        "Instance became unhealthy: Failed to make HTTP request to '/health' on port 8080: \
         received status code 503"
    );
    assert!(h.logs.contains("Container became unhealthy"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_downloads_and_uploads() {
    let h = Harness::start().await;
    // A blobstore stand-in: serves a tgz and receives an upload.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "msg.txt", &b"hello"[..])
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    let tgz = gz.finish().unwrap();
    let uploaded = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = uploaded.clone();
    let app = axum::Router::new()
        .route(
            "/app.tgz",
            axum::routing::get(move || async move { tgz.clone() }),
        )
        .route(
            "/upload",
            axum::routing::post(move |body: axum::body::Bytes| {
                sink.lock().unwrap().extend_from_slice(&body);
                async { "ok" }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ingot_core::serve(listener, app, h.shutdown.clone()));

    let definition = TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::Serial(SerialAction {
            actions: vec![
                Action::Download(DownloadAction {
                    from: format!("http://{addr}/app.tgz"),
                    to: "/app".into(),
                    cache_key: "app".into(),
                    user: "vcap".into(),
                    ..DownloadAction::default()
                }),
                run("/bin/sh", &["-c", "tr a-z A-Z < app/msg.txt > out.txt"], ""),
                Action::Upload(UploadAction {
                    from: "/out.txt".into(),
                    to: format!("http://{addr}/upload"),
                    user: "vcap".into(),
                    ..UploadAction::default()
                }),
            ],
        })),
        memory_mb: 32,
        disk_mb: 32,
        ..TaskDefinition::default()
    };
    h.bbs
        .desire_task("staging", "cf-tasks", definition)
        .await
        .unwrap();
    let task = eventually_within("task completed", WAIT, || async {
        let task = h.bbs.task_by_guid("staging").await.unwrap();
        (task.state == TaskState::Completed).then_some(task)
    })
    .await;
    assert!(!task.failed, "{}", task.failure_reason);
    assert_eq!(*uploaded.lock().unwrap(), b"HELLO");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_instances_report_their_usage() {
    let h = Harness::start().await;
    let mut lrp = web_lrp("metered", 2);
    lrp.log_guid = "app-guid".into();
    lrp.metric_tags = [("process_id".to_owned(), "web-guid".to_owned())].into();
    h.bbs.desire_lrp(lrp).await.unwrap();
    eventually_within("2 RUNNING", WAIT, || async {
        (h.running("metered").await.len() == 2).then_some(())
    })
    .await;

    // Each instance's gauges: under the log guid and its index, with the LRP's tags, the
    // python server's real memory and the container's quotas.
    let query = ReadQuery {
        envelope_types: vec![EnvelopeType::Gauge],
        limit: MAX_LIMIT,
        ..ReadQuery::default()
    };
    let gauges = eventually_within("both instances' memory", WAIT, || async {
        let gauges = h.metrics.read("app-guid", &query);
        let indices: BTreeSet<&str> = gauges
            .iter()
            .filter(|e| gauge_value(e, "memory") > 0.0)
            .map(|e| e.instance_id.as_str())
            .collect();
        (indices == BTreeSet::from(["0", "1"])).then(|| gauges.clone())
    })
    .await;
    for envelope in &gauges {
        assert_eq!(envelope.tags["process_id"], "web-guid");
        assert_eq!(gauge_value(envelope, "memory_quota"), (64 << 20) as f64);
        assert_eq!(gauge_value(envelope, "disk_quota"), (64 << 20) as f64);
        assert!(gauge_value(envelope, "cpu") >= 0.0);
    }
    h.finish().await;
}

fn gauge_value(envelope: &Envelope, name: &str) -> f64 {
    match &envelope.message {
        Message::Gauge(gauge) => gauge.metrics.get(name).map_or(0.0, |m| m.value),
        _ => 0.0,
    }
}
