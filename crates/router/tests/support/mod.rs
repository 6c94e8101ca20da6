//! Test support: tiny backends that answer with their index, a router on a loopback port,
//! an access-log sink that keeps records, and polling instead of sleeps.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::routing::get;
use ingot_core::Shutdown;
use ingot_router::tls::CertificateFiles;
use ingot_router::{
    AccessLogRecord, AccessLogSink, Endpoint, LoadBalancing, RouteKey, RouteTable, Router,
    RouterConfig, SharedRouteTable,
};
use tokio::net::TcpListener;

/// A backend on 127.0.0.1 answering every path with its index; `/login` also sets a
/// `JSESSIONID` cookie and `/headers` echoes the forwarded headers.
pub async fn backend(index: u32) -> SocketAddr {
    let app = axum::Router::new()
        .route(
            "/login",
            get(
                move || async move { ([(SET_COOKIE, "JSESSIONID=s1; Path=/")], index.to_string()) },
            ),
        )
        .route(
            "/headers",
            get(|headers: HeaderMap| async move {
                [
                    "host",
                    "x-forwarded-for",
                    "x-forwarded-proto",
                    "x-vcap-request-id",
                    "x-request-start",
                ]
                .iter()
                .map(|name| {
                    let value = headers
                        .get(*name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    format!("{name}={value}\n")
                })
                .collect::<String>()
            }),
        )
        .route(
            "/upload",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .fallback(move || async move { index.to_string() });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A loopback address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

pub fn endpoint(addr: SocketAddr, index: u32) -> Endpoint {
    Endpoint {
        address: addr.ip().to_string(),
        port: addr.port(),
        instance_guid: format!("guid-{index}"),
        index,
        process_guid: "proc".into(),
        app_id: "app-guid".into(),
    }
}

#[derive(Default)]
pub struct MemoryLog(pub Mutex<Vec<AccessLogRecord>>);

impl AccessLogSink for MemoryLog {
    fn record(&self, record: &AccessLogRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

pub struct TestRouter {
    pub addr: SocketAddr,
    pub table: SharedRouteTable,
    pub log: Arc<MemoryLog>,
    pub shutdown: Shutdown,
    pub http: reqwest::Client,
}

impl TestRouter {
    pub async fn start(config: RouterConfig) -> Self {
        Self::start_with_table(config, RouteTable::shared(LoadBalancing::RoundRobin)).await
    }

    pub async fn start_with_table(config: RouterConfig, table: SharedRouteTable) -> Self {
        Self::launch(config, table, None).await
    }

    /// A router serving HTTPS with this certificate (and HTTP/2 when `http2`).
    pub async fn start_tls(files: &CertificateFiles, http2: bool) -> Self {
        Self::start_tls_with(RouterConfig::default(), files, http2).await
    }

    pub async fn start_tls_with(
        config: RouterConfig,
        files: &CertificateFiles,
        http2: bool,
    ) -> Self {
        let table = RouteTable::shared(LoadBalancing::RoundRobin);
        let tls = ingot_router::tls::server_config(files, http2).unwrap();
        Self::launch(config, table, Some(tls)).await
    }

    async fn launch(
        config: RouterConfig,
        table: SharedRouteTable,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(MemoryLog::default());
        let shutdown = Shutdown::new();
        let router = Router::new(config, table.clone()).with_access_log(log.clone());
        match tls {
            Some(tls) => tokio::spawn(router.serve_tls(listener, tls, shutdown.clone())),
            None => tokio::spawn(router.serve(listener, shutdown.clone())),
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            addr,
            table,
            log,
            shutdown,
            http,
        }
    }

    pub fn register(&self, route: &str, endpoint: Endpoint) {
        self.table
            .lock()
            .unwrap()
            .register(&RouteKey::parse(route), endpoint);
    }

    pub fn request(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("http://{}{path}", self.addr))
            .header("host", host)
    }

    /// GET and return status and body.
    pub async fn get(&self, host: &str, path: &str) -> (u16, String) {
        let resp = self.request(host, path).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
