//! The one place errors become HTTP responses: a status code plus the error as JSON with its
//! `type` tag, which `BbsClient` decodes back into the same `Error`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

pub(crate) fn status(error: &Error) -> StatusCode {
    match error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::InvalidTransition { .. } => StatusCode::CONFLICT,
        Error::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (status(&self), Json(self)).into_response()
    }
}
