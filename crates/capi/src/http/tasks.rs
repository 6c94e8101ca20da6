//! Tasks: `/v3/apps/:guid/tasks`, `/v3/tasks`, cancelling (both the v3 action and the PUT
//! the cf CLI sends), and Diego's signed completion callback.

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde_json::{Value, json};

use super::{
    AppState, Inner,
    extract::{Auth, Body},
    list_page, metadata_json, ts,
};
use crate::{
    Error,
    model::{query::ListSpec, validation::Fields},
    service::{NewTask, TaskView, task_completed_path},
};

const APP_LIST: ListSpec = ListSpec {
    filters: &["names", "states", "guids", "sequence_ids"],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

const LIST: ListSpec = ListSpec {
    filters: &[
        "names",
        "states",
        "guids",
        "app_guids",
        "space_guids",
        "organization_guids",
    ],
    includes: &[],
    order_by: &["created_at", "updated_at"],
    label_selector: true,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/apps/{guid}/tasks",
            get(list_app_tasks).post(create_task),
        )
        .route("/v3/tasks", get(list_tasks))
        .route("/v3/tasks/{guid}", get(get_task))
        .route("/v3/tasks/{guid}/actions/cancel", post(cancel_task))
        .route("/v3/tasks/{guid}/cancel", put(cancel_task))
        .route("/internal/v4/tasks/{guid}/completed", post(task_completed))
}

pub fn task_json(state: &Inner, view: &TaskView) -> Value {
    let task = &view.task;
    let path = format!("/v3/tasks/{}", task.guid);
    let mut body = json!({
        "guid": task.guid,
        "sequence_id": task.sequence_id,
        "name": task.name,
        "state": task.state,
        "memory_in_mb": task.memory_in_mb,
        "disk_in_mb": task.disk_in_mb,
        "log_rate_limit_in_bytes_per_second": task.log_rate_limit_in_bytes_per_second,
        "result": { "failure_reason": task.failure_reason },
        "droplet_guid": task.droplet_guid,
        "relationships": { "app": { "data": { "guid": task.app_guid } } },
        "metadata": metadata_json(&task.metadata),
        "created_at": ts(task.created_at),
        "updated_at": ts(task.updated_at),
        "links": {
            "self": state.link(&path),
            "app": state.link(&format!("/v3/apps/{}", task.app_guid)),
            "cancel": { "href": state.url(&format!("{path}/actions/cancel")), "method": "POST" },
            "droplet": state.link(&format!("/v3/droplets/{}", task.droplet_guid)),
        },
    });
    // CC leaves the command out for callers who may not read the space's secrets.
    if view.show_command
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert("command".into(), json!(task.command));
    }
    body
}

/// A positive number of megabytes, if given.
fn megabytes(fields: &mut Fields<'_>, key: &'static str, label: &str) -> Option<u64> {
    let value = fields.integer(key, false)?;
    match u64::try_from(value) {
        Ok(mb) if mb > 0 => Some(mb),
        _ => {
            fields.error(format!("{label} must be greater than 0"));
            None
        }
    }
}

fn new_task(body: &Value) -> Result<NewTask, Error> {
    let mut fields = Fields::of(body)?;
    let command = fields.string("command", false);
    let name = fields.name(false);
    let memory_in_mb = megabytes(&mut fields, "memory_in_mb", "Memory in mb");
    let disk_in_mb = megabytes(&mut fields, "disk_in_mb", "Disk in mb");
    let log_rate_limit = fields.integer("log_rate_limit_in_bytes_per_second", false);
    if log_rate_limit.is_some_and(|limit| limit < -1) {
        fields.error("Log rate limit in bytes per second must be greater than or equal to -1");
    }
    let droplet_guid = fields.string("droplet_guid", false);
    let template_process_guid = fields.object("template", false, |t| {
        t.object("process", true, |p| p.string("guid", true))
    });
    let metadata = fields.metadata();
    fields.finish()?;
    Ok(NewTask {
        command,
        name,
        memory_in_mb,
        disk_in_mb,
        log_rate_limit_in_bytes_per_second: log_rate_limit,
        template_process_guid,
        droplet_guid,
        metadata: metadata.unwrap_or_default(),
    })
}

async fn create_task(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Response, Error> {
    let new = new_task(&body)?;
    let view = state.service.create_task(&actor, &guid, new).await?;
    Ok((StatusCode::ACCEPTED, Json(task_json(&state, &view))).into_response())
}

async fn list_app_tasks(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        &format!("/v3/apps/{guid}/tasks"),
        query.as_deref(),
        &APP_LIST,
        async |params| state.service.app_tasks(&actor, &guid, params).await,
        |t| task_json(&state, t),
    )
    .await
}

async fn list_tasks(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/tasks",
        query.as_deref(),
        &LIST,
        async |params| state.service.tasks(&actor, params).await,
        |t| task_json(&state, t),
    )
    .await
}

async fn get_task(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let view = state.service.task(&actor, &guid).await?;
    Ok(Json(task_json(&state, &view)))
}

async fn cancel_task(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    let view = state.service.cancel_task(&actor, &guid).await?;
    Ok((StatusCode::ACCEPTED, Json(task_json(&state, &view))).into_response())
}

/// Diego's completion callback, authenticated by the signed URL the task was desired with.
async fn task_completed(
    State(state): State<AppState>,
    Path(guid): Path<String>,
    uri: Uri,
    Body(body): Body,
) -> Result<StatusCode, Error> {
    state
        .service
        .verify_internal_request("POST", &task_completed_path(&guid), uri.query())?;
    let diego_task: ingot_bbs::Task =
        serde_json::from_value(body).map_err(|e| Error::MessageParse(e.to_string()))?;
    state.service.complete_task(&guid, &diego_task).await?;
    Ok(StatusCode::OK)
}
