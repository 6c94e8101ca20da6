//! The OAuth endpoints: token, revoke, check_token, token keys and userinfo.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    State as AppState,
    extract::{authorization, basic_credentials, params, query_params},
};
use crate::{
    Error,
    error::Result,
    service::{ClientCredentials, TokenRequest},
};

/// Basic credentials win; otherwise `client_id`/`client_secret` from the body.
fn client_credentials(
    headers: &HeaderMap,
    params: &mut std::collections::HashMap<String, String>,
) -> Result<Option<ClientCredentials>> {
    let from_body = params.remove("client_id").map(|id| ClientCredentials {
        id,
        secret: params.remove("client_secret").unwrap_or_default(),
    });
    Ok(basic_credentials(headers)?.or(from_body))
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub(super) async fn post_token(
    State(service): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let mut params = params(&body)?;
    // The cf CLI may put `login_hint` in the query string; nothing secret is taken from there.
    if let Some(hint) = query_params(query.as_deref())?.remove("login_hint") {
        params.entry("login_hint".into()).or_insert(hint);
    }
    let client = client_credentials(&headers, &mut params)?;
    let response = service.token(TokenRequest { params, client }).await?;
    Ok(no_store(Json(response).into_response()))
}

/// `cf ssh-code`: answers with a redirect whose query carries `code=`; the CLI does not follow it.
pub(super) async fn authorize(
    State(service): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let params = query_params(query.as_deref())?;
    let location = service.authorize(&caller, &params).await?;
    let location =
        HeaderValue::from_str(&location).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

pub(super) async fn revoke_token(
    State(service): AppState,
    Path(jti): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let caller = service.authenticate(authorization(&headers)).await?;
    service.revoke(&caller, &jti).await?;
    Ok(StatusCode::OK)
}

pub(super) async fn check_token(
    State(service): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let mut params = params(&body)?;
    for (name, value) in query_params(query.as_deref())? {
        params.entry(name).or_insert(value);
    }
    let client = client_credentials(&headers, &mut params)?;
    let claims = service
        .check_token(client, params.get("token").map(String::as_str))
        .await?;
    let mut body = serde_json::to_value(&claims).map_err(|e| Error::Internal(e.to_string()))?;
    if let Value::Object(map) = &mut body {
        map.insert("active".into(), Value::Bool(true));
    }
    Ok(Json(body))
}

pub(super) async fn get_token_keys(State(service): AppState) -> Json<Value> {
    Json(json!({ "keys": service.keys().jwks() }))
}

/// The current signing key alone, as older clients ask for it.
pub(super) async fn get_token_key(State(service): AppState) -> Result<Json<Value>> {
    let key = service
        .keys()
        .jwks()
        .first()
        .ok_or_else(|| Error::Keys("no signing key".into()))?;
    serde_json::to_value(key)
        .map(Json)
        .map_err(|e| Error::Internal(e.to_string()))
}

pub(super) async fn get_user_info(
    State(service): AppState,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let info = service.user_info(&caller).await?;
    serde_json::to_value(info)
        .map(Json)
        .map_err(|e| Error::Internal(e.to_string()))
}
