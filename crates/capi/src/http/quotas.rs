use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{AppState, Inner, extract::Auth, list_page, ts};
use crate::{
    Error,
    model::{OrganizationQuota, query::ListSpec},
};

const LIST: ListSpec = ListSpec {
    filters: &["names", "guids", "organization_guids"],
    includes: &[],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/organization_quotas", get(list_organization_quotas))
        .route(
            "/v3/organization_quotas/{guid}",
            get(get_organization_quota),
        )
}

/// The default quota is unlimited: every limit is null.
fn quota_json(state: &Inner, quota: &OrganizationQuota, orgs: &[String]) -> Value {
    let orgs: Vec<Value> = orgs.iter().map(|g| json!({ "guid": g })).collect();
    json!({
        "guid": quota.guid,
        "created_at": ts(quota.created_at),
        "updated_at": ts(quota.updated_at),
        "name": quota.name,
        "apps": {
            "total_memory_in_mb": null,
            "per_process_memory_in_mb": null,
            "total_instances": null,
            "per_app_tasks": null,
            "log_rate_limit_in_bytes_per_second": null,
        },
        "services": {
            "paid_services_allowed": true,
            "total_service_instances": null,
            "total_service_keys": null,
        },
        "routes": { "total_routes": null, "total_reserved_ports": null },
        "domains": { "total_domains": null },
        "relationships": { "organizations": { "data": orgs } },
        "links": { "self": state.link(&format!("/v3/organization_quotas/{}", quota.guid)) },
    })
}

async fn list_organization_quotas(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/organization_quotas",
        query.as_deref(),
        &LIST,
        async |params| state.service.list_organization_quotas(&actor, params).await,
        |q| quota_json(&state, &q.quota, &q.organization_guids),
    )
    .await
}

async fn get_organization_quota(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let q = state.service.organization_quota(&actor, &guid).await?;
    Ok(Json(quota_json(&state, &q.quota, &q.organization_guids)))
}
