//! The process backend against real processes, in a temporary depot.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{TIMEOUT, TestDepot, is_running, read_until, sh};
use ingot_core::testing::eventually_within;
use ingot_garden::{
    BindMount, BindMountMode, ContainerSpec, ContainerState, ExitStatus, Garden, Limits, ProcessIo,
    ProcessSpec, Signal, collect,
};

#[tokio::test]
async fn run_captures_output_and_exit_code() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let (io, mut out) = ProcessIo::capture();
    let process = container
        .run(sh("echo out; echo err >&2; exit 3"), io)
        .await
        .unwrap();
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(3));
    assert_eq!(collect(&mut out.stdout).await, b"out\n");
    assert_eq!(collect(&mut out.stderr).await, b"err\n");
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn stdin_env_dir_and_open_files_limit() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let spec = ContainerSpec {
        handle: "env-check".into(),
        env: vec!["GREETING=hello".into()],
        limits: Limits {
            open_files: Some(100),
            ..Limits::default()
        },
        ..ContainerSpec::default()
    };
    let container = garden.create(spec).await.unwrap();
    let root = container.info().await.unwrap().container_path;

    let (io, mut out) = ProcessIo::capture();
    let io = io.with_stdin(Box::new(std::io::Cursor::new(b"from stdin".to_vec())));
    let mut spec = sh("cat; echo; echo $GREETING $WHO; echo $HOME; echo $TMPDIR; pwd; ulimit -n");
    spec.env = vec!["WHO=world".into()];
    spec.dir = Some("/home/vcap/app".into());
    let process = container.run(spec, io).await.unwrap();
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(0));
    let stdout = String::from_utf8(collect(&mut out.stdout).await).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "from stdin");
    assert_eq!(lines[1], "hello world");
    assert_eq!(lines[2], format!("{root}/rootfs"));
    assert_eq!(lines[3], format!("{root}/tmp"));
    assert_eq!(lines[4], format!("{root}/rootfs/home/vcap/app"));
    assert_eq!(lines[5], "100");
    garden.destroy("env-check").await.unwrap();
}

#[tokio::test]
async fn bind_mounts_are_visible_inside_the_container() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("file"), "shared data").unwrap();
    let spec = ContainerSpec {
        bind_mounts: vec![BindMount {
            src: shared.path().display().to_string(),
            dst: "/mnt/shared".into(),
            mode: BindMountMode::Ro,
        }],
        ..ContainerSpec::default()
    };
    let container = garden.create(spec).await.unwrap();
    let (io, mut out) = ProcessIo::capture();
    let process = container.run(sh("cat mnt/shared/file"), io).await.unwrap();
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(0));
    assert_eq!(collect(&mut out.stdout).await, b"shared data");
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn net_in_maps_a_free_port_the_app_serves_on() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let mapping = container.net_in(0, 8080).await.unwrap();
    assert_ne!(mapping.host_port, 0);
    assert_eq!(mapping.container_port, mapping.host_port);
    assert_eq!(container.info().await.unwrap().mapped_ports, vec![mapping]);

    let spec = ProcessSpec {
        path: "python3".into(),
        args: vec![
            "-m".into(),
            "http.server".into(),
            mapping.container_port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
        ],
        // The caller tells the app its port; the host's PATH finds python3.
        env: vec![
            format!("PORT={}", mapping.container_port),
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
        ],
        ..ProcessSpec::default()
    };
    let _server = container.run(spec, ProcessIo::default()).await.unwrap();
    let port = mapping.host_port;
    let response = eventually_within("the server to answer", TIMEOUT, || async move {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    })
    .await;
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn stop_lets_a_process_that_handles_sigterm_exit() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let spec = ContainerSpec {
        grace_time: Some(Duration::from_secs(10)),
        ..ContainerSpec::default()
    };
    let container = garden.create(spec).await.unwrap();
    let (io, mut out) = ProcessIo::capture();
    let process = container
        .run(
            sh("trap 'echo bye; exit 0' TERM; echo ready; sleep 300"),
            io,
        )
        .await
        .unwrap();
    read_until(&mut out.stdout, "ready").await;
    let started = Instant::now();
    container.stop(false).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(0));
    assert_eq!(read_until(&mut out.stdout, "bye").await, "bye\n");
    assert_eq!(
        container.info().await.unwrap().state,
        ContainerState::Stopped
    );
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn stop_kills_a_process_that_ignores_sigterm_after_the_grace_time() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    container
        .set_grace_time(Duration::from_secs(1))
        .await
        .unwrap();
    let (io, mut out) = ProcessIo::capture();
    let process = container
        .run(
            sh("trap '' TERM; echo ready; while true; do sleep 0.05; done"),
            io,
        )
        .await
        .unwrap();
    read_until(&mut out.stdout, "ready").await;
    let started = Instant::now();
    container.stop(false).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(137));
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn signal_reaches_the_process_group() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let (io, mut out) = ProcessIo::capture();
    let process = container
        .run(sh("echo ready; sleep 300"), io)
        .await
        .unwrap();
    read_until(&mut out.stdout, "ready").await;
    process.signal(Signal::Terminate).await.unwrap();
    assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(143));
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn destroy_kills_grandchildren_and_removes_the_directory() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let dir = container.info().await.unwrap().container_path;
    let (io, mut out) = ProcessIo::capture();
    container
        .run(sh("(sleep 300 & echo grandchild $!; wait) & wait"), io)
        .await
        .unwrap();
    let line = read_until(&mut out.stdout, "\n").await;
    let grandchild: i32 = line
        .trim()
        .trim_start_matches("grandchild ")
        .parse()
        .unwrap();
    assert!(is_running(grandchild));

    garden.destroy(container.handle()).await.unwrap();
    assert!(!is_running(grandchild));
    assert!(!std::path::Path::new(&dir).exists());
    assert!(garden.lookup(container.handle()).await.is_err());
}

#[tokio::test]
async fn stream_in_then_stream_out_gives_back_the_same_files() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    let files = BTreeMap::from([
        ("a.txt".to_string(), b"alpha\n".to_vec()),
        ("nested/b.bin".to_string(), (0..=255u8).collect::<Vec<_>>()),
    ]);
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    let archive = builder.into_inner().unwrap();
    container
        .stream_in("/home/vcap/app", Box::new(std::io::Cursor::new(archive)))
        .await
        .unwrap();

    let mut stream = container.stream_out("/home/vcap/app/").await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes)
        .await
        .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut streamed_out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let name = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            streamed_out.insert(name.trim_start_matches("./").to_string(), data);
        }
    }
    assert_eq!(streamed_out, files);

    // A path without a trailing slash streams the entry itself, under its own name.
    let mut stream = container.stream_out("/home/vcap/app/a.txt").await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes)
        .await
        .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a.txt"]);
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn metrics_are_non_zero_for_a_running_process() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let container = garden.create(ContainerSpec::default()).await.unwrap();
    container
        .run(sh("while true; do :; done"), ProcessIo::default())
        .await
        .unwrap();
    let metrics = eventually_within("cpu time to be counted", TIMEOUT, || {
        let container = container.clone();
        async move {
            let m = container.metrics().await.unwrap();
            (m.cpu_ns > 0 && m.memory_bytes > 0).then_some(m)
        }
    })
    .await;
    assert!(metrics.disk_bytes > 0, "state files count: {metrics:?}");
    let bulk = garden
        .bulk_metrics(&[container.handle().to_string()])
        .await
        .unwrap();
    let again = bulk[container.handle()].clone().unwrap();
    assert!(again.cpu_ns >= metrics.cpu_ns);
    garden.destroy(container.handle()).await.unwrap();
}

#[tokio::test]
async fn properties_persist_and_filter() {
    let depot = TestDepot::new();
    let garden = depot.open().await;
    let spec = ContainerSpec {
        handle: "props".into(),
        properties: [("owner".to_string(), "executor".to_string())].into(),
        ..ContainerSpec::default()
    };
    let container = garden.create(spec).await.unwrap();
    garden.create(ContainerSpec::default()).await.unwrap();
    container.set_property("guid", "g-1").await.unwrap();
    container.set_property("gone", "x").await.unwrap();
    container.remove_property("gone").await.unwrap();
    assert_eq!(
        container.property("guid").await.unwrap().as_deref(),
        Some("g-1")
    );

    let filter = [("owner".to_string(), "executor".to_string())].into();
    let found = garden.containers(&filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].handle(), "props");
    assert_eq!(
        garden.containers(&Default::default()).await.unwrap().len(),
        2
    );

    let reopened = depot.open().await;
    let properties = reopened
        .lookup("props")
        .await
        .unwrap()
        .properties()
        .await
        .unwrap();
    assert_eq!(properties.get("guid").map(String::as_str), Some("g-1"));
    assert!(!properties.contains_key("gone"));
}

#[tokio::test]
async fn a_restarted_backend_readopts_live_containers() {
    let depot = TestDepot::new();
    let (live_id, exited_id) = {
        let garden = depot.open().await;
        let live = garden
            .create(ContainerSpec {
                handle: "live".into(),
                ..ContainerSpec::default()
            })
            .await
            .unwrap();
        let (io, mut out) = ProcessIo::capture();
        let process = live
            .run(
                sh("echo ready; while true; do echo tick; sleep 0.05; done"),
                io,
            )
            .await
            .unwrap();
        read_until(&mut out.stdout, "ready").await;

        let done = garden
            .create(ContainerSpec {
                handle: "done".into(),
                ..ContainerSpec::default()
            })
            .await
            .unwrap();
        let exited = done.run(sh("exit 7"), ProcessIo::default()).await.unwrap();
        assert_eq!(exited.wait().await.unwrap(), ExitStatus::Exited(7));
        (process.id().to_string(), exited.id().to_string())
        // The first backend is dropped here.
    };

    let garden = depot.open().await;
    let live = garden.lookup("live").await.unwrap();
    let info = live.info().await.unwrap();
    assert_eq!(info.state, ContainerState::Active);
    assert_eq!(info.process_ids, vec![live_id.clone()]);

    let done = garden.lookup("done").await.unwrap();
    assert_eq!(done.info().await.unwrap().state, ContainerState::Stopped);
    let exited = done.attach(&exited_id, ProcessIo::default()).await.unwrap();
    assert_eq!(exited.wait().await.unwrap(), ExitStatus::Exited(7));

    // The re-adopted process still writes output, and attach sees it.
    let (io, mut out) = ProcessIo::capture();
    let process = live.attach(&live_id, io).await.unwrap();
    read_until(&mut out.stdout, "tick").await;
    live.stop(false).await.unwrap();
    let status = process.wait().await.unwrap();
    assert!(
        matches!(status, ExitStatus::Exited(143) | ExitStatus::Unknown),
        "{status:?}"
    );
    garden.destroy("live").await.unwrap();
    garden.destroy("done").await.unwrap();
}

#[tokio::test]
async fn the_address_space_limit_applies_only_when_enabled() {
    let depot = TestDepot::new();
    let spec = ContainerSpec {
        limits: Limits {
            memory_bytes: Some(1 << 30),
            ..Limits::default()
        },
        ..ContainerSpec::default()
    };
    // 1 GiB in the KiB that `ulimit -v` prints.
    for enforce in [false, true] {
        let config = ingot_garden::ProcessConfig {
            enforce_address_space: enforce,
            ..depot.config()
        };
        let garden = ingot_garden::ProcessGarden::open(config).await.unwrap();
        let container = garden.create(spec.clone()).await.unwrap();
        let (io, mut out) = ProcessIo::capture();
        let process = container.run(sh("ulimit -v"), io).await.unwrap();
        assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(0));
        let stdout = String::from_utf8(collect(&mut out.stdout).await).unwrap();
        assert_eq!(
            stdout.trim() == "1048576",
            enforce,
            "enforce_address_space = {enforce}, ulimit -v = {stdout}"
        );
        garden.destroy(container.handle()).await.unwrap();
    }
}
