use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
    routing::{delete, get, post},
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, accepted, created,
    extract::{Auth, Body},
    guid_list, list_page, metadata_json, read_metadata, to_many_guids, ts,
};
use crate::{
    Error,
    model::{Domain, query::ListSpec, validation::Fields},
    service::NewDomain,
};

const LIST: ListSpec = ListSpec {
    filters: &["names", "guids", "organization_guids"],
    includes: &[],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/domains", get(list_domains).post(create_domain))
        .route(
            "/v3/domains/{guid}",
            get(get_domain).patch(update_domain).delete(delete_domain),
        )
        .route(
            "/v3/domains/{guid}/route_reservations",
            get(route_reservations),
        )
        .route(
            "/v3/domains/{guid}/relationships/shared_organizations",
            post(share_domain),
        )
        .route(
            "/v3/domains/{guid}/relationships/shared_organizations/{org_guid}",
            delete(unshare_domain),
        )
        .route(
            "/v3/organizations/{guid}/domains",
            get(list_organization_domains),
        )
        .route(
            "/v3/organizations/{guid}/domains/default",
            get(get_default_domain),
        )
}

pub fn domain_json(state: &Inner, domain: &Domain) -> Value {
    let path = format!("/v3/domains/{}", domain.guid);
    let mut links = json!({
        "self": state.link(&path),
        "route_reservations": state.link(&format!("{path}/route_reservations")),
    });
    if let (Some(org), Some(obj)) = (&domain.organization_guid, links.as_object_mut()) {
        obj.insert(
            "organization".into(),
            state.link(&format!("/v3/organizations/{org}")),
        );
        obj.insert(
            "shared_organizations".into(),
            state.link(&format!("{path}/relationships/shared_organizations")),
        );
    }
    json!({
        "guid": domain.guid,
        "created_at": ts(domain.created_at),
        "updated_at": ts(domain.updated_at),
        "name": domain.name,
        "internal": domain.internal,
        "router_group": domain.router_group_guid.as_ref().map(|g| json!({ "guid": g })),
        "supported_protocols": domain.supported_protocols,
        "relationships": {
            "organization": {
                "data": domain.organization_guid.as_ref().map(|g| json!({ "guid": g })),
            },
            "shared_organizations": { "data": guid_list(&domain.shared_organization_guids) },
        },
        "metadata": metadata_json(&domain.metadata),
        "links": links,
    })
}

fn shared_organizations_json(state: &Inner, domain: &Domain) -> Value {
    json!({
        "data": guid_list(&domain.shared_organization_guids),
        "links": {
            "self": state.link(&format!(
                "/v3/domains/{}/relationships/shared_organizations",
                domain.guid
            )),
        },
    })
}

async fn list(
    state: &AppState,
    actor: &crate::service::Actor,
    path: &str,
    query: Option<&str>,
    org_guid: Option<&str>,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        &LIST,
        async |params| state.service.list_domains(actor, params, org_guid).await,
        |d| domain_json(state, d),
    )
    .await
}

async fn list_domains(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list(&state, &actor, "/v3/domains", query.as_deref(), None).await
}

async fn list_organization_domains(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/organizations/{guid}/domains");
    list(&state, &actor, &path, query.as_deref(), Some(&guid)).await
}

async fn get_default_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let domain = state.service.default_domain(&actor, &guid).await?;
    Ok(Json(domain_json(&state, &domain)))
}

async fn get_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let domain = state.service.domain(&actor, &guid).await?;
    Ok(Json(domain_json(&state, &domain)))
}

async fn create_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.string("name", true);
    let internal = fields.boolean("internal", false);
    let relationships = fields.object("relationships", false, |rel| {
        let org = rel.relationship_guid("organization", false);
        let shared = rel.object("shared_organizations", false, |s| {
            to_many_guids(s, "data", false)
        });
        Some((org, shared.unwrap_or_default()))
    });
    let router_group = fields.object("router_group", false, |rg| rg.string("guid", true));
    let metadata = fields.metadata();
    fields.finish()?;
    let (organization_guid, shared_organization_guids) = relationships.unwrap_or_default();
    let new = NewDomain {
        name: name.unwrap_or_default(),
        internal: internal.unwrap_or(false),
        organization_guid,
        shared_organization_guids,
        router_group_guid: router_group,
        metadata: metadata.unwrap_or_default(),
    };
    let domain = state.service.create_domain(&actor, new).await?;
    Ok(created(domain_json(&state, &domain)))
}

async fn update_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let metadata = read_metadata(&body)?;
    let domain = state
        .service
        .update_domain(&actor, &guid, &metadata)
        .await?;
    Ok(Json(domain_json(&state, &domain)))
}

async fn delete_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_domain(&actor, &guid).await)
}

/// `cf check-route`: `?host=&path=` (both default to empty, as CC treats them).
async fn route_reservations(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let (mut host, mut path, mut port) = (String::new(), String::new(), None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "host" => host = value.into_owned(),
            "path" => path = value.into_owned(),
            "port" if value.is_empty() || value == "0" => port = None,
            "port" => {
                port = Some(
                    value
                        .parse::<u16>()
                        .map_err(|_| Error::Unprocessable("Ports must be an integer".into()))?,
                );
            }
            other => {
                return Err(Error::BadQuery(format!(
                    "Unknown query parameter(s): '{other}'. Valid parameters are: 'host', 'path', 'port'"
                )));
            }
        }
    }
    let matching = state
        .service
        .route_reserved(&actor, &guid, &host, &path, port)
        .await?;
    Ok(Json(json!({ "matching_route": matching })))
}

async fn share_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let guids = to_many_guids(&mut fields, "data", true);
    fields.finish()?;
    let domain = state
        .service
        .share_domain(&actor, &guid, &guids.unwrap_or_default())
        .await?;
    Ok(Json(shared_organizations_json(&state, &domain)))
}

async fn unshare_domain(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, org_guid)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    state
        .service
        .unshare_domain(&actor, &guid, &org_guid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
