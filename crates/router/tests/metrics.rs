//! The router's `/metrics`: served for requests whose Host is not a route (as `/health`),
//! never in place of an app's own `/metrics`; responses counted by status class, endpoint
//! failures counted, routes and endpoints read from the table.

use axum::routing::get;
use ingot_core::{Metrics, Shutdown};
use ingot_router::{Endpoint, LoadBalancing, RouteKey, RouteTable, Router, RouterConfig};
use tokio::net::TcpListener;

async fn app_with_its_own_metrics() -> std::net::SocketAddr {
    let app = axum::Router::new().route("/metrics", get(|| async { "the app's own metrics" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn endpoint(addr: std::net::SocketAddr, guid: &str) -> Endpoint {
    Endpoint {
        address: addr.ip().to_string(),
        port: addr.port(),
        instance_guid: guid.into(),
        index: 0,
        process_guid: "proc".into(),
        app_id: "app-guid".into(),
    }
}

#[tokio::test]
async fn metrics_are_answered_for_unrouted_hosts_and_count_responses() {
    let app = app_with_its_own_metrics().await;
    let gone = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap(); // dropped: nothing listens there
    let table = RouteTable::shared(LoadBalancing::RoundRobin);
    {
        let mut table = table.lock().unwrap();
        table.register(&RouteKey::parse("app.example.com"), endpoint(app, "a"));
        table.register(&RouteKey::parse("gone.example.com"), endpoint(gone, "g"));
    }
    let metrics = Metrics::new();
    let router = Router::new(RouterConfig::default(), table).with_metrics(&metrics);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(router.serve(listener, shutdown.clone()));
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let get = |host: &'static str, path: &'static str| {
        let request = http.get(format!("{url}{path}"));
        async move {
            let resp = request.header("host", host).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };

    // An app's /metrics is the app's.
    let (status, body) = get("app.example.com", "/metrics").await;
    assert_eq!((status, body.as_str()), (200, "the app's own metrics"));
    assert_eq!(get("gone.example.com", "/").await.0, 502);
    assert_eq!(get("nowhere.example.com", "/").await.0, 404);

    // A Host that is no route (the listener's address) gets the router's.
    let (status, text) = get("127.0.0.1", "/metrics").await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = text.lines().collect();
    for line in [
        "ingot_router_responses_total{status_class=\"2xx\"} 1",
        "ingot_router_responses_total{status_class=\"4xx\"} 1",
        "ingot_router_responses_total{status_class=\"5xx\"} 1",
        "ingot_router_endpoint_failures_total 1",
        "ingot_router_routes 2",
        // The unreachable endpoint was pruned when connecting to it failed.
        "ingot_router_endpoints 1",
    ] {
        assert!(lines.contains(&line), "{line} in {text}");
    }

    shutdown.cancel();
    serving.await.unwrap().unwrap();
}
