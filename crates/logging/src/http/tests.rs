use std::collections::BTreeMap;

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::http::Request;
use chrono::{TimeZone, Utc};
use ingot_core::FixedClock;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::access::AllowAll;
use crate::cache::LogCacheConfig;
use crate::envelope::{Envelope, LogType};

const NOW: i64 = 1_606_000_000_000_000_000;
const APP: &str = "4b1e5c0a-9d8f-4c1e-a3b2-1f2e3d4c5b6a";

/// Accepts `bearer good` for every source except `secret`.
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

fn cache() -> LogCache {
    let clock = Arc::new(FixedClock::new(Utc.timestamp_nanos(NOW)));
    LogCache::new(LogCacheConfig::default(), clock)
}

async fn get(router: &Router, uri: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn info_needs_no_token_and_reports_a_v2_version() {
    let router = router(cache(), Arc::new(TokenCheck));
    let (status, body) = get(&router, "/api/v1/info", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"version": "2.11.4", "vm_uptime": "0"}));
}

#[tokio::test]
async fn recent_returns_the_batch_the_cf_cli_decodes() {
    let cache = cache();
    cache.ingest(Envelope::log(
        APP,
        "0",
        "STG",
        LogType::Out,
        "Staging...",
        NOW - 20,
    ));
    cache.ingest(Envelope::log(
        APP,
        "0",
        "APP/PROC/WEB",
        LogType::Err,
        "oops",
        NOW - 10,
    ));
    cache.ingest(Envelope::counter(APP, "0", "requests", 1, 1, NOW - 5));
    let router = router(cache, Arc::new(TokenCheck));
    let (status, body) = get(
        &router,
        &format!(
            "/api/v1/read/{APP}?descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152"
        ),
        Some("bearer good"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"envelopes": {"batch": [
            {"timestamp": (NOW - 10).to_string(), "source_id": APP, "instance_id": "0",
             "tags": {"source_type": "APP/PROC/WEB"},
             "log": {"payload": "b29wcw==", "type": "ERR"}},
            {"timestamp": (NOW - 20).to_string(), "source_id": APP, "instance_id": "0",
             "tags": {"source_type": "STG"},
             "log": {"payload": "U3RhZ2luZy4uLg==", "type": "OUT"}}
        ]}})
    );
}

#[tokio::test]
async fn an_empty_source_is_an_empty_batch() {
    let router = router(cache(), Arc::new(AllowAll));
    let (status, body) = get(&router, "/api/v1/read/nobody?start_time=0", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"envelopes": {"batch": []}}));
}

#[tokio::test]
async fn streaming_finds_the_newest_envelope_of_any_kind_then_walks_logs() {
    let cache = cache();
    cache.ingest(Envelope::log(
        APP,
        "0",
        "APP/PROC/WEB",
        LogType::Out,
        "a",
        NOW - 3000,
    ));
    cache.ingest(Envelope::counter(APP, "0", "c", 1, 1, NOW - 2000));
    cache.ingest(Envelope::log(
        APP,
        "0",
        "APP/PROC/WEB",
        LogType::Out,
        "b",
        NOW - 1000,
    ));
    let router = router(cache, Arc::new(AllowAll));
    let (_, newest) = get(
        &router,
        &format!("/api/v1/read/{APP}?descending=true&limit=1&start_time=-6795364578871345152"),
        None,
    )
    .await;
    assert_eq!(
        newest["envelopes"]["batch"][0]["timestamp"],
        json!((NOW - 1000).to_string())
    );
    let (_, walk) = get(
        &router,
        &format!(
            "/api/v1/read/{APP}?envelope_types=LOG&start_time={}",
            NOW - 3000
        ),
        None,
    )
    .await;
    let stamps: Vec<&Value> = walk["envelopes"]["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["timestamp"])
        .collect();
    assert_eq!(
        stamps,
        [
            &json!((NOW - 3000).to_string()),
            &json!((NOW - 1000).to_string())
        ]
    );
}

#[tokio::test]
async fn source_ids_may_contain_slashes() {
    let cache = cache();
    cache.ingest(Envelope::counter("org/app", "", "c", 1, 1, NOW - 1));
    let router = router(cache, Arc::new(AllowAll));
    for path in ["/api/v1/read/org/app", "/api/v1/read/org%2Fapp"] {
        let (status, body) = get(&router, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            body["envelopes"]["batch"].as_array().unwrap().len(),
            1,
            "{path}"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_400_with_a_json_error() {
    let router = router(cache(), Arc::new(AllowAll));
    let (status, body) = get(&router, "/api/v1/read/app?limit=5000", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"code": 3, "message": "limit (5000) must be 1000 or less", "details": []})
    );
    let (status, _) = get(&router, "/api/v1/read/app?envelope_types=LOGZ", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reads_without_a_good_token_are_401_and_hidden_sources_404() {
    let cache = cache();
    cache.ingest(Envelope::log(
        "secret",
        "0",
        "APP/PROC/WEB",
        LogType::Out,
        "x",
        NOW - 1,
    ));
    let router = router(cache, Arc::new(TokenCheck));
    let read = "/api/v1/read/secret?start_time=0";
    let (status, body) = get(&router, read, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], json!(16));
    let (status, _) = get(&router, read, Some("bearer expired")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = get(&router, read, Some("bearer good")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], json!(5));
    // Authentication comes before parameter checks, as cf-auth-proxy sits in front.
    let (status, _) = get(&router, "/api/v1/read/app?limit=x", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn meta_lists_only_the_callers_sources_with_log_cache_field_names() {
    let cache = cache();
    cache.ingest(Envelope::log(APP, "0", "STG", LogType::Out, "x", NOW - 20));
    cache.ingest(Envelope::log(APP, "0", "STG", LogType::Out, "y", NOW - 10));
    cache.ingest(Envelope::log(
        "secret",
        "0",
        "STG",
        LogType::Out,
        "z",
        NOW - 5,
    ));
    let router = router(cache, Arc::new(TokenCheck));
    let (status, body) = get(&router, "/api/v1/meta", Some("bearer good")).await;
    assert_eq!(status, StatusCode::OK);
    let expected: BTreeMap<&str, Value> = BTreeMap::from([(
        APP,
        json!({"count": "2", "expired": "0",
               "oldest_timestamp": (NOW - 20).to_string(),
               "newest_timestamp": (NOW - 10).to_string()}),
    )]);
    assert_eq!(body, json!({"meta": expected}));
    for auth in [None, Some("bearer bad")] {
        let (status, _) = get(&router, "/api/v1/meta", auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
