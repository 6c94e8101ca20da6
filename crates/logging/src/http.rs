//! log-cache's read API on axum, at the root of its own listener (the cf CLI replaces any
//! path in the `log_cache` link with `/api/v1/...`).
//!
//! `meta` answers every caller, listing only the sources that caller may read: each source is
//! checked with [`LogAccess::authorize`], as cf-auth-proxy filters meta for non-admins.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::access::{AccessDenied, LogAccess};
use crate::api::{
    EnvelopeBatch, ErrorBody, INFO_PATH, INGRESS_PATH, Info, META_PATH, MetaResponse, READ_PATH,
    ReadResponse, VERSION,
};
use crate::cache::LogCache;
use crate::query::{QueryError, ReadQuery};
use crate::sink::EnvelopeSink;

#[derive(Clone)]
struct AppState {
    cache: LogCache,
    access: Arc<dyn LogAccess>,
}

/// The log-cache API over `cache`, guarded by `access`.
pub fn router(cache: LogCache, access: Arc<dyn LogAccess>) -> Router {
    Router::new()
        .route(INFO_PATH, get(get_info))
        .route(&format!("{READ_PATH}/{{*source_id}}"), get(read_envelopes))
        .route(META_PATH, get(get_meta))
        .with_state(AppState { cache, access })
}

/// Largest ingress batch body: [`crate::EnvelopeForwarder`] sends at most
/// [`crate::forward::MAX_BATCH`] envelopes, each at most [`crate::MAX_LOG_PAYLOAD`] of payload.
const MAX_INGRESS_BODY: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct IngressState {
    sink: Arc<dyn EnvelopeSink>,
    /// `Bearer <secret>`, as forwarders send it.
    expected: Arc<str>,
}

/// Envelope ingress for components in other processes: batches POSTed by an
/// [`crate::EnvelopeForwarder`] holding the same `secret` go into `sink`.
pub fn ingress_router(sink: Arc<dyn EnvelopeSink>, secret: &str) -> Router {
    Router::new()
        .route(INGRESS_PATH, post(ingest_batch))
        .layer(DefaultBodyLimit::max(MAX_INGRESS_BODY))
        .with_state(IngressState {
            sink,
            expected: format!("Bearer {secret}").into(),
        })
}

async fn ingest_batch(
    State(state): State<IngressState>,
    headers: HeaderMap,
    Json(body): Json<EnvelopeBatch>,
) -> Result<StatusCode, ApiError> {
    let given = authorization(&headers).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), state.expected.as_bytes()) {
        return Err(AccessDenied::Unauthenticated.into());
    }
    for envelope in body.batch {
        state.sink.ingest(envelope);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Compares without stopping at the first difference, so timing does not reveal the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn get_info(State(state): State<AppState>) -> Json<Info> {
    Json(Info {
        version: VERSION.to_owned(),
        vm_uptime: state.cache.uptime_secs().to_string(),
    })
}

async fn read_envelopes(
    State(state): State<AppState>,
    Path(source_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<ReadResponse>, ApiError> {
    state
        .access
        .authorize(authorization(&headers), &source_id)
        .await?;
    let query = ReadQuery::parse(query.as_deref().unwrap_or_default())?;
    let batch = state.cache.read(&source_id, &query);
    Ok(Json(ReadResponse {
        envelopes: EnvelopeBatch { batch },
    }))
}

async fn get_meta(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<MetaResponse>, ApiError> {
    let authorization = authorization(&headers);
    if authorization.is_none() {
        return Err(AccessDenied::Unauthenticated.into());
    }
    let mut meta = state.cache.meta();
    for source_id in meta.keys().cloned().collect::<Vec<_>>() {
        match state.access.authorize(authorization, &source_id).await {
            Ok(()) => {}
            Err(AccessDenied::Forbidden) => {
                meta.remove(&source_id);
            }
            Err(denied) => return Err(denied.into()),
        }
    }
    let meta = meta.into_iter().map(|(id, m)| (id, m.into())).collect();
    Ok(Json(MetaResponse { meta }))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Every way a request fails, mapped to a status and body in this one place.
#[derive(Debug)]
enum ApiError {
    Denied(AccessDenied),
    BadQuery(QueryError),
}

impl From<AccessDenied> for ApiError {
    fn from(denied: AccessDenied) -> Self {
        Self::Denied(denied)
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        Self::BadQuery(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::Denied(AccessDenied::Unauthenticated) => (
                StatusCode::UNAUTHORIZED,
                16,
                AccessDenied::Unauthenticated.to_string(),
            ),
            Self::Denied(AccessDenied::Forbidden) => (
                StatusCode::NOT_FOUND,
                5,
                AccessDenied::Forbidden.to_string(),
            ),
            Self::BadQuery(err) => (StatusCode::BAD_REQUEST, 3, err.to_string()),
        };
        let body = ErrorBody {
            code,
            message,
            details: Vec::new(),
        };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests;
