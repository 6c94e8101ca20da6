//! The in-process [`UserDirectory`] the Cloud Controller uses in `ingot up`.

use async_trait::async_trait;

use crate::{DirectoryError, UaaUser, UserDirectory, model::User, store::StoreError};

use super::Service;

fn uaa_user(user: User) -> UaaUser {
    UaaUser {
        id: user.id,
        username: user.username,
        origin: user.origin,
    }
}

fn unavailable(e: StoreError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

#[async_trait]
impl UserDirectory for Service {
    async fn find_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> Result<Vec<UaaUser>, DirectoryError> {
        let users = self
            .store
            .find_users_by_username(username, origin)
            .await
            .map_err(unavailable)?;
        Ok(users.into_iter().map(uaa_user).collect())
    }

    async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<UaaUser>, DirectoryError> {
        let users = self
            .store
            .find_users_by_ids(ids)
            .await
            .map_err(unavailable)?;
        Ok(users.into_iter().map(uaa_user).collect())
    }
}
