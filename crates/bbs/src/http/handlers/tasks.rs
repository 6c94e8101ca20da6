use axum::Json;
use axum::extract::State;

use super::{Reply, done};
use crate::http::Api;
use crate::http::extract::Body;
use crate::http::messages::{
    CompleteTaskRequest, DesireTaskRequest, Empty, FailTaskRequest, StartTaskRequest,
    StartTaskResponse, TaskGuidRequest, TaskResponse, TasksResponse,
};
use crate::models::TaskFilter;

pub(crate) async fn desire_task(
    State(api): State<Api>,
    Body(req): Body<DesireTaskRequest>,
) -> Reply<Empty> {
    api.desire_task(&req.task_guid, &req.domain, req.task_definition)
        .await?;
    done()
}

pub(crate) async fn list_tasks(
    State(api): State<Api>,
    Body(filter): Body<TaskFilter>,
) -> Reply<TasksResponse> {
    Ok(Json(TasksResponse {
        tasks: api.tasks(filter).await?,
    }))
}

pub(crate) async fn task_by_guid(
    State(api): State<Api>,
    Body(req): Body<TaskGuidRequest>,
) -> Reply<TaskResponse> {
    Ok(Json(TaskResponse {
        task: api.task_by_guid(&req.task_guid).await?,
    }))
}

pub(crate) async fn start_task(
    State(api): State<Api>,
    Body(req): Body<StartTaskRequest>,
) -> Reply<StartTaskResponse> {
    Ok(Json(StartTaskResponse {
        should_start: api.start_task(&req.task_guid, &req.cell_id).await?,
    }))
}

pub(crate) async fn cancel_task(
    State(api): State<Api>,
    Body(req): Body<TaskGuidRequest>,
) -> Reply<Empty> {
    api.cancel_task(&req.task_guid).await?;
    done()
}

pub(crate) async fn fail_task(
    State(api): State<Api>,
    Body(req): Body<FailTaskRequest>,
) -> Reply<Empty> {
    api.fail_task(&req.task_guid, &req.failure_reason).await?;
    done()
}

pub(crate) async fn complete_task(
    State(api): State<Api>,
    Body(req): Body<CompleteTaskRequest>,
) -> Reply<Empty> {
    api.complete_task(
        &req.task_guid,
        &req.cell_id,
        req.failed,
        &req.failure_reason,
        &req.result,
    )
    .await?;
    done()
}

pub(crate) async fn resolving_task(
    State(api): State<Api>,
    Body(req): Body<TaskGuidRequest>,
) -> Reply<Empty> {
    api.resolving_task(&req.task_guid).await?;
    done()
}

pub(crate) async fn delete_task(
    State(api): State<Api>,
    Body(req): Body<TaskGuidRequest>,
) -> Reply<Empty> {
    api.delete_task(&req.task_guid).await?;
    done()
}
