//! What the Cloud Controller may ask UAA about users. In `ingot up` the UAA service implements
//! it in-process; in distributed mode an HTTP client over SCIM implements the same trait.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A user as other components see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UaaUser {
    pub id: String,
    pub username: String,
    /// Identity provider, `uaa` for users this UAA stores.
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("user directory unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait UserDirectory: Send + Sync + 'static {
    /// Users with this user name; with `origin` None, from any origin (there may be several).
    /// Errors: Unavailable.
    async fn find_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> Result<Vec<UaaUser>, DirectoryError>;

    /// The users among `ids` that exist; unknown ids are left out. Errors: Unavailable.
    async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<UaaUser>, DirectoryError>;
}
