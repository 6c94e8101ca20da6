//! The crate's one error type. The variants are a closed set; each travels over HTTP as JSON
//! with a `type` tag, so `BbsClient` rebuilds exactly the error the server returned.

use serde::{Deserialize, Serialize};

/// One bad field found by validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every error the BBS returns, in process or over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Error {
    /// The record does not exist (Diego: ResourceNotFound).
    #[error("{resource} not found: {key}")]
    NotFound { resource: String, key: String },
    /// The record already exists, or belongs to someone else (Diego: ResourceConflict).
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// The record's state does not allow this change (Diego: InvalidStateTransition).
    #[error("cannot {event} from {from}")]
    InvalidTransition { from: String, event: String },
    /// The request was malformed; every bad field is listed.
    #[error("invalid request: {}", describe(.errors))]
    Validation { errors: Vec<FieldError> },
    /// A dependency (database, rep, network) failed, or an event subscriber fell behind.
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
}

/// The reason given when an event subscriber falls behind and is dropped.
pub const SUBSCRIBER_LAGGED: &str = "event subscriber fell behind and was dropped";

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn not_found(resource: &str, key: impl std::fmt::Display) -> Self {
        Self::NotFound {
            resource: resource.to_owned(),
            key: key.to_string(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            reason: reason.to_string(),
        }
    }

    pub fn validation(field: &str, message: &str) -> Self {
        Self::Validation {
            errors: vec![FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            }],
        }
    }

    /// True when the event stream ended because this subscriber was too slow.
    pub fn is_subscriber_lagged(&self) -> bool {
        matches!(self, Self::Unavailable { reason } if reason == SUBSCRIBER_LAGGED)
    }
}

impl From<crate::models::InvalidTransition> for Error {
    fn from(e: crate::models::InvalidTransition) -> Self {
        Self::InvalidTransition {
            from: e.from,
            event: e.event,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::unavailable(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::unavailable(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_type_tag() {
        let errors = [
            Error::not_found("task", "t1"),
            Error::conflict("exists"),
            Error::InvalidTransition {
                from: "RUNNING".into(),
                event: "claim".into(),
            },
            Error::validation("process_guid", "is required"),
            Error::unavailable(SUBSCRIBER_LAGGED),
        ];
        for err in errors {
            let json = serde_json::to_value(&err).unwrap();
            assert!(json["type"].is_string());
            let back: Error = serde_json::from_value(json).unwrap();
            assert_eq!(back, err);
        }
        assert!(Error::unavailable(SUBSCRIBER_LAGGED).is_subscriber_lagged());
    }
}
