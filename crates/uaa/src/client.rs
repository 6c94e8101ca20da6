//! Talking to a UAA over HTTP, for components that run apart from it (distributed mode): the
//! same [`UserDirectory`] the in-process service offers, and a [`TokenVerifier`] built from the
//! UAA's published keys.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};

use crate::{DirectoryError, Error, TokenVerifier, UaaUser, UserDirectory};

/// How many ids go into one `/Users` filter, to keep URLs short.
const IDS_PER_REQUEST: usize = 50;
/// Get a new client token this long before the old one expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// A UAA client acting as an OAuth client with `scim.read` (client_credentials).
pub struct UaaClient {
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: String,
    token: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for UaaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UaaClient")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    value: String,
}

#[derive(Deserialize)]
struct ClientToken {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct UserList {
    resources: Vec<ScimUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScimUser {
    id: String,
    user_name: String,
    origin: String,
}

fn unavailable(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

/// A SCIM string literal: quotes and backslashes escaped.
fn literal(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl UaaClient {
    /// `url` is the UAA's base URL; the client needs `scim.read` among its authorities for
    /// the directory (the admin client has it).
    pub fn new(url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            token: Mutex::new(None),
        }
    }

    /// Fetches `/token_keys` and builds a verifier for tokens this UAA issues. Keys added later
    /// need a new verifier.
    pub async fn fetch_verifier(&self) -> Result<TokenVerifier, Error> {
        let jwks: Jwks = self
            .http
            .get(format!("{}/token_keys", self.url))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| Error::Keys(format!("fetching the UAA's keys: {e}")))?
            .json()
            .await
            .map_err(|e| Error::Keys(format!("reading the UAA's keys: {e}")))?;
        TokenVerifier::from_pem_keys(
            jwks.keys.iter().map(|k| (k.kid.as_str(), k.value.as_str())),
            format!("{}/oauth/token", self.url),
        )
        .map_err(|e| Error::Keys(e.to_string()))
    }

    /// A client_credentials token, cached until shortly before it expires.
    async fn token(&self) -> Result<String, DirectoryError> {
        let mut cached = self.token.lock().await;
        let fresh = cached
            .as_ref()
            .filter(|(_, renew_at)| Instant::now() < *renew_at);
        if let Some((token, _)) = fresh {
            return Ok(token.clone());
        }
        let response = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?;
        let token: ClientToken = response.json().await.map_err(unavailable)?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(EXPIRY_MARGIN);
        *cached = Some((token.access_token.clone(), Instant::now() + lifetime));
        Ok(token.access_token)
    }

    async fn users_matching(&self, filter: &str) -> Result<Vec<UaaUser>, DirectoryError> {
        let token = self.token().await?;
        let list: UserList = self
            .http
            .get(format!("{}/Users", self.url))
            .bearer_auth(token)
            .query(&[
                ("filter", filter),
                ("attributes", "id,userName,origin"),
                ("count", "500"),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        Ok(list
            .resources
            .into_iter()
            .map(|u| UaaUser {
                id: u.id,
                username: u.user_name,
                origin: u.origin,
            })
            .collect())
    }
}

#[async_trait]
impl UserDirectory for UaaClient {
    async fn find_by_username(
        &self,
        username: &str,
        origin: Option<&str>,
    ) -> Result<Vec<UaaUser>, DirectoryError> {
        let mut filter = format!("userName eq {}", literal(username));
        if let Some(origin) = origin {
            filter.push_str(&format!(" and origin eq {}", literal(origin)));
        }
        self.users_matching(&filter).await
    }

    async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<UaaUser>, DirectoryError> {
        let mut found = Vec::with_capacity(ids.len());
        for batch in ids.chunks(IDS_PER_REQUEST) {
            let filter = batch
                .iter()
                .map(|id| format!("id eq {}", literal(id)))
                .collect::<Vec<_>>()
                .join(" or ");
            found.extend(self.users_matching(&filter).await?);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::filter::Filter;

    #[test]
    fn literals_survive_the_filter_parser() {
        let filter = format!("userName eq {}", literal(r#"a "quoted" \ name"#));
        assert!(Filter::parse(&filter).is_ok(), "{filter}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let client = UaaClient::new("http://uaa.test/", "admin", "hunter2");
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("http://uaa.test\""));
    }
}
