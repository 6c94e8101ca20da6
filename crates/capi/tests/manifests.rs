//! `cf push` up to the package upload, as the CLI sends it: apply_manifest, the job, the app
//! lookup; plus `cf create-app-manifest` and bad manifests.

mod common;

use common::{TestCc, error_of, location};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn setup(cc: &TestCc) -> (String, String) {
    setup_in(cc).await.1
}

/// An org, a space in it and a space developer's token: (org, (space, token)).
async fn setup_in(cc: &TestCc) -> (String, (String, String)) {
    let org = cc.create_org("o").await;
    let space = cc.create_space(&org, "s").await;
    let dev = cc.user("dev-guid", "dev");
    assert_eq!(cc.grant("organization_user", &org, "dev").await.status, 201);
    assert_eq!(cc.grant("space_developer", &space, "dev").await.status, 201);
    (org, (space, dev))
}

async fn apply(cc: &TestCc, space: &str, token: &str, yaml: &str) -> common::Response {
    cc.send_raw(
        Method::POST,
        &format!("/v3/spaces/{space}/actions/apply_manifest"),
        Some(token),
        Some(yaml.to_owned()),
    )
    .await
}

async fn app_by_name(cc: &TestCc, space: &str, token: &str, name: &str) -> Value {
    let res = cc
        .get(&format!("/v3/apps?names={name}&space_guids={space}"), token)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["resources"][0].clone()
}

async fn web(cc: &TestCc, app: &str, token: &str) -> Value {
    let res = cc
        .get(&format!("/v3/apps/{app}/processes/web"), token)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

#[tokio::test]
async fn push_without_manifest_then_with_flags() {
    let cc = TestCc::start().await;
    let (space, dev) = setup(&cc).await;

    let res = apply(
        &cc,
        &space,
        &dev,
        "applications:\n- name: myapp\n  default-route: true\n",
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let (polls, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(
        (polls, job["state"].as_str()),
        (1, Some("COMPLETE")),
        "{job}"
    );
    assert_eq!(job["operation"], "space.apply_manifest");

    let app = app_by_name(&cc, &space, &dev, "myapp").await;
    assert_eq!(app["state"], "STOPPED");
    assert_eq!(app["lifecycle"]["type"], "buildpack");
    assert_eq!(
        app["lifecycle"]["data"]["buildpacks"],
        serde_json::json!([])
    );
    assert_eq!(app["lifecycle"]["data"]["stack"], "cflinuxfs4");
    let guid = app["guid"].as_str().unwrap().to_owned();
    let p = web(&cc, &guid, &dev).await;
    assert_eq!(
        (&p["instances"], &p["memory_in_mb"], &p["disk_in_mb"]),
        (&1.into(), &1024.into(), &1024.into())
    );
    assert_eq!(p["health_check"]["type"], "port");
    assert_eq!(p["relationships"]["app"]["data"]["guid"], guid.as_str());
    // The default route exists and points at the app.
    let routes = cc.get(&format!("/v3/apps/{guid}/routes"), &dev).await;
    assert_eq!(
        routes.body["resources"][0]["url"], "myapp.apps.localhost",
        "{}",
        routes.body
    );

    // A re-push with flags: `-m 128M -k 512M -i 3 -c ./run -u process -t 60 -b ... -s ...`.
    let yaml = "applications:\n- name: myapp\n  disk-quota: 512M\n  health-check-type: process\n  timeout: 60\n  instances: 3\n  path: /home/me/app\n  memory: 128M\n  default-route: true\n  stack: cflinuxfs4\n  buildpacks:\n  - https://example.com/bp.git\n  command: ./run\n  env:\n    GREETING: hi\n";
    let res = apply(&cc, &space, &dev, yaml).await;
    let (_, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(job["state"], "COMPLETE", "{job}");
    let app = app_by_name(&cc, &space, &dev, "myapp").await;
    assert_eq!(app["guid"], guid.as_str(), "same app");
    assert_eq!(
        app["lifecycle"]["data"]["buildpacks"][0],
        "https://example.com/bp.git"
    );
    let p = web(&cc, &guid, &dev).await;
    assert_eq!(
        (&p["instances"], &p["memory_in_mb"], &p["disk_in_mb"]),
        (&3.into(), &128.into(), &512.into())
    );
    assert_eq!(p["command"], "./run");
    assert_eq!(p["health_check"]["type"], "process");
    assert_eq!(p["health_check"]["data"]["timeout"], 60);
    let env = cc
        .get(&format!("/v3/apps/{guid}/environment_variables"), &dev)
        .await;
    assert_eq!(env.body["var"]["GREETING"], "hi");
    // Still one route: default-route adds none to an app that has routes.
    let routes = cc.get(&format!("/v3/apps/{guid}/routes"), &dev).await;
    assert_eq!(routes.body["resources"].as_array().map(Vec::len), Some(1));

    // `--no-route` unmaps it.
    let res = apply(
        &cc,
        &space,
        &dev,
        "applications:\n- name: myapp\n  no-route: true\n",
    )
    .await;
    let (_, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(job["state"], "COMPLETE", "{job}");
    let routes = cc.get(&format!("/v3/apps/{guid}/routes"), &dev).await;
    assert_eq!(routes.body["resources"], serde_json::json!([]));

    let events = cc
        .get(&format!("/v3/audit_events?target_guids={guid}"), &dev)
        .await;
    let types: Vec<&str> = events.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"audit.app.create"), "{types:?}");
    assert!(types.contains(&"audit.app.apply_manifest"), "{types:?}");
}

#[tokio::test]
async fn manifest_with_processes_routes_and_random_route() {
    let cc = TestCc::start().await;
    let (space, dev) = setup(&cc).await;
    let yaml = "applications:\n- name: multi\n  memory: 256M\n  routes:\n  - route: multi-a.apps.localhost\n  - route: multi-b.apps.localhost/api\n  processes:\n  - type: worker\n    command: ./work\n    instances: 2\n    memory: 64M\n  - type: web\n    instances: 2\n    health-check-type: http\n    health-check-http-endpoint: /health\n    health-check-invocation-timeout: 5\n- name: other\n  random-route: true\n";
    let res = apply(&cc, &space, &dev, yaml).await;
    let (_, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(job["state"], "COMPLETE", "{job}");
    let app = app_by_name(&cc, &space, &dev, "multi").await;
    let guid = app["guid"].as_str().unwrap();
    let list = cc
        .get(&format!("/v3/processes?app_guids={guid}"), &dev)
        .await;
    let types: Vec<&str> = list.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["type"].as_str())
        .collect();
    assert_eq!(types, ["web", "worker"]);
    assert_eq!(
        list.body["resources"][0]["command"],
        "[PRIVATE DATA HIDDEN IN LISTS]"
    );
    let p = web(&cc, guid, &dev).await;
    assert_eq!(p["instances"], 2);
    // The processes entry for web replaces the app-level keys.
    assert_eq!(p["memory_in_mb"], 1024);
    assert_eq!(p["health_check"]["data"]["endpoint"], "/health");
    assert_eq!(p["health_check"]["data"]["invocation_timeout"], 5);
    let worker = cc
        .get(&format!("/v3/apps/{guid}/processes/worker"), &dev)
        .await;
    assert_eq!(
        (&worker.body["instances"], &worker.body["memory_in_mb"]),
        (&2.into(), &64.into())
    );
    assert_eq!(worker.body["command"], "./work");
    let routes = cc.get(&format!("/v3/apps/{guid}/routes"), &dev).await;
    let mut urls: Vec<&str> = routes.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["url"].as_str())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        ["multi-a.apps.localhost", "multi-b.apps.localhost/api"]
    );

    let other = app_by_name(&cc, &space, &dev, "other").await;
    let routes = cc
        .get(
            &format!("/v3/apps/{}/routes", other["guid"].as_str().unwrap()),
            &dev,
        )
        .await;
    let url = routes.body["resources"][0]["url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        url.starts_with("other-") && url.ends_with(".apps.localhost"),
        "{url}"
    );

    // cf create-app-manifest
    let res = cc.get(&format!("/v3/apps/{guid}/manifest"), &dev).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.headers.get("content-type").unwrap(),
        "application/x-yaml"
    );
    let yaml = res.body.as_str().unwrap();
    assert!(yaml.starts_with("applications:\n- name: multi\n"), "{yaml}");
    assert!(yaml.contains("- route: multi-a.apps.localhost"), "{yaml}");
    assert!(yaml.contains("memory: 64M"), "{yaml}");
    assert!(
        yaml.contains("health-check-http-endpoint: /health"),
        "{yaml}"
    );
    // Applying it back changes nothing.
    let res = apply(&cc, &space, &dev, yaml).await;
    let (_, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(job["state"], "COMPLETE", "{job}");
}

#[tokio::test]
async fn bad_manifests_change_nothing() {
    let cc = TestCc::start().await;
    let (space, dev) = setup(&cc).await;
    for (yaml, detail) in [
        (
            "applications:\n- name: a\n  memory: abc\n",
            "For application 'a': Process \"web\": Memory is not a number",
        ),
        (
            "applications:\n- name: a\n  instances: -1\n",
            "For application 'a': Process \"web\": Instances must be greater than or equal to 0",
        ),
        (
            "applications:\n- memory: 1G\n",
            "For application at index 0: Name must not be empty",
        ),
        (
            "applications:\n- name: a\n  disk_quota: 1G\n  env:\n    PORT: 1\n",
            "For application 'a': Env cannot set PORT",
        ),
        (
            "applications:\n- name: a\n  services:\n  - db\n",
            "For application 'a': Service instance 'db' not found",
        ),
    ] {
        let res = apply(&cc, &space, &dev, yaml).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{yaml}");
        let (code, title, got) = error_of(&res.body);
        assert_eq!((code, title.as_str()), (10008, "CF-UnprocessableEntity"));
        assert_eq!(got, detail);
    }
    let res = apply(&cc, &space, &dev, "applications: [\n").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // A limit only the apply finds fails the job with CC's message.
    let res = apply(
        &cc,
        &space,
        &dev,
        "applications:\n- name: big\n  disk_quota: 4G\n",
    )
    .await;
    let (_, job) = cc.wait_for_job(&location(&res), &dev).await;
    assert_eq!(job["state"], "FAILED");
    assert_eq!(
        job["errors"][0]["detail"],
        "For application 'big': Process \"web\": disk_quota too much disk requested (requested 4096 MB - must be less than 2048 MB)"
    );
    assert_eq!(job["errors"][0]["code"], 10008);
    let apps = cc.get(&format!("/v3/apps?space_guids={space}"), &dev).await;
    let names = common::names(&apps.body);
    assert!(!names.contains(&"a".to_owned()), "{names:?}");
}

#[tokio::test]
async fn only_developers_apply_manifests() {
    let cc = TestCc::start().await;
    let (org, (space, _)) = setup_in(&cc).await;
    let auditor = cc.user("aud-guid", "aud");
    cc.grant("organization_user", &org, "aud").await;
    cc.grant("space_auditor", &space, "aud").await;
    let outsider = cc.user("out-guid", "out");
    let yaml = "applications:\n- name: x\n";
    assert_eq!(
        apply(&cc, &space, &auditor, yaml).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        apply(&cc, &space, &outsider, yaml).await.status,
        StatusCode::NOT_FOUND
    );
    let apps = cc
        .get(&format!("/v3/apps?space_guids={space}"), &cc.admin)
        .await;
    assert_eq!(apps.body["resources"], serde_json::json!([]));
}
