//! `cf push` end to end, as the cf CLI drives it: every built-in buildpack stages its sample
//! app on the local cell and the instance answers through the router; then scale, crash,
//! restage, tasks and a staging failure on one app.

mod common;
#[path = "../../../tests/apps/stack_tools.rs"]
mod stack_tools;

use std::time::{Duration, Instant};

use common::{
    Platform,
    push::{Pushed, sample_app},
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use stack_tools::{stack_has, tools_for};

/// `cf push NAME` of a sample app with a default route; checks the instance's answer through
/// the router. Returns the platform, admin token and the pushed app for further steps, or
/// `None` when the stack lacks the sample's tools (outside CI; see stack_tools).
async fn push_sample(
    sample: &str,
    manifest_extra: &str,
    expect: &str,
) -> Option<(Platform, String, Pushed)> {
    if !stack_has(tools_for(sample)) {
        return None;
    }
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let name = format!("{sample}-app");
    let manifest =
        format!("applications:\n- name: {name}\n  default-route: true\n{manifest_extra}");
    let (dir, _build) = sample_dir(sample);
    let pushed = platform.push(&token, &space, &dir, &manifest).await;
    let (status, body) = platform
        .via_router(&format!("{name}.apps.localhost"), "/")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{sample} through the router: {body}"
    );
    assert!(body.contains(expect), "{sample} answered {body:?}");
    Some((platform, token, pushed))
}

/// The sample's directory; the binary and java samples are compiled first, as a developer
/// would before pushing them, into a temporary directory that goes when the second value does.
fn sample_dir(sample: &str) -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    let source = sample_app(sample);
    let out = tempfile::tempdir().unwrap();
    match sample {
        "binary" => {
            let status = std::process::Command::new("go")
                .args(["build", "-o"])
                .arg(out.path().join("app"))
                .arg(".")
                .current_dir(&source)
                .env("GOFLAGS", "-mod=mod")
                .env("GOPROXY", "off")
                .env("CGO_ENABLED", "0")
                .status()
                .expect("go is on the stack");
            assert!(status.success(), "building the binary sample");
            (out.path().to_path_buf(), Some(out))
        }
        "java" => {
            // `cf push app.jar` uploads the jar's contents.
            let build = tempfile::tempdir().unwrap();
            let jar = build.path().join("app.jar");
            let run = |command: &mut std::process::Command| {
                let status = command.status().expect("the JDK is on the stack");
                assert!(status.success(), "{command:?}");
            };
            run(std::process::Command::new("javac")
                .arg("-d")
                .arg(build.path().join("classes"))
                .arg(source.join("Main.java")));
            run(std::process::Command::new("jar")
                .args(["--create", "--main-class", "Main", "--file"])
                .arg(&jar)
                .arg("-C")
                .arg(build.path().join("classes"))
                .arg("."));
            run(std::process::Command::new("jar")
                .arg("xf")
                .arg(&jar)
                .current_dir(out.path()));
            (out.path().to_path_buf(), Some(out))
        }
        _ => (source, None),
    }
}

async fn finish(platform: Platform, token: &str) {
    platform.stop_all_apps(token).await;
    platform.stop().await;
}

/// Pushes the sample and, once it answers with `expect`, stops it all.
async fn push_and_finish(sample: &str, manifest_extra: &str, expect: &str) {
    if let Some((platform, token, _)) = push_sample(sample, manifest_extra, expect).await {
        finish(platform, &token).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn staticfile_app_is_pushed_and_served() {
    let Some((platform, token, pushed)) =
        push_sample("staticfile", "", "Ingot staticfile sample").await
    else {
        return;
    };
    let buildpacks = &pushed.build["droplet"];
    assert!(buildpacks.is_object(), "{}", pushed.build);
    let (_, droplet) = platform
        .get(&format!("/v3/droplets/{}", pushed.droplet), &token)
        .await;
    assert_eq!(droplet["state"], "STAGED");
    assert_eq!(
        droplet["buildpacks"][0]["name"], "staticfile_buildpack",
        "{droplet}"
    );
    println!("staticfile push: {:?}", pushed.timings);
    finish(platform, &token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_app_runs_with_its_command() {
    push_and_finish(
        "binary",
        "  buildpacks: [binary_buildpack]\n  command: ./app\n",
        "hello from binary",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nodejs_app_is_pushed_and_served() {
    push_and_finish("nodejs", "", "hello from nodejs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ruby_app_is_pushed_and_served() {
    push_and_finish("ruby", "", "hello from ruby").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn java_app_is_pushed_and_served() {
    push_and_finish("java", "", "hello from java").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn go_app_is_pushed_and_served() {
    push_and_finish("go", "", "hello from go").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_app_scales_survives_a_crash_restages_and_runs_tasks() {
    let Some((platform, token, pushed)) = push_sample("python", "", "hello from python").await
    else {
        return;
    };
    let app = pushed.guid.clone();

    // cf scale -i 3: every instance answers through the router, round robin.
    let (status, body) = platform
        .post(
            &format!("/v3/apps/{app}/processes/web/actions/scale"),
            &token,
            json!({ "instances": 3 }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    platform.wait_running(&token, &app, 3).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (_, body) = platform.via_router("python-app.apps.localhost", "/").await;
        seen.insert(body);
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen.len(), 3, "three instances answer: {seen:?}");

    // cf app: every running instance shows the usage its cell sampled.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = platform.web_stats(&token, &app).await;
        let measured = |s: &&serde_json::Value| {
            s["state"] == "RUNNING" && s["usage"]["mem"].as_u64().is_some_and(|m| m > 0)
        };
        if stats.iter().filter(measured).count() == 3 {
            for s in &stats {
                let usage = &s["usage"];
                assert!(usage["mem"].as_u64() < s["mem_quota"].as_u64(), "{s}");
                assert!(usage["disk"].as_u64().is_some_and(|d| d > 0), "{s}");
                assert!(usage["cpu"].as_f64().is_some_and(|c| c >= 0.0), "{s}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "no usage in stats: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Kill an instance: it is restarted and `cf events` shows the crash.
    let (status, _) = platform
        .via_router("python-app.apps.localhost", "/crash")
        .await;
    assert!(
        status.is_server_error(),
        "the crash request fails: {status}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, events) = platform
            .get(
                &format!("/v3/audit_events?target_guids={app}&order_by=-created_at"),
                &token,
            )
            .await;
        let crashed = events["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "audit.app.process.crash");
        if crashed {
            break;
        }
        assert!(Instant::now() < deadline, "no crash event: {events}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    platform.wait_running(&token, &app, 3).await;

    // cf restage: a new droplet from the same package, and the app runs it.
    let (_, packages) = platform
        .get(
            &format!("/v3/packages?app_guids={app}&order_by=-created_at&states=READY"),
            &token,
        )
        .await;
    let package = packages["resources"][0]["guid"]
        .as_str()
        .unwrap()
        .to_owned();
    let build = platform.stage(&token, &package).await;
    assert_eq!(build["state"], "STAGED", "{build}");
    let droplet = build["droplet"]["guid"].as_str().unwrap();
    assert_ne!(droplet, pushed.droplet, "restage makes a new droplet");
    platform.start_droplet(&token, &app, droplet).await;
    platform.wait_running(&token, &app, 3).await;
    let (_, current) = platform
        .get(&format!("/v3/apps/{app}/droplets/current"), &token)
        .await;
    assert_eq!(current["guid"], droplet);

    // cf run-task on the droplet: the task runs to SUCCEEDED.
    let (status, task) = platform
        .post(
            &format!("/v3/apps/{app}/tasks"),
            &token,
            json!({ "command": "python3 -c 'print(42)'", "name": "answer" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    assert_eq!(task["sequence_id"], 1);
    let path = format!("/v3/tasks/{}", task["guid"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, task) = platform.get(&path, &token).await;
        match task["state"].as_str().unwrap() {
            "SUCCEEDED" => break,
            "FAILED" => panic!("task failed: {task}"),
            _ => assert!(Instant::now() < deadline, "task still {task}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    finish(platform, &token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_no_buildpack_detects_fails_staging_with_the_reason() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "nothing to run here\n").unwrap();
    let job = platform
        .apply_manifest(&token, &space, "applications:\n- name: mystery\n")
        .await;
    assert_eq!(job["state"], "COMPLETE", "{job}");
    let app = platform.app_guid(&token, &space, "mystery").await.unwrap();
    let mut timings = Default::default();
    let package = platform
        .upload_bits(&token, &app, dir.path(), &mut timings)
        .await;
    let build = platform.stage(&token, &package).await;
    assert_eq!(build["state"], "FAILED", "{build}");
    assert!(
        build["error"]
            .as_str()
            .unwrap()
            .starts_with("NoAppDetectedError"),
        "{build}"
    );
    let (status, body) = platform
        .api_call(
            Method::POST,
            &format!("/v3/apps/{app}/actions/start"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_app_survives_an_ingot_restart() {
    if !stack_has(tools_for("staticfile")) {
        return;
    }
    let mut platform = Platform::start_on_fixed_ports().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest =
        "applications:\n- name: keeper\n  default-route: true\n  instances: 2\n  memory: 64M\n";
    let pushed = platform
        .push(&token, &space, &sample_app("staticfile"), manifest)
        .await;
    let app = pushed.guid;

    platform.restart().await;
    let token = platform.admin_token().await;

    // Everything is still there: the app, its droplet, its route, its running instances.
    let (_, current) = platform
        .get(&format!("/v3/apps/{app}/droplets/current"), &token)
        .await;
    assert_eq!(current["guid"], pushed.droplet.as_str(), "{current}");
    platform.wait_running(&token, &app, 2).await;
    let (status, body) = platform.via_router("keeper.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A new instance still gets the droplet from the blobstore, and the package restages.
    let (status, body) = platform
        .post(
            &format!("/v3/apps/{app}/processes/web/actions/scale"),
            &token,
            json!({ "instances": 3 }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    platform.wait_running(&token, &app, 3).await;
    let (_, packages) = platform
        .get(&format!("/v3/packages?app_guids={app}"), &token)
        .await;
    let package = packages["resources"][0]["guid"]
        .as_str()
        .unwrap()
        .to_owned();
    let build = platform.stage(&token, &package).await;
    assert_eq!(build["state"], "STAGED", "{build}");
    finish(platform, &token).await;
}
