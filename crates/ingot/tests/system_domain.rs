//! The system domain through the router, as in CF: `api.localhost`, `uaa.localhost`,
//! `login.localhost` and `log-cache.localhost` at the router's port lead to the Cloud
//! Controller, the UAA and log-cache, and the API's discovery documents keep clients on those
//! hosts, over plain HTTP and over HTTPS with the generated CA.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Platform, password_grant, send};
use ingot::config::RouterTls;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const SYSTEM_HOSTS: [&str; 4] = ["api", "uaa", "login", "log-cache"];

/// A client that finds every system host at the router, as DNS (or `.localhost`) would.
fn through(router: SocketAddr) -> reqwest::ClientBuilder {
    SYSTEM_HOSTS.iter().fold(
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30)),
        |builder, host| builder.resolve(&format!("{host}.localhost"), router),
    )
}

fn addr(url: &str) -> SocketAddr {
    url.split_once("://").unwrap().1.parse().unwrap()
}

/// `cf api <base>` then `cf auth` and a first API call, following the links the API hands out.
/// Returns the root document's links.
async fn cf_api_and_login(http: &reqwest::Client, base: &str, admin_password: &str) -> Value {
    let (status, root) = send(http, Method::GET, &format!("{base}/"), "", None).await;
    assert_eq!(status, StatusCode::OK, "{root}");
    let links = root["links"].clone();
    let (status, login) = send(
        http,
        Method::GET,
        &format!("{}/login", links["login"]["href"].as_str().unwrap()),
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(login["prompts"]["username"].is_array(), "{login}");
    // The cf CLI sends token requests to the login document's `links.uaa`: still the router.
    assert_eq!(login["links"]["uaa"], links["login"]["href"], "{login}");
    let uaa = links["uaa"]["href"].as_str().unwrap();
    let token = password_grant(http, uaa, "admin", admin_password)
        .await
        .unwrap();
    let v3 = links["cloud_controller_v3"]["href"].as_str().unwrap();
    let (status, orgs) = send(
        http,
        Method::GET,
        &format!("{v3}/organizations"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{orgs}");
    let log_cache = links["log_cache"]["href"].as_str().unwrap();
    let (status, info) = send(
        http,
        Method::GET,
        &format!("{log_cache}/api/v1/info"),
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    links
}

#[tokio::test(flavor = "multi_thread")]
async fn api_uaa_and_log_cache_are_reached_at_the_system_domain() {
    let platform = Platform::start().await;
    let router = addr(platform.router.as_deref().unwrap());
    let port = router.port();
    let http = through(router).build().unwrap();

    let links = cf_api_and_login(
        &http,
        &format!("http://api.localhost:{port}"),
        &platform.admin_password,
    )
    .await;
    for (link, want) in [
        ("self", format!("http://api.localhost:{port}")),
        (
            "cloud_controller_v3",
            format!("http://api.localhost:{port}/v3"),
        ),
        ("uaa", format!("http://uaa.localhost:{port}")),
        ("login", format!("http://login.localhost:{port}")),
        ("log_cache", format!("http://log-cache.localhost:{port}")),
    ] {
        assert_eq!(links[link]["href"], want, "{link}: {links}");
    }
    let (_, info) = send(
        &http,
        Method::GET,
        &format!("http://api.localhost:{port}/v3/info"),
        "",
        None,
    )
    .await;
    assert_eq!(
        info["links"]["self"]["href"],
        format!("http://api.localhost:{port}/v3/info")
    );

    // The components stay reachable directly, and there the links are the direct ones.
    let (status, root) = send(
        &platform.http,
        Method::GET,
        &format!("{}/", platform.api),
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["links"]["uaa"]["href"], platform.uaa);
    assert_eq!(root["links"]["self"]["href"], platform.api);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_https_with_the_generated_ca() {
    let platform = Platform::start_with(|config| {
        config.router_tls = Some(RouterTls {
            addr: "127.0.0.1:0".parse().unwrap(),
            cert_and_key: None,
            http2: true,
        });
    })
    .await;
    let endpoints = platform.ingots[0].endpoints().clone();
    let router = addr(endpoints.router_tls_url.as_deref().unwrap());
    let ca = std::fs::read(endpoints.router_ca.unwrap()).unwrap();
    let http = through(router)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .https_only(true)
        .build()
        .unwrap();
    let base = format!("https://api.localhost:{}", router.port());
    let links = cf_api_and_login(&http, &base, &platform.admin_password).await;
    assert_eq!(
        links["uaa"]["href"],
        format!("https://uaa.localhost:{}", router.port())
    );
    platform.stop().await;
}
