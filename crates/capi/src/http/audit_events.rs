use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{AppState, Inner, extract::Auth, list_page, ts};
use crate::{
    Error,
    model::{AuditEvent, query::ListSpec},
};

const LIST: ListSpec = ListSpec {
    filters: &["types", "target_guids", "space_guids", "organization_guids"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/audit_events", get(list_audit_events))
        .route("/v3/audit_events/{guid}", get(get_audit_event))
}

pub fn audit_event_json(state: &Inner, e: &AuditEvent) -> Value {
    json!({
        "guid": e.guid,
        "created_at": ts(e.created_at),
        "updated_at": ts(e.created_at),
        "type": e.event_type,
        "actor": { "guid": e.actor.guid, "type": e.actor.actor_type, "name": e.actor.name },
        "target": { "guid": e.target.guid, "type": e.target.target_type, "name": e.target.name },
        "data": e.data,
        "space": e.space_guid.as_ref().map(|g| json!({ "guid": g })),
        "organization": e.organization_guid.as_ref().map(|g| json!({ "guid": g })),
        "links": { "self": state.link(&format!("/v3/audit_events/{}", e.guid)) },
    })
}

async fn list_audit_events(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/audit_events",
        query.as_deref(),
        &LIST,
        async |params| state.service.list_audit_events(&actor, params).await,
        |e| audit_event_json(&state, e),
    )
    .await
}

async fn get_audit_event(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let event = state.service.audit_event(&actor, &guid).await?;
    Ok(Json(audit_event_json(&state, &event)))
}
