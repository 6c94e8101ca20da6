//! `POST /v3/spaces/:guid/actions/apply_manifest` (YAML in, a finished job out) and
//! `GET /v3/apps/:guid/manifest` (YAML out).

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::header::CONTENT_TYPE,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use super::{AppState, accepted, extract::Auth};
use crate::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/spaces/{guid}/actions/apply_manifest",
            post(apply_manifest),
        )
        .route("/v3/apps/{guid}/manifest", get(get_manifest))
}

async fn apply_manifest(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let yaml = std::str::from_utf8(&body)
        .map_err(|_| Error::MessageParse("invalid request body".into()))?;
    accepted(
        &state,
        state.service.apply_manifest(&actor, &guid, yaml).await,
    )
}

async fn get_manifest(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    let yaml = state.service.app_manifest(&actor, &guid).await?;
    Ok(([(CONTENT_TYPE, "application/x-yaml")], yaml).into_response())
}
