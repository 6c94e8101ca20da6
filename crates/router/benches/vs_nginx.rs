//! The router against nginx as a plain reverse proxy, in front of the same loopback backend,
//! both driven by wrk in one run:
//! - requests/s at 64 connections (throughput), and the ratio router / nginx, with the CPU
//!   time each proxy spends per request;
//! - p50 / p99 at one connection, minus the backend's own (the latency a proxy adds);
//! - memory (RSS) at 10,000 idle keep-alive client connections.
//!
//! The backend is an nginx that answers a fixed 200; nginx as the proxy is a second nginx, so
//! both proxies reach the backend across processes. The router runs as a child process (this binary with `--serve-router`), so
//! its memory is its own. Needs `nginx` and `wrk` on PATH (Debian packages of those names);
//! without them it says so and exits.
//!
//! Run with `cargo bench -p ingot-router --bench vs_nginx`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ingot_core::Shutdown;
use ingot_router::{Endpoint, LoadBalancing, RouteKey, RouteTable, Router, RouterConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOST: &str = "bench.apps.localhost";
const IDLE_CONNECTIONS: usize = 10_000;
const WRK_SECONDS: &str = "10s";

/// Stops and reaps a child process when dropped, so nothing outlives the bench. SIGTERM first:
/// nginx's master stops its workers on it, where SIGKILL would orphan them.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn on_path(tool: &str) -> bool {
    Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Resident memory of `pid` and its children (nginx's workers), in KiB.
fn rss_kib(pid: u32) -> u64 {
    let own = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    own + children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .map(rss_kib)
        .sum::<u64>()
}

/// The child: serves the router on `listen` with one route to `backend`, until killed.
fn serve_router(listen: &str, backend: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let backend: SocketAddr = backend.parse().unwrap();
        let table = RouteTable::shared(LoadBalancing::RoundRobin);
        table.lock().unwrap().register(
            &RouteKey::new(HOST, ""),
            Endpoint {
                address: backend.ip().to_string(),
                port: backend.port(),
                instance_guid: "bench-0".into(),
                index: 0,
                process_guid: "bench".into(),
                app_id: "bench".into(),
            },
        );
        let listener = TcpListener::bind(listen).await.unwrap();
        // Access lines go to tracing, which has no subscriber here: their cost stays counted.
        Router::new(RouterConfig::default(), table)
            .serve(listener, Shutdown::new())
            .await
            .unwrap();
    });
}

/// An nginx configuration under `dir` with `server`'s block: the backend's or the proxy's.
/// Each runs as its own nginx, so proxying to the backend crosses processes as it does for the
/// router.
fn nginx_config(dir: &Path, upstream: &str, server: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes auto;\nworker_rlimit_nofile 65536;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 30000; }}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         keepalive_requests 1000000;\nkeepalive_timeout 60s;\n{upstream}\n{server}\n}}\n"
    )
}

fn backend_server(port: u16) -> String {
    format!("server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hello\\n\"; }} }}")
}

fn proxy_server(port: u16, backend: u16) -> (String, String) {
    (
        format!("upstream app {{ server 127.0.0.1:{backend}; keepalive 100; }}"),
        format!(
            "server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://app;\n\
             proxy_http_version 1.1; proxy_set_header Connection \"\";\n\
             proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; }} }}"
        ),
    )
}

/// Starts nginx with `config` in a directory of its own under `parent`.
fn start_nginx(parent: &Path, name: &str, upstream: &str, server: &str) -> Reaped {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("nginx.conf");
    std::fs::File::create(&config)
        .unwrap()
        .write_all(nginx_config(&dir, upstream, server).as_bytes())
        .unwrap();
    Reaped(
        Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c"])
            .arg(&config)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .expect("starting nginx"),
    )
}

/// CPU time (user + system, in clock ticks) of `pid` and its children so far.
fn cpu_ticks(pid: u32) -> u64 {
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    own + children(pid).into_iter().map(cpu_ticks).sum::<u64>()
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// What wrk reports: requests (and per second), p50 and p99 in ms, and error count.
#[derive(Debug, Clone, Copy)]
struct Wrk {
    requests: u64,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

fn parse_ms(value: &str) -> f64 {
    let value = value.trim();
    let (number, scale) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (value, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * scale
}

fn wrk(port: u16, threads: u32, connections: u32) -> Wrk {
    let output = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{WRK_SECONDS}"),
            "--latency",
            "-H",
            &format!("Host: {HOST}"),
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("running wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    // Non-2xx answers and socket errors both count as errors.
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").parse().unwrap_or(0);
    let socket: u64 = field("Socket errors:")
        .split(',')
        .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Wrk {
        requests,
        rps: field("Requests/sec:").parse().unwrap_or(f64::NAN),
        p50: parse_ms(&field("50%")),
        p99: parse_ms(&field("99%")),
        errors: non_2xx + socket,
    }
}

/// Opens `count` keep-alive connections to `port`, one request on each, and keeps them open.
async fn idle_clients(port: u16, count: usize) -> Vec<TcpStream> {
    let request = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
    let mut clients = Vec::with_capacity(count);
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
        clients.push(stream);
    }
    clients
}

/// RSS of `pid` before and with `IDLE_CONNECTIONS` idle keep-alive clients, in MiB.
async fn idle_memory(pid: u32, port: u16) -> (f64, f64) {
    let before = rss_kib(pid);
    let clients = idle_clients(port, IDLE_CONNECTIONS).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with = rss_kib(pid);
    drop(clients);
    (before as f64 / 1024.0, with as f64 / 1024.0)
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-router") {
        return serve_router(&args[i + 1], &args[i + 2]);
    }
    if !on_path("nginx") || !on_path("wrk") {
        println!("vs_nginx: skipped, needs nginx and wrk (apt-get install nginx wrk)");
        return;
    }
    // Each process holds 10,000 sockets or more: raise the descriptor limit (children inherit);
    // root may go past the hard limit.
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let limit = if setrlimit(Resource::RLIMIT_NOFILE, 65_536, 65_536).is_ok() {
        65_536
    } else {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
        hard
    };
    assert!(
        limit > IDLE_CONNECTIONS as u64 + 1_000,
        "descriptor limit {limit} too low"
    );

    let dir = tempfile::tempdir().unwrap();
    let (backend, nginx_port, router_port) = (free_port(), free_port(), free_port());
    let _backend = start_nginx(dir.path(), "backend", "", &backend_server(backend));
    let (upstream, server) = proxy_server(nginx_port, backend);
    let nginx = start_nginx(dir.path(), "proxy", &upstream, &server);
    let router = Reaped(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--serve-router",
                &format!("127.0.0.1:{router_port}"),
                &format!("127.0.0.1:{backend}"),
            ])
            .spawn()
            .expect("starting the router"),
    );
    for port in [backend, nginx_port, router_port] {
        wait_for_port(port);
    }

    println!("wrk {WRK_SECONDS} per run, all on loopback, one machine");
    let direct = wrk(backend, 1, 1);
    println!(
        "backend alone, 1 connection: p50 {:.3} ms, p99 {:.3} ms",
        direct.p50, direct.p99
    );
    let mut rows = Vec::new();
    for (name, pid, port) in [
        ("nginx", nginx.0.id(), nginx_port),
        ("router", router.0.id(), router_port),
    ] {
        let single = wrk(port, 1, 1);
        let before = cpu_ticks(pid);
        let loaded = wrk(port, 2, 64);
        // Clock ticks are 10 ms on Linux: CPU microseconds per proxied request.
        let cpu_us = (cpu_ticks(pid) - before) as f64 * 10_000.0 / loaded.requests.max(1) as f64;
        rows.push((name, single, loaded, cpu_us));
    }
    println!(
        "{:<8} {:>12} {:>12} {:>8} {:>16} {:>16} {:>7}",
        "proxy",
        "req/s (c64)",
        "CPU/request",
        "errors",
        "p50 added (c1)",
        "p99 added (c1)",
        "errors"
    );
    for (name, single, loaded, cpu_us) in &rows {
        println!(
            "{name:<8} {:>12.0} {:>9.1} us {:>8} {:>13.3} ms {:>13.3} ms {:>7}",
            loaded.rps,
            cpu_us,
            loaded.errors,
            single.p50 - direct.p50,
            single.p99 - direct.p99,
            single.errors,
        );
    }
    println!(
        "router / nginx requests/s: {:.2}x",
        rows[1].2.rps / rows[0].2.rps
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (name, pid, port) in [
        ("nginx", nginx.0.id(), nginx_port),
        ("router", router.0.id(), router_port),
    ] {
        let (before, with) = runtime.block_on(idle_memory(pid, port));
        println!(
            "{name:<8} RSS {before:.1} MiB idle, {with:.1} MiB with {IDLE_CONNECTIONS} idle keep-alive clients ({:.1} KiB each)",
            (with - before) * 1024.0 / IDLE_CONNECTIONS as f64
        );
    }
}
