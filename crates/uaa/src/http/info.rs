//! `GET /login` and `GET /info`: the discovery document the cf CLI reads first; and
//! `GET /.well-known/openid-configuration`, the one OpenID Connect clients read.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header::HOST},
};
use serde_json::{Value, json};

use super::State as AppState;

/// The UAA version we speak for; the cf CLI needs at least 4.26.0 for `--origin`.
const UAA_VERSION: &str = "4.30.0";

pub(super) async fn get_info(State(service): AppState, headers: HeaderMap) -> Json<Value> {
    let url = url_as_reached(&headers).unwrap_or_else(|| service.url().to_owned());
    Json(json!({
        "app": { "version": UAA_VERSION },
        "links": {
            "uaa": url,
            "login": url,
            "passwd": "/forgot_password",
            "register": "/create_account",
        },
        "prompts": {
            "username": ["text", "Email"],
            "password": ["password", "Password"],
            "passcode": ["password", format!("One Time Code (Get one at {url}/passcode)")],
        },
        "zone_name": "uaa",
        "entityID": "cloudfoundry-saml-login",
        "commit_id": "ingot",
        "idpDefinitions": {},
        "showLoginLinks": true,
        "timestamp": service.started_at().format("%Y-%m-%dT%H:%M:%S%z").to_string(),
    }))
}

/// OpenID Connect discovery: where the endpoints are and what this UAA supports. The issuer is
/// the same string every token's `iss` carries.
pub(super) async fn get_openid_configuration(State(service): AppState) -> Json<Value> {
    let url = service.url();
    Json(json!({
        "issuer": format!("{url}/oauth/token"),
        "authorization_endpoint": format!("{url}/oauth/authorize"),
        "token_endpoint": format!("{url}/oauth/token"),
        "userinfo_endpoint": format!("{url}/userinfo"),
        "jwks_uri": format!("{url}/token_keys"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["password", "refresh_token", "client_credentials", "authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "roles", "user_attributes"],
        "claims_supported": [
            "sub", "user_id", "user_name", "origin", "email", "client_id", "scope",
            "iss", "aud", "exp", "iat", "jti", "zid",
        ],
    }))
}

pub(super) async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The URL the client reached the UAA at, when it came through a router (which adds
/// `X-Forwarded-Proto`): the cf CLI sends its token requests to the `links.uaa` of this
/// document, so they keep going through the router (e.g. at `uaa.<system domain>`).
fn url_as_reached(headers: &HeaderMap) -> Option<String> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let proto = header("x-forwarded-proto")?.split(',').next()?.trim();
    let host = header(HOST.as_str())?;
    matches!(proto, "http" | "https").then(|| format!("{proto}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_router_only_when_proxied() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "uaa.localhost:8080".parse().unwrap());
        assert_eq!(url_as_reached(&headers), None);
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(
            url_as_reached(&headers).as_deref(),
            Some("https://uaa.localhost:8080")
        );
        headers.insert("x-forwarded-proto", "gopher".parse().unwrap());
        assert_eq!(url_as_reached(&headers), None);
    }
}
