//! The token endpoint's grants, revocation, `/check_token` and `/userinfo`.

use std::collections::HashMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::{
    Claims, Error, TokenError,
    error::Result,
    issue::{self, Issue, Signed, is_refresh_jti},
    model::{
        Client, UAA_ORIGIN, User,
        scope::{self, InvalidScopes},
    },
    password,
    store::RefreshTokenRecord,
};

use super::{Service, auth::ClientCredentials};

/// A parsed `POST /oauth/token`.
pub(crate) struct TokenRequest {
    pub params: HashMap<String, String>,
    pub client: Option<ClientCredentials>,
}

/// The token endpoint's answer. `token_type` is lowercase `bearer`: the cf CLI needs exactly that.
#[derive(Clone, Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
    pub jti: String,
}

/// Tokens are credentials: Debug shows only their ids.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("jti", &self.jti)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `GET /userinfo`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserInfo {
    pub user_id: String,
    pub sub: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: String,
    pub phone_number: Option<String>,
    pub name: String,
    pub email_verified: bool,
    /// Milliseconds since the epoch, as UAA reports it.
    pub previous_logon_time: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginHint {
    origin: String,
}

fn invalid_scope(e: InvalidScopes) -> Error {
    Error::InvalidScope(e.0.join(" "))
}

impl TokenRequest {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub(super) fn required(&self, name: &str) -> Result<&str> {
        self.param(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::InvalidRequest(format!("Missing {name} parameter")))
    }

    pub(super) fn requested_scopes(&self) -> Vec<String> {
        self.param("scope")
            .map(scope::parse_scope_param)
            .unwrap_or_default()
    }
}

impl Service {
    pub async fn token(&self, request: TokenRequest) -> Result<TokenResponse> {
        let grant_type = request.required("grant_type")?.to_owned();
        match grant_type.as_str() {
            "password" | "refresh_token" | "client_credentials" | "authorization_code" => {}
            other => return Err(Error::UnsupportedGrantType(other.to_owned())),
        }
        let client = self.authenticate_client(request.client.clone()).await?;
        if !client.allows_grant(&grant_type) {
            return Err(Error::InvalidClient(format!(
                "Unauthorized grant type: {grant_type}"
            )));
        }
        match grant_type.as_str() {
            "password" => self.password_grant(&client, &request).await,
            "refresh_token" => self.refresh_grant(&client, &request).await,
            "authorization_code" => self.authorization_code_grant(&client, &request).await,
            _ => self.client_credentials_grant(&client, &request),
        }
    }

    async fn password_grant(
        &self,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse> {
        if request.param("passcode").is_some() && request.param("username").is_none() {
            return Err(Error::InvalidRequest(
                "One-time passcodes are not supported by this UAA".into(),
            ));
        }
        let username = request.required("username")?;
        let password = request
            .param("password")
            .ok_or_else(|| Error::InvalidRequest("Missing password parameter".into()))?;
        let origin = match request.param("login_hint").filter(|h| !h.is_empty()) {
            Some(hint) => {
                serde_json::from_str::<LoginHint>(hint)
                    .map_err(|e| Error::InvalidRequest(format!("Invalid login_hint: {e}")))?
                    .origin
            }
            None => UAA_ORIGIN.to_owned(),
        };
        let user = self.authenticate_user(username, &origin, password).await?;
        let scopes = scope::user_scopes(
            &user.group_names(),
            &client.scope,
            &request.requested_scopes(),
        )
        .map_err(invalid_scope)?;
        self.issue_user_tokens(client, &user, scopes, "password")
            .await
    }

    /// Checks a user's password, applying UAA's lockout policy.
    async fn authenticate_user(
        &self,
        username: &str,
        origin: &str,
        password: &str,
    ) -> Result<User> {
        let Some((user, hash)) = self.store.find_login(username, origin).await? else {
            password::verify(password.to_owned(), self.dummy_hash.clone()).await?;
            return Err(Error::BadCredentials);
        };
        let now = self.now();
        let failures = self.store.failed_logins(&user.id).await?;
        if self.lockout.is_locked(&failures, now) {
            return Err(Error::AccountLocked);
        }
        let ok = match hash {
            Some(hash) => password::verify(password.to_owned(), hash).await?,
            None => {
                password::verify(password.to_owned(), self.dummy_hash.clone()).await?;
                false
            }
        };
        if !ok {
            self.store
                .record_failed_login(&user.id, now, self.lockout.horizon(now))
                .await?;
            tracing::info!(user_id = %user.id, "failed login");
            return Err(Error::BadCredentials);
        }
        if !user.active {
            return Err(Error::Unauthorized(
                "Your account has been disabled.".into(),
            ));
        }
        self.store.record_successful_login(&user.id, now).await?;
        Ok(user)
    }

    async fn refresh_grant(
        &self,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse> {
        let token = request.required("refresh_token")?;
        let claims = self.keys.verifier().verify(token).map_err(|e| match e {
            TokenError::Expired => Error::InvalidToken("Invalid refresh token (expired)".into()),
            _ => Error::InvalidToken("Invalid refresh token".into()),
        })?;
        if !is_refresh_jti(&claims.jti) {
            return Err(Error::InvalidToken("Invalid refresh token".into()));
        }
        // Not found covers revoked too: the lookup skips revoked token ids.
        let Some(record) = self.store.find_refresh_token(&claims.jti).await? else {
            return Err(Error::InvalidToken(
                "The refresh token has been revoked".into(),
            ));
        };
        if record.client_id != client.id {
            return Err(Error::InvalidToken(
                "The refresh token was issued to another client".into(),
            ));
        }
        let user = self
            .store
            .find_user(&record.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| Error::InvalidToken("The user of this refresh token is gone".into()))?;
        // Memberships removed since the login take effect now.
        let still_held =
            scope::user_scopes(&user.group_names(), &client.scope, &[]).map_err(invalid_scope)?;
        let allowed: Vec<String> = claims
            .scope
            .iter()
            .filter(|s| still_held.contains(s))
            .cloned()
            .collect();
        let scopes = scope::narrow(&allowed, &request.requested_scopes()).map_err(invalid_scope)?;
        let (access, _) = self.user_access_token(client, &user, scopes, "refresh_token")?;
        Ok(TokenResponse {
            refresh_token: Some(token.to_owned()),
            ..access
        })
    }

    fn client_credentials_grant(
        &self,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse> {
        let scopes = scope::narrow(&client.authorities, &request.requested_scopes())
            .map_err(invalid_scope)?;
        let claims = issue::client_token(self.issue(client, scopes, "client_credentials"), client);
        let access_token = self.keys.sign(&Signed {
            claims: &claims,
            auth_time: None,
        })?;
        Ok(response(
            access_token,
            None,
            &claims,
            self.now().timestamp(),
        ))
    }

    fn issue<'a>(
        &'a self,
        client: &'a Client,
        scopes: Vec<String>,
        grant_type: &'a str,
    ) -> Issue<'a> {
        Issue {
            issuer: &self.issuer,
            jti: self.ids.new_guid().replace('-', ""),
            now: self.now(),
            validity: client
                .access_token_validity
                .map(Duration::seconds)
                .unwrap_or(self.access_validity),
            grant_type,
            client_id: &client.id,
            scopes,
        }
    }

    fn user_access_token(
        &self,
        client: &Client,
        user: &User,
        scopes: Vec<String>,
        grant_type: &str,
    ) -> Result<(TokenResponse, Claims)> {
        let claims = issue::user_token(self.issue(client, scopes, grant_type), user);
        let access_token = self.keys.sign(&Signed {
            claims: &claims,
            auth_time: Some(claims.iat),
        })?;
        Ok((
            response(access_token, None, &claims, self.now().timestamp()),
            claims,
        ))
    }

    pub(super) async fn issue_user_tokens(
        &self,
        client: &Client,
        user: &User,
        scopes: Vec<String>,
        grant_type: &str,
    ) -> Result<TokenResponse> {
        let (access, claims) = self.user_access_token(client, user, scopes, grant_type)?;
        if !client.allows_grant("refresh_token") {
            return Ok(access);
        }
        let now = self.now();
        let validity = client
            .refresh_token_validity
            .map(Duration::seconds)
            .unwrap_or(self.refresh_validity);
        let refresh = issue::refresh_token(&claims, now, validity);
        let refresh_token = self.keys.sign(&Signed {
            claims: &refresh,
            auth_time: Some(claims.iat),
        })?;
        self.store
            .add_refresh_token(&RefreshTokenRecord {
                jti: refresh.jti.clone(),
                user_id: user.id.clone(),
                client_id: client.id.clone(),
                expires_at: now + validity,
                created_at: now,
            })
            .await?;
        Ok(TokenResponse {
            refresh_token: Some(refresh_token),
            ..access
        })
    }

    /// `DELETE /oauth/token/revoke/:jti`: the token's owner, or an admin, may revoke it.
    pub async fn revoke(&self, caller: &Claims, jti: &str) -> Result<()> {
        let now = self.now();
        let admin = caller.has_scope("uaa.admin") || caller.has_scope("tokens.revoke");
        if jti == caller.jti {
            let expires_at = chrono::DateTime::from_timestamp(caller.exp, 0).unwrap_or(now);
            return Ok(self.store.revoke_token(jti, expires_at, now).await?);
        }
        if let Some(record) = self.store.find_refresh_token(jti).await? {
            let owner = caller.user_id.as_deref() == Some(record.user_id.as_str());
            if !owner && !admin {
                return Err(Error::AccessDenied(
                    "You may only revoke your own tokens".into(),
                ));
            }
            return Ok(self.store.revoke_token(jti, record.expires_at, now).await?);
        }
        if admin {
            // The token's expiry is unknown here; keep the record as long as any token lives.
            let expires_at = now + self.refresh_validity.max(self.access_validity);
            return Ok(self.store.revoke_token(jti, expires_at, now).await?);
        }
        Err(Error::NotFound(format!("Token {jti} not found")))
    }

    /// `POST /check_token` for resource servers: claims of a valid token, or TokenRejected.
    pub async fn check_token(
        &self,
        client: Option<ClientCredentials>,
        token: Option<&str>,
    ) -> Result<Claims> {
        let client = self.authenticate_client(client).await?;
        if !client.has_authority("uaa.resource") {
            return Err(Error::AccessDenied(
                "The client may not check tokens (it lacks uaa.resource)".into(),
            ));
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::InvalidRequest("Missing token parameter".into()))?;
        let claims = self
            .keys
            .verifier()
            .verify(token)
            .map_err(|e| Error::TokenRejected(e.to_string()))?;
        let revoked = self.store.is_revoked(&claims.jti).await?
            || (is_refresh_jti(&claims.jti)
                && self.store.find_refresh_token(&claims.jti).await?.is_none());
        if revoked {
            return Err(Error::TokenRejected("Token has been revoked".into()));
        }
        Ok(claims)
    }

    /// `GET /userinfo`: needs a user token with `openid`.
    pub async fn user_info(&self, caller: &Claims) -> Result<UserInfo> {
        let user_id = caller.user_id.as_deref().ok_or(Error::InsufficientScope)?;
        if !caller.has_scope("openid") {
            return Err(Error::InsufficientScope);
        }
        let user = self.find_user(user_id).await?;
        let name = [user.given_name.as_deref(), user.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(UserInfo {
            user_id: user.id.clone(),
            sub: user.id,
            user_name: user.username,
            given_name: user.given_name,
            family_name: user.family_name,
            email: user.email,
            phone_number: None,
            name,
            email_verified: user.verified,
            previous_logon_time: user.previous_logon.map(|t| t.timestamp_millis()),
        })
    }
}

fn response(
    access_token: String,
    refresh_token: Option<String>,
    claims: &Claims,
    now: i64,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: "bearer",
        refresh_token,
        expires_in: (claims.exp - now).max(0),
        scope: claims.scope.join(" "),
        jti: claims.jti.clone(),
    }
}
