use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
    routing::{delete, get},
};
use serde_json::{Value, json};

use super::{
    AppState, Included, Inner, Listing, accepted, created,
    domains::domain_json,
    extract::{Auth, Body},
    list_page, metadata_json,
    organizations::organization_json,
    read_metadata,
    spaces::space_json,
    ts, with_included,
};
use crate::{
    Error,
    model::{
        RouteMapping,
        query::{ListParams, ListSpec},
        route::{parse_destinations, route_url},
        validation::Fields,
    },
    service::{Actor, NewRoute, RouteList, RouteView},
};

const LIST: ListSpec = ListSpec {
    filters: &[
        "space_guids",
        "organization_guids",
        "domain_guids",
        "hosts",
        "paths",
        "ports",
        "app_guids",
    ],
    includes: &["domain", "space", "space.organization"],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

const SHOW: ListSpec = ListSpec {
    filters: &[],
    includes: &["domain", "space", "space.organization"],
    order_by: &[],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/routes", get(list_routes).post(create_route))
        .route(
            "/v3/routes/{guid}",
            get(get_route).patch(update_route).delete(delete_route),
        )
        .route(
            "/v3/routes/{guid}/destinations",
            get(list_destinations)
                .post(add_destinations)
                .patch(replace_destinations),
        )
        .route(
            "/v3/routes/{guid}/destinations/{destination_guid}",
            delete(remove_destination),
        )
        .route("/v3/apps/{guid}/routes", get(list_app_routes))
        .route("/v3/spaces/{guid}/routes", delete(delete_space_routes))
}

fn destination_json(m: &RouteMapping) -> Value {
    json!({
        "guid": m.guid,
        "app": { "guid": m.app_guid, "process": { "type": m.process_type } },
        "weight": m.weight,
        "port": m.port(),
        "protocol": m.protocol,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
    })
}

pub fn route_json(state: &Inner, view: &RouteView) -> Value {
    let route = &view.route;
    let path = format!("/v3/routes/{}", route.guid);
    let destinations: Vec<Value> = view.destinations.iter().map(destination_json).collect();
    json!({
        "guid": route.guid,
        "created_at": ts(route.created_at),
        "updated_at": ts(route.updated_at),
        "protocol": view.domain.protocol(),
        "host": route.host,
        "path": route.path,
        "port": route.port,
        "url": route_url(route, &view.domain),
        "destinations": destinations,
        "metadata": metadata_json(&route.metadata),
        "relationships": {
            "space": { "data": { "guid": route.space_guid } },
            "domain": { "data": { "guid": route.domain_guid } },
        },
        "links": {
            "self": state.link(&path),
            "space": state.link(&format!("/v3/spaces/{}", route.space_guid)),
            "destinations": state.link(&format!("{path}/destinations")),
            "domain": state.link(&format!("/v3/domains/{}", route.domain_guid)),
        },
    })
}

fn destinations_json(state: &Inner, view: &RouteView) -> Value {
    let path = format!("/v3/routes/{}", view.route.guid);
    let destinations: Vec<Value> = view.destinations.iter().map(destination_json).collect();
    json!({
        "destinations": destinations,
        "links": {
            "self": state.link(&format!("{path}/destinations")),
            "route": state.link(&path),
        },
    })
}

/// The `included` object for what `params` asked to include.
fn included_json(state: &Inner, params: &ListParams, list: &RouteList) -> Option<Value> {
    Included::new(params)
        .add("domain", "domains", || {
            list.domains.iter().map(|d| domain_json(state, d)).collect()
        })
        .add("space", "spaces", || {
            list.spaces.iter().map(|s| space_json(state, s)).collect()
        })
        .add("space.organization", "organizations", || {
            list.organizations
                .iter()
                .map(|o| organization_json(state, o))
                .collect()
        })
        .build()
}

async fn list(
    state: &AppState,
    actor: &Actor,
    path: &str,
    query: Option<&str>,
    app_guid: Option<&str>,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        &LIST,
        async |params| {
            let list = state.service.list_routes(actor, params, app_guid).await?;
            let included = included_json(state, params, &list);
            Ok(Listing {
                page: list.page,
                included,
            })
        },
        |v| route_json(state, v),
    )
    .await
}

async fn list_routes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list(&state, &actor, "/v3/routes", query.as_deref(), None).await
}

async fn list_app_routes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/apps/{guid}/routes");
    list(&state, &actor, &path, query.as_deref(), Some(&guid)).await
}

async fn get_route(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let params = ListParams::parse(query.as_deref(), &SHOW)?;
    let list = state.service.route(&actor, &guid, &params).await?;
    let view = list.page.items.first().ok_or(Error::NotFound("Route"))?;
    let included = included_json(&state, &params, &list);
    Ok(Json(with_included(route_json(&state, view), included)))
}

async fn create_route(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let host = fields.string("host", false);
    let path = fields.string("path", false);
    let port = fields.integer("port", false);
    let relationships = fields.object("relationships", true, |rel| {
        let space = rel.relationship_guid("space", true);
        let domain = rel.relationship_guid("domain", true);
        Some((space?, domain?))
    });
    let metadata = fields.metadata();
    let port = match port.map(u16::try_from) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => {
            fields.error("Port must be less than or equal to 65535");
            None
        }
    };
    fields.finish()?;
    let (space_guid, domain_guid) = relationships.unwrap_or_default();
    let new = NewRoute {
        host: host.unwrap_or_default(),
        path: path.unwrap_or_default(),
        port,
        space_guid,
        domain_guid,
        metadata: metadata.unwrap_or_default(),
    };
    let view = state.service.create_route(&actor, new).await?;
    Ok(created(route_json(&state, &view)))
}

async fn update_route(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let metadata = read_metadata(&body)?;
    let view = state.service.update_route(&actor, &guid, &metadata).await?;
    Ok(Json(route_json(&state, &view)))
}

async fn delete_route(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_route(&actor, &guid).await)
}

async fn list_destinations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let view = state.service.route_destinations(&actor, &guid).await?;
    Ok(Json(destinations_json(&state, &view)))
}

/// The body's destinations; `replace` (PATCH) allows an empty list and weights.
fn read_destinations(
    body: &Value,
    replace: bool,
) -> Result<Vec<crate::model::route::NewDestination>, Error> {
    let mut fields = Fields::of(body)?;
    let parsed = parse_destinations(fields.raw("destinations"), replace);
    fields.finish()?;
    parsed.map_err(Error::Validation)
}

async fn add_destinations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let wanted = read_destinations(&body, false)?;
    let view = state
        .service
        .add_route_destinations(&actor, &guid, wanted)
        .await?;
    Ok(Json(destinations_json(&state, &view)))
}

async fn replace_destinations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let wanted = read_destinations(&body, true)?;
    let view = state
        .service
        .replace_route_destinations(&actor, &guid, wanted)
        .await?;
    Ok(Json(destinations_json(&state, &view)))
}

async fn remove_destination(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, destination_guid)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    state
        .service
        .remove_route_destination(&actor, &guid, &destination_guid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `cf delete-orphaned-routes`; CC deletes routes of a space only with `unmapped=true`.
async fn delete_space_routes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let unmapped = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "unmapped" && v == "true");
    if !unmapped {
        return Err(Error::BadQuery(
            "Mass delete not supported for routes. Use 'unmapped=true' parameter to delete all unmapped routes.".into(),
        ));
    }
    accepted(
        &state,
        state.service.delete_unmapped_routes(&actor, &guid).await,
    )
}
