//! Who may read which source. log-cache sits behind cf-auth-proxy, which checks the caller's
//! UAA token and asks the Cloud Controller whether the caller may see the app; this crate
//! knows neither, so the wiring supplies that check.

use async_trait::async_trait;

/// The access check every request except `/api/v1/info` goes through.
#[async_trait]
pub trait LogAccess: Send + Sync + 'static {
    /// May the caller read `source_id`? `authorization` is the raw `Authorization` header
    /// (the cf CLI sends `bearer <jwt>`), if any.
    ///
    /// Errors: [`AccessDenied::Unauthenticated`] for a missing, malformed or expired token
    /// (HTTP 401); [`AccessDenied::Forbidden`] when the token is fine but the source is not the
    /// caller's to read (HTTP 404, as cf-auth-proxy hides sources rather than admit to them).
    async fn authorize(
        &self,
        authorization: Option<&str>,
        source_id: &str,
    ) -> Result<(), AccessDenied>;
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error("missing or invalid token")]
    Unauthenticated,
    #[error("source not found")]
    Forbidden,
}

/// Lets every request through; for tests only.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[cfg(any(test, feature = "test-util"))]
#[async_trait]
impl LogAccess for AllowAll {
    async fn authorize(&self, _: Option<&str>, _: &str) -> Result<(), AccessDenied> {
        Ok(())
    }
}
