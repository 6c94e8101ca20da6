//! The log-cache API over loopback HTTP, read with `LogCacheClient` as Ingot's end-to-end
//! tests and the cf CLI read it.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ingot_core::{FixedClock, Shutdown};
use ingot_logging::{
    AccessDenied, ContainerMetrics, Envelope, EnvelopeType, Error, LogAccess, LogCache,
    LogCacheClient, LogCacheConfig, LogType, Message, ReadQuery, router,
};

const NOW: i64 = 1_606_000_000_000_000_000;
const APP: &str = "4b1e5c0a-9d8f-4c1e-a3b2-1f2e3d4c5b6a";

/// Accepts the token `good` for every source except `secret`.
struct TokenCheck;

#[async_trait]
impl LogAccess for TokenCheck {
    async fn authorize(&self, auth: Option<&str>, source: &str) -> Result<(), AccessDenied> {
        match (auth, source) {
            (Some("bearer good"), "secret") => Err(AccessDenied::Forbidden),
            (Some("bearer good"), _) => Ok(()),
            _ => Err(AccessDenied::Unauthenticated),
        }
    }
}

struct Server {
    cache: LogCache,
    client: LogCacheClient,
    shutdown: Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start() -> Server {
    let clock = Arc::new(FixedClock::new(Utc.timestamp_nanos(NOW)));
    let cache = LogCache::new(LogCacheConfig::default(), clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    tokio::spawn(ingot_core::serve(
        listener,
        router(cache.clone(), Arc::new(TokenCheck)),
        shutdown.clone(),
    ));
    Server {
        cache,
        client: LogCacheClient::new(&url).unwrap(),
        shutdown,
    }
}

fn text(envelope: &Envelope) -> String {
    match &envelope.message {
        Message::Log(log) => String::from_utf8_lossy(&log.payload).into_owned(),
        other => panic!("not a log: {other:?}"),
    }
}

#[tokio::test]
async fn info_reports_a_version_the_cf_cli_accepts() {
    let server = start().await;
    let info = server.client.info().await.unwrap();
    assert_eq!(info.version, "2.11.4");
    assert_eq!(info.vm_uptime, "0");
}

#[tokio::test]
async fn recent_shows_staging_and_app_lines_oldest_first() {
    let server = start().await;
    let lines = [
        ("STG", LogType::Out, "Staging app..."),
        ("STG", LogType::Out, "Staging complete"),
        ("APP/PROC/WEB", LogType::Out, "listening on 8080"),
        ("APP/PROC/WEB", LogType::Err, "warning: slow request"),
    ];
    for (i, (source_type, log_type, line)) in lines.iter().enumerate() {
        let at = NOW - 1000 + i as i64;
        server
            .cache
            .ingest(Envelope::log(APP, "0", *source_type, *log_type, *line, at));
    }
    let usage = ContainerMetrics::default();
    server
        .cache
        .ingest(Envelope::container_metrics(APP, 0, &usage, NOW - 1));

    let recent = server.client.recent(APP, "good").await.unwrap();
    let texts: Vec<String> = recent.iter().map(text).collect();
    let expected: Vec<&str> = lines.iter().map(|(_, _, line)| *line).collect();
    assert_eq!(texts, expected);
    assert_eq!(recent[0].tags["source_type"], "STG");

    let gauges = ReadQuery {
        envelope_types: vec![EnvelopeType::Gauge],
        ..ReadQuery::default()
    };
    let read = server.client.read(APP, &gauges, "good").await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].envelope_type(), EnvelopeType::Gauge);
}

#[tokio::test]
async fn refusals_come_back_as_typed_errors() {
    let server = start().await;
    server.cache.ingest(Envelope::log(
        "secret",
        "0",
        "STG",
        LogType::Out,
        "x",
        NOW - 1,
    ));
    let err = server.client.recent("secret", "bad").await.unwrap_err();
    assert!(
        matches!(err, Error::Denied(AccessDenied::Unauthenticated)),
        "{err}"
    );
    let err = server.client.recent("secret", "good").await.unwrap_err();
    assert!(
        matches!(err, Error::Denied(AccessDenied::Forbidden)),
        "{err}"
    );
    let too_many = ReadQuery {
        limit: 5000,
        ..ReadQuery::default()
    };
    let err = server
        .client
        .read(APP, &too_many, "good")
        .await
        .unwrap_err();
    match err {
        Error::BadRequest(message) => assert_eq!(message, "limit (5000) must be 1000 or less"),
        other => panic!("expected a bad request, got {other}"),
    }
}

#[tokio::test]
async fn meta_round_trips_the_counters() {
    let server = start().await;
    for at in [NOW - 30, NOW - 20] {
        server
            .cache
            .ingest(Envelope::log(APP, "0", "STG", LogType::Out, "x", at));
    }
    server.cache.ingest(Envelope::log(
        "secret",
        "0",
        "STG",
        LogType::Out,
        "x",
        NOW - 1,
    ));
    let meta = server.client.meta("good").await.unwrap();
    assert_eq!(meta.keys().collect::<Vec<_>>(), [APP]);
    assert_eq!(meta[APP].count, 2);
    assert_eq!(meta[APP].oldest_timestamp, NOW - 30);
    assert_eq!(meta[APP].newest_timestamp, NOW - 20);
}
