use axum::{
    Json, Router,
    body::Body as RawBody,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, created,
    extract::{Auth, Body},
    list_page, metadata_json, multipart, ts,
};
use crate::{
    Error,
    blobstore::BlobStream,
    model::{Package, PackageType, query::ListSpec, validation::Fields},
    service::{NewPackage, ResourceRef},
    store::docs::key,
};

pub(crate) const LIST: ListSpec = ListSpec {
    filters: &["guids", "app_guids", "states", "types"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/packages", get(list_packages).post(create_package))
        .route("/v3/packages/{guid}", get(get_package))
        .route("/v3/packages/{guid}/upload", post(upload_package))
        .route("/v3/packages/{guid}/download", get(download_package))
        .route("/v3/apps/{guid}/packages", get(list_app_packages))
        .route("/v3/resource_matches", post(match_resources))
}

pub fn package_json(state: &Inner, p: &Package) -> Value {
    let path = format!("/v3/packages/{}", p.guid);
    let data = match p.package_type {
        PackageType::Bits => json!({
            "checksum": {"type": "sha256", "value": p.sha256},
            "error": p.error,
        }),
        PackageType::Docker => json!({"image": p.image, "username": null, "password": null}),
    };
    json!({
        "guid": p.guid,
        "type": key(&p.package_type),
        "data": data,
        "state": key(&p.state),
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "relationships": {"app": {"data": {"guid": p.app_guid}}},
        "metadata": metadata_json(&p.metadata),
        "links": {
            "self": state.link(&path),
            "upload": {"href": state.url(&format!("{path}/upload")), "method": "POST"},
            "download": {"href": state.url(&format!("{path}/download")), "method": "GET"},
            "app": state.link(&format!("/v3/apps/{}", p.app_guid)),
        },
    })
}

/// A blob as a download.
pub(crate) fn blob_response(size: u64, stream: BlobStream, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        RawBody::from_stream(stream),
    )
        .into_response()
}

async fn list(
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
        &LIST,
        async |params| state.service.list_packages(actor, params, app).await,
        |p| package_json(state, p),
    )
    .await
}

async fn list_packages(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list(&state, &actor, query.as_deref(), None, "/v3/packages").await
}

async fn list_app_packages(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/apps/{guid}/packages");
    list(&state, &actor, query.as_deref(), Some(&guid), &path).await
}

async fn get_package(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let package = state.service.package(&actor, &guid).await?;
    Ok(Json(package_json(&state, &package)))
}

async fn create_package(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let package_type = fields.string("type", true);
    let app = fields.object("relationships", true, |rel| {
        rel.relationship_guid("app", true)
    });
    // Docker image credentials; refused below with a clear message.
    let _ = fields.object("data", false, |d| {
        d.string("image", false);
        d.string("username", false);
        d.string("password", false);
        Some(())
    });
    let metadata = fields.metadata();
    let package_type = match package_type.as_deref() {
        Some("bits") => Some(PackageType::Bits),
        Some("docker") => Some(PackageType::Docker),
        Some(_) => {
            fields.error("Type must be one of 'bits, docker'");
            None
        }
        None => None,
    };
    fields.finish()?;
    let package = state
        .service
        .create_package(
            &actor,
            NewPackage {
                app_guid: app.unwrap_or_default(),
                package_type: package_type.unwrap_or(PackageType::Bits),
                metadata: metadata.unwrap_or_default(),
            },
        )
        .await?;
    Ok(created(package_json(&state, &package)))
}

/// Resources as the cf CLI sends them: `{path, mode, checksum: {value}, size_in_bytes}`
/// (and the legacy `{fn, sha1, size, mode}`).
pub(crate) fn parse_resources(value: &Value) -> Result<Vec<ResourceRef>, Error> {
    let bad = |msg: &str| Error::Unprocessable(format!("Resources {msg}"));
    let list = value.as_array().ok_or_else(|| bad("must be an array"))?;
    list.iter()
        .map(|r| {
            let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            Ok(ResourceRef {
                path: text("path")
                    .or_else(|| text("fn"))
                    .ok_or_else(|| bad("must each have a path"))?,
                sha1: r
                    .pointer("/checksum/value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| text("sha1"))
                    .ok_or_else(|| bad("must each have a checksum"))?,
                size: r
                    .get("size_in_bytes")
                    .or_else(|| r.get("size"))
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("must each have a size in bytes"))?,
                mode: text("mode").unwrap_or_else(|| "644".into()),
            })
        })
        .collect()
}

pub(crate) fn resource_json(r: &ResourceRef) -> Value {
    json!({
        "path": r.path,
        "mode": r.mode,
        "checksum": {"value": r.sha1},
        "size_in_bytes": r.size,
    })
}

async fn match_resources(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let resources = parse_resources(body.get("resources").unwrap_or(&Value::Null))?;
    let matched = state.service.match_resources(&actor, resources).await?;
    let resources: Vec<Value> = matched.iter().map(resource_json).collect();
    Ok(created(json!({ "resources": resources })))
}

async fn upload_package(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Json<Value>, Error> {
    // Check access before reading a possibly large body.
    state.service.package(&actor, &guid).await?;
    let upload = multipart::read(
        &headers,
        body,
        "bits",
        state.service.blobs.scratch_dir(),
        state.service.settings.package_max_bytes,
    )
    .await?;
    let resources = match upload.fields.get("resources") {
        Some(raw) if !raw.trim().is_empty() => parse_resources(
            &serde_json::from_str(raw).map_err(|e| Error::MessageParse(e.to_string()))?,
        )?,
        _ => Vec::new(),
    };
    if upload.file.is_none() && !upload.fields.contains_key("resources") {
        return Err(Error::Unprocessable(
            "Upload must include either resources or bits".into(),
        ));
    }
    let package = state
        .service
        .upload_package(&actor, &guid, resources, upload.file.map(|(_, f)| f))
        .await?;
    Ok(Json(package_json(&state, &package)))
}

async fn download_package(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    let (size, stream) = state.service.download_package(&actor, &guid).await?;
    Ok(blob_response(size, stream, "application/zip"))
}
