//! Prometheus metrics end to end: after a `cf push` and a request through the router, every
//! listener of `ingot up` (Cloud Controller, UAA, BBS, router, log-cache) serves the one
//! registry on `/metrics`, with the HTTP, staging, auction, LRP, container, router and
//! log-cache figures that push produced. The router answers `/metrics` only for a Host that is
//! no route: an app's own `/metrics` stays the app's.

mod common;

use std::time::{Duration, Instant};

use common::{Platform, push::sample_app};
use reqwest::StatusCode;

/// The value of one series (`name{labels}` exactly as encoded), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.parse().ok()
    })
}

fn at_least(text: &str, series: &str, min: f64) {
    let got = value(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    assert!(got >= min, "{series} is {got}, expected at least {min}");
}

async fn scrape(platform: &Platform, base: &str) -> String {
    let response = platform
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{base}/metrics");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{base}/metrics"
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_listener_serves_the_platforms_metrics() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: metered\n  default-route: true\n";
    platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await;
    let (status, body) = platform.via_router("metered.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The app's own /metrics is the app's, not the router's.
    let (_, body) = platform
        .via_router("metered.apps.localhost", "/metrics")
        .await;
    assert!(!body.contains("ingot_router_"), "{body}");

    let bbs = platform.bbs.clone().expect("a BBS");
    let log_cache = platform.log_cache.clone().expect("log-cache");
    let router = platform.router.clone().expect("a router");
    for url in [format!("{bbs}/ping"), format!("{log_cache}/api/v1/info")] {
        let response = platform.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }

    let cc = scrape(&platform, &platform.api).await;
    at_least(
        &cc,
        r#"ingot_cc_http_requests_total{method="POST",route="/v3/builds",status="201"}"#,
        1.0,
    );
    at_least(&cc, "ingot_cc_staging_succeeded_total", 1.0);

    let uaa = scrape(&platform, &platform.uaa).await;
    at_least(
        &uaa,
        r#"ingot_uaa_http_requests_total{method="POST",route="/oauth/token",status="200"}"#,
        1.0,
    );

    let text = scrape(&platform, &bbs).await;
    at_least(
        &text,
        r#"ingot_bbs_http_requests_total{method="GET",route="/ping",status="200"}"#,
        1.0,
    );
    at_least(&text, "ingot_auctioneer_task_auctions_started_total", 1.0);
    at_least(&text, "ingot_auctioneer_lrp_auctions_started_total", 1.0);
    // The cell of `ingot up` has no listener of its own; its figures are in the same registry.
    at_least(&text, r#"ingot_rep_containers{state="running"}"#, 1.0);
    at_least(&text, "ingot_rep_container_creates_total", 2.0);
    at_least(&text, "ingot_rep_capacity_remaining_memory_bytes", 1.0);

    let text = scrape(&platform, &log_cache).await;
    at_least(
        &text,
        r#"ingot_log_cache_http_requests_total{method="GET",route="/api/v1/info",status="200"}"#,
        1.0,
    );
    at_least(&text, "ingot_log_cache_envelopes_ingested_total", 1.0);
    at_least(&text, "ingot_log_cache_sources", 1.0);

    // The router's own listener address is no route, so /metrics is the router's.
    let text = scrape(&platform, &router).await;
    at_least(
        &text,
        r#"ingot_router_responses_total{status_class="2xx"}"#,
        1.0,
    );
    at_least(&text, "ingot_router_routes", 1.0);
    at_least(&text, "ingot_router_endpoints", 1.0);

    // LRP counts by state come from the converger, which runs every 30 s.
    let deadline = Instant::now() + Duration::from_secs(75);
    loop {
        let text = scrape(&platform, &bbs).await;
        if value(&text, r#"ingot_bbs_actual_lrps{state="RUNNING"}"#) == Some(1.0) {
            assert_eq!(value(&text, "ingot_bbs_desired_lrps"), Some(1.0), "{text}");
            at_least(&text, "ingot_bbs_convergence_runs_total", 1.0);
            at_least(&text, "ingot_bbs_convergence_duration_seconds_count", 1.0);
            break;
        }
        assert!(Instant::now() < deadline, "no RUNNING LRP counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    platform.stop().await;
}
