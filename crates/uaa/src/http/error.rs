//! The one place where errors become HTTP: UAA's `{"error", "error_description"}` body.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{Error, model::lockout::LOCKED_MESSAGE};

pub(super) fn status_response(status: StatusCode, code: &str, description: &str) -> Response {
    let body = json!({
        "error": code,
        "error_description": description,
        "message": description,
    });
    (status, Json(body)).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        use StatusCode as S;
        let (status, code) = match &self {
            Error::BadCredentials | Error::AccountLocked | Error::Unauthorized(_) => {
                (S::UNAUTHORIZED, "unauthorized")
            }
            Error::InvalidClient(_) => (S::UNAUTHORIZED, "invalid_client"),
            Error::InvalidToken(_) => (S::UNAUTHORIZED, "invalid_token"),
            Error::TokenRejected(_) => (S::BAD_REQUEST, "invalid_token"),
            Error::UnsupportedGrantType(_) => (S::BAD_REQUEST, "unsupported_grant_type"),
            Error::InvalidRequest(_) => (S::BAD_REQUEST, "invalid_request"),
            Error::InvalidGrant(_) => (S::BAD_REQUEST, "invalid_grant"),
            Error::InvalidScope(_) => (S::BAD_REQUEST, "invalid_scope"),
            Error::InsufficientScope => (S::FORBIDDEN, "insufficient_scope"),
            Error::AccessDenied(_) => (S::FORBIDDEN, "access_denied"),
            Error::NotFound(_) => (S::NOT_FOUND, "scim_resource_not_found"),
            Error::Conflict(_) => (S::CONFLICT, "scim_resource_already_exists"),
            Error::VersionMismatch(_) => (S::CONFLICT, "scim_resource_conflict"),
            Error::Validation(_) => (S::BAD_REQUEST, "invalid_scim_resource"),
            Error::InvalidFilter(_) => (S::BAD_REQUEST, "invalid_filter"),
            Error::InvalidPassword(_) => (S::UNPROCESSABLE_ENTITY, "invalid_password"),
            Error::Unsupported(_)
            | Error::Database(_)
            | Error::Store(_)
            | Error::Keys(_)
            | Error::Internal(_) => (S::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let description = match &self {
            Error::AccountLocked => LOCKED_MESSAGE.to_owned(),
            Error::InvalidScope(scopes) => format!(
                "Invalid scope: {scopes}. Did you know that you can get default scopes by \
                 simply sending no value?"
            ),
            e if status == S::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %e, "UAA request failed");
                "Internal server error".to_owned()
            }
            e => e.to_string(),
        };
        let mut response = status_response(status, code, &description);
        if status == S::UNAUTHORIZED {
            let challenge = if code == "invalid_client" {
                "Basic realm=\"UAA/client\""
            } else {
                "Bearer realm=\"UAA\""
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
