//! Apps in Linux containers, end to end through `ingot up`: a pushed app runs in a container
//! on its own address behind the router, is restarted after a crash, is killed for exceeding
//! its memory with "out of memory" as the crash reason, keeps running across an Ingot
//! restart, and nothing is left behind; and apps stage and run on the Debian stack.
//!
//! Needs root and an OCI runtime; without them the test says why and passes, unless
//! `INGOT_REQUIRE_LINUX_BACKEND=1` (set by CI) makes that a failure.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Platform;
use common::push::sample_app;
use ingot::config::GardenBackend;
use ingot_garden::linux::{NetworkConfig, Subnet, unavailable_reason};
use ingot_garden::{LinuxConfig, LinuxGarden};
use reqwest::StatusCode;
use serde_json::Value;

fn can_run() -> bool {
    let Some(reason) = unavailable_reason(Path::new("runc")) else {
        return true;
    };
    if std::env::var("INGOT_REQUIRE_LINUX_BACKEND").as_deref() == Ok("1") {
        panic!("the linux backend is required but cannot run: {reason}");
    }
    eprintln!("skipping: the linux backend cannot run here: {reason}");
    false
}

/// Removes whatever containers and network a failed test left.
struct Purge(LinuxConfig);

impl Drop for Purge {
    fn drop(&mut self) {
        ingot_garden::linux::purge(&self.0);
    }
}

/// The crash events of the app, newest first.
async fn crashes(platform: &Platform, token: &str, app: &str) -> Vec<Value> {
    let (_, events) = platform
        .get(
            &format!("/v3/audit_events?target_guids={app}&types=audit.app.process.crash&order_by=-created_at"),
            token,
        )
        .await;
    events["resources"].as_array().unwrap().clone()
}

async fn wait_for_crashes(platform: &Platform, token: &str, app: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = crashes(platform, token, app).await;
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "no crash event: {found:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `ingot up` with Linux containers on a bridge and subnet of the test's own (`n` tells
/// the tests of this file apart), and `adjust` applied; plus the guard that purges what it
/// leaves. `None` when the machine cannot run containers.
async fn start_linux(
    n: u32,
    adjust: impl FnOnce(&mut ingot::Config),
) -> Option<(Platform, LinuxConfig, Purge)> {
    if !can_run() {
        return None;
    }
    let id = std::process::id() % 10_000;
    let bridge = format!("igte{n}{id}");
    let subnet = Subnet::parse(&format!("10.{}.{}.0/24", 190 + n, id % 250)).unwrap();
    let platform = Platform::start_with(|config| {
        Platform::fixed_ports(config);
        config.cell.garden.backend = GardenBackend::Linux;
        config.cell.garden.bridge = bridge.clone();
        config.cell.garden.subnet = subnet;
        adjust(config);
    })
    .await;
    let data_dir = &platform.config.as_ref().unwrap().data_dir;
    let mut linux = LinuxConfig::new(data_dir.join("containers"), data_dir.join("garden-linux"));
    linux.network = NetworkConfig { bridge, subnet };
    let purge = Purge(linux.clone());
    Some((platform, linux, purge))
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_run_in_containers_survive_crashes_ooms_and_restarts() {
    let Some((platform, linux, _purge)) = start_linux(0, |_| {}).await else {
        return;
    };
    let data_dir = platform.config.as_ref().unwrap().data_dir.clone();
    let (bridge, subnet) = (linux.network.bridge.clone(), linux.network.subnet);
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;

    // `cf stacks` says what the default stack really is.
    let (_, stacks) = platform.get("/v3/stacks", &token).await;
    let description = stacks["resources"][0]["description"].as_str().unwrap();
    assert!(description.contains("in a container"), "{description}");

    let manifest = "applications:\n- name: boxed\n  default-route: true\n  memory: 128M\n";
    let pushed = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await;
    let app = pushed.guid;
    let (status, body) = platform.via_router("boxed.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("hello from python"), "{body}");

    // The instance has an address of its own in the container subnet.
    let stats = platform.web_stats(&token, &app).await;
    let host = stats[0]["host"].as_str().unwrap();
    let prefix = subnet.to_string();
    let prefix = prefix.rsplit_once('.').unwrap().0;
    assert!(host.starts_with(prefix), "instance address {host}");

    // `cf app` shows the usage read from the container's cgroup and writable layer.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = platform.web_stats(&token, &app).await;
        let usage = &stats[0]["usage"];
        let mem = usage["mem"].as_u64().unwrap_or(0);
        if mem > 0 && usage["disk"].as_u64().unwrap_or(0) > 0 {
            assert!(mem < 128 << 20, "{usage}");
            break;
        }
        assert!(Instant::now() < deadline, "no usage: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A crash: the instance is restarted.
    let _ = platform.via_router("boxed.apps.localhost", "/crash").await;
    let found = wait_for_crashes(&platform, &token, &app, 1).await;
    let reason = found[0]["data"]["exit_description"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("Exited with status 3"), "{found:?}");
    platform.wait_running(&token, &app, 1).await;

    // Past its 128M: killed by the kernel, and the crash says why.
    let _ = platform
        .via_router("boxed.apps.localhost", "/alloc?mb=400")
        .await;
    let found = wait_for_crashes(&platform, &token, &app, 2).await;
    let reason = found[0]["data"]["exit_description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("Exited with status 137 (out of memory)"),
        "{found:?}"
    );
    let before = platform.wait_running(&token, &app, 1).await;
    let (status, _) = platform.via_router("boxed.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK);

    // Ingot restarts; the running container is re-adopted, not replaced.
    let mut platform = platform;
    platform.restart().await;
    let token = platform.admin_token().await;
    let after = platform.wait_running(&token, &app, 1).await;
    assert_eq!(after[0]["host"], before[0]["host"]);
    assert!(after[0]["uptime"].as_u64() >= before[0]["uptime"].as_u64());
    let (status, _) = platform.via_router("boxed.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK);
    let runtime_state = data_dir.join("garden-linux/runtime");
    assert_eq!(std::fs::read_dir(&runtime_state).unwrap().count(), 1);

    // Stopped apps' containers go once their instances have drained.
    platform.stop_all_apps(&token).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&runtime_state).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "containers were not destroyed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    platform.stop().await;

    // Nothing of the containers is left: a backend opened on the same depot finds none,
    // and with the network gone, no mount, namespace or runtime state remains.
    let garden = LinuxGarden::open(linux).await.unwrap();
    let left = ingot_garden::Garden::containers(&garden, &Default::default())
        .await
        .unwrap();
    assert!(left.is_empty(), "{} containers left", left.len());
    garden.remove_network().await.unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(data_dir.to_str().unwrap()),
        "mounts left"
    );
    let netns: Vec<_> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&bridge))
        .collect();
    assert!(netns.is_empty(), "namespaces left: {netns:?}");
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
}

/// The Debian stack `ingot stack build` makes, which CI builds once as a setup step and
/// names in `INGOT_TEST_STACK_DATA_DIR` (its data dir): an app stages and runs on it.
#[tokio::test(flavor = "multi_thread")]
async fn apps_stage_and_run_on_the_debian_stack() {
    let Ok(stacks) = std::env::var("INGOT_TEST_STACK_DATA_DIR") else {
        eprintln!("skipping: INGOT_TEST_STACK_DATA_DIR names no built stack");
        return;
    };
    let stacks = Path::new(&stacks).join("stacks");
    let Some((platform, _linux, _purge)) = start_linux(1, |config| {
        std::fs::create_dir_all(&config.data_dir).unwrap();
        std::os::unix::fs::symlink(&stacks, config.data_dir.join("stacks")).unwrap();
    })
    .await
    else {
        return;
    };
    let token = platform.admin_token().await;
    let (_, list) = platform.get("/v3/stacks", &token).await;
    let description = list["resources"][0]["description"].as_str().unwrap();
    assert!(description.contains("Debian"), "{description}");
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: on-debian\n  default-route: true\n";
    platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await;
    let (status, body) = platform.via_router("on-debian.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("hello from python"), "{body}");
    platform.stop_all_apps(&token).await;
    platform.stop().await;
}
