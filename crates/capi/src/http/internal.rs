//! Internal endpoints for cells and the BBS: no user token, a signed URL instead
//! (see `service::internal`). Downloads of packages, buildpacks and droplets, droplet and
//! build-cache uploads, and the staging task's completion callback.

use axum::{
    Json, Router,
    body::Body as RawBody,
    extract::{Path, Request, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{AppState, packages::blob_response};
use crate::{
    Error,
    blobstore::{blob_error as io_error, keys},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/internal/v4/packages/{guid}/download",
            get(download_package),
        )
        .route(
            "/internal/v4/buildpacks/{guid}/download",
            get(download_buildpack),
        )
        .route(
            "/internal/v4/droplets/{guid}/download",
            get(download_droplet),
        )
        .route("/internal/v4/droplets/{guid}/upload", post(upload_droplet))
        .route(
            "/internal/v4/build_cache/{app_guid}/{stack}",
            get(download_build_cache).post(upload_build_cache),
        )
        .route(
            "/internal/v4/builds/{guid}/completed",
            post(build_completed),
        )
}

/// The request's signature check; every handler here starts with it.
pub(crate) fn verify(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
) -> Result<(), Error> {
    state
        .service
        .verify_internal_request(method.as_str(), uri.path(), uri.query())
}

async fn download_package(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (size, stream) = state.service.internal_package_bits(&guid).await?;
    Ok(blob_response(size, stream, "application/zip"))
}

async fn download_buildpack(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (size, stream) = state.service.buildpack_bits(&guid).await?;
    Ok(blob_response(size, stream, "application/zip"))
}

async fn download_droplet(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (size, stream) = state.service.droplet_bits(&guid).await?;
    Ok(blob_response(size, stream, "application/gzip"))
}

/// Streams a raw request body (or the `upload` part of a multipart one) to a scratch file.
async fn body_to_file(
    state: &AppState,
    headers: &HeaderMap,
    body: RawBody,
) -> Result<tempfile::TempPath, Error> {
    let scratch = state.service.blobs.scratch_dir();
    let is_multipart = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/"));
    if is_multipart {
        let upload = super::multipart::read(headers, body, "upload", scratch, u64::MAX).await?;
        return upload
            .file
            .map(|(_, f)| f)
            .ok_or_else(|| Error::Unprocessable("no upload part".into()));
    }
    let tmp = tempfile::NamedTempFile::new_in(scratch).map_err(io_error)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(io_error)?);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Unprocessable(format!("upload failed: {e}")))?;
        file.write_all(&chunk).await.map_err(io_error)?;
    }
    file.flush().await.map_err(io_error)?;
    Ok(tmp.into_temp_path())
}

async fn upload_droplet(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (parts, body) = req.into_parts();
    let file = body_to_file(&state, &parts.headers, body).await?;
    state.service.store_droplet_bits(&guid, file).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn download_build_cache(
    State(state): State<AppState>,
    Path((app_guid, stack)): Path<(String, String)>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (size, stream) = state
        .service
        .blobs
        .get(&keys::build_cache(&app_guid, &stack))
        .await
        .map_err(io_error)?
        .ok_or(Error::NotFound("Build cache"))?;
    Ok(blob_response(size, stream, "application/gzip"))
}

async fn upload_build_cache(
    State(state): State<AppState>,
    Path((app_guid, stack)): Path<(String, String)>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let (parts, body) = req.into_parts();
    let file = body_to_file(&state, &parts.headers, body).await?;
    state
        .service
        .blobs
        .put_file(&keys::build_cache(&app_guid, &stack), &file)
        .await
        .map_err(io_error)?;
    Ok(StatusCode::CREATED.into_response())
}

/// The BBS posts the completed staging task here.
async fn build_completed(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    req: Request,
) -> Result<Response, Error> {
    verify(&state, req.method(), req.uri())?;
    let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .map_err(|e| Error::MessageParse(e.to_string()))?;
    let task: ingot_bbs::Task =
        serde_json::from_slice(&bytes).map_err(|e| Error::MessageParse(e.to_string()))?;
    let build = state.service.complete_build(&guid, &task).await?;
    Ok(Json(super::builds::build_json(&state, &build)).into_response())
}
