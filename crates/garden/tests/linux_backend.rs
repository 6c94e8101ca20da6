//! The linux backend against a real OCI runtime, as root: isolation, limits, networking,
//! outbound rules, restart re-adoption, and that nothing is left behind.
//!
//! Without root or the tools these tests print why and pass, unless
//! `INGOT_REQUIRE_LINUX_BACKEND=1` (set by CI) makes that a failure.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{TIMEOUT, read_until, sh};
use ingot_garden::linux::{NetworkConfig, Subnet, unavailable_reason};
use ingot_garden::{
    Container, ContainerSpec, DISK_QUOTA_EXCEEDED, ExitStatus, Garden, IpRange, Limits,
    LinuxConfig, LinuxGarden, NetOutRule, NetProtocol, OUT_OF_MEMORY, PortMapping, PortRange,
    ProcessIo, ProcessSpec, collect,
};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A backend on its own depot, bridge, subnet and cgroup, so tests run side by side.
struct Host {
    dir: tempfile::TempDir,
    config: LinuxConfig,
}

fn runtime() -> PathBuf {
    PathBuf::from(std::env::var("INGOT_OCI_RUNTIME").unwrap_or_else(|_| "runc".into()))
}

/// `None` (after saying why) when this machine cannot run the linux backend.
fn host() -> Option<Host> {
    if let Some(reason) = unavailable_reason(&runtime()) {
        if std::env::var("INGOT_REQUIRE_LINUX_BACKEND").as_deref() == Ok("1") {
            panic!("the linux backend is required but cannot run: {reason}");
        }
        eprintln!("skipping: the linux backend cannot run here: {reason}");
        return None;
    }
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let id = format!("{}{n}", std::process::id() % 100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = LinuxConfig::new(dir.path().join("depot"), dir.path().join("state"));
    config.runtime = runtime();
    config.network = NetworkConfig {
        bridge: format!("igt{id}"),
        subnet: Subnet::parse(&format!(
            "10.{}.{}.0/24",
            200 + n % 50,
            std::process::id() % 250
        ))
        .unwrap(),
    };
    config.cgroup_parent = format!("ingot-test-{id}");
    config.disk_check_interval = Duration::from_millis(200);
    Some(Host { dir, config })
}

/// Whatever a failed test left behind goes.
impl Drop for Host {
    fn drop(&mut self) {
        ingot_garden::linux::purge(&self.config);
    }
}

impl Host {
    async fn open(&self) -> LinuxGarden {
        LinuxGarden::open(self.config.clone())
            .await
            .expect("open linux backend")
    }

    /// Destroys every container, removes the network, and asserts nothing of ours is left:
    /// runtime containers, mounts, namespaces, veths, cgroups.
    async fn finish(&self, garden: LinuxGarden) {
        for c in garden.containers(&Default::default()).await.unwrap() {
            garden.destroy(c.handle()).await.unwrap();
        }
        garden.remove_network().await.unwrap();
        assert_no_leaks(&self.config, self.dir.path());
    }
}

/// This backend's network namespaces on the host.
fn namespaces(config: &LinuxConfig) -> Vec<String> {
    let prefix = format!("{}-", config.network.bridge);
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_no_leaks(config: &LinuxConfig, dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.contains(dir.to_str().unwrap()))
        .collect();
    assert!(leaked.is_empty(), "mounts left: {leaked:?}");
    let runtime_state = config.state_dir.join("runtime");
    let left: Vec<_> = std::fs::read_dir(&runtime_state)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "runtime containers left: {left:?}");
    let netns = namespaces(config);
    assert!(netns.is_empty(), "namespaces left: {netns:?}");
    assert!(
        !Path::new("/sys/class/net")
            .join(&config.network.bridge)
            .exists(),
        "bridge left"
    );
    for controller in ["memory", "pids", "cpu", "unified", ""] {
        let parent = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(&config.cgroup_parent);
        let children: Vec<_> = std::fs::read_dir(&parent)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            children.is_empty(),
            "cgroups left in {}: {children:?}",
            parent.display()
        );
        let _ = std::fs::remove_dir(&parent);
    }
}

fn spec(handle: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        net_in: vec![PortMapping {
            host_port: 0,
            container_port: 8080,
        }],
        ..ContainerSpec::default()
    }
}

/// Runs a shell script to completion; returns (exit code, stdout + stderr).
async fn run(container: &Arc<dyn Container>, script: &str) -> (i32, String) {
    run_spec(container, sh(script)).await
}

async fn run_spec(container: &Arc<dyn Container>, spec: ProcessSpec) -> (i32, String) {
    let (io, mut out) = ProcessIo::capture();
    let process = container.run(spec, io).await.expect("run");
    let status = tokio::time::timeout(TIMEOUT, process.wait())
        .await
        .expect("process finished in time")
        .unwrap();
    let mut text = String::from_utf8_lossy(&collect(&mut out.stdout).await).into_owned();
    text.push_str(&String::from_utf8_lossy(&collect(&mut out.stderr).await));
    (status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_isolated_and_run_as_vcap() {
    let Some(host) = host() else { return };
    let garden = host.open().await;
    let a = garden.create(spec("iso-a")).await.unwrap();
    let b = garden.create(spec("iso-b")).await.unwrap();

    // Networks are prepared ahead of the next creates.
    let wanted = 2 + host.config.prepared_networks;
    ingot_core::testing::eventually_within("prepared networks", TIMEOUT, || async {
        (namespaces(&host.config).len() >= wanted).then_some(())
    })
    .await;

    let (code, out) = run(&a, "id").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("uid=2000(vcap) gid=2000(vcap)"), "{out}");

    // Only the container's own processes (init, its sleep, this shell, ls and grep), not
    // the host's.
    let (_, out) = run(&a, "ls /proc | grep -c '^[0-9]'").await;
    let count: u32 = out.trim().parse().unwrap();
    assert!(count <= 6, "the container sees {count} processes");

    // The data directory and other containers' files are out of sight.
    let (code, _) = run(&b, "echo secret > /home/vcap/b-only").await;
    assert_eq!(code, 0);
    let depot = host.config.depot.display().to_string();
    let (code, out) = run(&a, &format!("ls {depot} || ls /home/vcap/b-only")).await;
    assert_ne!(code, 0, "a sees {out}");

    // No privileges to gain and none to use.
    let (_, out) = run(&a, "grep -E 'NoNewPrivs|CapEff' /proc/self/status").await;
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    // Masked: /proc/timer_list (host-wide timer details) reads as /dev/null.
    let (_, out) = run(&a, "wc -c < /proc/timer_list").await;
    assert_eq!(out.trim(), "0");
    let (_, out) = run(&a, "grep Seccomp: /proc/self/status").await;
    assert!(out.contains("Seccomp:\t2"), "{out}");

    // The host's files are read-only, the container's own are writable.
    let (code, _) = run(&a, "touch /usr/x").await;
    assert_ne!(code, 0);
    let (code, _) = run(&a, "touch /tmp/x").await;
    assert_eq!(code, 0);

    // An unknown executable is reported as such.
    let err = a
        .run(
            ProcessSpec {
                path: "/no/such/program".into(),
                ..ProcessSpec::default()
            },
            ProcessIo::default(),
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, ingot_garden::Error::ExecutableNotFound { .. }),
        "{err:?}"
    );

    host.finish(garden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_over_the_limit_is_an_out_of_memory_kill() {
    let Some(host) = host() else { return };
    let garden = host.open().await;
    let c = garden
        .create(ContainerSpec {
            limits: Limits {
                memory_bytes: Some(64 << 20),
                ..Limits::default()
            },
            ..spec("oom")
        })
        .await
        .unwrap();
    assert!(c.info().await.unwrap().events.is_empty());
    // CPU shares follow memory (one per MiB); pids are capped (cgroup v1 files, where used).
    let cgroup = |controller: &str, file: &str| {
        let path = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(&host.config.cgroup_parent)
            .join("oom")
            .join(file);
        std::fs::read_to_string(path)
            .ok()
            .map(|t| t.trim().to_owned())
    };
    if let Some(shares) = cgroup("cpu", "cpu.shares") {
        assert_eq!(shares, "64");
        assert_eq!(cgroup("pids", "pids.max").as_deref(), Some("1024"));
    }
    let (code, out) = run_spec(
        &c,
        ProcessSpec {
            path: "python3".into(),
            args: vec![
                "-c".into(),
                "x = []\nwhile True: x.append(b'x' * 10_000_000)".into(),
            ],
            ..ProcessSpec::default()
        },
    )
    .await;
    assert_eq!(code, 137, "{out}");
    assert_eq!(c.info().await.unwrap().events, [OUT_OF_MEMORY]);
    host.finish(garden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_past_the_disk_limit_kills_the_processes() {
    let Some(host) = host() else { return };
    let garden = host.open().await;
    let c = garden
        .create(ContainerSpec {
            limits: Limits {
                disk_bytes: Some(8 << 20),
                ..Limits::default()
            },
            ..spec("disk")
        })
        .await
        .unwrap();
    // Within the limit: nothing happens.
    let (code, _) = run(&c, "head -c 4000000 /dev/zero > /tmp/small && sleep 1").await;
    assert_eq!(code, 0);
    assert!(c.metrics().await.unwrap().disk_bytes >= 4_000_000);
    let (code, out) = run(&c, "head -c 16000000 /dev/zero > /tmp/big && sleep 30").await;
    assert_eq!(code, 137, "{out}");
    assert_eq!(c.info().await.unwrap().events, [DISK_QUOTA_EXCEEDED]);
    host.finish(garden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_reaches_apps_and_apps_reach_out_only_as_allowed() {
    let Some(host) = host() else { return };
    let garden = host.open().await;
    let gateway = host.config.network.subnet.gateway();
    // A stand-in for Ingot's control plane, listening on every host address.
    let control = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = control.local_addr().unwrap().port();
    let allowed = NetOutRule {
        protocol: NetProtocol::Tcp,
        networks: vec![IpRange {
            start: gateway,
            end: gateway,
        }],
        ports: vec![PortRange {
            start: port,
            end: port,
        }],
        icmp: None,
        log: false,
    };
    let closed = garden.create(spec("net-closed")).await.unwrap();
    let open = garden
        .create(ContainerSpec {
            net_out: vec![allowed],
            ..spec("net-open")
        })
        .await
        .unwrap();

    let connect = format!(
        "python3 -c 'import socket; socket.create_connection((\"{gateway}\", {port}), timeout=3); print(\"connected\")'"
    );
    let (code, out) = run(&closed, &connect).await;
    assert_ne!(code, 0, "reached the control plane without a rule: {out}");
    let (code, out) = run(&open, &connect).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("connected"));

    // An app listening on its port is reached on the container's address.
    let info = closed.info().await.unwrap();
    assert_ne!(info.host_ip, "127.0.0.1");
    let (io, mut server_out) = ProcessIo::capture();
    let server = closed
        .run(
            sh("cd /tmp && echo hello > index.html && exec python3 -u -m http.server 8080"),
            io,
        )
        .await
        .unwrap();
    read_until(&mut server_out.stdout, "Serving HTTP").await;
    let addr = format!("{}:{}", info.host_ip, info.mapped_ports[0].host_port);
    let body = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), TIMEOUT).unwrap();
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        body
    })
    .await
    .unwrap();
    assert!(body.contains("hello"), "{body}");
    server.signal(ingot_garden::Signal::Kill).await.unwrap();
    assert_eq!(server.wait().await.unwrap(), ExitStatus::Exited(137));
    host.finish(garden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_stream_in_as_vcap_and_out_again() {
    let Some(host) = host() else { return };
    let garden = host.open().await;
    let c = garden.create(spec("stream")).await.unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "app/hello.txt", &b"hello"[..])
        .unwrap();
    let archive = builder.into_inner().unwrap();
    c.stream_in("/home/vcap", Box::new(std::io::Cursor::new(archive)))
        .await
        .unwrap();
    let (_, out) = run(&c, "stat -c '%U %s' /home/vcap/app/hello.txt").await;
    assert_eq!(out.trim(), "vcap 5");
    let mut stream = c.stream_out("/home/vcap/app/hello.txt").await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes)
        .await
        .unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["hello.txt"]);
    assert!(c.stream_out("/home/vcap/missing").await.is_err());
    host.finish(garden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_readopts_running_containers_and_removes_dead_ones() {
    let Some(mut host) = host() else { return };
    // Addresses in the order they are freed and taken, without networks made ahead.
    host.config.prepared_networks = 0;
    let garden = host.open().await;
    let alive = garden.create(spec("alive")).await.unwrap();
    let dead = garden.create(spec("dead")).await.unwrap();
    let process = alive
        .run(
            ProcessSpec {
                id: Some("web".into()),
                ..sh("while :; do echo tick; sleep 0.2; done")
            },
            ProcessIo::default(),
        )
        .await
        .unwrap();
    drop(process);
    let dead_ip = dead.info().await.unwrap().container_ip;
    // The "dead" container's init dies while Ingot is down.
    let state = host.config.state_dir.join("runtime");
    let status = std::process::Command::new(runtime())
        .arg("--root")
        .arg(&state)
        .args(["kill", "dead", "KILL"])
        .status()
        .unwrap();
    assert!(status.success());
    drop((alive, dead));
    drop(garden);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let garden = host.open().await;
    assert!(garden.lookup("dead").await.is_err());
    let alive = garden.lookup("alive").await.unwrap();
    let (io, mut out) = ProcessIo::capture();
    let web = alive.attach("web", io).await.unwrap();
    read_until(&mut out.stdout, "tick").await;
    // Its address is still its own, and the dead one's is free again.
    let again = garden.create(spec("again")).await.unwrap();
    assert_eq!(again.info().await.unwrap().container_ip, dead_ip);
    alive.stop(false).await.unwrap();
    assert!(web.wait().await.is_ok());
    host.finish(garden).await;
}
