//! `/v3/apps`: list, show, create, update, delete, start/stop/restart and the current droplet.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::{MethodRouter, get, post},
};
use serde_json::{Value, json};

use super::{
    AppState, Included, Inner, Listing, accepted,
    builds::droplet_json,
    created,
    extract::{Auth, Body},
    list_page, metadata_json,
    organizations::organization_json,
    spaces::space_json,
    ts, with_included,
};
use crate::{
    Error,
    model::{
        App, LifecycleType, Organization, Space,
        query::{ListParams, ListSpec},
        validation::Fields,
    },
    service::{AppPatch, LifecyclePatch, NewApp},
};

const LIST: ListSpec = ListSpec {
    filters: &[
        "names",
        "guids",
        "space_guids",
        "organization_guids",
        "stacks",
        "lifecycle_type",
    ],
    includes: &["space", "space.organization"],
    order_by: &["name", "created_at", "updated_at"],
    label_selector: true,
};

const SHOW: ListSpec = ListSpec {
    filters: &[],
    includes: &["space", "space.organization"],
    order_by: &[],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/apps", get(list_apps).post(create_app))
        .route(
            "/v3/apps/{guid}",
            get(get_app).patch(update_app).delete(delete_app),
        )
        .route("/v3/apps/{guid}/actions/start", post_action(Action::Start))
        .route("/v3/apps/{guid}/actions/stop", post_action(Action::Stop))
        .route(
            "/v3/apps/{guid}/actions/restart",
            post_action(Action::Restart),
        )
        .route(
            "/v3/apps/{guid}/relationships/current_droplet",
            get(get_current_droplet_relationship).patch(set_current_droplet),
        )
        .route("/v3/apps/{guid}/droplets/current", get(get_current_droplet))
}

pub fn app_json(state: &Inner, app: &App) -> Value {
    let path = format!("/v3/apps/{}", app.guid);
    let link = |sub: &str| state.link(&format!("{path}/{sub}"));
    let action = |name: &str| json!({"href": state.url(&format!("{path}/actions/{name}")), "method": "POST"});
    json!({
        "guid": app.guid,
        "name": app.name,
        "state": app.state,
        "created_at": ts(app.created_at),
        "updated_at": ts(app.updated_at),
        "lifecycle": {
            "type": app.lifecycle.kind,
            "data": {
                "buildpacks": app.lifecycle.buildpacks,
                "stack": app.lifecycle.stack,
            },
        },
        "relationships": { "space": { "data": { "guid": app.space_guid } } },
        "metadata": metadata_json(&app.metadata),
        "links": {
            "self": state.link(&path),
            "space": state.link(&format!("/v3/spaces/{}", app.space_guid)),
            "processes": link("processes"),
            "packages": link("packages"),
            "environment_variables": link("environment_variables"),
            "current_droplet": link("droplets/current"),
            "droplets": link("droplets"),
            "tasks": link("tasks"),
            "start": action("start"),
            "stop": action("stop"),
            "restart": action("restart"),
            "revisions": link("revisions"),
            "deployed_revisions": link("revisions/deployed"),
            "features": link("features"),
        },
    })
}

/// `{"type", "data": {"buildpacks", "stack"}}` as create and `cf rename` send it.
fn read_lifecycle(fields: &mut Fields<'_>) -> Option<LifecyclePatch> {
    fields.object("lifecycle", false, |l| {
        let kind = match l.string("type", true).as_deref() {
            Some("buildpack") => Some(LifecycleType::Buildpack),
            Some("docker") => Some(LifecycleType::Docker),
            Some(_) => {
                l.error("Lifecycle type is not included in the list: buildpack, docker");
                None
            }
            None => None,
        };
        let data = l.object("data", false, |d| {
            let buildpacks = match d.raw("buildpacks") {
                None | Some(Value::Null) => None,
                Some(Value::Array(items)) => {
                    let names: Option<Vec<String>> = items
                        .iter()
                        .map(|b| b.as_str().map(str::to_owned))
                        .collect();
                    if names.is_none() {
                        d.error("Buildpacks can only contain strings");
                    }
                    names
                }
                Some(_) => {
                    d.error("Buildpacks must be an array");
                    None
                }
            };
            let stack = d.nullable_string("stack").flatten();
            Some((buildpacks, stack))
        });
        let (buildpacks, stack) = data.unwrap_or_default();
        Some(LifecyclePatch {
            kind,
            buildpacks,
            stack,
        })
    })
}

/// A `{"K": "V"}` object of environment variables; `null` values only where `nullable`.
pub(super) fn read_variables(
    fields: &mut Fields<'_>,
    key: &'static str,
    nullable: bool,
) -> std::collections::BTreeMap<String, Option<String>> {
    let mut out = std::collections::BTreeMap::new();
    match fields.raw(key) {
        None => {}
        Some(Value::Null) if nullable => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), Some(s.clone()));
                    }
                    Value::Null if nullable => {
                        out.insert(k.clone(), None);
                    }
                    other => fields.error(format!(
                        "Non-string value in environment variable for key '{k}', value '{other}'"
                    )),
                }
            }
        }
        Some(_) => fields.error(format!("{} must be an object", capitalise(key))),
    }
    out
}

fn capitalise(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `included` for `?include=space,space.organization`.
fn included_json(
    state: &Inner,
    params: &ListParams,
    spaces: &[Space],
    orgs: &[Organization],
) -> Option<Value> {
    Included::new(params)
        .add("space", "spaces", || {
            spaces.iter().map(|s| space_json(state, s)).collect()
        })
        .add("space.organization", "organizations", || {
            orgs.iter().map(|o| organization_json(state, o)).collect()
        })
        .build()
}

async fn list_apps(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/apps",
        query.as_deref(),
        &LIST,
        async |params| {
            let list = state.service.list_apps(&actor, params).await?;
            let included = included_json(&state, params, &list.spaces, &list.organizations);
            Ok(Listing {
                page: list.page,
                included,
            })
        },
        |a| app_json(&state, a),
    )
    .await
}

async fn get_app(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let params = ListParams::parse(query.as_deref(), &SHOW)?;
    let located = state.service.app(&actor, &guid).await?;
    let included = included_json(
        &state,
        &params,
        std::slice::from_ref(&located.space),
        std::slice::from_ref(&located.org),
    );
    Ok(Json(with_included(
        app_json(&state, &located.app),
        included,
    )))
}

async fn create_app(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(true);
    let space = fields.object("relationships", true, |rel| {
        rel.relationship_guid("space", true)
    });
    let lifecycle = read_lifecycle(&mut fields);
    let env = read_variables(&mut fields, "environment_variables", true);
    let metadata = fields.metadata();
    fields.finish()?;
    let new = NewApp {
        name: name.unwrap_or_default(),
        space_guid: space.unwrap_or_default(),
        lifecycle: lifecycle.unwrap_or_default(),
        environment_variables: env
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
        metadata: metadata.unwrap_or_default(),
    };
    let app = state.service.create_app(&actor, new).await?;
    Ok(created(app_json(&state, &app)))
}

async fn update_app(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let name = fields.name(false);
    let lifecycle = read_lifecycle(&mut fields);
    let metadata = fields.metadata();
    fields.finish()?;
    let patch = AppPatch {
        name,
        lifecycle,
        metadata,
    };
    let located = state.service.update_app(&actor, &guid, patch).await?;
    Ok(Json(app_json(&state, &located.app)))
}

async fn delete_app(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_app(&actor, &guid).await)
}

/// The actions `cf start`, `cf stop` and `cf restart` post; each answers with the app as it
/// now is.
#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
    Restart,
}

async fn app_action(
    action: Action,
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let service = &state.service;
    let located = match action {
        Action::Start => service.start_app(&actor, &guid).await?,
        Action::Stop => service.stop_app(&actor, &guid).await?,
        Action::Restart => service.restart_app(&actor, &guid).await?,
    };
    Ok(Json(app_json(&state, &located.app)))
}

/// The POST route for one action.
fn post_action(action: Action) -> MethodRouter<AppState> {
    post(move |state, actor, guid| app_action(action, state, actor, guid))
}

fn current_droplet_json(state: &Inner, app: &App) -> Value {
    let path = format!("/v3/apps/{}", app.guid);
    json!({
        "data": app.droplet_guid.as_ref().map(|g| json!({ "guid": g })),
        "links": {
            "self": state.link(&format!("{path}/relationships/current_droplet")),
            "related": state.link(&format!("{path}/droplets/current")),
        },
    })
}

async fn get_current_droplet_relationship(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let located = state.service.app(&actor, &guid).await?;
    Ok(Json(current_droplet_json(&state, &located.app)))
}

async fn set_current_droplet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let droplet = fields.object("data", true, |d| d.string("guid", true));
    fields.finish()?;
    let located = state
        .service
        .set_current_droplet(&actor, &guid, &droplet.unwrap_or_default())
        .await?;
    Ok(Json(current_droplet_json(&state, &located.app)))
}

/// 404 "Droplet not found" without one: `cf app` and `cf push` tolerate exactly that.
async fn get_current_droplet(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let droplet = state.service.current_droplet(&actor, &guid).await?;
    Ok(Json(droplet_json(&state, &droplet)))
}
