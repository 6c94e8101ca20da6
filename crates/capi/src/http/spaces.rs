use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Included, Inner, Listing, accepted, created,
    extract::{Auth, Body},
    list_page, metadata_json,
    organizations::{USER_LIST, organization_json},
    ts,
    users::user_json,
    with_included,
};
use crate::{
    Error,
    model::{
        Organization, Space,
        query::{ListParams, ListSpec},
        validation::Fields,
    },
    service::{NewSpace, SpacePatch},
};

const LIST: ListSpec = ListSpec {
    filters: &["names", "guids", "organization_guids"],
    includes: &["organization"],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/spaces", get(list_spaces).post(create_space))
        .route(
            "/v3/spaces/{guid}",
            get(get_space).patch(update_space).delete(delete_space),
        )
        .route("/v3/spaces/{guid}/users", get(list_space_users))
        .route("/v3/spaces/{guid}/features", get(list_space_features))
        .route(
            "/v3/spaces/{guid}/features/{name}",
            get(get_space_feature).patch(update_space_feature),
        )
}

pub fn space_json(state: &Inner, space: &Space) -> Value {
    let path = format!("/v3/spaces/{}", space.guid);
    json!({
        "guid": space.guid,
        "created_at": ts(space.created_at),
        "updated_at": ts(space.updated_at),
        "name": space.name,
        "relationships": {
            "organization": { "data": { "guid": space.organization_guid } },
            "quota": { "data": null },
        },
        "metadata": metadata_json(&space.metadata),
        "links": {
            "self": state.link(&path),
            "features": state.link(&format!("{path}/features")),
            "organization": state.link(&format!("/v3/organizations/{}", space.organization_guid)),
            "apply_manifest": {
                "href": state.url(&format!("{path}/actions/apply_manifest")),
                "method": "POST",
            },
        },
    })
}

fn ssh_feature_json(space: &Space) -> Value {
    json!({
        "name": "ssh",
        "description": "Enable SSHing into apps in the space.",
        "enabled": space.allow_ssh,
    })
}

/// `included` for `?include=organization`.
fn included_json(state: &Inner, params: &ListParams, orgs: &[Organization]) -> Option<Value> {
    Included::new(params)
        .add("organization", "organizations", || {
            orgs.iter().map(|o| organization_json(state, o)).collect()
        })
        .build()
}

async fn list_spaces(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/spaces",
        query.as_deref(),
        &LIST,
        async |params| {
            let list = state.service.list_spaces(&actor, params).await?;
            let included = included_json(&state, params, &list.organizations);
            Ok(Listing {
                page: list.page,
                included,
            })
        },
        |s| space_json(&state, s),
    )
    .await
}

async fn get_space(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let params = ListParams::parse(
        query.as_deref(),
        &ListSpec {
            filters: &[],
            includes: &["organization"],
            order_by: &[],
            label_selector: false,
        },
    )?;
    let (space, org) = state.service.space(&actor, &guid).await?;
    let included = included_json(&state, &params, std::slice::from_ref(&org));
    Ok(Json(with_included(space_json(&state, &space), included)))
}

async fn create_space(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(true);
    let org = fields.object("relationships", true, |rel| {
        rel.relationship_guid("organization", true)
    });
    let metadata = fields.metadata();
    fields.finish()?;
    let new = NewSpace {
        name: name.unwrap_or_default(),
        organization_guid: org.unwrap_or_default(),
        metadata: metadata.unwrap_or_default(),
    };
    let space = state.service.create_space(&actor, new).await?;
    Ok(created(space_json(&state, &space)))
}

async fn update_space(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(false);
    let metadata = fields.metadata();
    fields.finish()?;
    let space = state
        .service
        .update_space(&actor, &guid, SpacePatch { name, metadata })
        .await?;
    Ok(Json(space_json(&state, &space)))
}

async fn delete_space(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_space(&actor, &guid).await)
}

async fn list_space_users(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        &format!("/v3/spaces/{guid}/users"),
        query.as_deref(),
        &USER_LIST,
        async |params| state.service.space_users(&actor, &guid, params).await,
        |u| user_json(&state, u),
    )
    .await
}

async fn list_space_features(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let (space, _) = state.service.space(&actor, &guid).await?;
    Ok(Json(json!({ "resources": [ssh_feature_json(&space)] })))
}

fn check_feature(name: &str) -> Result<(), Error> {
    if name == "ssh" {
        Ok(())
    } else {
        Err(Error::NotFound("Feature"))
    }
}

async fn get_space_feature(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, name)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    let (space, _) = state.service.space(&actor, &guid).await?;
    check_feature(&name)?;
    Ok(Json(ssh_feature_json(&space)))
}

async fn update_space_feature(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, name)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let enabled = fields.boolean("enabled", true);
    fields.finish()?;
    state.service.space(&actor, &guid).await?;
    check_feature(&name)?;
    let space = state
        .service
        .set_space_ssh(&actor, &guid, enabled.unwrap_or(true))
        .await?;
    Ok(Json(ssh_feature_json(&space)))
}
