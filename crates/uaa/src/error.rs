//! The one error type of the UAA. `http/error.rs` maps it to UAA's wire shape
//! `{"error": ..., "error_description": ...}`; nothing else decides status codes.

use crate::model::lockout::LOCKED_MESSAGE;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong user name or password (or a user that does not exist).
    #[error("Bad credentials")]
    BadCredentials,
    /// Too many failed logins recently.
    #[error("{LOCKED_MESSAGE}")]
    AccountLocked,
    /// Unknown client, wrong client secret, or a grant the client may not use.
    #[error("{0}")]
    InvalidClient(String),
    /// A bearer or refresh token that is malformed, expired, revoked or unknown.
    #[error("{0}")]
    InvalidToken(String),
    /// A token handed to `/check_token` that is not valid (UAA answers 400 there).
    #[error("{0}")]
    TokenRejected(String),
    /// No credentials at all where some are required.
    #[error("{0}")]
    Unauthorized(String),
    #[error("Unsupported grant type: {0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// An authorization code that is unknown, used, expired or for another client.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("Invalid scope: {0}")]
    InvalidScope(String),
    /// The caller is authenticated but lacks the scope.
    #[error("Insufficient scope for this resource")]
    InsufficientScope,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    NotFound(String),
    /// A user or group with that name exists already.
    #[error("{0}")]
    Conflict(String),
    /// A resource changed since the client read it (`If-Match`).
    #[error("{0}")]
    VersionMismatch(String),
    /// Bad SCIM input; every problem found, at once.
    #[error("{}", .0.join(" "))]
    Validation(Vec<String>),
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidPassword(String),
    /// A configuration that makes no sense (such as an empty admin user name).
    #[error("invalid UAA configuration: {0}")]
    InvalidConfig(String),
    /// A configuration this build cannot run (such as a PostgreSQL UAA database, for now).
    #[error("{0}")]
    Unsupported(String),
    #[error("UAA database: {0}")]
    Database(#[from] ingot_core::DatabaseError),
    #[error("UAA store: {0}")]
    Store(String),
    #[error("UAA signing keys: {0}")]
    Keys(String),
    #[error("internal UAA error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
