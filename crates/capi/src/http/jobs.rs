use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{AppState, Inner, extract::Auth, ts};
use crate::{Error, model::Job};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v3/jobs/{guid}", get(get_job))
}

pub fn job_json(state: &Inner, job: &Job) -> Value {
    let errors: Vec<Value> = job
        .errors
        .iter()
        .map(|e| json!({ "code": e.code, "title": e.title, "detail": e.detail }))
        .collect();
    let warnings: Vec<Value> = job
        .warnings
        .iter()
        .map(|w| json!({ "detail": w }))
        .collect();
    json!({
        "guid": job.guid,
        "created_at": ts(job.created_at),
        "updated_at": ts(job.updated_at),
        "operation": job.operation.as_str(),
        "state": job.state.as_str(),
        "errors": errors,
        "warnings": warnings,
        "links": { "self": state.link(&format!("/v3/jobs/{}", job.guid)) },
    })
}

async fn get_job(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let job = state.service.job(&actor, &guid).await?;
    Ok(Json(job_json(&state, &job)))
}
