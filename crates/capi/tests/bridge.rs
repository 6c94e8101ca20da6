//! The CC-Bridge against a real in-process BBS (no cells): nsync turns started apps into
//! DesiredLRPs and keeps them converged, tps reports instance states from ActualLRPs and
//! records crashes as audit events.

mod bridge_support;
mod common;

use bridge_support::error_detail;
use common::{World, world};
use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, BbsApi, DesiredLrp, DesiredLrpFilter, NetInfo, PortMapping,
};
use ingot_core::testing::eventually;
use ingot_logging::{ContainerMetrics, Envelope};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_lrps(w: &World) -> Vec<DesiredLrp> {
    w.cc.bbs
        .desired_lrps(DesiredLrpFilter {
            domain: "cf-apps".into(),
            ..DesiredLrpFilter::default()
        })
        .await
        .expect("desired lrps")
}

/// Waits until the apps domain holds exactly one LRP and it passes `check`.
async fn only_lrp(w: &World, what: &str, check: impl Fn(&DesiredLrp) -> bool) -> DesiredLrp {
    eventually(what, || async {
        let lrps = app_lrps(w).await;
        (lrps.len() == 1 && check(&lrps[0])).then(|| lrps[0].clone())
    })
    .await
}

fn process_guid_of(process: &Value) -> String {
    process["guid"].as_str().expect("process guid").to_owned()
}

fn env_of(lrp: &DesiredLrp, name: &str) -> Option<String> {
    lrp.env
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.value.clone())
}

async fn scale(w: &World, app: &str, body: Value) {
    let res =
        w.cc.post(
            &format!("/v3/apps/{app}/processes/web/actions/scale"),
            &w.dev,
            body,
        )
        .await;
    assert!(res.status.is_success(), "{}", res.body);
}

#[tokio::test]
async fn starting_scaling_restarting_and_stopping_drive_the_lrp() {
    let w = world().await;
    let (app, droplet) = w.staged_app("myapp").await;
    let web = process_guid_of(&w.web_process(&app).await);
    assert!(
        app_lrps(&w).await.is_empty(),
        "a stopped app desires nothing"
    );

    w.action(&app, "start").await;
    let lrp = only_lrp(&w, "the started app's LRP", |l| {
        l.process_guid.starts_with(&web)
    })
    .await;
    assert_eq!(
        lrp.process_guid.len(),
        36 + 1 + 36,
        "<process guid>-<version>"
    );
    assert_eq!(lrp.instances, 1);
    assert_eq!(lrp.log_guid, app);
    assert_eq!(lrp.root_fs, "preloaded:cflinuxfs4");
    assert_eq!(env_of(&lrp, "MEMORY_LIMIT").as_deref(), Some("1024m"));
    let vcap: Value = serde_json::from_str(&env_of(&lrp, "VCAP_APPLICATION").unwrap()).unwrap();
    assert_eq!(vcap["application_name"], "myapp");
    assert_eq!(vcap["process_id"], web.as_str());
    let json = serde_json::to_value(&lrp).unwrap();
    let download = &json["setup"]["serial"]["actions"][0]["download"];
    let url = download["from"].as_str().unwrap();
    assert!(
        url.contains(&format!("/internal/v4/droplets/{droplet}/download")),
        "{url}"
    );
    let run = &json["action"]["codependent"]["actions"][0]["run"];
    assert_eq!(run["args"][3], "./server");
    assert!(
        w.cc.bbs
            .domains()
            .await
            .unwrap()
            .contains(&"cf-apps".to_owned()),
        "a complete pass marks the apps domain fresh"
    );

    // Scaling changes the same LRP.
    scale(&w, &app, json!({"instances": 3})).await;
    only_lrp(&w, "three instances", |l| {
        l.process_guid == lrp.process_guid && l.instances == 3
    })
    .await;

    // A restart is a new version: the old LRP goes, a new one comes.
    w.action(&app, "restart").await;
    let restarted = only_lrp(&w, "the restarted LRP", |l| {
        l.process_guid.starts_with(&web) && l.process_guid != lrp.process_guid
    })
    .await;
    assert_eq!(restarted.instances, 3);

    w.action(&app, "stop").await;
    eventually("the LRP to go", || async {
        app_lrps(&w).await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn routes_follow_the_mappings() {
    let w = world().await;
    let (app, _) = w.staged_app("routed").await;
    w.action(&app, "start").await;
    let res =
        w.cc.post(
            "/v3/domains",
            &w.cc.admin,
            json!({"name": "apps.test", "internal": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let domain = common::guid(&res.body);
    let res =
        w.cc.post(
            "/v3/routes",
            &w.dev,
            json!({"host": "routed", "path": "/api", "relationships": {
                "space": {"data": {"guid": w.space}}, "domain": {"data": {"guid": domain}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let route = common::guid(&res.body);
    let res =
        w.cc.post(
            &format!("/v3/routes/{route}/destinations"),
            &w.dev,
            json!({"destinations": [{"app": {"guid": app}}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let lrp = only_lrp(&w, "the route on the LRP", |l| {
        l.routes.get("cf-router")
            == Some(&json!([{"hostnames": ["routed.apps.test/api"], "port": 8080}]))
    })
    .await;
    // VCAP_APPLICATION is fixed per version, as in CF: the restart brings the new URIs.
    w.action(&app, "restart").await;
    let restarted = only_lrp(&w, "the restarted LRP", |l| {
        l.process_guid != lrp.process_guid
    })
    .await;
    let vcap: Value =
        serde_json::from_str(&env_of(&restarted, "VCAP_APPLICATION").unwrap()).unwrap();
    assert_eq!(vcap["application_uris"], json!(["routed.apps.test/api"]));
    assert_eq!(restarted.routes, lrp.routes);
}

#[tokio::test]
async fn the_bulk_pass_repairs_what_changed_behind_its_back() {
    let w = world().await;
    let (app, _) = w.staged_app("repaired").await;
    w.action(&app, "start").await;
    let lrp = only_lrp(&w, "the LRP", |_| true).await;

    // Removed behind the Cloud Controller's back, and a stranger in its domain.
    w.cc.bbs
        .remove_desired_lrp(&lrp.process_guid)
        .await
        .unwrap();
    let mut stranger = lrp.clone();
    stranger.process_guid = "stranger-0000".into();
    w.cc.bbs.desire_lrp(stranger).await.unwrap();
    // Anything that nudges nsync runs a full pass (the timer does the same every 30 s).
    scale(&w, &app, json!({"instances": 1})).await;
    only_lrp(&w, "the repaired LRP, and no stranger", |l| {
        l.process_guid == lrp.process_guid
    })
    .await;
}

#[tokio::test]
async fn stats_report_instance_states_from_diego() {
    let w = world().await;
    let (app, _) = w.staged_app("stats").await;
    let web = process_guid_of(&w.web_process(&app).await);

    // Stopped: every instance DOWN.
    let res =
        w.cc.get(&format!("/v3/processes/{web}/stats"), &w.dev)
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body["resources"],
        json!([{"type": "web", "index": 0, "state": "DOWN", "uptime": 0,
                "isolation_segment": null, "details": null}])
    );

    w.action(&app, "start").await;
    scale(&w, &app, json!({"instances": 2})).await;
    let lrp = only_lrp(&w, "two instances", |l| l.instances == 2).await;
    let key0 = ActualLrpKey::new(&lrp.process_guid, 0, "cf-apps");
    let key1 = ActualLrpKey::new(&lrp.process_guid, 1, "cf-apps");
    let instance0 = ActualLrpInstanceKey::new("instance-0", "cell-1");
    let instance1 = ActualLrpInstanceKey::new("instance-1", "cell-1");
    // No cells: a rep's reports are made by hand. Index 0 runs, index 1 is claimed.
    w.cc.bbs
        .start_actual_lrp(
            &key0,
            &instance0,
            NetInfo {
                address: "10.0.0.5".into(),
                instance_address: "10.255.0.5".into(),
                ports: vec![PortMapping {
                    container_port: 8080,
                    host_port: 61000,
                }],
            },
        )
        .await
        .unwrap();
    w.cc.bbs.claim_actual_lrp(&key1, &instance1).await.unwrap();

    let stats = |token: String| {
        let path = format!("/v3/apps/{app}/processes/web/stats");
        let cc = &w.cc;
        async move { cc.get(&path, &token).await }
    };
    let res = stats(w.dev.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let list = res.body["resources"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let running = &list[0];
    assert_eq!(running["state"], "RUNNING");
    assert_eq!(running["type"], "web");
    assert_eq!(running["host"], "10.0.0.5");
    assert_eq!(running["instance_ports"][0]["external"], 61000, "{running}");
    assert_eq!(running["instance_ports"][0]["internal"], 8080);
    assert_eq!(running["mem_quota"], 1024 * 1024 * 1024);
    assert_eq!(running["disk_quota"], 1024 * 1024 * 1024);
    assert_eq!(running["fds_quota"], 16384);
    assert!(running["uptime"].as_i64().unwrap() >= 0);
    assert_eq!(running["usage"]["cpu"], 0);
    assert!(running["details"].is_null());
    assert_eq!(list[1]["state"], "STARTING");

    // Three crashes in a row: Diego restarts at once twice, then backs off (CRASHED). Each
    // crash is an audit event on the app.
    let net = NetInfo::default();
    for _ in 0..3 {
        w.cc.bbs
            .start_actual_lrp(&key0, &instance0, net.clone())
            .await
            .unwrap();
        w.cc.bbs
            .crash_actual_lrp(&key0, &instance0, "APP/PROC/WEB: Exited with status 1")
            .await
            .unwrap();
    }
    let events = eventually("three crash events", || async {
        let res =
            w.cc.get(
                &format!("/v3/audit_events?target_guids={app}&types=audit.app.process.crash"),
                &w.dev,
            )
            .await;
        let list = res.body["resources"].as_array()?.clone();
        (list.len() == 3).then_some(list)
    })
    .await;
    let event = &events[0];
    assert_eq!(event["actor"]["type"], "process");
    assert_eq!(event["actor"]["guid"], web.as_str());
    assert_eq!(event["actor"]["name"], "web");
    assert_eq!(event["target"]["name"], "stats");
    assert_eq!(event["data"]["index"], 0);
    assert_eq!(event["data"]["instance"], "instance-0");
    assert_eq!(event["data"]["cell_id"], "cell-1");
    assert_eq!(event["data"]["reason"], "CRASHED");
    assert_eq!(
        event["data"]["exit_description"],
        "APP/PROC/WEB: Exited with status 1"
    );
    let mut counts: Vec<i64> = events
        .iter()
        .filter_map(|e| e["data"]["crash_count"].as_i64())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3]);
    let res = stats(w.dev.clone()).await;
    assert_eq!(res.body["resources"][0]["state"], "CRASHED", "{}", res.body);
    assert_eq!(
        res.body["resources"][0]["details"],
        "APP/PROC/WEB: Exited with status 1"
    );

    // An auditor reads stats; an outsider learns nothing.
    assert_eq!(stats(w.auditor.clone()).await.status, StatusCode::OK);
    let res = stats(w.outsider.clone()).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_detail(&res), "App not found");
    let res =
        w.cc.get(&format!("/v3/processes/{web}/stats"), &w.outsider)
            .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_detail(&res), "Process not found");
    let res =
        w.cc.get(&format!("/v3/apps/{app}/processes/nope/stats"), &w.dev)
            .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_detail(&res), "Process not found");
}

#[tokio::test]
async fn stats_show_the_newest_usage_the_cells_report() {
    let w = world().await;
    let (app, _) = w.staged_app("usage").await;
    let web = process_guid_of(&w.web_process(&app).await);
    w.action(&app, "start").await;
    let lrp = only_lrp(&w, "the web LRP", |_| true).await;
    assert_eq!(lrp.metric_tags.get("process_id"), Some(&web));
    let key = ActualLrpKey::new(&lrp.process_guid, 0, "cf-apps");
    let instance = ActualLrpInstanceKey::new("instance-0", "cell-1");
    w.cc.bbs
        .start_actual_lrp(&key, &instance, NetInfo::default())
        .await
        .unwrap();
    let path = format!("/v3/processes/{web}/stats");
    let stats = || w.cc.get(&path, &w.dev);
    let res = stats().await;
    assert_eq!(res.body["resources"][0]["usage"]["mem"], 0, "no sample yet");

    // What a cell reports, tagged as nsync asked: two samples of index 0, and one of another
    // process of the app at the same index.
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let gauge = |process: &str, memory_bytes: u64, at: i64| {
        let usage = ContainerMetrics {
            cpu_percentage: 25.0,
            memory_bytes,
            disk_bytes: 2048,
            memory_quota_bytes: 1 << 30,
            disk_quota_bytes: 1 << 30,
        };
        let mut envelope = Envelope::container_metrics(&app, 0, &usage, at);
        envelope.tags.insert("process_id".into(), process.into());
        envelope
    };
    w.cc.logs.ingest(gauge(&web, 1000, now - 2_000_000_000));
    w.cc.logs.ingest(gauge(&web, 5000, now - 1_000_000_000));
    w.cc.logs
        .ingest(gauge("another-process", 9999, now - 500_000_000));

    let res = stats().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let usage = &res.body["resources"][0]["usage"];
    assert_eq!(usage["mem"], 5000, "{usage}");
    assert_eq!(usage["disk"], 2048);
    assert_eq!(usage["cpu"], 0.25);
    let time = chrono::DateTime::parse_from_rfc3339(usage["time"].as_str().unwrap()).unwrap();
    assert_eq!(time.timestamp(), (now - 1_000_000_000) / 1_000_000_000);
}
