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
    guid_list, list_page, to_many_guids, ts,
};
use crate::{
    Error,
    model::{
        GloballyEnabled, SecurityGroupLifecycle, SecurityGroupView,
        query::ListSpec,
        security_group_rule::{ReadRules, Rule, read_rules},
        validation::Fields,
    },
    service::{Actor, NewSecurityGroup, SecurityGroupPatch},
};

use SecurityGroupLifecycle::{Running, Staging};

/// CC's longest security group name.
const MAX_NAME_LENGTH: usize = 250;

const LIST: ListSpec = ListSpec {
    filters: &[
        "guids",
        "names",
        "globally_enabled_running",
        "globally_enabled_staging",
        "running_space_guids",
        "staging_space_guids",
    ],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: false,
};

const SPACE_LIST: ListSpec = ListSpec {
    filters: &["guids", "names"],
    ..LIST
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/security_groups",
            get(list_security_groups).post(create_security_group),
        )
        .route(
            "/v3/security_groups/{guid}",
            get(get_security_group)
                .patch(update_security_group)
                .delete(delete_security_group),
        )
        .merge(lifecycle_routes(Running))
        .merge(lifecycle_routes(Staging))
}

pub fn security_group_json(state: &Inner, view: &SecurityGroupView) -> Value {
    let group = &view.group;
    json!({
        "guid": group.guid,
        "created_at": ts(group.created_at),
        "updated_at": ts(group.updated_at),
        "name": group.name,
        "globally_enabled": {
            "running": group.globally_enabled.running,
            "staging": group.globally_enabled.staging,
        },
        "rules": group.rules,
        "relationships": {
            "running_spaces": { "data": guid_list(&view.running_spaces) },
            "staging_spaces": { "data": guid_list(&view.staging_spaces) },
        },
        "links": { "self": state.link(&format!("/v3/security_groups/{}", group.guid)) },
    })
}

/// `rules`, if given: CAPI's message-level problems join the request's others.
fn rules_field(fields: &mut Fields<'_>) -> Option<ReadRules> {
    match read_rules(fields.raw("rules")?) {
        Ok(read) => Some(read),
        Err(problems) => {
            for problem in problems {
                fields.error(problem);
            }
            None
        }
    }
}

/// CC's model check, run after every other: fields a rule's protocol does not take, and the
/// size of the rules.
fn rules_for_storage(read: Option<ReadRules>) -> Result<Option<Vec<Rule>>, Error> {
    match read {
        Some(read) if !read.model_problems.is_empty() => {
            Err(Error::Validation(read.model_problems))
        }
        other => Ok(other.map(|read| read.rules)),
    }
}

/// A group's name: at most 250 characters; on create it must not be blank.
fn name(fields: &mut Fields<'_>, create: bool) -> Option<String> {
    let name = fields.string("name", create)?;
    if create && name.trim().is_empty() {
        fields.error("Name can't be blank");
    } else if name.is_empty() {
        fields.error("Name is too short (minimum is 1 character)");
    } else if name.chars().count() > MAX_NAME_LENGTH {
        fields.error(format!(
            "Name is too long (maximum is {MAX_NAME_LENGTH} characters)"
        ));
    } else {
        return Some(name);
    }
    None
}

/// `{"running": bool, "staging": bool}`, either may be left out.
fn globally_enabled(fields: &mut Fields<'_>) -> Option<(Option<bool>, Option<bool>)> {
    let value = fields.raw("globally_enabled").filter(|v| !v.is_null())?;
    let Some(obj) = value.as_object() else {
        fields.error("Globally enabled must be an object");
        return None;
    };
    if obj.keys().any(|k| k != "running" && k != "staging") {
        fields.error("Globally enabled only allows keys 'running' or 'staging'");
        return None;
    }
    if obj.values().any(|v| !v.is_boolean()) {
        fields.error("Globally enabled values must be booleans");
        return None;
    }
    let flag = |key: &str| obj.get(key).and_then(Value::as_bool);
    Some((flag("running"), flag("staging")))
}

async fn list_security_groups(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/security_groups",
        query.as_deref(),
        &LIST,
        async |params| state.service.list_security_groups(&actor, params).await,
        |v| security_group_json(&state, v),
    )
    .await
}

async fn get_security_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let view = state.service.security_group(&actor, &guid).await?;
    Ok(Json(security_group_json(&state, &view)))
}

async fn create_security_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let spaces = fields.object("relationships", false, |rel| {
        let mut read = |key| rel.object(key, false, |r| to_many_guids(r, "data", true));
        Some((read("running_spaces"), read("staging_spaces")))
    });
    let rules = rules_field(&mut fields);
    let name = name(&mut fields, true);
    let enabled = globally_enabled(&mut fields);
    fields.finish()?;
    let rules = rules_for_storage(rules)?;
    let (running_spaces, staging_spaces) = spaces.unwrap_or_default();
    let (running, staging) = enabled.unwrap_or_default();
    let new = NewSecurityGroup {
        name: name.unwrap_or_default(),
        globally_enabled: GloballyEnabled {
            running: running.unwrap_or(false),
            staging: staging.unwrap_or(false),
        },
        rules: rules.unwrap_or_default(),
        running_spaces: running_spaces.unwrap_or_default(),
        staging_spaces: staging_spaces.unwrap_or_default(),
    };
    let view = state.service.create_security_group(&actor, new).await?;
    Ok(created(security_group_json(&state, &view)))
}

async fn update_security_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let rules = rules_field(&mut fields);
    let name = name(&mut fields, false);
    let (running, staging) = globally_enabled(&mut fields).unwrap_or_default();
    fields.finish()?;
    let patch = SecurityGroupPatch {
        name,
        running,
        staging,
        rules: rules_for_storage(rules)?,
    };
    let view = state
        .service
        .update_security_group(&actor, &guid, patch)
        .await?;
    Ok(Json(security_group_json(&state, &view)))
}

async fn delete_security_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(
        &state,
        state.service.delete_security_group(&actor, &guid).await,
    )
}

async fn bind(
    state: &Inner,
    actor: &Actor,
    guid: &str,
    lifecycle: SecurityGroupLifecycle,
    body: &Value,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(body)?;
    let guids = to_many_guids(&mut fields, "data", true);
    if guids.as_ref().is_some_and(Vec::is_empty) {
        fields.error("Data can't be blank");
    }
    fields.finish()?;
    let bound = state
        .service
        .bind_security_group(actor, guid, lifecycle, &guids.unwrap_or_default())
        .await?;
    let path = format!(
        "/v3/security_groups/{guid}/relationships/{}_spaces",
        lifecycle.as_str()
    );
    Ok(Json(json!({
        "data": guid_list(&bound),
        "links": { "self": state.link(&path) },
    })))
}

async fn space_security_groups(
    state: &Inner,
    actor: &Actor,
    space_guid: &str,
    lifecycle: SecurityGroupLifecycle,
    query: Option<&str>,
) -> Result<Json<Value>, Error> {
    let path = format!(
        "/v3/spaces/{space_guid}/{}_security_groups",
        lifecycle.as_str()
    );
    list_page(
        state,
        &path,
        query,
        &SPACE_LIST,
        async |params| {
            state
                .service
                .space_security_groups(actor, space_guid, lifecycle, params)
                .await
        },
        |v| security_group_json(state, v),
    )
    .await
}

/// The routes of one lifecycle (running or staging): binding groups to spaces, unbinding
/// them, and the groups of a space.
fn lifecycle_routes(lifecycle: SecurityGroupLifecycle) -> Router<AppState> {
    let kind = lifecycle.as_str();
    Router::new()
        .route(
            &format!("/v3/security_groups/{{guid}}/relationships/{kind}_spaces"),
            post(
                move |State(state): State<AppState>,
                      Auth(actor): Auth,
                      Path(guid): Path<String>,
                      Body(body): Body| async move {
                    bind(&state, &actor, &guid, lifecycle, &body).await
                },
            ),
        )
        .route(
            &format!("/v3/security_groups/{{guid}}/relationships/{kind}_spaces/{{space_guid}}"),
            delete(
                move |State(state): State<AppState>,
                      Auth(actor): Auth,
                      Path((guid, space_guid)): Path<(String, String)>| async move {
                    state
                        .service
                        .unbind_security_group(&actor, &guid, lifecycle, &space_guid)
                        .await?;
                    Ok::<_, Error>(StatusCode::NO_CONTENT)
                },
            ),
        )
        .route(
            &format!("/v3/spaces/{{guid}}/{kind}_security_groups"),
            get(
                move |State(state): State<AppState>,
                      Auth(actor): Auth,
                      Path(guid): Path<String>,
                      RawQuery(query): RawQuery| async move {
                    space_security_groups(&state, &actor, &guid, lifecycle, query.as_deref()).await
                },
            ),
        )
}
