//! HTTPS with the CA the router generates: clients that trust it reach backends over HTTP/1.1
//! and HTTP/2, and endpoints learn the request came over https.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ingot_router::tls::{self, GeneratedCertificate};
use reqwest::Version;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use support::{TestRouter, backend, endpoint};
use tokio::io::AsyncReadExt;

const HOST: &str = "web.apps.test";

fn generate(dir: &tempfile::TempDir) -> GeneratedCertificate {
    let names = ["*.apps.test", "apps.test", "localhost", "127.0.0.1"].map(str::to_owned);
    tls::load_or_generate(&dir.path().join("router-tls"), &names).unwrap()
}

/// A client that trusts the generated CA and finds `HOST` at the router.
fn client(ca: &GeneratedCertificate, router: &TestRouter) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca.ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .add_root_certificate(ca)
        .resolve(HOST, router.addr)
}

async fn get_headers(client: &reqwest::Client, router: &TestRouter) -> (Version, String) {
    let resp = client
        .get(format!("https://{HOST}:{}/headers", router.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    (resp.version(), resp.text().await.unwrap())
}

#[tokio::test]
async fn http1_and_http2_over_tls_reach_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cert = generate(&dir);
    let router = TestRouter::start_tls(&cert.files, true).await;
    router.register(HOST, endpoint(backend(0).await, 0));

    let http1 = client(&cert, &router).http1_only().build().unwrap();
    let (version, body) = get_headers(&http1, &router).await;
    assert_eq!(version, Version::HTTP_11);
    assert!(body.contains("x-forwarded-proto=https\n"), "{body}");

    // ALPN picks h2; the endpoint still gets HTTP/1.1 with the route's Host.
    let http2 = client(&cert, &router).build().unwrap();
    let (version, body) = get_headers(&http2, &router).await;
    assert_eq!(version, Version::HTTP_2);
    assert!(body.contains("x-forwarded-proto=https\n"), "{body}");
    assert!(
        body.contains(&format!("host={HOST}:{}\n", router.addr.port())),
        "{body}"
    );
    let record = router.log.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(record.x_forwarded_proto.as_deref(), Some("https"));
}

#[tokio::test]
async fn without_http2_tls_speaks_http1_only() {
    let dir = tempfile::tempdir().unwrap();
    let cert = generate(&dir);
    let router = TestRouter::start_tls(&cert.files, false).await;
    router.register(HOST, endpoint(backend(0).await, 0));
    let client = client(&cert, &router).build().unwrap();
    let (version, body) = get_headers(&client, &router).await;
    assert_eq!(version, Version::HTTP_11);
    assert!(body.contains("x-forwarded-proto=https\n"), "{body}");
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cert = generate(&dir);
    let router = TestRouter::start_tls(&cert.files, true).await;
    router.register(HOST, endpoint(backend(0).await, 0));
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .resolve(HOST, router.addr)
        .build()
        .unwrap();
    let err = untrusting
        .get(format!("https://{HOST}:{}/", router.addr.port()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // The handshake failure cost the router nothing: trusting clients are still served.
    let trusting = client(&cert, &router).build().unwrap();
    assert_eq!(get_headers(&trusting, &router).await.0, Version::HTTP_2);
}

#[tokio::test]
async fn the_plain_listener_stays_http1() {
    let router = TestRouter::start(ingot_router::RouterConfig::default()).await;
    router.register(HOST, endpoint(backend(0).await, 0));
    let h2c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let sent = h2c
        .get(format!("http://{}/", router.addr))
        .header("host", HOST)
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
    assert_eq!(router.get(HOST, "/").await, (200, "0".into()));
}

/// A router with HTTP/2 over TLS and a 300 ms idle timeout; the directory holds its CA.
async fn idle_router() -> (tempfile::TempDir, GeneratedCertificate, TestRouter) {
    let dir = tempfile::tempdir().unwrap();
    let cert = generate(&dir);
    let config = ingot_router::RouterConfig {
        client_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let router = TestRouter::start_tls_with(config, &cert.files, true).await;
    (dir, cert, router)
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let (_dir, cert, router) = idle_router().await;

    // A client that completes TLS with h2, then never sends a frame.
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&cert.ca).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    // The router gives up on it (an end of stream or a reset), long before this bound.
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // a SETTINGS or GOAWAY frame
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
}

#[tokio::test]
async fn an_http2_client_carries_on_after_its_idle_connection_went_away() {
    let (_dir, cert, router) = idle_router().await;
    router.register(HOST, endpoint(backend(0).await, 0));
    let http2 = client(&cert, &router).build().unwrap();
    assert_eq!(get_headers(&http2, &router).await.0, Version::HTTP_2);
    // Past the idle timeout the router sends GOAWAY; the client's next request opens anew.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get_headers(&http2, &router).await.0, Version::HTTP_2);
}
