//! Who is calling: bearer tokens for resource endpoints, client credentials for the token
//! endpoints, and the scope checks UAA makes.

use crate::{
    Claims, Error, TokenError, error::Result, issue::is_refresh_jti, model::Client, password,
};

use super::Service;

/// Client credentials as presented: from HTTP Basic or from the form body.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Passes if the token has any of `scopes`.
pub(crate) fn require_any(claims: &Claims, scopes: &[&str]) -> Result<()> {
    if scopes.iter().any(|s| claims.has_scope(s)) {
        Ok(())
    } else {
        Err(Error::InsufficientScope)
    }
}

/// True if the token belongs to the user with this id.
pub(crate) fn is_self(claims: &Claims, user_id: &str) -> bool {
    claims.user_id.as_deref() == Some(user_id)
}

fn token_error(e: TokenError) -> Error {
    match e {
        TokenError::Missing => {
            Error::Unauthorized("Full authentication is required to access this resource".into())
        }
        TokenError::Expired => Error::InvalidToken("The token expired.".into()),
        TokenError::Invalid(reason) => Error::InvalidToken(format!("Invalid token: {reason}")),
    }
}

impl Service {
    /// Verifies a bearer `Authorization` header: signature, issuer, expiry, and that the
    /// token is an access token that was not revoked.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Claims> {
        let claims = self
            .keys
            .verifier()
            .verify_header(header)
            .map_err(token_error)?;
        if is_refresh_jti(&claims.jti) {
            return Err(Error::InvalidToken(
                "Invalid token: a refresh token is not an access token".into(),
            ));
        }
        if self.store.is_revoked(&claims.jti).await? {
            return Err(Error::InvalidToken("Token has been revoked".into()));
        }
        Ok(claims)
    }

    /// Checks a client's id and secret. Public clients must present an empty secret.
    pub async fn authenticate_client(
        &self,
        credentials: Option<ClientCredentials>,
    ) -> Result<Client> {
        let credentials = credentials
            .ok_or_else(|| Error::InvalidClient("Client authentication is required".into()))?;
        let bad = || Error::InvalidClient("Bad client credentials".into());
        let Some(client) = self.store.find_client(&credentials.id).await? else {
            // Spend the same time as for a real client, so ids cannot be probed.
            password::verify(credentials.secret, self.dummy_hash.clone()).await?;
            return Err(bad());
        };
        let ok = match &client.secret_hash {
            None => credentials.secret.is_empty(),
            Some(hash) => password::verify(credentials.secret, hash.clone()).await?,
        };
        if ok { Ok(client) } else { Err(bad()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_client_secret() {
        let credentials = ClientCredentials {
            id: "admin".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
