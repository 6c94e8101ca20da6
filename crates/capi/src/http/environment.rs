//! `cf env`, `cf set-env`, `cf unset-env` and the environment variable groups.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner,
    apps::read_variables,
    extract::{Auth, Body},
    ts,
};
use crate::{
    Error,
    model::{App, EnvironmentVariableGroup, validation::Fields},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/apps/{guid}/env", get(get_env))
        .route(
            "/v3/apps/{guid}/environment_variables",
            get(get_environment_variables).patch(update_environment_variables),
        )
        .route(
            "/v3/environment_variable_groups/{name}",
            get(get_group).patch(update_group),
        )
}

fn variables_json(state: &Inner, app: &App) -> Value {
    let path = format!("/v3/apps/{}", app.guid);
    json!({
        "var": app.environment_variables,
        "links": {
            "self": state.link(&format!("{path}/environment_variables")),
            "app": state.link(&path),
        },
    })
}

fn group_json(state: &Inner, group: &EnvironmentVariableGroup) -> Value {
    json!({
        "name": group.name,
        "var": group.var,
        "updated_at": ts(group.updated_at),
        "links": {
            "self": state.link(&format!("/v3/environment_variable_groups/{}", group.name)),
        },
    })
}

async fn get_env(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let env = state.service.app_env(&actor, &guid).await?;
    let mut vcap = env.vcap_application;
    if let Some(obj) = vcap.as_object_mut() {
        obj.insert("cf_api".into(), json!(state.external_url));
    }
    Ok(Json(json!({
        "staging_env_json": env.staging,
        "running_env_json": env.running,
        "environment_variables": env.located.app.environment_variables,
        "system_env_json": { "VCAP_SERVICES": {} },
        "application_env_json": { "VCAP_APPLICATION": vcap },
    })))
}

async fn get_environment_variables(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let located = state.service.environment_variables(&actor, &guid).await?;
    Ok(Json(variables_json(&state, &located.app)))
}

/// `{"var": {"K": "V" | null}}`.
fn read_var(body: &Value) -> Result<BTreeMap<String, Option<String>>, Error> {
    let mut fields = Fields::of(body)?;
    let var = read_variables(&mut fields, "var", true);
    fields.finish()?;
    Ok(var)
}

async fn update_environment_variables(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let var = read_var(&body)?;
    let located = state
        .service
        .update_environment_variables(&actor, &guid, var)
        .await?;
    Ok(Json(variables_json(&state, &located.app)))
}

async fn get_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, Error> {
    let group = state
        .service
        .environment_variable_group(&actor, &name)
        .await?;
    Ok(Json(group_json(&state, &group)))
}

async fn update_group(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let var = read_var(&body)?;
    let group = state
        .service
        .update_environment_variable_group(&actor, &name, var)
        .await?;
    Ok(Json(group_json(&state, &group)))
}
