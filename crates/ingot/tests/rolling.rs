//! A rolling change under load: the python sample, pushed as the cf CLI does, takes requests
//! through the router from a few keep-alive clients while it is scaled 1 -> 10 -> 1 and then
//! restarted. No request may fail while scaling. A restart stops every instance before the
//! new ones start (as in Cloud Foundry), so there the only failures allowed are the router's
//! own "no endpoints" answers while nothing runs.

mod common;
#[path = "../../../tests/apps/stack_tools.rs"]
mod stack_tools;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Platform, push::sample_app};
use reqwest::StatusCode;
use serde_json::json;
use stack_tools::{stack_has, tools_for};

const HOST: &str = "rolling.apps.localhost";
const CLIENTS: usize = 8;
/// How long the load keeps going after the records say a change is done: a retired instance
/// is drained (2 s) before it gets SIGTERM, and that must happen under load too.
const SETTLE: Duration = Duration::from_secs(4);

/// The phases of the run, in order; requests are counted against the one they started in.
const PHASES: [&str; 4] = ["1 instance", "scale 1 -> 10", "scale 10 -> 1", "restart"];

/// What the clients saw in one phase.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    ok: u64,
    /// Failed answers by status and `X-Cf-RouterError`.
    failed: BTreeMap<(u16, String), u64>,
    /// Requests that got no answer at all.
    transport_errors: u64,
    first_errors: Vec<String>,
    /// `CF_INSTANCE_INDEX`es that answered.
    instances: BTreeSet<String>,
    elapsed: Duration,
}

impl Tally {
    fn errors(&self) -> u64 {
        self.failed.values().sum::<u64>() + self.transport_errors
    }

    fn note(&mut self, error: String) {
        if self.first_errors.len() < 5 {
            self.first_errors.push(error);
        }
    }
}

/// Keep-alive clients requesting `/` through the router until stopped.
struct Load {
    phase: Arc<AtomicUsize>,
    tallies: Arc<Mutex<Vec<Tally>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
    phase_started: Instant,
}

impl Load {
    fn start(router: &str) -> Self {
        let phase = Arc::new(AtomicUsize::new(0));
        let tallies = Arc::new(Mutex::new(
            PHASES.iter().map(|_| Tally::default()).collect::<Vec<_>>(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..CLIENTS)
            .map(|_| {
                let (phase, tallies, stop) = (phase.clone(), tallies.clone(), stop.clone());
                let url = format!("{router}/");
                tokio::spawn(async move {
                    let http = reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .pool_max_idle_per_host(1)
                        .build()
                        .unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let at = phase.load(Ordering::Relaxed);
                        let answer = http.get(&url).header("host", HOST).send().await;
                        let outcome = match answer {
                            Ok(response) => {
                                let status = response.status();
                                let router_error = response
                                    .headers()
                                    .get("x-cf-routererror")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned();
                                let body = response.text().await;
                                Ok((status, router_error, body))
                            }
                            Err(err) => Err(err),
                        };
                        let mut tallies = tallies.lock().unwrap();
                        let tally = &mut tallies[at];
                        tally.requests += 1;
                        match outcome {
                            Ok((StatusCode::OK, _, Ok(body))) => {
                                tally.ok += 1;
                                if let Some(index) = body
                                    .strip_prefix("hello from python, instance ")
                                    .and_then(|rest| rest.split_whitespace().next())
                                {
                                    tally.instances.insert(index.to_owned());
                                }
                            }
                            Ok((status, router_error, body)) => {
                                tally.note(format!("{status} [{router_error}] {body:?}"));
                                *tally
                                    .failed
                                    .entry((status.as_u16(), router_error))
                                    .or_default() += 1;
                            }
                            Err(err) => {
                                tally.note(format!("{err:?}"));
                                tally.transport_errors += 1;
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            phase,
            tallies,
            stop,
            clients,
            phase_started: Instant::now(),
        }
    }

    fn next_phase(&mut self) {
        let at = self.phase.load(Ordering::Relaxed);
        self.tallies.lock().unwrap()[at].elapsed = self.phase_started.elapsed();
        self.phase_started = Instant::now();
        self.phase.store(at + 1, Ordering::Relaxed);
    }

    async fn finish(mut self) -> Vec<Tally> {
        self.next_phase();
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.await.unwrap();
        }
        std::mem::take(&mut *self.tallies.lock().unwrap())
    }
}

impl Platform {
    /// `cf scale -i N`, then waits until N instances run and the retired ones are gone.
    async fn scale(&self, token: &str, app: &str, instances: usize) {
        let (status, body) = self
            .post(
                &format!("/v3/apps/{app}/processes/web/actions/scale"),
                token,
                json!({ "instances": instances }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        self.wait_running(token, app, instances).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_and_restarting_under_load_fails_no_request() {
    if !stack_has(tools_for("python")) {
        return;
    }
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: rolling\n  default-route: true\n  memory: 64M\n";
    let pushed = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await;
    let app = pushed.guid;
    let (status, body) = platform.via_router(HOST, "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut load = Load::start(platform.router.as_deref().expect("router"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.next_phase();
    platform.scale(&token, &app, 10).await;
    tokio::time::sleep(SETTLE).await;
    load.next_phase();
    platform.scale(&token, &app, 1).await;
    tokio::time::sleep(SETTLE).await;
    load.next_phase();
    let (status, body) = platform
        .post(
            &format!("/v3/apps/{app}/actions/restart"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "restart: {body}");
    platform.wait_running(&token, &app, 1).await;
    tokio::time::sleep(SETTLE).await;
    let tallies = load.finish().await;

    for (phase, tally) in PHASES.iter().zip(&tallies) {
        println!(
            "{phase}: {} requests, {} errors in {:.1?} ({:.0} req/s); instances answering: {}; \
             failures: {:?}; first errors: {:?}",
            tally.requests,
            tally.errors(),
            tally.elapsed,
            tally.requests as f64 / tally.elapsed.as_secs_f64(),
            tally.instances.len(),
            tally.failed,
            tally.first_errors,
        );
    }
    for (phase, tally) in PHASES.iter().zip(&tallies).take(3) {
        assert!(tally.requests > 0, "{phase}: no requests were made");
        assert_eq!(tally.errors(), 0, "{phase}: {tally:?}");
    }
    assert_eq!(tallies[1].instances.len(), 10, "all ten instances served");
    let restart = &tallies[3];
    assert!(restart.ok > 0, "the restarted app answers: {restart:?}");
    assert_eq!(restart.transport_errors, 0, "{restart:?}");
    for (status, router_error) in restart.failed.keys() {
        assert_eq!(
            (*status, router_error.as_str()),
            (503, "no_endpoints"),
            "while no instance runs, only the router's own answer: {restart:?}"
        );
    }
    platform.stop_all_apps(&token).await;
    platform.stop().await;
}
