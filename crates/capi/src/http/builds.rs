//! Builds and droplets: staging and its result.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, accepted, created,
    extract::{Auth, Body},
    list_page, metadata_json,
    packages::blob_response,
    ts,
};
use crate::{
    Error,
    model::{Build, BuildState, Droplet, LifecycleType, query::ListSpec, validation::Fields},
    store::docs::key,
};

const BUILD_LIST: ListSpec = ListSpec {
    filters: &["guids", "app_guids", "package_guids", "states"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

const DROPLET_LIST: ListSpec = ListSpec {
    filters: &["guids", "app_guids", "package_guids", "states"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/builds", get(list_builds).post(create_build))
        .route("/v3/builds/{guid}", get(get_build))
        .route("/v3/apps/{guid}/builds", get(list_app_builds))
        .route("/v3/droplets", get(list_droplets))
        .route(
            "/v3/droplets/{guid}",
            get(get_droplet).delete(delete_droplet),
        )
        .route("/v3/droplets/{guid}/download", get(download_droplet))
        .route("/v3/apps/{guid}/droplets", get(list_app_droplets))
        .route("/v3/packages/{guid}/droplets", get(list_package_droplets))
}

fn lifecycle_json(kind: LifecycleType, buildpacks: &[String], stack: &str) -> Value {
    match kind {
        LifecycleType::Buildpack => json!({
            "type": "buildpack",
            "data": {"buildpacks": buildpacks, "stack": stack},
        }),
        LifecycleType::Docker => json!({"type": "docker", "data": {}}),
    }
}

pub fn build_json(state: &Inner, b: &Build) -> Value {
    // CC shows the droplet once staging produced it.
    let droplet = match (&b.droplet_guid, b.state) {
        (Some(d), BuildState::Staged) => json!({
            "guid": d,
            "href": state.url(&format!("/v3/droplets/{d}")),
        }),
        _ => Value::Null,
    };
    json!({
        "guid": b.guid,
        "created_at": ts(b.created_at),
        "updated_at": ts(b.updated_at),
        "state": key(&b.state),
        "staging_memory_in_mb": b.staging_memory_in_mb,
        "staging_disk_in_mb": b.staging_disk_in_mb,
        "staging_log_rate_limit_bytes_per_second": -1,
        "error": b.error,
        "lifecycle": lifecycle_json(b.lifecycle.kind, &b.lifecycle.buildpacks, &b.lifecycle.stack),
        "package": {"guid": b.package_guid},
        "droplet": droplet,
        "created_by": {"guid": b.created_by_guid, "name": b.created_by_name, "email": ""},
        "relationships": {"app": {"data": {"guid": b.app_guid}}},
        "metadata": metadata_json(&b.metadata),
        "links": {
            "self": state.link(&format!("/v3/builds/{}", b.guid)),
            "app": state.link(&format!("/v3/apps/{}", b.app_guid)),
        },
    })
}

pub fn droplet_json(state: &Inner, d: &Droplet) -> Value {
    let path = format!("/v3/droplets/{}", d.guid);
    let buildpacks: Vec<Value> = d
        .buildpacks
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "detect_output": b.detect_output,
                "buildpack_name": b.buildpack_name,
                "version": b.version,
            })
        })
        .collect();
    let mut links = json!({
        "self": state.link(&path),
        "app": state.link(&format!("/v3/apps/{}", d.app_guid)),
        "assign_current_droplet": {
            "href": state.url(&format!("/v3/apps/{}/relationships/current_droplet", d.app_guid)),
            "method": "PATCH",
        },
        "download": state.link(&format!("{path}/download")),
    });
    if let (Some(p), Some(obj)) = (&d.package_guid, links.as_object_mut()) {
        obj.insert("package".into(), state.link(&format!("/v3/packages/{p}")));
    }
    json!({
        "guid": d.guid,
        "state": key(&d.state),
        "error": d.error,
        "lifecycle": {"type": key(&d.lifecycle.kind), "data": {}},
        "execution_metadata": d.execution_metadata,
        "process_types": d.process_types,
        "checksum": d.sha256.as_ref().map(|v| json!({"type": "sha256", "value": v})),
        "buildpacks": buildpacks,
        "stack": d.lifecycle.stack,
        "image": d.image,
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
        "relationships": {"app": {"data": {"guid": d.app_guid}}},
        "metadata": metadata_json(&d.metadata),
        "links": links,
    })
}

async fn create_build(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let package = fields.object("package", true, |p| p.string("guid", true));
    let _ = fields.object("lifecycle", false, |_| Some(()));
    let _ = fields.object("staging_memory_in_mb", false, |_| Some(()));
    let metadata = fields.metadata();
    fields.finish()?;
    let build = state
        .service
        .create_build(
            &actor,
            &package.unwrap_or_default(),
            metadata.unwrap_or_default(),
        )
        .await?;
    Ok(created(build_json(&state, &build)))
}

async fn get_build(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let build = state.service.build(&actor, &guid).await?;
    Ok(Json(build_json(&state, &build)))
}

async fn builds(
    state: &Inner,
    actor: &crate::service::Actor,
    query: Option<&str>,
    app: Option<&str>,
    path: &str,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        &BUILD_LIST,
        async |params| state.service.list_builds(actor, params, app).await,
        |b| build_json(state, b),
    )
    .await
}

async fn list_builds(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    builds(&state, &actor, query.as_deref(), None, "/v3/builds").await
}

async fn list_app_builds(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/apps/{guid}/builds");
    builds(&state, &actor, query.as_deref(), Some(&guid), &path).await
}

async fn droplets(
    state: &Inner,
    actor: &crate::service::Actor,
    query: Option<&str>,
    app: Option<&str>,
    package: Option<&str>,
    path: &str,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        &DROPLET_LIST,
        async |params| {
            state
                .service
                .list_droplets(actor, params, app, package)
                .await
        },
        |d| droplet_json(state, d),
    )
    .await
}

async fn list_droplets(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    droplets(&state, &actor, query.as_deref(), None, None, "/v3/droplets").await
}

async fn list_app_droplets(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/apps/{guid}/droplets");
    droplets(&state, &actor, query.as_deref(), Some(&guid), None, &path).await
}

async fn list_package_droplets(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/packages/{guid}/droplets");
    droplets(&state, &actor, query.as_deref(), None, Some(&guid), &path).await
}

async fn get_droplet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let droplet = state.service.droplet(&actor, &guid).await?;
    Ok(Json(droplet_json(&state, &droplet)))
}

async fn delete_droplet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_droplet(&actor, &guid).await)
}

async fn download_droplet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    let (size, stream) = state.service.download_droplet(&actor, &guid).await?;
    Ok(blob_response(size, stream, "application/gzip"))
}
