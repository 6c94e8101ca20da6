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
            | Error::InvalidConfig(_)
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(error: Error) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = error.into_response();
        let status = response.status();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).expect("json"),
            challenge,
        )
    }

    #[tokio::test]
    async fn errors_have_uaa_codes_and_statuses() {
        let cases = [
            (Error::BadCredentials, 401, "unauthorized"),
            (Error::AccountLocked, 401, "unauthorized"),
            (Error::InvalidClient("x".into()), 401, "invalid_client"),
            (Error::InvalidToken("x".into()), 401, "invalid_token"),
            (Error::TokenRejected("x".into()), 400, "invalid_token"),
            (
                Error::UnsupportedGrantType("x".into()),
                400,
                "unsupported_grant_type",
            ),
            (Error::InvalidRequest("x".into()), 400, "invalid_request"),
            (Error::InvalidGrant("x".into()), 400, "invalid_grant"),
            (Error::InvalidScope("x".into()), 400, "invalid_scope"),
            (Error::InsufficientScope, 403, "insufficient_scope"),
            (Error::AccessDenied("x".into()), 403, "access_denied"),
            (Error::NotFound("x".into()), 404, "scim_resource_not_found"),
            (
                Error::Conflict("x".into()),
                409,
                "scim_resource_already_exists",
            ),
            (
                Error::Validation(vec!["x".into()]),
                400,
                "invalid_scim_resource",
            ),
            (Error::InvalidFilter("x".into()), 400, "invalid_filter"),
            (Error::InvalidPassword("x".into()), 422, "invalid_password"),
        ];
        for (error, status, code) in cases {
            let (got, body, _) = render(error).await;
            assert_eq!(got.as_u16(), status, "{body}");
            assert_eq!(body["error"], code);
            assert!(body["error_description"].is_string());
        }
    }

    #[tokio::test]
    async fn locked_accounts_get_the_text_the_cf_cli_matches() {
        let (_, body, challenge) = render(Error::AccountLocked).await;
        assert_eq!(
            body["error_description"],
            "Your account has been locked because of too many failed attempts to login."
        );
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer")));
    }

    #[tokio::test]
    async fn internal_details_stay_in_the_log() {
        let (status, body, _) = render(Error::Store("disk /secret/path is full".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error_description"], "Internal server error");
    }
}
