//! `cf run-task`, `cf tasks` and `cf terminate-task` through the API, with Diego's side
//! played through the in-process BBS (no cells: tasks are started and completed by hand).

mod bridge_support;
mod common;

use bridge_support::{error_detail, idle_cell};
use common::world;
use ingot_bbs::BbsApi;
use ingot_core::testing::eventually;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The task's state as the API reports it, once it is `state`.
async fn wait_for_state(w: &common::World, task: &str, state: &str) -> Value {
    eventually(state, || async {
        let res = w.cc.get(&format!("/v3/tasks/{task}"), &w.dev).await;
        (res.body["state"] == state).then_some(res.body)
    })
    .await
}

#[tokio::test]
async fn run_list_complete_and_cancel_tasks() {
    let w = world().await;
    idle_cell(&w.cc).await;
    let (app, droplet) = w.staged_app("worker").await;
    let tasks_path = format!("/v3/apps/{app}/tasks");

    let res =
        w.cc.post(
            &tasks_path,
            &w.dev,
            json!({"command": "echo hi", "name": "t1", "memory_in_mb": 256}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let t1 = res.body.clone();
    let t1_guid = common::guid(&t1);
    assert_eq!(t1["name"], "t1");
    assert_eq!(t1["sequence_id"], 1);
    assert_eq!(t1["command"], "echo hi");
    assert_eq!(t1["state"], "RUNNING");
    assert_eq!(t1["memory_in_mb"], 256);
    assert_eq!(t1["disk_in_mb"], 1024);
    assert_eq!(t1["log_rate_limit_in_bytes_per_second"], -1);
    assert_eq!(t1["droplet_guid"], droplet.as_str());
    assert_eq!(t1["result"], json!({"failure_reason": null}));
    assert_eq!(t1["relationships"]["app"]["data"]["guid"], app.as_str());
    assert!(
        chrono::DateTime::parse_from_rfc3339(t1["created_at"].as_str().unwrap()).is_ok(),
        "the CLI parses created_at"
    );
    assert_eq!(
        t1["links"]["cancel"]["href"],
        format!("{}/v3/tasks/{t1_guid}/actions/cancel", w.cc.base)
    );

    // Diego has it, in the tasks domain, with a callback to the Cloud Controller.
    let diego = w.cc.bbs.task_by_guid(&t1_guid).await.expect("desired");
    assert_eq!(diego.domain, "cf-tasks");
    assert_eq!(diego.task_definition.memory_mb, 256);
    assert_eq!(diego.task_definition.log_source, "APP/TASK/t1");
    assert!(
        diego
            .task_definition
            .completion_callback_url
            .starts_with(&format!(
                "{}/internal/v4/tasks/{t1_guid}/completed?",
                w.cc.base
            ))
    );

    // A second task, named by CF's default: 8 hex digits.
    let res =
        w.cc.post(&tasks_path, &w.dev, json!({"command": "sleep 100"}))
            .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let t2_guid = common::guid(&res.body);
    assert_eq!(res.body["sequence_id"], 2);
    let name = res.body["name"].as_str().unwrap();
    assert!(
        name.len() == 8 && name.chars().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );

    // Lists, as `cf tasks` and `cf terminate-task` read them; lists hide commands.
    let res = w.cc.get(&tasks_path, &w.dev).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(common::names(&res.body), ["t1", name]);
    assert!(res.body["resources"][0].get("command").is_none());
    let res =
        w.cc.get(&format!("{tasks_path}?sequence_ids=2"), &w.dev)
            .await;
    assert_eq!(common::names(&res.body), [name]);
    let res =
        w.cc.get(&format!("/v3/tasks?app_guids={app}&states=RUNNING"), &w.dev)
            .await;
    assert_eq!(res.body["resources"].as_array().unwrap().len(), 2);

    // The cell finishes t1: the BBS calls back and the task SUCCEEDED.
    w.cc.bbs.start_task(&t1_guid, "cell-1").await.unwrap();
    w.cc.bbs
        .complete_task(&t1_guid, "cell-1", false, "", "")
        .await
        .unwrap();
    wait_for_state(&w, &t1_guid, "SUCCEEDED").await;

    // `cf terminate-task` cancels with PUT: CANCELING, then FAILED when Diego calls back.
    let res =
        w.cc.send_raw(
            Method::PUT,
            &format!("/v3/tasks/{t2_guid}/cancel"),
            Some(&w.dev),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["state"], "CANCELING");
    let failed = wait_for_state(&w, &t2_guid, "FAILED").await;
    assert_eq!(failed["result"]["failure_reason"], "task was cancelled");

    // A finished task cannot be cancelled.
    let res =
        w.cc.post(
            &format!("/v3/tasks/{t1_guid}/actions/cancel"),
            &w.dev,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_detail(&res),
        "Task state is SUCCEEDED and therefore cannot be canceled"
    );

    let res =
        w.cc.get(&format!("/v3/audit_events?target_guids={app}"), &w.dev)
            .await;
    let types: Vec<&str> = res.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.starts_with("audit.app.task"))
        .collect();
    assert_eq!(
        types,
        [
            "audit.app.task.create",
            "audit.app.task.create",
            "audit.app.task.cancel"
        ]
    );
}

#[tokio::test]
async fn only_developers_run_and_cancel_tasks() {
    let w = world().await;
    idle_cell(&w.cc).await;
    let (app, _) = w.staged_app("guarded").await;
    let tasks_path = format!("/v3/apps/{app}/tasks");
    let res =
        w.cc.post(&tasks_path, &w.dev, json!({"command": "echo secret"}))
            .await;
    let task = common::guid(&res.body);

    // An auditor sees the task but not its command, and may not run or cancel one.
    let res = w.cc.get(&format!("/v3/tasks/{task}"), &w.auditor).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.get("command").is_none(), "{}", res.body);
    let res =
        w.cc.post(&tasks_path, &w.auditor, json!({"command": "echo x"}))
            .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res =
        w.cc.post(
            &format!("/v3/tasks/{task}/actions/cancel"),
            &w.auditor,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // An outsider learns nothing.
    let res =
        w.cc.post(&tasks_path, &w.outsider, json!({"command": "echo x"}))
            .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_detail(&res), "App not found");
    let res = w.cc.get(&format!("/v3/tasks/{task}"), &w.outsider).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_detail(&res), "Task not found");
    let res = w.cc.get("/v3/tasks", &w.outsider).await;
    assert_eq!(res.body["resources"], json!([]));

    // Only Diego, through the signed URL, may complete a task.
    let res =
        w.cc.post(
            &format!("/internal/v4/tasks/{task}/completed?signature=forged"),
            &w.dev,
            json!({"task_guid": task, "failed": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = w.cc.get(&format!("/v3/tasks/{task}"), &w.dev).await;
    assert_eq!(res.body["state"], "RUNNING");
}

#[tokio::test]
async fn bad_task_requests_change_nothing() {
    let w = world().await;
    let unstaged = w.create_app("unstaged").await;
    let res =
        w.cc.post(
            &format!("/v3/apps/{unstaged}/tasks"),
            &w.dev,
            json!({"command": "echo hi"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_detail(&res),
        "Task must have a droplet. Assign current droplet to app."
    );

    let (app, _) = w.staged_app("staged").await;
    let tasks_path = format!("/v3/apps/{app}/tasks");
    for (body, detail) in [
        (json!({}), "Command can't be blank"),
        (
            json!({"command": "x", "memory_in_mb": 0}),
            "Memory in mb must be greater than 0",
        ),
        (
            json!({"command": "x", "disk_in_mb": "big"}),
            "Disk in mb is not a number",
        ),
        (
            json!({"command": "x", "colour": "red"}),
            "Unknown field(s): 'colour'",
        ),
        (json!({"command": 7}), "Command must be a string"),
    ] {
        let res = w.cc.post(&tasks_path, &w.dev, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (code, title, got) = common::error_of(&res.body);
        assert_eq!((code, title.as_str()), (10008, "CF-UnprocessableEntity"));
        assert_eq!(got, detail, "{body}");
    }
    let res =
        w.cc.send_raw(Method::POST, &tasks_path, Some(&w.dev), Some("{".into()))
            .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let res = w.cc.get("/v3/tasks", &w.dev).await;
    assert_eq!(res.body["resources"], json!([]), "nothing was created");
    assert!(
        w.cc.bbs
            .tasks(ingot_bbs::TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}
