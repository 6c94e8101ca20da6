use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use tower::ServiceExt;

use super::*;

/// The sample lines of `text` (no comments).
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

fn has_sample(text: &str, line: &str) -> bool {
    samples(text).contains(&line)
}

#[test]
fn registered_metrics_are_encoded_under_the_component_prefix() {
    let metrics = Metrics::new();
    let runs = Counter::<u64>::default();
    let lrps = Gauge::<i64>::default();
    let took = duration_histogram();
    metrics.register("bbs", "convergence_runs", "Runs", runs.clone());
    metrics.register("bbs", "desired_lrps", "DesiredLRPs", lrps.clone());
    metrics.register_seconds("bbs", "convergence_duration", "Took", took.clone());
    runs.inc_by(3);
    lrps.set(7);
    took.observe(0.25);

    let text = metrics.encode();
    assert!(
        has_sample(&text, "ingot_bbs_convergence_runs_total 3"),
        "{text}"
    );
    assert!(has_sample(&text, "ingot_bbs_desired_lrps 7"), "{text}");
    assert!(text.contains("# TYPE ingot_bbs_convergence_duration_seconds histogram"));
    assert!(
        has_sample(&text, "ingot_bbs_convergence_duration_seconds_count 1"),
        "{text}"
    );
    assert!(
        has_sample(
            &text,
            "ingot_bbs_convergence_duration_seconds_bucket{le=\"0.32\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics ends with EOF: {text}"
    );
}

#[test]
fn scraped_values_are_read_on_every_scrape() {
    let metrics = Metrics::new();
    let containers = Arc::new(Mutex::new(vec![("RUNNING", 1), ("COMPLETED", 0)]));
    let state = containers.clone();
    metrics.register_scraped("rep", move |scrape| {
        let state = state.lock().unwrap();
        scrape.gauges(
            "containers",
            "Containers by state",
            "state",
            state.iter().map(|(s, n)| (*s, *n)),
        )?;
        scrape.counter("container_creates", "Creates", 5)?;
        scrape.gauge("capacity_remaining_containers", "Slots", 249)
    });

    let text = metrics.encode();
    assert!(
        has_sample(&text, "ingot_rep_containers{state=\"RUNNING\"} 1"),
        "{text}"
    );
    assert!(
        has_sample(&text, "ingot_rep_containers{state=\"COMPLETED\"} 0"),
        "{text}"
    );
    assert!(
        has_sample(&text, "ingot_rep_container_creates_total 5"),
        "{text}"
    );
    assert!(
        has_sample(&text, "ingot_rep_capacity_remaining_containers 249"),
        "{text}"
    );

    containers.lock().unwrap()[0].1 = 2;
    let text = metrics.encode();
    assert!(
        has_sample(&text, "ingot_rep_containers{state=\"RUNNING\"} 2"),
        "{text}"
    );
}

async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, String, String) {
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn instrumented_routers_count_requests_by_route_template_and_serve_metrics() {
    let metrics = Metrics::new();
    let app = Router::new()
        .route("/v3/apps/{guid}", get(|| async { "app" }))
        .route(
            "/v3/teapot",
            get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
        );
    let app = metrics.instrument("cc", app);

    assert_eq!(call(&app, "GET", "/v3/apps/one").await.0, StatusCode::OK);
    assert_eq!(call(&app, "GET", "/v3/apps/two").await.0, StatusCode::OK);
    assert_eq!(
        call(&app, "GET", "/v3/teapot").await.0,
        StatusCode::IM_A_TEAPOT
    );
    assert_eq!(
        call(&app, "GET", "/no/such/path").await.0,
        StatusCode::NOT_FOUND
    );

    let (status, content_type, text) = call(&app, "GET", PATH).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, CONTENT_TYPE);
    for line in [
        // One series for both guids: the template, not the path.
        "ingot_cc_http_requests_total{method=\"GET\",route=\"/v3/apps/{guid}\",status=\"200\"} 2",
        "ingot_cc_http_requests_total{method=\"GET\",route=\"/v3/teapot\",status=\"418\"} 1",
        "ingot_cc_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "ingot_cc_http_request_duration_seconds_count{method=\"GET\",route=\"/v3/apps/{guid}\"} 2",
    ] {
        assert!(has_sample(&text, line), "{line} in {text}");
    }

    // The scrape itself is a request like any other.
    let (_, _, text) = call(&app, "GET", PATH).await;
    assert!(
        has_sample(
            &text,
            "ingot_cc_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn every_instrumented_router_serves_the_one_registry() {
    let metrics = Metrics::new();
    let uaa = metrics.instrument("uaa", Router::new().route("/login", get(|| async { "" })));
    let bbs = metrics.instrument("bbs", Router::new().route("/v1/ping", get(|| async { "" })));
    call(&uaa, "GET", "/login").await;

    let (_, _, text) = call(&bbs, "GET", PATH).await;
    assert!(
        has_sample(
            &text,
            "ingot_uaa_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"} 1"
        ),
        "{text}"
    );
    // A family with no samples yet is left out; the first scrape gives the BBS one.
    let (_, _, text) = call(&uaa, "GET", PATH).await;
    assert!(
        has_sample(
            &text,
            "ingot_bbs_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1"
        ),
        "{text}"
    );
}
