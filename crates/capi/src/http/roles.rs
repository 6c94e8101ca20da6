use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, Listing, accepted, created,
    extract::{Auth, Body},
    list_page,
    organizations::organization_json,
    spaces::space_json,
    ts,
    users::user_json,
    with_included,
};
use crate::{
    Error,
    model::{
        Role, RoleType,
        query::{ListParams, ListSpec},
        validation::Fields,
    },
    service::{NewRole, RoleList, RoleUser},
};

const LIST: ListSpec = ListSpec {
    filters: &[
        "guids",
        "types",
        "organization_guids",
        "space_guids",
        "user_guids",
    ],
    includes: &["user", "space", "organization"],
    order_by: &["created_at", "updated_at"],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/roles", get(list_roles).post(create_role))
        .route("/v3/roles/{guid}", get(get_role).delete(delete_role))
}

pub fn role_json(state: &Inner, role: &Role) -> Value {
    let (org, space) = match &role.space_guid {
        Some(space) => (Value::Null, json!({ "guid": space })),
        None => (json!({ "guid": role.organization_guid }), Value::Null),
    };
    let mut links = serde_json::Map::new();
    links.insert(
        "self".into(),
        state.link(&format!("/v3/roles/{}", role.guid)),
    );
    links.insert(
        "user".into(),
        state.link(&format!("/v3/users/{}", role.user_guid)),
    );
    match &role.space_guid {
        Some(space) => links.insert("space".into(), state.link(&format!("/v3/spaces/{space}"))),
        None => links.insert(
            "organization".into(),
            state.link(&format!("/v3/organizations/{}", role.organization_guid)),
        ),
    };
    json!({
        "guid": role.guid,
        "created_at": ts(role.created_at),
        "updated_at": ts(role.updated_at),
        "type": role.role_type.as_str(),
        "relationships": {
            "user": { "data": { "guid": role.user_guid } },
            "organization": { "data": org },
            "space": { "data": space },
        },
        "links": links,
    })
}

/// `included` for the resources `include` asked for.
fn included_json(state: &Inner, params: &ListParams, list: &RoleList) -> Option<Value> {
    let mut included = serde_json::Map::new();
    if params.includes("user") {
        let users: Vec<Value> = list.users.iter().map(|u| user_json(state, u)).collect();
        included.insert("users".into(), json!(users));
    }
    if params.includes("space") {
        let spaces: Vec<Value> = list.spaces.iter().map(|s| space_json(state, s)).collect();
        included.insert("spaces".into(), json!(spaces));
    }
    if params.includes("organization") {
        let orgs: Vec<Value> = list
            .organizations
            .iter()
            .map(|o| organization_json(state, o))
            .collect();
        included.insert("organizations".into(), json!(orgs));
    }
    (!params.include.is_empty()).then_some(Value::Object(included))
}

async fn list_roles(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/roles",
        query.as_deref(),
        &LIST,
        async |params| {
            if let Some(types) = params.filters.get("types")
                && let Some(bad) = types.iter().find(|t| RoleType::parse(t).is_none())
            {
                return Err(Error::BadQuery(format!("Types has invalid value '{bad}'")));
            }
            let list = state.service.list_roles(&actor, params).await?;
            let included = included_json(&state, params, &list);
            Ok(Listing {
                page: list.page,
                included,
            })
        },
        |r| role_json(&state, r),
    )
    .await
}

async fn get_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let show = ListSpec {
        filters: &[],
        order_by: &[],
        ..LIST
    };
    let mut params = ListParams::parse(query.as_deref(), &show)?;
    let role = state.service.role(&actor, &guid).await?;
    let mut included = None;
    if !params.include.is_empty() {
        // The list query already knows how to gather included resources for a page.
        params
            .filters
            .insert("guids".into(), vec![role.guid.clone()]);
        let list = state.service.list_roles(&actor, &params).await?;
        included = included_json(&state, &params, &list);
    }
    Ok(Json(with_included(role_json(&state, &role), included)))
}

/// Reads `{"type", "relationships": {"organization"|"space", "user"}}`.
fn read_new_role(body: &Value) -> Result<NewRole, Error> {
    let mut fields = Fields::of(body)?;
    let raw_type = fields.string("type", true);
    let role_type = raw_type.as_deref().and_then(RoleType::parse);
    if raw_type.is_some() && role_type.is_none() {
        let allowed: Vec<&str> = RoleType::ALL.iter().map(|t| t.as_str()).collect();
        fields.error(format!(
            "Type must be one of the allowed types {}",
            allowed.join(", ")
        ));
    }
    let relationships = fields.object("relationships", true, |rel| {
        let org = if rel.has("organization") {
            rel.relationship_guid("organization", true)
        } else {
            None
        };
        let space = if rel.has("space") {
            rel.relationship_guid("space", true)
        } else {
            None
        };
        let user = rel.object("user", true, |u| {
            u.object("data", true, |d| {
                let guid = d.string("guid", false);
                let username = d.string("username", false);
                let origin = d.string("origin", false);
                match (guid, username) {
                    (Some(g), None) => Some(RoleUser::Guid(g)),
                    (None, Some(username)) => Some(RoleUser::Username {
                        username,
                        // The CLI sends "" when no origin was given.
                        origin: origin.filter(|o| !o.is_empty()),
                    }),
                    _ => {
                        d.error("User must have either guid or username");
                        None
                    }
                }
            })
        });
        Some((org, space, user))
    });
    let mut resource = None;
    let mut user = None;
    if let (Some(t), Some((org, space, u))) = (role_type, relationships) {
        user = u;
        resource = match (t.is_space_role(), org, space) {
            (true, None, Some(space)) => Some(space),
            (false, Some(org), None) => Some(org),
            (true, _, _) => {
                fields.error("Relationships space is required for space roles and organization must not be given");
                None
            }
            (false, _, _) => {
                fields.error("Relationships organization is required for organization roles and space must not be given");
                None
            }
        };
    }
    fields.finish()?;
    match (role_type, resource, user) {
        (Some(role_type), Some(resource_guid), Some(user)) => Ok(NewRole {
            role_type,
            resource_guid,
            user,
        }),
        _ => Err(Error::Validation(vec!["Invalid role".into()])),
    }
}

async fn create_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let new = read_new_role(&body)?;
    let role = state.service.create_role(&actor, new).await?;
    Ok(created(role_json(&state, &role)))
}

async fn delete_role(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_role(&actor, &guid).await)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_role_bodies() {
        let by_name = json!({"type": "space_developer", "relationships": {
            "space": {"data": {"guid": "s"}},
            "user": {"data": {"username": "bob", "origin": "uaa"}}}});
        let role = read_new_role(&by_name).expect("valid");
        assert_eq!(role.resource_guid, "s");
        assert_eq!(
            role.user,
            RoleUser::Username {
                username: "bob".into(),
                origin: Some("uaa".into())
            }
        );
        let wrong = json!({"type": "organization_user", "relationships": {
            "space": {"data": {"guid": "s"}}, "user": {"data": {"guid": "u"}}}});
        assert!(matches!(read_new_role(&wrong), Err(Error::Validation(_))));
        let bad_type = json!({"type": "boss", "relationships": {
            "organization": {"data": {"guid": "o"}}, "user": {"data": {"guid": "u"}}}});
        let err = read_new_role(&bad_type).expect_err("bad type").to_string();
        assert!(
            err.starts_with("Type must be one of the allowed types"),
            "{err}"
        );
    }
}
