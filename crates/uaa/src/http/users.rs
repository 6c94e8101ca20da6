//! SCIM `/Users`.

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
    extract::{authorization, if_match, json_body, query_params},
    scim_json::{self, PasswordBody, UserBody},
};
use crate::{error::Result, model::User};

fn user_response(status: StatusCode, user: &User) -> Response {
    let mut response = (status, Json(scim_json::user(user))).into_response();
    if let Ok(etag) = HeaderValue::from_str(&scim_json::etag(user.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

pub(super) async fn list_users(
    State(service): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let params = scim_json::list_params(&query_params(query.as_deref())?)?;
    let page = service.list_users(&caller, &params.query).await?;
    Ok(Json(scim_json::list(
        &page,
        &params.attributes,
        scim_json::user,
    )))
}

pub(super) async fn create_user(
    State(service): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let mut body: UserBody = json_body(&headers, &body)?;
    let password = body.password.take();
    let user = service
        .create_user(&caller, body.into_draft(), password)
        .await?;
    Ok(user_response(StatusCode::CREATED, &user))
}

pub(super) async fn get_user(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let user = service.get_user(&caller, &id).await?;
    Ok(user_response(StatusCode::OK, &user))
}

pub(super) async fn update_user(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let expected_version = if_match(&headers)?;
    let mut body: UserBody = json_body(&headers, &body)?;
    // Passwords change only through /Users/:id/password.
    body.password = None;
    let user = service
        .update_user(&caller, &id, body.into_draft(), expected_version)
        .await?;
    Ok(user_response(StatusCode::OK, &user))
}

pub(super) async fn delete_user(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let user = service.delete_user(&caller, &id).await?;
    Ok(user_response(StatusCode::OK, &user))
}

pub(super) async fn change_password(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let body: PasswordBody = json_body(&headers, &body)?;
    service
        .change_password(&caller, &id, body.old_password, body.password)
        .await?;
    Ok(Json(
        json!({ "status": "ok", "message": "password updated" }),
    ))
}
