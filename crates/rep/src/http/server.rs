//! Serves any `RepClient` (an in-process cell) over HTTP. Errors map to 503 with
//! `{"error": ...}` here and nowhere else.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ingot_auction::Work;
use ingot_bbs::RepClient;

use super::routes;
use super::{CancelTaskRequest, ErrorBody, StopLrpInstanceRequest};

type Rep = Arc<dyn RepClient>;

fn unavailable(err: impl std::fmt::Display) -> Response {
    let body = ErrorBody {
        error: err.to_string(),
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// The rep API's routes around `rep`.
pub fn router(rep: Rep) -> Router {
    Router::new()
        .route(routes::PING.path, get(|| async { StatusCode::OK }))
        .route(routes::STATE.path, get(state))
        .route(routes::PERFORM.path, post(perform))
        .route(routes::STOP_LRP_INSTANCE.path, post(stop_lrp_instance))
        .route(routes::CANCEL_TASK.path, post(cancel_task))
        .with_state(rep)
}

async fn state(State(rep): State<Rep>) -> Response {
    match rep.state().await {
        Ok(state) => Json(state).into_response(),
        Err(err) => unavailable(err),
    }
}

async fn perform(State(rep): State<Rep>, Json(work): Json<Work>) -> Response {
    match rep.perform(work).await {
        Ok(rejected) => Json(rejected).into_response(),
        Err(err) => unavailable(err),
    }
}

async fn stop_lrp_instance(
    State(rep): State<Rep>,
    Json(req): Json<StopLrpInstanceRequest>,
) -> Response {
    match rep
        .stop_lrp_instance(&req.actual_lrp_key, &req.actual_lrp_instance_key)
        .await
    {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(err) => unavailable(err),
    }
}

async fn cancel_task(State(rep): State<Rep>, Json(req): Json<CancelTaskRequest>) -> Response {
    match rep.cancel_task(&req.task_guid).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(err) => unavailable(err),
    }
}
