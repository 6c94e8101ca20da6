//! Verifying the JWTs this UAA signs. Shared with every resource server (Cloud Controller,
//! log-cache, ...) so each checks tokens locally, as Cloud Foundry's components do.

use std::{collections::HashMap, sync::Arc};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

/// The claims of an access token, as UAA issues them and the cf CLI decodes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub jti: String,
    /// The user id for user tokens, the client id for client tokens.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    pub scope: Vec<String>,
    #[serde(default)]
    pub aud: Vec<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zid: Option<String>,
    #[serde(default)]
    pub revocable: bool,
}

impl Claims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    /// True for tokens issued to a user (password or refresh grant), false for client tokens.
    pub fn is_user(&self) -> bool {
        self.user_id.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Token is missing")]
    Missing,
    #[error("Token has expired")]
    Expired,
    #[error("Invalid token: {0}")]
    Invalid(String),
}

/// Verifies RS256 tokens against the UAA's public keys (by `kid`). Cheap to clone.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<HashMap<String, DecodingKey>>,
    issuer: String,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl TokenVerifier {
    /// `keys` maps key ids to PEM-encoded RSA public keys; `issuer` is the expected `iss`.
    pub fn from_pem_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
        issuer: impl Into<String>,
    ) -> Result<Self, TokenError> {
        let keys = keys
            .into_iter()
            .map(|(kid, pem)| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|key| (kid.to_owned(), key))
                    .map_err(|e| TokenError::Invalid(format!("bad verification key {kid}: {e}")))
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Self {
            keys: Arc::new(keys),
            issuer: issuer.into(),
        })
    }

    /// Verifies the signature, expiry and issuer of a raw JWT (no "bearer " prefix).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Invalid("unsupported signing algorithm".into()));
        }
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.get(kid),
            None if self.keys.len() == 1 => self.keys.values().next(),
            None => None,
        }
        .ok_or_else(|| TokenError::Invalid("unknown signing key".into()))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            })
    }

    /// Verifies an `Authorization` header value (`bearer <jwt>`, any case).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, TokenError> {
        let value = header.ok_or(TokenError::Missing)?.trim();
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                TokenError::Invalid("Authorization header is not a bearer token".into())
            })?;
        self.verify(token)
    }
}
