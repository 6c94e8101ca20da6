//! The authorization_code grant as `cf ssh-code` uses it: a logged-in user asks
//! `/oauth/authorize` for a one-time code for the `ssh-proxy` client, and the SSH proxy later
//! redeems it at the token endpoint.

use std::collections::HashMap;

use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::{
    Claims, Error,
    error::Result,
    model::{Client, scope},
    store::AuthorizationCodeRecord,
};

use super::{Service, TokenRequest, TokenResponse};

/// How long a code may wait to be redeemed (UAA's default).
const CODE_VALIDITY: Duration = Duration::minutes(5);

/// Codes are kept only as hashes, so the database never holds a usable code.
fn code_hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn redirect_allowed(client: &Client, uri: &str) -> bool {
    client.redirect_uris.iter().any(|registered| {
        // A registered URI ending in `**` allows anything below it, as in UAA.
        match registered.strip_suffix("**") {
            Some(prefix) => uri.starts_with(prefix),
            None => registered == uri,
        }
    })
}

impl Service {
    /// Issues a one-time code and returns the redirect `Location` that carries it.
    pub async fn authorize(
        &self,
        caller: &Claims,
        params: &HashMap<String, String>,
    ) -> Result<String> {
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        if param("response_type") != Some("code") {
            return Err(Error::InvalidRequest(
                "Unsupported response type; only response_type=code is supported".into(),
            ));
        }
        let client_id = param("client_id")
            .ok_or_else(|| Error::InvalidRequest("Missing client_id parameter".into()))?;
        let client = self
            .store
            .find_client(client_id)
            .await?
            .ok_or_else(|| Error::InvalidClient(format!("No client with id {client_id}")))?;
        if !client.allows_grant("authorization_code") {
            return Err(Error::InvalidClient(
                "Unauthorized grant type: authorization_code".into(),
            ));
        }
        let user_id = caller
            .user_id
            .as_deref()
            .ok_or_else(|| Error::AccessDenied("Only users can authorize clients".into()))?;
        let user = self.find_user(user_id).await?;
        let redirect_uri = match param("redirect_uri") {
            Some(uri) if redirect_allowed(&client, uri) => uri.to_owned(),
            Some(_) => {
                return Err(Error::InvalidRequest(
                    "Invalid redirect_uri: it is not registered for this client".into(),
                ));
            }
            None => client.redirect_uris.first().cloned().ok_or_else(|| {
                Error::InvalidRequest("The client has no registered redirect_uri".into())
            })?,
        };
        let requested = param("scope")
            .map(scope::parse_scope_param)
            .unwrap_or_default();
        let scopes = scope::user_scopes(&user.group_names(), &client.scope, &requested)
            .map_err(|e| Error::InvalidScope(e.0.join(" ")))?;

        let code = self.ids.new_guid().replace('-', "");
        let now = self.now();
        self.store
            .add_authorization_code(&AuthorizationCodeRecord {
                code_hash: code_hash(&code),
                user_id: user.id,
                client_id: client.id,
                scope: scopes,
                redirect_uri: redirect_uri.clone(),
                expires_at: now + CODE_VALIDITY,
                created_at: now,
            })
            .await?;
        let mut query = vec![("code", code.as_str())];
        if let Some(state) = param("state") {
            query.push(("state", state));
        }
        let query =
            serde_urlencoded::to_string(&query).map_err(|e| Error::Internal(e.to_string()))?;
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        Ok(format!("{redirect_uri}{separator}{query}"))
    }

    pub(super) async fn authorization_code_grant(
        &self,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse> {
        let code = request.required("code")?;
        let invalid = || Error::InvalidGrant("Invalid authorization code".into());
        let record = self
            .store
            .take_authorization_code(&code_hash(code), self.now())
            .await?
            .ok_or_else(invalid)?;
        if record.client_id != client.id {
            return Err(invalid());
        }
        if request
            .param("redirect_uri")
            .is_some_and(|uri| uri != record.redirect_uri)
        {
            return Err(Error::InvalidGrant("Redirect URI mismatch.".into()));
        }
        let user = self
            .store
            .find_user(&record.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(invalid)?;
        let scopes = scope::narrow(&record.scope, &request.requested_scopes())
            .map_err(|e| Error::InvalidScope(e.0.join(" ")))?;
        self.issue_user_tokens(client, &user, scopes, "authorization_code")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::client::ssh_proxy_client;

    #[test]
    fn codes_are_stored_as_sha256_hex() {
        let hash = code_hash("abc");
        assert_eq!(hash.len(), 64);
        assert!(hash.starts_with("ba7816bf"));
    }

    #[test]
    fn redirect_uris_must_be_registered() {
        let mut client = ssh_proxy_client("http://uaa.test");
        assert!(redirect_allowed(&client, "http://uaa.test/login"));
        assert!(!redirect_allowed(&client, "http://evil.test/login"));
        client.redirect_uris = vec!["http://app.test/**".into()];
        assert!(redirect_allowed(&client, "http://app.test/callback"));
    }
}
