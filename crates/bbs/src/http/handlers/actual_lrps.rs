use axum::Json;
use axum::extract::State;

use super::{Reply, done};
use crate::http::Api;
use crate::http::extract::Body;
use crate::http::messages::{
    ActualLrpsResponse, ClaimActualLrpRequest, CrashActualLrpRequest, Empty, FailActualLrpRequest,
    RemoveActualLrpRequest, RetireActualLrpRequest, StartActualLrpRequest,
};
use crate::models::ActualLrpFilter;

pub(crate) async fn list_actual_lrps(
    State(api): State<Api>,
    Body(filter): Body<ActualLrpFilter>,
) -> Reply<ActualLrpsResponse> {
    Ok(Json(ActualLrpsResponse {
        actual_lrps: api.actual_lrps(filter).await?,
    }))
}

pub(crate) async fn claim_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<ClaimActualLrpRequest>,
) -> Reply<Empty> {
    api.claim_actual_lrp(&req.actual_lrp_key, &req.actual_lrp_instance_key)
        .await?;
    done()
}

pub(crate) async fn start_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<StartActualLrpRequest>,
) -> Reply<Empty> {
    api.start_actual_lrp(
        &req.actual_lrp_key,
        &req.actual_lrp_instance_key,
        req.actual_lrp_net_info,
    )
    .await?;
    done()
}

pub(crate) async fn crash_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<CrashActualLrpRequest>,
) -> Reply<Empty> {
    api.crash_actual_lrp(
        &req.actual_lrp_key,
        &req.actual_lrp_instance_key,
        &req.error_message,
    )
    .await?;
    done()
}

pub(crate) async fn fail_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<FailActualLrpRequest>,
) -> Reply<Empty> {
    api.fail_actual_lrp(&req.actual_lrp_key, &req.error_message)
        .await?;
    done()
}

pub(crate) async fn remove_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<RemoveActualLrpRequest>,
) -> Reply<Empty> {
    api.remove_actual_lrp(&req.actual_lrp_key, req.actual_lrp_instance_key.as_ref())
        .await?;
    done()
}

pub(crate) async fn retire_actual_lrp(
    State(api): State<Api>,
    Body(req): Body<RetireActualLrpRequest>,
) -> Reply<Empty> {
    api.retire_actual_lrp(&req.actual_lrp_key).await?;
    done()
}
