//! The crate's error type, returned by [`crate::LogCacheClient`].

use crate::access::AccessDenied;

/// What can go wrong talking to a log-cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 or 404: the token was refused, or the source is not the caller's to read.
    #[error("log-cache refused access: {0}")]
    Denied(AccessDenied),
    /// 400: log-cache did not accept the read's parameters.
    #[error("log-cache rejected the request: {0}")]
    BadRequest(String),
    /// Any other non-success status.
    #[error("log-cache answered {status}: {body}")]
    Status { status: u16, body: String },
    /// The base URL cannot carry a path.
    #[error("invalid log-cache url {0:?}")]
    Url(String),
    /// Connecting, sending, or decoding the response failed.
    #[error("log-cache request failed: {0}")]
    Transport(#[from] reqwest::Error),
}
