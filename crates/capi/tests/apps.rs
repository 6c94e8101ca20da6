//! Apps, processes and environment as the cf CLI reads and changes them: cf apps / app,
//! rename, set-env / unset-env / env, scale, set-health-check, start / stop / restart,
//! delete; with RBAC and CC's errors.

mod common;

use common::{World, error_of, guid, location, world};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create_app(w: &World, name: &str) -> Value {
    let res =
        w.cc.post(
            "/v3/apps",
            &w.dev,
            json!({
                "name": name,
                "relationships": {"space": {"data": {"guid": w.space}}},
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": [], "stack": null}},
                "environment_variables": {"A": "1"},
                "metadata": {},
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

fn assert_unprocessable(res: &common::Response, detail: &str) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let (code, title, got) = error_of(&res.body);
    assert_eq!(
        (code, title.as_str(), got.as_str()),
        (10008, "CF-UnprocessableEntity", detail)
    );
}

#[tokio::test]
async fn app_json_lists_and_rename() {
    let w = world().await;
    let app = create_app(&w, "web-app").await;
    let g = guid(&app);
    assert_eq!(app["state"], "STOPPED");
    assert_eq!(
        app["lifecycle"],
        json!({"type": "buildpack", "data": {"buildpacks": [], "stack": "cflinuxfs4"}})
    );
    assert_eq!(
        app["relationships"]["space"]["data"]["guid"],
        w.space.as_str()
    );
    assert_eq!(app["links"]["start"]["method"], "POST");
    assert_eq!(
        app["links"]["current_droplet"]["href"],
        format!("{}/v3/apps/{g}/droplets/current", w.cc.base)
    );
    create_app(&w, "another").await;

    // cf apps
    let list =
        w.cc.get(
            &format!("/v3/apps?order_by=name&space_guids={}", w.space),
            &w.auditor,
        )
        .await;
    assert_eq!(common::names(&list.body), ["another", "web-app"]);
    let list =
        w.cc.get(
            "/v3/apps?names=web-app&include=space,space.organization",
            &w.dev,
        )
        .await;
    assert_eq!(list.body["resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.body["included"]["spaces"][0]["guid"], w.space.as_str());
    assert_eq!(list.body["included"]["organizations"][0]["name"], "org");
    let processes =
        w.cc.get(&format!("/v3/processes?app_guids={g}"), &w.dev)
            .await;
    let web = &processes.body["resources"][0];
    assert_eq!(
        web["guid"],
        g.as_str(),
        "the web process shares the app's guid"
    );
    assert_eq!(web["relationships"]["app"]["data"]["guid"], g.as_str());
    assert_eq!(web["readiness_health_check"]["type"], "process");
    assert_eq!(web["log_rate_limit_in_bytes_per_second"], -1);
    assert_eq!(
        w.cc.get("/v3/apps", &w.outsider).await.body["resources"],
        json!([])
    );
    assert_eq!(
        w.cc.get(&format!("/v3/apps/{g}"), &w.outsider).await.status,
        StatusCode::NOT_FOUND
    );

    // cf app: no droplet yet is exactly "Droplet not found".
    let res =
        w.cc.get(&format!("/v3/apps/{g}/droplets/current"), &w.dev)
            .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&res.body).2, "Droplet not found");
    let sidecars =
        w.cc.get(&format!("/v3/processes/{g}/sidecars"), &w.dev)
            .await;
    assert_eq!(sidecars.body["resources"], json!([]));

    // cf rename echoes the lifecycle.
    let rename = json!({"name": "renamed", "lifecycle": {"type": "buildpack",
        "data": {"buildpacks": [], "stack": "cflinuxfs4"}}, "metadata": {}});
    assert_eq!(
        w.cc.patch(&format!("/v3/apps/{g}"), &w.auditor, rename.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res = w.cc.patch(&format!("/v3/apps/{g}"), &w.dev, rename).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "renamed");
    let res =
        w.cc.patch(&format!("/v3/apps/{g}"), &w.dev, json!({"name": "another"}))
            .await;
    assert_unprocessable(&res, "App with the name 'another' already exists.");
    let res =
        w.cc.patch(
            &format!("/v3/apps/{g}"),
            &w.dev,
            json!({"lifecycle": {"type": "buildpack", "data": {"buildpacks": ["nope"]}}}),
        )
        .await;
    assert_unprocessable(
        &res,
        "Buildpack \"nope\" must be an existing admin buildpack or a valid git URI",
    );
    assert_eq!(
        w.cc.get(&format!("/v3/apps/{g}"), &w.dev).await.body["name"],
        "renamed"
    );
}

#[tokio::test]
async fn bad_creates() {
    let w = world().await;
    create_app(&w, "taken").await;
    let body = |name: &str, env: Value| {
        json!({"name": name, "relationships": {"space": {"data": {"guid": w.space}}},
               "environment_variables": env})
    };
    let res =
        w.cc.post("/v3/apps", &w.dev, body("taken", json!({})))
            .await;
    assert_unprocessable(&res, "App with the name 'taken' already exists.");
    let res =
        w.cc.post("/v3/apps", &w.dev, body("x", json!({"VCAP_X": "1"})))
            .await;
    assert_unprocessable(&res, "Environment variables cannot start with VCAP_");
    let res =
        w.cc.post("/v3/apps", &w.auditor, body("y", json!({})))
            .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res =
        w.cc.post("/v3/apps", &w.outsider, body("y", json!({})))
            .await;
    assert_unprocessable(
        &res,
        "Invalid space. Ensure that the space exists and you have access to it.",
    );
    let list = w.cc.get("/v3/apps", &w.dev).await;
    assert_eq!(common::names(&list.body), ["taken"]);
}

#[tokio::test]
async fn environment() {
    let w = world().await;
    let g = guid(&create_app(&w, "envy").await);
    let path = format!("/v3/apps/{g}/environment_variables");
    let res = w.cc.patch(&path, &w.dev, json!({"var": {"B": "2"}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["var"], json!({"A": "1", "B": "2"}));
    let res = w.cc.patch(&path, &w.dev, json!({"var": {"A": null}})).await;
    assert_eq!(res.body["var"], json!({"B": "2"}));
    for (var, detail) in [
        (json!({"PORT": "1"}), "Var cannot set PORT"),
        (json!({"vcap_services": "x"}), "Var cannot start with VCAP_"),
    ] {
        let res = w.cc.patch(&path, &w.dev, json!({ "var": var })).await;
        assert_unprocessable(&res, detail);
    }
    assert_eq!(
        w.cc.patch(&path, &w.auditor, json!({"var": {"C": "3"}}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.cc.get(&path, &w.auditor).await.status,
        StatusCode::FORBIDDEN
    );

    // Groups: admins write, everyone reads.
    let group = "/v3/environment_variable_groups/running";
    assert_eq!(
        w.cc.patch(group, &w.dev, json!({"var": {"G": "1"}}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res =
        w.cc.patch(group, &w.cc.admin, json!({"var": {"G": "1"}}))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(w.cc.get(group, &w.dev).await.body["var"], json!({"G": "1"}));
    assert_eq!(
        w.cc.get("/v3/environment_variable_groups/other", &w.dev)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // cf env
    let res = w.cc.get(&format!("/v3/apps/{g}/env"), &w.dev).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["environment_variables"], json!({"B": "2"}));
    assert_eq!(res.body["running_env_json"], json!({"G": "1"}));
    assert_eq!(res.body["staging_env_json"], json!({}));
    assert_eq!(res.body["system_env_json"], json!({"VCAP_SERVICES": {}}));
    let vcap = &res.body["application_env_json"]["VCAP_APPLICATION"];
    assert_eq!(vcap["application_name"], "envy");
    assert_eq!(vcap["space_name"], "dev");
    assert_eq!(vcap["organization_name"], "org");
    assert_eq!(
        vcap["limits"],
        json!({"mem": 1024, "disk": 1024, "fds": 16384})
    );
    assert_eq!(vcap["cf_api"], w.cc.base.as_str());
    assert_eq!(
        w.cc.get(&format!("/v3/apps/{g}/env"), &w.auditor)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn scale_and_health_check() {
    let w = world().await;
    let g = guid(&create_app(&w, "scaly").await);
    let scale = format!("/v3/apps/{g}/processes/web/actions/scale");
    let res =
        w.cc.post(
            &scale,
            &w.dev,
            json!({"instances": 2, "memory_in_mb": 512, "disk_in_mb": 2048}),
        )
        .await;
    // CC answers a scale with 202 and the process.
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(
        (
            &res.body["instances"],
            &res.body["memory_in_mb"],
            &res.body["disk_in_mb"]
        ),
        (&2.into(), &512.into(), &2048.into())
    );
    let res = w.cc.post(&scale, &w.dev, json!({"disk_in_mb": 4096})).await;
    assert_unprocessable(
        &res,
        "disk_quota too much disk requested (requested 4096 MB - must be less than 2048 MB)",
    );
    let res = w.cc.post(&scale, &w.dev, json!({"instances": -1})).await;
    assert_unprocessable(&res, "Instances must be greater than or equal to 0");
    assert_eq!(
        w.cc.post(&scale, &w.auditor, json!({"instances": 5}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res =
        w.cc.post(
            &format!("/v3/processes/{g}/actions/scale"),
            &w.dev,
            json!({"instances": 3}),
        )
        .await;
    assert_eq!(res.body["instances"], 3);
    assert_eq!(res.body["memory_in_mb"], 512, "untouched fields stay");

    // cf set-health-check scaly http --endpoint /health --invocation-timeout 2
    let path = format!("/v3/processes/{g}");
    let res = w
        .cc
        .patch(
            &path,
            &w.dev,
            json!({"health_check": {"type": "http", "data": {"endpoint": "/health", "invocation_timeout": 2}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body["health_check"],
        json!({"type": "http", "data": {"endpoint": "/health", "timeout": null, "invocation_timeout": 2}})
    );
    let res =
        w.cc.patch(
            &path,
            &w.dev,
            json!({"health_check": {"type": "http", "data": {"endpoint": "health"}}}),
        )
        .await;
    assert_unprocessable(
        &res,
        "HTTP health check endpoint is not a valid URI path: health",
    );
    let res =
        w.cc.patch(
            &path,
            &w.dev,
            json!({"health_check": {"type": "port", "data": {"timeout": 181}}}),
        )
        .await;
    assert_unprocessable(&res, "Health check timeout Maximum exceeded: max 180s");
    let res =
        w.cc.patch(&path, &w.dev, json!({"health_check": {"type": "bogus"}}))
            .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res =
        w.cc.patch(&path, &w.dev, json!({"command": "./serve"}))
            .await;
    assert_eq!(res.body["command"], "./serve");
    assert_eq!(res.body["health_check"]["type"], "http", "unchanged");
    assert_eq!(
        w.cc.get(&path, &w.auditor).await.body["command"],
        "[PRIVATE DATA HIDDEN]"
    );
    let events =
        w.cc.get(&format!("/v3/audit_events?target_guids={g}"), &w.dev)
            .await;
    let types: Vec<&str> = events.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"audit.app.process.scale"), "{types:?}");
    assert!(types.contains(&"audit.app.process.update"), "{types:?}");
}

#[tokio::test]
async fn lifecycle_actions_and_delete() {
    let w = world().await;
    let g = guid(&create_app(&w, "life").await);
    let res =
        w.cc.post(&format!("/v3/apps/{g}/actions/start"), &w.dev, json!({}))
            .await;
    assert_unprocessable(&res, "Assign a droplet before starting this app.");
    let res =
        w.cc.patch(
            &format!("/v3/apps/{g}/relationships/current_droplet"),
            &w.dev,
            json!({"data": {"guid": "no-such-droplet"}}),
        )
        .await;
    assert_unprocessable(
        &res,
        "Unable to assign current droplet. Ensure the droplet exists and belongs to this app.",
    );
    let rel =
        w.cc.get(
            &format!("/v3/apps/{g}/relationships/current_droplet"),
            &w.dev,
        )
        .await;
    assert_eq!(rel.body["data"], Value::Null);
    let res =
        w.cc.post(&format!("/v3/apps/{g}/actions/stop"), &w.dev, json!({}))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["state"], "STOPPED");
    assert_eq!(
        w.cc.post(&format!("/v3/apps/{g}/actions/stop"), &w.auditor, json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        w.cc.delete(&format!("/v3/apps/{g}"), &w.auditor)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res = w.cc.delete(&format!("/v3/apps/{g}"), &w.dev).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let (polls, job) = w.cc.wait_for_job(&location(&res), &w.dev).await;
    assert_eq!((polls, job["state"].as_str()), (1, Some("COMPLETE")));
    assert_eq!(job["operation"], "app.delete");
    assert_eq!(
        w.cc.get(&format!("/v3/apps/{g}"), &w.dev).await.status,
        StatusCode::NOT_FOUND
    );
    let processes =
        w.cc.get(&format!("/v3/processes?app_guids={g}"), &w.dev)
            .await;
    assert_eq!(processes.body["resources"], json!([]));
}
