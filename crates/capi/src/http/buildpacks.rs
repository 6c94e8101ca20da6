//! Admin buildpacks and stacks.

use axum::{
    Json, Router,
    body::Body as RawBody,
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::Response,
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, accepted, created,
    extract::{Auth, Body},
    list_page, metadata_json, multipart, ts,
};
use crate::{
    Error,
    model::{Buildpack, Stack, query::ListSpec, validation::Fields},
    service::BuildpackFields,
    store::docs::key,
};

const BUILDPACK_LIST: ListSpec = ListSpec {
    filters: &["names", "stacks", "guids"],
    includes: &[],
    order_by: &["position", "name", "created_at", "updated_at"],
    label_selector: true,
};

const STACK_LIST: ListSpec = ListSpec {
    filters: &["names", "guids"],
    includes: &[],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/buildpacks",
            get(list_buildpacks).post(create_buildpack),
        )
        .route(
            "/v3/buildpacks/{guid}",
            get(get_buildpack)
                .patch(update_buildpack)
                .delete(delete_buildpack),
        )
        .route("/v3/buildpacks/{guid}/upload", post(upload_buildpack))
        .route("/v3/stacks", get(list_stacks))
        .route("/v3/stacks/{guid}", get(get_stack))
}

pub fn buildpack_json(state: &Inner, b: &Buildpack) -> Value {
    let path = format!("/v3/buildpacks/{}", b.guid);
    json!({
        "guid": b.guid,
        "created_at": ts(b.created_at),
        "updated_at": ts(b.updated_at),
        "name": b.name,
        "stack": b.stack,
        "state": key(&b.state),
        "filename": b.filename,
        "position": b.position,
        "enabled": b.enabled,
        "locked": b.locked,
        "metadata": metadata_json(&b.metadata),
        "links": {
            "self": state.link(&path),
            "upload": {"href": state.url(&format!("{path}/upload")), "method": "POST"},
        },
    })
}

fn stack_json(state: &Inner, s: &Stack) -> Value {
    json!({
        "guid": s.guid,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
        "name": s.name,
        "description": s.description,
        "build_rootfs_image": s.name,
        "run_rootfs_image": s.name,
        "default": s.name == crate::model::bits_rules::DEFAULT_STACK,
        "metadata": metadata_json(&s.metadata),
        "links": {"self": state.link(&format!("/v3/stacks/{}", s.guid))},
    })
}

/// The body of a create or update; `name` is required on create.
fn buildpack_fields(body: &Value, creating: bool) -> Result<BuildpackFields, Error> {
    // `position` is a number, which `Fields` has no reader for; take it out first.
    let mut rest = body.clone();
    let position = rest.as_object_mut().and_then(|o| o.remove("position"));
    let mut fields = Fields::of(&rest)?;
    let name = fields.name(creating);
    let stack = fields.nullable_string("stack");
    let position = match position {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|p| u32::try_from(p).ok()) {
            Some(p) if p >= 1 => Some(p),
            _ => {
                fields.error("Position must be greater than or equal to 1");
                None
            }
        },
    };
    let enabled = fields.boolean("enabled", false);
    let locked = fields.boolean("locked", false);
    let metadata = fields.metadata();
    fields.finish()?;
    Ok(BuildpackFields {
        name,
        stack,
        position,
        enabled,
        locked,
        metadata,
    })
}

async fn list_buildpacks(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/buildpacks",
        query.as_deref(),
        &BUILDPACK_LIST,
        async |params| state.service.list_buildpacks(&actor, params).await,
        |b| buildpack_json(&state, b),
    )
    .await
}

async fn get_buildpack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let b = state.service.buildpack(&actor, &guid).await?;
    Ok(Json(buildpack_json(&state, &b)))
}

async fn create_buildpack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let fields = buildpack_fields(&body, true)?;
    let b = state.service.create_buildpack(&actor, fields).await?;
    Ok(created(buildpack_json(&state, &b)))
}

async fn update_buildpack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let fields = buildpack_fields(&body, false)?;
    let b = state
        .service
        .update_buildpack(&actor, &guid, fields)
        .await?;
    Ok(Json(buildpack_json(&state, &b)))
}

async fn delete_buildpack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_buildpack(&actor, &guid).await)
}

/// Stores the zip inline, then answers 202 with an already finished job, so the CLI's first
/// poll sees COMPLETE.
async fn upload_buildpack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Error> {
    state.service.buildpack(&actor, &guid).await?;
    let upload = multipart::read(
        &headers,
        body,
        "bits",
        state.service.blobs.scratch_dir(),
        state.service.settings.package_max_bytes,
    )
    .await?;
    let (filename, zip) = upload
        .file
        .ok_or_else(|| Error::Unprocessable("Buildpack zip error: no bits uploaded".into()))?;
    accepted(
        &state,
        state
            .service
            .upload_buildpack(&actor, &guid, &filename, zip)
            .await,
    )
}

async fn list_stacks(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/stacks",
        query.as_deref(),
        &STACK_LIST,
        async |params| state.service.list_stacks(&actor, params).await,
        |s| stack_json(&state, s),
    )
    .await
}

async fn get_stack(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let s = state.service.stack(&actor, &guid).await?;
    Ok(Json(stack_json(&state, &s)))
}
