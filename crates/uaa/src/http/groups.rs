//! SCIM `/Groups` and their members.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
};
use serde_json::Value;

use super::{
    State as AppState,
    extract::{authorization, json_body, query_params},
    scim_json::{self, GroupBody, MemberBody},
};
use crate::error::Result;

pub(super) async fn list_groups(
    State(service): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let params = scim_json::list_params(&query_params(query.as_deref())?)?;
    let page = service.list_groups(&caller, &params.query).await?;
    Ok(Json(scim_json::list(
        &page,
        &params.attributes,
        scim_json::group,
    )))
}

pub(super) async fn create_group(
    State(service): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let body: GroupBody = json_body(&headers, &body)?;
    let members = body
        .members
        .unwrap_or_default()
        .into_iter()
        .map(MemberBody::user_id)
        .collect::<Result<Vec<_>>>()?;
    let group = service
        .create_group(&caller, body.display_name, body.description, members)
        .await?;
    Ok((StatusCode::CREATED, Json(scim_json::group(&group))))
}

pub(super) async fn get_group(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let group = service.get_group(&caller, &id).await?;
    Ok(Json(scim_json::group(&group)))
}

pub(super) async fn list_members(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let group = service.get_group(&caller, &id).await?;
    Ok(Json(Value::Array(
        group
            .members
            .iter()
            .map(|m| scim_json::member(&m.user_id, &m.origin))
            .collect(),
    )))
}

pub(super) async fn add_member(
    State(service): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let body: MemberBody = json_body(&headers, &body)?;
    let user_id = body.user_id()?;
    let group = service.add_member(&caller, &id, &user_id).await?;
    let origin = group
        .members
        .iter()
        .find(|m| m.user_id == user_id)
        .map_or("uaa", |m| m.origin.as_str());
    Ok((
        StatusCode::CREATED,
        Json(scim_json::member(&user_id, origin)),
    ))
}

pub(super) async fn remove_member(
    State(service): AppState,
    Path((id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let caller = service.authenticate(authorization(&headers)).await?;
    let origin = service.remove_member(&caller, &id, &user_id).await?;
    Ok(Json(scim_json::member(&user_id, &origin)))
}
