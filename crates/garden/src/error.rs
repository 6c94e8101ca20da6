//! Garden's closed set of error kinds.
//!
//! The enum serialises with a `type` tag so that a remote client can rebuild exactly the error
//! the server returned, and callers can match on the kind whether Garden is in-process or not.

use serde::{Deserialize, Serialize};

/// One bad field of a spec. Validation collects every bad field before failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's path in the spec, e.g. `bind_mounts[0].src`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every error a Garden call can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Error {
    /// No container has this handle (never created, or destroyed).
    #[error("container not found: {handle}")]
    ContainerNotFound { handle: String },
    /// The container has no process with this id.
    #[error("process not found: {id}")]
    ProcessNotFound { id: String },
    /// The process spec's `path` names nothing executable.
    #[error("executable not found: {path}")]
    ExecutableNotFound { path: String },
    /// Garden cannot take the request now (e.g. the container limit is reached); retry later.
    #[error("service unavailable: {message}")]
    ServiceUnavailable { message: String },
    /// The backend is broken in a way a retry will not fix.
    #[error("unrecoverable: {message}")]
    Unrecoverable { message: String },
    /// The spec has bad fields; all of them are listed.
    #[error("invalid spec: {}", describe(fields))]
    InvalidSpec { fields: Vec<FieldError> },
    /// A container with this handle already exists.
    #[error("container already exists: {handle}")]
    AlreadyExists { handle: String },
    /// A file system or process operation failed.
    #[error("i/o error: {message}")]
    Io { message: String },
}

fn describe(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn container_not_found(handle: impl Into<String>) -> Self {
        Self::ContainerNotFound {
            handle: handle.into(),
        }
    }

    pub fn process_not_found(id: impl Into<String>) -> Self {
        Self::ProcessNotFound { id: id.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidSpec {
            fields: vec![FieldError::new(field, message)],
        }
    }

    pub fn io(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Self::Io {
            message: format!("{context}: {err}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::Io {
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_type_tag() {
        let errors = vec![
            Error::container_not_found("h1"),
            Error::process_not_found("p1"),
            Error::ExecutableNotFound {
                path: "/nope".into(),
            },
            Error::ServiceUnavailable {
                message: "full".into(),
            },
            Error::Unrecoverable {
                message: "depot gone".into(),
            },
            Error::InvalidSpec {
                fields: vec![
                    FieldError::new("handle", "bad"),
                    FieldError::new("env[0]", "bad"),
                ],
            },
            Error::AlreadyExists {
                handle: "h1".into(),
            },
            Error::Io {
                message: "disk full".into(),
            },
        ];
        for error in errors {
            let json = serde_json::to_value(&error).unwrap();
            assert!(json.get("type").is_some(), "{json}");
            let back: Error = serde_json::from_value(json).unwrap();
            assert_eq!(back, error);
        }
    }

    #[test]
    fn tag_names_are_snake_case() {
        let json = serde_json::to_value(Error::container_not_found("h")).unwrap();
        assert_eq!(json["type"], "container_not_found");
        assert_eq!(json["handle"], "h");
    }

    #[test]
    fn invalid_spec_lists_every_field() {
        let error = Error::InvalidSpec {
            fields: vec![FieldError::new("a", "x"), FieldError::new("b", "y")],
        };
        assert_eq!(error.to_string(), "invalid spec: a: x; b: y");
    }
}
