//! `/v3/processes` and `/v3/apps/:guid/processes`: show, update (`cf set-health-check`),
//! scale (`cf scale`) and the (empty) sidecars.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{
    AppState, Inner,
    extract::{Auth, Body},
    list_page, metadata_json, ts,
};
use crate::{
    Error,
    model::{
        HealthCheckType,
        app_rules::{HealthCheckPatch, Scale, parse_health_check_type},
        query::ListSpec,
        validation::Fields,
    },
    service::{ProcessPatch, ProcessView},
};

const LIST: ListSpec = ListSpec {
    filters: &[
        "app_guids",
        "types",
        "guids",
        "space_guids",
        "organization_guids",
    ],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

const APP_LIST: ListSpec = ListSpec {
    filters: &["types", "guids"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

const SIDECARS: ListSpec = ListSpec {
    filters: &[],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/processes", get(list_processes))
        .route(
            "/v3/processes/{guid}",
            get(get_process).patch(update_process),
        )
        .route("/v3/processes/{guid}/actions/scale", post(scale_process))
        .route("/v3/processes/{guid}/sidecars", get(process_sidecars))
        .route("/v3/apps/{guid}/processes", get(list_app_processes))
        .route(
            "/v3/apps/{guid}/processes/{process_type}",
            get(get_app_process),
        )
        .route(
            "/v3/apps/{guid}/processes/{process_type}/actions/scale",
            post(scale_app_process),
        )
}

pub fn process_json(state: &Inner, view: &ProcessView) -> Value {
    let p = &view.process;
    let path = format!("/v3/processes/{}", p.guid);
    let mut data = json!({
        "timeout": p.health_check.timeout,
        "invocation_timeout": p.health_check.invocation_timeout,
    });
    if p.health_check.kind == HealthCheckType::Http
        && let Some(obj) = data.as_object_mut()
    {
        obj.insert("endpoint".into(), json!(p.health_check.endpoint));
    }
    json!({
        "guid": p.guid,
        "type": p.process_type,
        "command": view.command,
        "instances": p.instances,
        "memory_in_mb": p.memory_in_mb,
        "disk_in_mb": p.disk_in_mb,
        "log_rate_limit_in_bytes_per_second": p.log_rate_limit_in_bytes_per_second,
        "health_check": { "type": p.health_check.kind, "data": data },
        "readiness_health_check": {
            "type": "process",
            "data": { "invocation_timeout": null, "interval": null },
        },
        "relationships": {
            "app": { "data": { "guid": p.app_guid } },
            "revision": { "data": null },
        },
        "metadata": metadata_json(&p.metadata),
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "links": {
            "self": state.link(&path),
            "scale": {"href": state.url(&format!("{path}/actions/scale")), "method": "POST"},
            "app": state.link(&format!("/v3/apps/{}", p.app_guid)),
            "space": state.link(&format!("/v3/spaces/{}", view.space_guid)),
            "stats": state.link(&format!("{path}/stats")),
        },
    })
}

async fn list(
    state: &AppState,
    actor: &crate::service::Actor,
    path: &str,
    query: Option<&str>,
    spec: &ListSpec,
    app_guid: Option<&str>,
) -> Result<Json<Value>, Error> {
    list_page(
        state,
        path,
        query,
        spec,
        async |params| state.service.list_processes(actor, params, app_guid).await,
        |v| process_json(state, v),
    )
    .await
}

async fn list_processes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list(
        &state,
        &actor,
        "/v3/processes",
        query.as_deref(),
        &LIST,
        None,
    )
    .await
}

async fn list_app_processes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    let path = format!("/v3/apps/{guid}/processes");
    list(
        &state,
        &actor,
        &path,
        query.as_deref(),
        &APP_LIST,
        Some(&guid),
    )
    .await
}

async fn get_process(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let view = state.service.process(&actor, &guid).await?;
    Ok(Json(process_json(&state, &view)))
}

async fn get_app_process(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, process_type)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    let view = state
        .service
        .app_process(&actor, &guid, &process_type)
        .await?;
    Ok(Json(process_json(&state, &view)))
}

/// A seconds field that may be null (reset).
fn seconds(fields: &mut Fields<'_>, key: &'static str) -> Option<Option<i64>> {
    if !fields.has(key) {
        return None;
    }
    Some(fields.integer(key, false))
}

fn read_health_check(fields: &mut Fields<'_>) -> HealthCheckPatch {
    fields
        .object("health_check", false, |h| {
            let kind = match h.string("type", false) {
                Some(t) => {
                    let kind = parse_health_check_type(&t);
                    if kind.is_none() {
                        h.error("Health check type must be one of 'http', 'port', 'process'");
                    }
                    kind
                }
                None => None,
            };
            let data = h.object("data", false, |d| {
                Some(HealthCheckPatch {
                    kind: None,
                    endpoint: d.nullable_string("endpoint"),
                    timeout: seconds(d, "timeout"),
                    invocation_timeout: seconds(d, "invocation_timeout"),
                })
            });
            Some(HealthCheckPatch {
                kind,
                ..data.unwrap_or_default()
            })
        })
        .unwrap_or_default()
}

async fn update_process(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let command = fields.nullable_string("command");
    if let Some(Some(c)) = &command
        && !(1..=4096).contains(&c.chars().count())
    {
        fields.error("Command must be between 1 and 4096 characters");
    }
    let health_check = read_health_check(&mut fields);
    let metadata = fields.metadata();
    fields.finish()?;
    let patch = ProcessPatch {
        command,
        health_check,
        metadata,
    };
    let view = state.service.update_process(&actor, &guid, patch).await?;
    Ok(Json(process_json(&state, &view)))
}

fn read_scale(body: &Value) -> Result<Scale, Error> {
    let mut fields = Fields::of(body)?;
    let scale = Scale {
        instances: fields.integer("instances", false),
        memory_in_mb: fields.integer("memory_in_mb", false),
        disk_in_mb: fields.integer("disk_in_mb", false),
    };
    // CC accepts the log rate limit too; Ingot keeps it unlimited.
    let _ = fields.integer("log_rate_limit_in_bytes_per_second", false);
    fields.finish()?;
    Ok(scale)
}

async fn scale_process(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<(StatusCode, Json<Value>), Error> {
    let scale = read_scale(&body)?;
    let view = state.service.scale_process(&actor, &guid, scale).await?;
    Ok((StatusCode::ACCEPTED, Json(process_json(&state, &view))))
}

async fn scale_app_process(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((guid, process_type)): Path<(String, String)>,
    Body(body): Body,
) -> Result<(StatusCode, Json<Value>), Error> {
    let scale = read_scale(&body)?;
    let view = state
        .service
        .scale_app_process(&actor, &guid, &process_type, scale)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(process_json(&state, &view))))
}

/// Ingot runs no sidecars; the list is empty once the process is visible.
async fn process_sidecars(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        &format!("/v3/processes/{guid}/sidecars"),
        query.as_deref(),
        &SIDECARS,
        async |params| {
            state.service.process(&actor, &guid).await?;
            Ok(params.select(Vec::<crate::model::Process>::new()))
        },
        |_| Value::Null,
    )
    .await
}
