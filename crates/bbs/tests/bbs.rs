//! End-to-end BBS scenarios: a real `Bbs` on SQLite in a temp dir, the real auction, and fake
//! in-process reps.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use ingot_bbs::{
    Action, ActualLrpFilter, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, BbsApi, BbsClient,
    DesiredLrp, DesiredLrpUpdate, Error, Event, TaskDefinition, TaskFilter, TaskState,
};
use ingot_core::testing::eventually;
use support::Harness;

const LINUX: &[&str] = &["cflinuxfs4"];

fn desired(guid: &str, instances: u32) -> DesiredLrp {
    DesiredLrp {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/sleep", &["1000"])),
        memory_mb: 256,
        disk_mb: 256,
        ports: vec![8080],
        ..DesiredLrp::default()
    }
}

fn task_definition(callback: &str) -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/echo", &["hi"])),
        memory_mb: 128,
        disk_mb: 128,
        completion_callback_url: callback.into(),
        ..TaskDefinition::default()
    }
}

async fn actual(api: &dyn BbsApi, guid: &str, index: u32) -> ingot_bbs::ActualLrp {
    let filter = ActualLrpFilter {
        process_guid: guid.into(),
        index: Some(index),
        ..ActualLrpFilter::default()
    };
    api.actual_lrps(filter).await.unwrap().remove(0)
}

async fn all_actuals(api: &dyn BbsApi, guid: &str) -> Vec<ingot_bbs::ActualLrp> {
    let filter = ActualLrpFilter {
        process_guid: guid.into(),
        ..ActualLrpFilter::default()
    };
    api.actual_lrps(filter).await.unwrap()
}

#[tokio::test]
async fn lrp_runs_crashes_restarts_and_scales_down() {
    let h = Harness::start(&[("cell-a", LINUX), ("cell-b", LINUX)]).await;
    let api: &dyn BbsApi = &h.bbs;
    api.desire_lrp(desired("web", 3)).await.unwrap();

    let actuals = all_actuals(api, "web").await;
    assert_eq!(actuals.len(), 3);
    assert!(actuals.iter().all(|a| a.state == ActualLrpState::Unclaimed));

    // The auction places all three; each cell's rep claims and starts its instances.
    let placed = h.placed_lrps(3).await;
    let cells: std::collections::BTreeSet<_> =
        placed.iter().map(|(r, _)| r.cell_id.clone()).collect();
    assert_eq!(cells.len(), 2, "instances are spread over both cells");
    let mut instances = BTreeMap::new();
    for (rep, lrp) in &placed {
        let instance = rep.run_lrp(api, lrp, &format!("web-{}-a", lrp.index)).await;
        instances.insert(lrp.index, (rep.clone(), instance));
    }
    for a in all_actuals(api, "web").await {
        assert_eq!(a.state, ActualLrpState::Running);
        assert!(!a.cell_id.is_empty());
        assert_eq!(a.net_info.ports[0].container_port, 8080);
    }

    // Crash instance 0 twice: each time it restarts at once (UNCLAIMED, then re-auctioned).
    let key = ActualLrpKey::new("web", 0, "cf-apps");
    let (mut rep, mut instance) = instances[&0].clone();
    for crash in 1..=2u32 {
        api.crash_actual_lrp(&key, &instance, "exit status 1")
            .await
            .unwrap();
        let a = actual(api, "web", 0).await;
        assert_eq!((a.state, a.crash_count), (ActualLrpState::Unclaimed, crash));
        assert_eq!(a.crash_reason, "exit status 1");
        let (winner, lrp) = h.placed_lrps(1).await.remove(0);
        instance = winner.run_lrp(api, &lrp, &format!("web-0-{crash}")).await;
        rep = winner;
        assert_eq!(actual(api, "web", 0).await.state, ActualLrpState::Running);
    }

    // The third crash waits out a 30 s back-off.
    api.crash_actual_lrp(&key, &instance, "exit status 1")
        .await
        .unwrap();
    let a = actual(api, "web", 0).await;
    assert_eq!((a.state, a.crash_count), (ActualLrpState::Crashed, 3));
    assert!(
        h.bbs
            .converge()
            .await
            .unwrap()
            .crashed_lrps_to_restart
            .is_empty()
    );
    h.advance(29);
    assert!(
        h.bbs
            .converge()
            .await
            .unwrap()
            .crashed_lrps_to_restart
            .is_empty()
    );
    h.advance(1);
    let result = h.bbs.converge().await.unwrap();
    assert_eq!(result.crashed_lrps_to_restart, vec![key.clone()]);
    assert_eq!(actual(api, "web", 0).await.state, ActualLrpState::Unclaimed);
    let (winner, lrp) = h.placed_lrps(1).await.remove(0);
    winner.run_lrp(api, &lrp, "web-0-3").await;
    let a = actual(api, "web", 0).await;
    assert_eq!((a.state, a.crash_count), (ActualLrpState::Running, 3));
    let _ = rep;

    // Scale to 1: indices 2 and 1 are stopped through their cells' reps, then removed.
    api.update_desired_lrp(
        "web",
        DesiredLrpUpdate {
            instances: Some(1),
            ..DesiredLrpUpdate::default()
        },
    )
    .await
    .unwrap();
    let remaining = all_actuals(api, "web").await;
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].index, 0);
    let mut stopped: Vec<(u32, ActualLrpInstanceKey)> = h
        .reps
        .iter()
        .flat_map(|r| r.stopped())
        .map(|(k, i)| (k.index, i))
        .collect();
    stopped.sort_by_key(|(i, _)| *i);
    assert_eq!(
        stopped,
        vec![(1, instances[&1].1.clone()), (2, instances[&2].1.clone())]
    );
    assert_eq!(
        api.desired_lrp_by_process_guid("web")
            .await
            .unwrap()
            .instances,
        1
    );

    // Convergence now has nothing to do.
    assert!(h.bbs.converge().await.unwrap().is_empty());
    h.bbs.close().await;
}

#[tokio::test]
async fn instances_on_a_vanished_cell_move_to_a_live_one() {
    let h = Harness::start(&[("cell-a", LINUX), ("cell-b", LINUX)]).await;
    let api: &dyn BbsApi = &h.bbs;
    api.desire_lrp(desired("web", 1)).await.unwrap();
    let (lost, lrp) = h.placed_lrps(1).await.remove(0);
    lost.run_lrp(api, &lrp, "web-0-a").await;
    let survivor = h
        .reps
        .iter()
        .find(|r| r.cell_id != lost.cell_id)
        .unwrap()
        .clone();

    // Only the survivor keeps heartbeating; the other cell's presence expires.
    h.advance(3000);
    api.register_cell(survivor.presence(), Duration::from_secs(3600))
        .await
        .unwrap();
    h.advance(601);
    let cells: Vec<String> = api
        .cells()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cell_id)
        .collect();
    assert_eq!(cells, std::slice::from_ref(&survivor.cell_id));

    let result = h.bbs.converge().await.unwrap();
    assert_eq!(result.lrps_on_vanished_cells.len(), 1);
    assert_eq!(actual(api, "web", 0).await.state, ActualLrpState::Unclaimed);
    let (winner, lrp) = h.placed_lrps(1).await.remove(0);
    assert_eq!(winner.cell_id, survivor.cell_id);
    winner.run_lrp(api, &lrp, "web-0-b").await;
    let a = actual(api, "web", 0).await;
    assert_eq!(
        (a.state, a.cell_id.as_str()),
        (ActualLrpState::Running, survivor.cell_id.as_str())
    );
    h.bbs.close().await;
}

#[tokio::test]
async fn no_cell_with_the_rootfs_records_a_placement_error() {
    let h = Harness::start(&[("cell-a", LINUX)]).await;
    let api: &dyn BbsApi = &h.bbs;
    let mut lrp = desired("win", 1);
    lrp.root_fs = "preloaded:windows2019".into();
    api.desire_lrp(lrp).await.unwrap();
    let a = eventually("a placement error", || async {
        let a = actual(api, "win", 0).await;
        (!a.placement_error.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(a.state, ActualLrpState::Unclaimed);
    assert_eq!(
        a.placement_error,
        "found no compatible cell for required rootfs"
    );
    h.bbs.close().await;
}

#[tokio::test]
async fn task_runs_to_completion_and_its_callback_is_called() {
    use axum::{Json, Router, routing::post};

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let callback = Router::new().route(
        "/done",
        post(move |Json(body): Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let stop = ingot_core::Shutdown::new();
    tokio::spawn(ingot_core::serve(listener, callback, stop.clone()));

    let h = Harness::start(&[("cell-a", LINUX)]).await;
    let api: &dyn BbsApi = &h.bbs;
    api.desire_task("t1", "cf-tasks", task_definition(&url))
        .await
        .unwrap();
    assert_eq!(
        api.task_by_guid("t1").await.unwrap().state,
        TaskState::Pending
    );
    let err = api
        .desire_task("t1", "cf-tasks", task_definition(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));

    let (rep, start) = h.placed_tasks(1).await.remove(0);
    assert_eq!(start.task_guid, "t1");
    assert!(api.start_task("t1", &rep.cell_id).await.unwrap());
    assert!(
        !api.start_task("t1", &rep.cell_id).await.unwrap(),
        "a repeated start is a no-op"
    );
    assert!(matches!(
        api.start_task("t1", "cell-other").await,
        Err(Error::InvalidTransition { .. })
    ));
    api.complete_task("t1", &rep.cell_id, false, "", "the result")
        .await
        .unwrap();

    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the callback arrives")
        .unwrap();
    assert_eq!(body["task_guid"], "t1");
    assert_eq!(body["result"], "the result");
    assert_eq!(body["failed"], false);
    eventually("the resolved task to be deleted", || async {
        matches!(api.task_by_guid("t1").await, Err(Error::NotFound { .. })).then_some(())
    })
    .await;
    stop.cancel();
    h.bbs.close().await;
}

#[tokio::test]
async fn tasks_are_cancelled_resolved_and_reaped() {
    let h = Harness::start(&[("cell-a", LINUX)]).await;
    let api: &dyn BbsApi = &h.bbs;
    for guid in ["t-cancel", "t-resolve", "t-reap"] {
        api.desire_task(guid, "cf-tasks", task_definition(""))
            .await
            .unwrap();
    }
    let placed = h.placed_tasks(3).await;
    let cell = placed[0].0.cell_id.clone();
    for guid in ["t-cancel", "t-resolve", "t-reap"] {
        api.start_task(guid, &cell).await.unwrap();
    }

    api.cancel_task("t-cancel").await.unwrap();
    let t = api.task_by_guid("t-cancel").await.unwrap();
    assert_eq!((t.state, t.failed), (TaskState::Completed, true));
    assert_eq!(t.failure_reason, ingot_bbs::TASK_CANCELLED);
    assert_eq!(*placed[0].0.cancelled.lock().unwrap(), ["t-cancel"]);

    api.complete_task("t-resolve", &cell, true, "exit 2", "")
        .await
        .unwrap();
    api.resolving_task("t-resolve").await.unwrap();
    api.delete_task("t-resolve").await.unwrap();
    assert!(matches!(
        api.task_by_guid("t-resolve").await,
        Err(Error::NotFound { .. })
    ));

    api.complete_task("t-reap", &cell, false, "", "ok")
        .await
        .unwrap();
    h.advance(120);
    let result = h.bbs.converge().await.unwrap();
    assert_eq!(result.tasks_to_reap, ["t-cancel", "t-reap"]);
    assert!(api.tasks(TaskFilter::default()).await.unwrap().is_empty());
    h.bbs.close().await;
}

#[tokio::test]
async fn desired_state_survives_a_restart() {
    let mut h = Harness::start(&[("cell-a", LINUX)]).await;
    h.bbs.desire_lrp(desired("web", 2)).await.unwrap();
    h.bbs
        .desire_task("t1", "cf-tasks", task_definition(""))
        .await
        .unwrap();
    let before = h.bbs.desired_lrp_by_process_guid("web").await.unwrap();

    h.restart().await;
    let api: &dyn BbsApi = &h.bbs;
    assert_eq!(
        api.desired_lrp_by_process_guid("web").await.unwrap(),
        before
    );
    assert_eq!(all_actuals(api, "web").await.len(), 2);
    assert_eq!(
        api.task_by_guid("t1").await.unwrap().state,
        TaskState::Pending
    );
    assert_eq!(api.domains().await.unwrap(), ["cf-apps"]);
    h.bbs.close().await;
}

#[tokio::test]
async fn over_http_the_client_works_and_events_stream() {
    let h = Harness::start(&[("cell-a", LINUX)]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ingot_core::serve(
        listener,
        h.bbs.router(),
        h.shutdown.clone(),
    ));
    let client = BbsClient::new(&base).unwrap();

    let mut events = client.subscribe().await.unwrap();
    client.desire_lrp(desired("web", 1)).await.unwrap();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event")
            .expect("stream open")
            .expect("not an error")
    };
    assert!(
        matches!(next().await, Event::DesiredLrpCreated { desired_lrp } if desired_lrp.process_guid == "web")
    );
    assert!(
        matches!(next().await, Event::ActualLrpInstanceCreated { actual_lrp } if actual_lrp.index == 0)
    );

    // A remote rep drives the instance with the same code as an in-process one.
    let (rep, lrp) = h.placed_lrps(1).await.remove(0);
    rep.run_lrp(&client, &lrp, "web-0-a").await;
    let Event::ActualLrpInstanceChanged { after, .. } = next().await else {
        panic!("expected a change");
    };
    assert_eq!(after.state, ActualLrpState::Claimed);
    let Event::ActualLrpInstanceChanged { after, .. } = next().await else {
        panic!("expected a change");
    };
    assert_eq!(after.state, ActualLrpState::Running);

    // Lists, cells and domains.
    assert_eq!(
        client
            .actual_lrps(ActualLrpFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(client.cells().await.unwrap()[0].cell_id, "cell-a");
    assert_eq!(client.domains().await.unwrap(), ["cf-apps"]);

    // Errors come back typed.
    let err = client
        .desired_lrp_by_process_guid("nope")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = client.desire_lrp(DesiredLrp::default()).await.unwrap_err();
    let Error::Validation { errors } = err else {
        panic!("expected a validation error");
    };
    assert!(errors.iter().any(|e| e.field == "process_guid"));
    let err = client
        .claim_actual_lrp(
            &ActualLrpKey::new("web", 0, "cf-apps"),
            &ActualLrpInstanceKey::new("someone-else", "cell-z"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTransition { .. }), "{err:?}");

    // Removing the desired LRP retires the instance and says so on the stream.
    client.remove_desired_lrp("web").await.unwrap();
    assert!(matches!(next().await, Event::DesiredLrpRemoved { .. }));
    assert!(matches!(
        next().await,
        Event::ActualLrpInstanceRemoved { .. }
    ));
    assert_eq!(rep.stopped().len(), 1);

    // Tasks over HTTP.
    client
        .desire_task("t1", "cf-tasks", task_definition(""))
        .await
        .unwrap();
    assert_eq!(
        client.task_by_guid("t1").await.unwrap().state,
        TaskState::Pending
    );
    client.fail_task("t1", "no thanks").await.unwrap();
    assert!(client.task_by_guid("t1").await.unwrap().failed);

    let ping = reqwest::get(format!("{base}/ping")).await.unwrap();
    assert!(ping.status().is_success());
    h.bbs.close().await;
}

#[tokio::test]
async fn postgres_urls_are_refused_for_now() {
    let config = ingot_bbs::BbsConfig::new("postgres://bbs@127.0.0.1/bbs".parse().unwrap());
    let deps = ingot_bbs::BbsDeps {
        clock: std::sync::Arc::new(ingot_core::SystemClock),
        ids: std::sync::Arc::new(ingot_core::UuidIds),
        rep_clients: std::sync::Arc::new(support::FakeReps(BTreeMap::new())),
    };
    let err = ingot_bbs::Bbs::start(config, deps, ingot_core::Shutdown::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn the_in_memory_store_runs_the_same_workflows() {
    use std::sync::Arc;

    let rep = support::FakeRep::new("cell-a", LINUX);
    let deps = ingot_bbs::BbsDeps {
        clock: Arc::new(ingot_core::SystemClock),
        ids: Arc::new(ingot_core::SequentialIds::default()),
        rep_clients: Arc::new(support::FakeReps(
            [(rep.cell_id.clone(), rep.clone())].into_iter().collect(),
        )),
    };
    let config = ingot_bbs::BbsConfig::new(ingot_core::DatabaseUrl::sqlite("unused.db"));
    let bbs = ingot_bbs::Bbs::start_with_store(
        config,
        Arc::new(ingot_bbs::store::MemoryStore::new()),
        deps,
        ingot_core::Shutdown::new(),
    )
    .unwrap();
    bbs.register_cell(rep.presence(), Duration::from_secs(60))
        .await
        .unwrap();
    bbs.desire_lrp(desired("web", 2)).await.unwrap();
    let lrps = eventually("2 instances placed", || {
        let got = rep.take_lrps();
        async move { (!got.is_empty()).then_some(got) }
    })
    .await;
    assert_eq!(lrps.len(), 2);
    for lrp in &lrps {
        rep.run_lrp(&bbs, lrp, &format!("i-{}", lrp.index)).await;
    }
    assert!(
        all_actuals(&bbs, "web")
            .await
            .iter()
            .all(|a| a.state == ActualLrpState::Running)
    );
    bbs.close().await;
}

#[tokio::test]
async fn every_declared_route_is_served() {
    use ingot_bbs::http::routes;

    let h = Harness::start(&[("cell-a", LINUX)]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ingot_core::serve(
        listener,
        h.bbs.router(),
        h.shutdown.clone(),
    ));
    let http = reqwest::Client::new();
    for route in routes::ALL {
        let response = http
            .request(route.method.clone(), format!("{base}{}", route.path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{} {} answered {status}",
            route.method,
            route.path
        );
        if route.path.starts_with("/v1/events") {
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(kind.starts_with("text/event-stream"), "{kind}");
        } else if status >= 400 {
            // A bad body gets a typed error, not a bare status.
            let err: Error = response.json().await.unwrap();
            assert!(
                matches!(err, Error::Validation { .. } | Error::NotFound { .. }),
                "{err:?}"
            );
        }
    }
    h.bbs.close().await;
}
