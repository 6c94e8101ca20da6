//! The Cloud Controller HTTP API: axum routes, one file per resource. Handlers decode the
//! request, call the service and present the result; they hold no rules of their own.

mod apps;
mod audit_events;
mod buildpacks;
mod builds;
mod domains;
mod environment;
pub mod error;
mod extract;
mod feature_flags;
mod internal;
mod jobs;
mod manifests;
mod multipart;
mod organizations;
mod packages;
mod placeholders;
mod processes;
mod quotas;
mod roles;
mod root;
mod routes;
mod security_groups;
mod spaces;
mod stats;
mod tasks;
mod users;
mod v2;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header::LOCATION},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::{
    Error,
    model::{
        Job, MetadataPatch,
        query::{ListParams, ListSpec, Page, pagination_json},
        validation::Fields,
    },
    service::Service,
};

/// Everything handlers need, shared behind one Arc.
pub struct Inner {
    pub service: Service,
    pub external_url: String,
    pub uaa_url: String,
    pub log_cache_url: Option<String>,
}

pub type AppState = Arc<Inner>;

impl Inner {
    /// An absolute URL for an API path such as `/v3/organizations`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.external_url, path)
    }

    pub fn link(&self, path: &str) -> Value {
        json!({ "href": self.url(path) })
    }
}

/// CC's timestamp format: RFC 3339, whole seconds, `Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn metadata_json(m: &crate::model::Metadata) -> Value {
    json!({ "labels": m.labels, "annotations": m.annotations })
}

/// What a list endpoint's fetch yields: one page and, for resources that have them, the
/// `included` object built alongside it.
pub struct Listing<T> {
    pub page: Page<T>,
    pub included: Option<Value>,
}

impl<T> From<Page<T>> for Listing<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            page,
            included: None,
        }
    }
}

/// A v3 list endpoint at `path`: checks `query` against `spec`, fetches the page and answers
/// with pagination, each item rendered by `render`, and `included` when there is one.
pub async fn list_page<T, L: Into<Listing<T>>>(
    state: &Inner,
    path: &str,
    query: Option<&str>,
    spec: &ListSpec,
    fetch: impl AsyncFnOnce(&ListParams) -> Result<L, Error>,
    render: impl Fn(&T) -> Value,
) -> Result<Json<Value>, Error> {
    let params = ListParams::parse(query, spec)?;
    let Listing { page, included } = fetch(&params).await?.into();
    let resources: Vec<Value> = page.items.iter().map(render).collect();
    let body = json!({
        "pagination": pagination_json(&page, &params, &state.url(path)),
        "resources": resources,
    });
    Ok(Json(with_included(body, included)))
}

/// `body` with an `included` object added, if there is one.
pub fn with_included(mut body: Value, included: Option<Value>) -> Value {
    if let (Some(inc), Some(obj)) = (included, body.as_object_mut()) {
        obj.insert("included".into(), inc);
    }
    body
}

/// The `included` object: each kind of resource is added only when `params` asked for it.
pub struct Included<'a> {
    params: &'a ListParams,
    kinds: Map<String, Value>,
}

impl<'a> Included<'a> {
    pub fn new(params: &'a ListParams) -> Self {
        Self {
            params,
            kinds: Map::new(),
        }
    }

    /// Adds `key` (e.g. "spaces") when the caller asked to include `include` (e.g. "space").
    pub fn add(mut self, include: &str, key: &str, resources: impl FnOnce() -> Vec<Value>) -> Self {
        if self.params.includes(include) {
            self.kinds.insert(key.into(), Value::Array(resources()));
        }
        self
    }

    pub fn build(self) -> Option<Value> {
        (!self.kinds.is_empty()).then_some(Value::Object(self.kinds))
    }
}

/// 201 with the created resource.
pub fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// 202 with an absolute `Location` pointing at the job the service started.
pub fn accepted(state: &Inner, job: Result<Job, Error>) -> Result<Response, Error> {
    let location = state.url(&format!("/v3/jobs/{}", job?.guid));
    match HeaderValue::from_str(&location) {
        Ok(value) => Ok((StatusCode::ACCEPTED, [(LOCATION, value)]).into_response()),
        Err(_) => Err(Error::Internal(format!("bad job location {location}"))),
    }
}

/// `[{"guid": ...}, ...]`, the data of a to-many relationship.
pub fn guid_list(guids: &[String]) -> Value {
    guids.iter().map(|g| json!({ "guid": g })).collect()
}

/// The guids of `key`, a to-many relationship's data: `[{"guid": ...}, ...]`.
pub fn to_many_guids(
    fields: &mut Fields<'_>,
    key: &'static str,
    required: bool,
) -> Option<Vec<String>> {
    let Some(items) = fields.raw(key) else {
        if required {
            fields.error("Data must be an array");
        }
        return None;
    };
    let guids: Option<Vec<String>> = items.as_array().and_then(|items| {
        items
            .iter()
            .map(|i| i.get("guid").and_then(Value::as_str).map(str::to_owned))
            .collect()
    });
    if guids.is_none() {
        fields.error("Data must be an array of objects with a string guid");
    }
    guids
}

/// The metadata of a PATCH body that may change nothing else.
pub fn read_metadata(body: &Value) -> Result<MetadataPatch, Error> {
    let mut fields = Fields::of(body)?;
    let metadata = fields.metadata();
    fields.finish()?;
    Ok(metadata.unwrap_or_default())
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-vcap-request-id");

/// Echoes the caller's `X-Vcap-Request-Id` or assigns a new one.
async fn request_id(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .cloned()
        .or_else(|| HeaderValue::from_str(&state.service.new_guid()).ok());
    let mut response = next.run(req).await;
    if let Some(id) = id {
        response.headers_mut().insert(REQUEST_ID.clone(), id);
    }
    response
}

/// 404 "Unknown request", in the v2 shape under /v2 and the v3 shape elsewhere.
async fn unknown_request(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/v2/") {
        error::V2Error::from(Error::UnknownRequest).into_response()
    } else {
        Error::UnknownRequest.into_response()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root::root))
        .route("/v3", get(root::v3_root))
        .route("/v3/", get(root::v3_root))
        .route("/v3/info", get(root::v3_info))
        .route("/v2/info", get(root::v2_info))
        .merge(apps::routes())
        .merge(environment::routes())
        .merge(processes::routes())
        .merge(manifests::routes())
        .merge(organizations::routes())
        .merge(spaces::routes())
        .merge(stats::routes())
        .merge(tasks::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(domains::routes())
        .merge(routes::routes())
        .merge(security_groups::routes())
        .merge(feature_flags::routes())
        .merge(audit_events::routes())
        .merge(jobs::routes())
        .merge(quotas::routes())
        .merge(placeholders::routes())
        .merge(packages::routes())
        .merge(builds::routes())
        .merge(buildpacks::routes())
        .merge(internal::routes())
        .merge(v2::routes())
        .fallback(unknown_request)
        .method_not_allowed_fallback(unknown_request)
        .layer(middleware::from_fn_with_state(state.clone(), request_id))
        .with_state(state)
}
