//! The one place errors become Cloud Foundry JSON: v3 `{"errors":[{code,title,detail}]}` and
//! v2 `{code,description,error_code}`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::Error;

/// Status, numeric code and title CC uses for each error.
fn classify(e: &Error) -> (StatusCode, i64, &'static str) {
    match e {
        Error::NotAuthenticated => (StatusCode::UNAUTHORIZED, 10002, "CF-NotAuthenticated"),
        Error::InvalidAuthToken => (StatusCode::UNAUTHORIZED, 1000, "CF-InvalidAuthToken"),
        Error::NotAuthorized => (StatusCode::FORBIDDEN, 10003, "CF-NotAuthorized"),
        Error::FeatureDisabled(_) => (StatusCode::FORBIDDEN, 330002, "CF-FeatureDisabled"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, 10010, "CF-ResourceNotFound"),
        Error::UnknownRequest => (StatusCode::NOT_FOUND, 10000, "CF-NotFound"),
        Error::MessageParse(_) => (StatusCode::BAD_REQUEST, 1001, "CF-MessageParseError"),
        Error::BadQuery(_) => (StatusCode::BAD_REQUEST, 10005, "CF-BadQueryParameter"),
        Error::Validation(_) | Error::Unprocessable(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            10008,
            "CF-UnprocessableEntity",
        ),
        Error::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            10015,
            "CF-ServiceUnavailable",
        ),
        Error::Internal(_) | Error::Config(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, 10001, "CF-ServerError")
        }
    }
}

/// Internal failures are logged, never shown.
fn detail(e: &Error) -> String {
    match e {
        Error::Internal(msg) | Error::Config(msg) => {
            tracing::error!(error = %msg, "internal error");
            "An unknown error occurred.".into()
        }
        other => other.to_string(),
    }
}

/// The CC v3 error body for `e` (also used for failed jobs).
pub fn v3_error_json(e: &Error) -> serde_json::Value {
    let (_, code, title) = classify(e);
    json!({"code": code, "title": title, "detail": detail(e)})
}

/// A failed job carries the same code, title and detail a response would.
impl From<&Error> for crate::model::job::JobError {
    fn from(e: &Error) -> Self {
        let (_, code, title) = classify(e);
        Self {
            code,
            title: title.to_owned(),
            detail: detail(e),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, _, _) = classify(&self);
        (status, Json(json!({ "errors": [v3_error_json(&self)] }))).into_response()
    }
}

/// An error from a v2 endpoint, in the v2 shape.
#[derive(Debug)]
pub struct V2Error {
    status: StatusCode,
    code: i64,
    description: String,
    error_code: String,
}

impl V2Error {
    /// v2 names the missing resource and its guid.
    pub fn not_found(kind: &str, guid: &str) -> Self {
        let (code, what) = match kind {
            "Space" => (40004, "app space"),
            _ => (30003, "organization"),
        };
        Self {
            status: StatusCode::NOT_FOUND,
            code,
            description: format!("The {what} could not be found: {guid}"),
            error_code: format!("CF-{kind}NotFound"),
        }
    }
}

impl From<Error> for V2Error {
    fn from(e: Error) -> Self {
        let (status, code, title) = classify(&e);
        Self {
            status,
            code,
            description: detail(&e),
            error_code: title.to_owned(),
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "code": self.code,
                "description": self.description,
                "error_code": self.error_code,
            })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_bodies() {
        assert_eq!(
            v3_error_json(&Error::NotFound("Organization")),
            json!({"code": 10010, "title": "CF-ResourceNotFound", "detail": "Organization not found"})
        );
        assert_eq!(
            v3_error_json(&Error::InvalidAuthToken),
            json!({"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"})
        );
        assert_eq!(
            v3_error_json(&Error::Internal("secret".into()))["detail"],
            "An unknown error occurred."
        );
    }
}
