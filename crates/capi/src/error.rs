//! The one error type of the Cloud Controller. `http/error.rs` is the only place it becomes
//! CF JSON.

/// Every way a Cloud Controller operation can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No token was sent.
    #[error("Authentication error")]
    NotAuthenticated,
    /// The token is expired, forged or malformed.
    #[error("Invalid Auth Token")]
    InvalidAuthToken,
    /// The resource is visible but the caller may not perform the action (403).
    #[error("You are not authorized to perform the requested action")]
    NotAuthorized,
    /// A feature flag forbids the action for this caller.
    #[error("Feature Disabled: {0}")]
    FeatureDisabled(String),
    /// The resource does not exist or the caller may not see it. Holds the resource kind,
    /// e.g. "Organization".
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route matches the request.
    #[error("Unknown request")]
    UnknownRequest,
    /// The body could not be parsed as JSON.
    #[error("Request invalid due to parse error: {0}")]
    MessageParse(String),
    /// A bad query parameter.
    #[error("{0}")]
    BadQuery(String),
    /// Bad fields in the body, every one of them.
    #[error("{}", .0.join(", "))]
    Validation(Vec<String>),
    /// A well-formed request that breaks a rule (uniqueness, relationships...).
    #[error("{0}")]
    Unprocessable(String),
    /// A dependency (the user directory) is down.
    #[error("{0}")]
    Unavailable(String),
    /// The database or another internal failure.
    #[error("{0}")]
    Internal(String),
    /// The configuration cannot be served (e.g. an unsupported database).
    #[error("{0}")]
    Config(String),
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(msg) => Error::Unprocessable(msg),
            crate::store::StoreError::Database(msg) => Error::Internal(msg),
        }
    }
}

impl From<ingot_uaa::DirectoryError> for Error {
    fn from(e: ingot_uaa::DirectoryError) -> Self {
        Error::Unavailable(e.to_string())
    }
}

impl From<ingot_core::DatabaseError> for Error {
    fn from(e: ingot_core::DatabaseError) -> Self {
        Error::Config(format!("cannot open the Cloud Controller database: {e}"))
    }
}
