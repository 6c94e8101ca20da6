//! The v2 organization and space endpoints older clients still call, in v2 shapes and with
//! v2 errors, over the same service (and so the same RBAC) as v3.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{AppState, error::V2Error, extract::Auth, ts};
use crate::{
    Error,
    model::{
        Organization, Space,
        query::{ListParams, Page},
    },
    service::Actor,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/organizations", get(list_organizations))
        .route("/v2/organizations/{guid}", get(get_organization))
        .route(
            "/v2/organizations/{guid}/spaces",
            get(list_organization_spaces),
        )
        .route("/v2/spaces", get(list_spaces))
        .route("/v2/spaces/{guid}", get(get_space))
        .route("/v2/config/feature_flags", get(feature_flags))
}

type V2Result = Result<Json<Value>, V2Error>;

fn bad_query(msg: impl std::fmt::Display) -> V2Error {
    Error::BadQuery(format!("The query parameter is invalid: {msg}")).into()
}

/// v2 paging and `q` filters, translated to the v3 list parameters the service takes.
fn parse_v2_query(query: Option<&str>, filters: &[(&str, &str)]) -> Result<ListParams, V2Error> {
    let mut params = ListParams {
        order_by: Some(("created_at".into(), false)),
        ..ListParams::default()
    };
    let mut desc = false;
    let mut order_field = "created_at".to_owned();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "q" => {
                let (field, values) = if let Some((f, v)) = value.split_once(" IN ") {
                    (f.to_owned(), v.split(',').map(str::to_owned).collect())
                } else if let Some((f, v)) = value.split_once(':') {
                    (f.to_owned(), vec![v.to_owned()])
                } else {
                    return Err(bad_query(format!("q {value}")));
                };
                let target = filters
                    .iter()
                    .find(|(v2, _)| *v2 == field)
                    .map(|(_, v3)| *v3)
                    .ok_or_else(|| bad_query(format!("q {field}")))?;
                params.filters.insert(target.to_owned(), values);
            }
            "results-per-page" => {
                params.per_page = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad_query("results-per-page must be between 1 and 100"))?;
            }
            "page" => {
                params.page = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad_query("page must be greater than 0"))?;
            }
            "order-direction" => desc = value == "desc",
            "order-by" => {
                order_field = if value == "name" {
                    "name".into()
                } else {
                    "created_at".into()
                }
            }
            // Accepted and ignored, as for v2 clients that always send them.
            "inline-relations-depth" | "include-relations" | "exclude-relations" => {}
            other => return Err(bad_query(other)),
        }
        params.pairs.push((key.into_owned(), value.into_owned()));
    }
    params.order_by = Some((order_field, desc));
    Ok(params)
}

/// `prev_url` / `next_url` are relative in v2.
fn page_url(path: &str, params: &ListParams, page: usize) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params.pairs {
        if k != "page" && k != "results-per-page" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair("page", &page.to_string());
    ser.append_pair("results-per-page", &params.per_page.to_string());
    format!("{path}?{}", ser.finish())
}

fn v2_list<T>(path: &str, params: &ListParams, page: &Page<T>, resources: Vec<Value>) -> Value {
    let pages = page.total_pages();
    json!({
        "total_results": page.total_results,
        "total_pages": pages,
        "prev_url": (page.page > 1).then(|| page_url(path, params, page.page - 1)),
        "next_url": (page.page < pages).then(|| page_url(path, params, page.page + 1)),
        "resources": resources,
    })
}

fn organization_json(org: &Organization) -> Value {
    let url = format!("/v2/organizations/{}", org.guid);
    json!({
        "metadata": {
            "guid": org.guid,
            "url": url,
            "created_at": ts(org.created_at),
            "updated_at": ts(org.updated_at),
        },
        "entity": {
            "name": org.name,
            "billing_enabled": false,
            "quota_definition_guid": org.quota_guid,
            "status": if org.suspended { "suspended" } else { "active" },
            "default_isolation_segment_guid": null,
            "quota_definition_url": format!("/v2/quota_definitions/{}", org.quota_guid),
            "spaces_url": format!("{url}/spaces"),
            "domains_url": format!("{url}/domains"),
            "private_domains_url": format!("{url}/private_domains"),
            "users_url": format!("{url}/users"),
            "managers_url": format!("{url}/managers"),
            "billing_managers_url": format!("{url}/billing_managers"),
            "auditors_url": format!("{url}/auditors"),
            "app_events_url": format!("{url}/app_events"),
            "space_quota_definitions_url": format!("{url}/space_quota_definitions"),
        },
    })
}

fn space_json(space: &Space) -> Value {
    let url = format!("/v2/spaces/{}", space.guid);
    json!({
        "metadata": {
            "guid": space.guid,
            "url": url,
            "created_at": ts(space.created_at),
            "updated_at": ts(space.updated_at),
        },
        "entity": {
            "name": space.name,
            "organization_guid": space.organization_guid,
            "space_quota_definition_guid": null,
            "isolation_segment_guid": null,
            "allow_ssh": space.allow_ssh,
            "organization_url": format!("/v2/organizations/{}", space.organization_guid),
            "developers_url": format!("{url}/developers"),
            "managers_url": format!("{url}/managers"),
            "auditors_url": format!("{url}/auditors"),
            "apps_url": format!("{url}/apps"),
            "routes_url": format!("{url}/routes"),
            "domains_url": format!("{url}/domains"),
            "service_instances_url": format!("{url}/service_instances"),
            "app_events_url": format!("{url}/app_events"),
            "events_url": format!("{url}/events"),
            "security_groups_url": format!("{url}/security_groups"),
            "staging_security_groups_url": format!("{url}/staging_security_groups"),
        },
    })
}

fn actor(auth: Result<Auth, Error>) -> Result<Actor, V2Error> {
    auth.map(|Auth(a)| a).map_err(V2Error::from)
}

async fn list_organizations(
    State(state): State<AppState>,
    auth: Result<Auth, Error>,
    RawQuery(query): RawQuery,
) -> V2Result {
    let actor = actor(auth)?;
    let params = parse_v2_query(query.as_deref(), &[("name", "names")])?;
    let page = state.service.list_organizations(&actor, &params).await?;
    let resources = page.items.iter().map(organization_json).collect();
    Ok(Json(v2_list(
        "/v2/organizations",
        &params,
        &page,
        resources,
    )))
}

async fn get_organization(
    State(state): State<AppState>,
    auth: Result<Auth, Error>,
    Path(guid): Path<String>,
) -> V2Result {
    let actor = actor(auth)?;
    match state.service.organization(&actor, &guid).await {
        Ok(org) => Ok(Json(organization_json(&org))),
        Err(Error::NotFound(_)) => Err(V2Error::not_found("Organization", &guid)),
        Err(e) => Err(e.into()),
    }
}

async fn spaces_page(state: &AppState, actor: &Actor, path: &str, params: &ListParams) -> V2Result {
    let list = state.service.list_spaces(actor, params).await?;
    let resources = list.page.items.iter().map(space_json).collect();
    Ok(Json(v2_list(path, params, &list.page, resources)))
}

const SPACE_FILTERS: &[(&str, &str)] = &[
    ("name", "names"),
    ("organization_guid", "organization_guids"),
];

async fn list_spaces(
    State(state): State<AppState>,
    auth: Result<Auth, Error>,
    RawQuery(query): RawQuery,
) -> V2Result {
    let actor = actor(auth)?;
    let params = parse_v2_query(query.as_deref(), SPACE_FILTERS)?;
    spaces_page(&state, &actor, "/v2/spaces", &params).await
}

async fn list_organization_spaces(
    State(state): State<AppState>,
    auth: Result<Auth, Error>,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> V2Result {
    let actor = actor(auth)?;
    match state.service.organization(&actor, &guid).await {
        Ok(_) => {}
        Err(Error::NotFound(_)) => return Err(V2Error::not_found("Organization", &guid)),
        Err(e) => return Err(e.into()),
    }
    let mut params = parse_v2_query(query.as_deref(), &[("name", "names")])?;
    params
        .filters
        .insert("organization_guids".into(), vec![guid.clone()]);
    spaces_page(
        &state,
        &actor,
        &format!("/v2/organizations/{guid}/spaces"),
        &params,
    )
    .await
}

async fn get_space(
    State(state): State<AppState>,
    auth: Result<Auth, Error>,
    Path(guid): Path<String>,
) -> V2Result {
    let actor = actor(auth)?;
    match state.service.space(&actor, &guid).await {
        Ok((space, _)) => Ok(Json(space_json(&space))),
        Err(Error::NotFound(_)) => Err(V2Error::not_found("Space", &guid)),
        Err(e) => Err(e.into()),
    }
}

async fn feature_flags(State(state): State<AppState>, auth: Result<Auth, Error>) -> V2Result {
    let actor = actor(auth)?;
    let params = ListParams {
        per_page: crate::model::query::MAX_PER_PAGE,
        ..ListParams::default()
    };
    let page = state.service.list_feature_flags(&actor, &params).await?;
    let flags: Vec<Value> = page
        .items
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "enabled": f.enabled,
                "error_message": f.custom_error_message,
                "url": format!("/v2/config/feature_flags/{}", f.name),
            })
        })
        .collect();
    Ok(Json(Value::Array(flags)))
}
