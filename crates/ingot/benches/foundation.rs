//! Foundation figures for `ingot up`, measured on the release binary:
//! - time from spawning the process to the API answering `GET /` (first start, which generates
//!   keys and creates databases, and warm starts on an existing data dir);
//! - resident memory of the whole process when idle;
//! - password-grant token issue rate.
//!
//! Run with `cargo bench -p ingot --bench foundation`.

#[path = "support/stats.rs"]
mod stats;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use stats::percentile;
use tokio::process::{Child, Command};

const WARM_STARTS: usize = 10;
const TOKEN_SECONDS: u64 = 5;
const TOKEN_CONCURRENCY: usize = 4;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    child: Child,
    api: String,
    uaa: String,
}

/// Spawns `ingot up` and returns once `GET /` answers, with the elapsed time.
async fn start(data_dir: &std::path::Path, http: &reqwest::Client) -> (Instance, Duration) {
    let (api_port, uaa_port) = (free_port(), free_port());
    let begun = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_ingot"))
        .arg("up")
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--api-addr",
            &format!("127.0.0.1:{api_port}"),
            "--uaa-addr",
            &format!("127.0.0.1:{uaa_port}"),
        ])
        // The other listeners on free ports too, so nothing else on this machine interferes.
        .args([
            "--bbs-addr",
            "127.0.0.1:0",
            "--router-addr",
            "127.0.0.1:0",
            "--log-cache-addr",
            "127.0.0.1:0",
        ])
        .env("INGOT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ingot");
    let api = format!("http://127.0.0.1:{api_port}");
    let deadline = begun + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{api}/")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ingot did not answer within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = begun.elapsed();
    (
        Instance {
            child,
            api,
            uaa: format!("http://127.0.0.1:{uaa_port}"),
        },
        elapsed,
    )
}

async fn stop(mut instance: Instance) {
    if let Some(pid) = instance.child.id() {
        // SIGTERM for a graceful stop, so the next start measures a clean warm start.
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), instance.child.wait()).await;
    let _ = instance.child.start_kill();
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing. Both just run.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let data_dir = tempfile::tempdir().unwrap();

    let (instance, first) = start(data_dir.path(), &http).await;
    stop(instance).await;

    let mut warm = Vec::new();
    for _ in 0..WARM_STARTS {
        let (instance, elapsed) = start(data_dir.path(), &http).await;
        warm.push(elapsed);
        stop(instance).await;
    }
    warm.sort();

    let (instance, _) = start(data_dir.path(), &http).await;
    let pid = instance.child.id().unwrap();
    let credentials: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.path().join("credentials.json")).unwrap(),
    )
    .unwrap();
    let password = credentials["admin_password"].as_str().unwrap().to_owned();
    // A little real use before measuring idle memory: a login and an API call.
    let token = password_grant(&http, &instance.uaa, &password).await;
    http.get(format!("{}/v3/organizations", instance.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(pid);

    let until = Instant::now() + Duration::from_secs(TOKEN_SECONDS);
    let workers: Vec<_> = (0..TOKEN_CONCURRENCY)
        .map(|_| {
            let (http, uaa, password) = (http.clone(), instance.uaa.clone(), password.clone());
            tokio::spawn(async move {
                let mut issued = 0u64;
                while Instant::now() < until {
                    password_grant(&http, &uaa, &password).await;
                    issued += 1;
                }
                issued
            })
        })
        .collect();
    let mut issued = 0;
    for worker in workers {
        issued += worker.await.unwrap();
    }
    let loaded_rss = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let settled_rss = rss_kib(pid);
    stop(instance).await;

    println!("ingot up: start to API answering GET /");
    println!(
        "  first start (keys + databases created): {:>8.1} ms",
        ms(first)
    );
    println!(
        "  warm start, {WARM_STARTS} runs:  median {:>6.1} ms   p90 {:>6.1} ms   max {:>6.1} ms",
        ms(percentile(&warm, 0.5)),
        ms(percentile(&warm, 0.9)),
        ms(*warm.last().unwrap())
    );
    println!("resident memory (VmRSS)");
    println!(
        "  idle after one login and one API call: {:>6.1} MiB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "  right after the token benchmark:       {:>6.1} MiB",
        loaded_rss as f64 / 1024.0
    );
    println!(
        "  idle again 15 s later:                 {:>6.1} MiB",
        settled_rss as f64 / 1024.0
    );
    println!(
        "password grant: {issued} tokens in {TOKEN_SECONDS} s with {TOKEN_CONCURRENCY} concurrent clients = {:.0} tokens/s",
        issued as f64 / TOKEN_SECONDS as f64
    );
}

async fn password_grant(http: &reqwest::Client, uaa: &str, password: &str) -> String {
    let body: serde_json::Value = http
        .post(format!("{uaa}/oauth/token"))
        .basic_auth("cf", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().expect("token").to_owned()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
