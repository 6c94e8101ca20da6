//! A component in another process forwards its envelopes to the log-cache's ingress: they
//! arrive in order, a wrong secret is refused and counted, and envelopes written while the
//! log-cache is down arrive once it is back.

use ingot_core::testing::until;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ingot_core::{FixedClock, Shutdown};
use ingot_logging::{
    Envelope, EnvelopeForwarder, EnvelopeSink, LogCache, LogCacheConfig, LogType, ReadQuery,
    ingress_router,
};
use tokio::net::TcpListener;

const NOW: i64 = 1_606_000_000_000_000_000;
const APP: &str = "4b1e5c0a-9d8f-4c1e-a3b2-1f2e3d4c5b6a";
const SECRET: &str = "s3cret";

fn cache() -> LogCache {
    let clock = Arc::new(FixedClock::new(Utc.timestamp_nanos(NOW)));
    LogCache::new(LogCacheConfig::default(), clock)
}

/// Serves the ingress for `cache` on `listener` until the returned shutdown is cancelled.
fn serve(cache: &LogCache, listener: TcpListener) -> Shutdown {
    let shutdown = Shutdown::new();
    let sink: Arc<dyn EnvelopeSink> = Arc::new(cache.clone());
    tokio::spawn(ingot_core::serve(
        listener,
        ingress_router(sink, SECRET),
        shutdown.clone(),
    ));
    shutdown
}

fn line(i: i64) -> Envelope {
    Envelope::log(
        APP,
        "0",
        "APP/PROC/WEB",
        LogType::Out,
        format!("line {i}"),
        NOW - 1_000 + i,
    )
}

fn texts(cache: &LogCache) -> Vec<String> {
    cache
        .read(APP, &ReadQuery::default())
        .iter()
        .map(|e| match &e.message {
            ingot_logging::Message::Log(log) => String::from_utf8_lossy(&log.payload).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn envelopes_arrive_in_order_and_a_wrong_secret_is_refused() {
    let cache = cache();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(&cache, listener);
    let shutdown = Shutdown::new();

    let forwarder = EnvelopeForwarder::start(&url, SECRET, shutdown.clone()).unwrap();
    for i in 0..600 {
        forwarder.ingest(line(i));
    }
    until("600 envelopes", Duration::from_secs(10), || {
        forwarder.stats().sent == 600
    })
    .await;
    let want: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
    assert_eq!(texts(&cache)[..100], want[..]);
    assert_eq!(
        cache
            .read(
                APP,
                &ReadQuery {
                    limit: 1000,
                    ..ReadQuery::default()
                }
            )
            .len(),
        600
    );

    let impostor = EnvelopeForwarder::start(&url, "guess", shutdown.clone()).unwrap();
    impostor.ingest(line(1_000));
    until("the refusal", Duration::from_secs(10), || {
        impostor.stats().dropped == 1
    })
    .await;
    assert_eq!(impostor.stats().sent, 0);
    assert!(!texts(&cache).iter().any(|t| t == "line 1000"));

    shutdown.cancel();
    server.cancel();
}

#[tokio::test]
async fn envelopes_written_while_log_cache_is_down_arrive_when_it_is_back() {
    // Reserve a port, then close it: the log-cache is "down" at that address.
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let shutdown = Shutdown::new();
    let forwarder =
        EnvelopeForwarder::start(&format!("http://{addr}"), SECRET, shutdown.clone()).unwrap();
    for i in 0..3 {
        forwarder.ingest(line(i));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        forwarder.stats(),
        Default::default(),
        "nothing sent, nothing dropped yet"
    );

    let cache = cache();
    let server = serve(&cache, TcpListener::bind(addr).await.unwrap());
    until("the queued envelopes", Duration::from_secs(10), || {
        forwarder.stats().sent == 3
    })
    .await;
    assert_eq!(texts(&cache), ["line 0", "line 1", "line 2"]);
    assert_eq!(forwarder.stats().dropped, 0);

    shutdown.cancel();
    server.cancel();
}
