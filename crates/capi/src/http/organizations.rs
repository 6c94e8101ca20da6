use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, accepted, created,
    extract::{Auth, Body},
    list_page, metadata_json, ts,
    users::user_json,
};
use crate::{
    Error,
    model::{Organization, query::ListSpec, validation::Fields},
    service::{NewOrganization, OrganizationPatch},
};

const LIST: ListSpec = ListSpec {
    filters: &["names", "guids"],
    includes: &[],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: true,
};

pub(super) const USER_LIST: ListSpec = ListSpec {
    filters: &["guids", "usernames", "origins", "partial_usernames"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/v3/organizations/{guid}",
            get(get_organization)
                .patch(update_organization)
                .delete(delete_organization),
        )
        .route(
            "/v3/organizations/{guid}/users",
            get(list_organization_users),
        )
        .route(
            "/v3/organizations/{guid}/usage_summary",
            get(get_usage_summary),
        )
}

pub fn organization_json(state: &Inner, org: &Organization) -> Value {
    let path = format!("/v3/organizations/{}", org.guid);
    json!({
        "guid": org.guid,
        "created_at": ts(org.created_at),
        "updated_at": ts(org.updated_at),
        "name": org.name,
        "suspended": org.suspended,
        "relationships": { "quota": { "data": { "guid": org.quota_guid } } },
        "metadata": metadata_json(&org.metadata),
        "links": {
            "self": state.link(&path),
            "domains": state.link(&format!("{path}/domains")),
            "default_domain": state.link(&format!("{path}/domains/default")),
            "quota": state.link(&format!("/v3/organization_quotas/{}", org.quota_guid)),
        },
    })
}

async fn list_organizations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/organizations",
        query.as_deref(),
        &LIST,
        async |params| state.service.list_organizations(&actor, params).await,
        |o| organization_json(&state, o),
    )
    .await
}

async fn get_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let org = state.service.organization(&actor, &guid).await?;
    Ok(Json(organization_json(&state, &org)))
}

/// What the org uses. Until apps and routes exist every figure is zero, but the shape is CC's.
async fn get_usage_summary(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let org = state.service.organization(&actor, &guid).await?;
    let self_path = format!("/v3/organizations/{}/usage_summary", org.guid);
    Ok(Json(json!({
        "usage_summary": {
            "started_instances": 0,
            "memory_in_mb": 0,
            "routes": 0,
            "service_instances": 0,
            "reserved_ports": 0,
            "domains": 0,
            "per_app_tasks": 0,
            "service_keys": 0,
        },
        "links": {
            "self": state.link(&self_path),
            "organization": state.link(&format!("/v3/organizations/{}", org.guid)),
        },
    })))
}

async fn create_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(true);
    let suspended = fields.boolean("suspended", false);
    let metadata = fields.metadata();
    fields.finish()?;
    let new = NewOrganization {
        name: name.unwrap_or_default(),
        suspended: suspended.unwrap_or(false),
        metadata: metadata.unwrap_or_default(),
    };
    let org = state.service.create_organization(&actor, new).await?;
    Ok(created(organization_json(&state, &org)))
}

async fn update_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(false);
    let suspended = fields.boolean("suspended", false);
    let metadata = fields.metadata();
    fields.finish()?;
    let patch = OrganizationPatch {
        name,
        suspended,
        metadata,
    };
    let org = state
        .service
        .update_organization(&actor, &guid, patch)
        .await?;
    Ok(Json(organization_json(&state, &org)))
}

async fn delete_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(
        &state,
        state.service.delete_organization(&actor, &guid).await,
    )
}

async fn list_organization_users(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        &format!("/v3/organizations/{guid}/users"),
        query.as_deref(),
        &USER_LIST,
        async |params| {
            state
                .service
                .organization_users(&actor, &guid, params)
                .await
        },
        |u| user_json(&state, u),
    )
    .await
}
