//! Endpoints the cf CLI calls for resources Ingot does not have yet (isolation segments,
//! service instances). They authenticate, check visibility of the parent, and answer with an
//! empty list or a null relationship in the real shape.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{AppState, extract::Auth, list_page};
use crate::{Error, model::query::ListSpec};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/organizations/{guid}/relationships/default_isolation_segment",
            get(default_isolation_segment),
        )
        .route("/v3/isolation_segments", get(isolation_segments))
        .route("/v3/service_instances", get(service_instances))
        .route(
            "/v3/spaces/{guid}/relationships/isolation_segment",
            get(space_isolation_segment),
        )
}

fn spec(filters: &'static [&'static str]) -> ListSpec {
    ListSpec {
        filters,
        includes: &[],
        order_by: &["name", "created_at", "updated_at"],
        label_selector: true,
    }
}

/// An empty page at `path`, with the query checked like any other list.
async fn empty(
    state: &AppState,
    path: &str,
    query: Option<&str>,
    spec: &ListSpec,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        spec,
        async |params| Ok(params.select(Vec::<crate::model::Organization>::new())),
        |_| Value::Null,
    )
    .await
}

async fn default_isolation_segment(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    state.service.organization(&actor, &guid).await?;
    let path = format!("/v3/organizations/{guid}/relationships/default_isolation_segment");
    Ok(Json(json!({
        "data": null,
        "links": { "self": state.link(&path) },
    })))
}

async fn isolation_segments(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    empty(
        &state,
        "/v3/isolation_segments",
        query.as_deref(),
        &spec(&["names", "guids", "organization_guids"]),
    )
    .await
}

async fn service_instances(
    State(state): State<AppState>,
    Auth(_actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    empty(
        &state,
        "/v3/service_instances",
        query.as_deref(),
        &spec(&[
            "names",
            "guids",
            "space_guids",
            "organization_guids",
            "type",
            "service_plan_guids",
            "service_plan_names",
            "fields[space]",
            "fields[space.organization]",
            "fields[service_plan]",
            "fields[service_plan.service_offering]",
            "fields[service_plan.service_offering.service_broker]",
        ]),
    )
    .await
}

async fn space_isolation_segment(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    state.service.space(&actor, &guid).await?;
    let path = format!("/v3/spaces/{guid}/relationships/isolation_segment");
    Ok(Json(json!({
        "data": null,
        "links": { "self": state.link(&path) },
    })))
}
