use axum::Json;
use axum::extract::State;

use super::{Reply, done};
use crate::http::Api;
use crate::http::extract::Body;
use crate::http::messages::{
    DesireLrpRequest, DesiredLrpResponse, DesiredLrpsResponse, Empty, ProcessGuidRequest,
    UpdateDesiredLrpRequest,
};
use crate::models::DesiredLrpFilter;

pub(crate) async fn desire_desired_lrp(
    State(api): State<Api>,
    Body(req): Body<DesireLrpRequest>,
) -> Reply<Empty> {
    api.desire_lrp(req.desired_lrp).await?;
    done()
}

pub(crate) async fn update_desired_lrp(
    State(api): State<Api>,
    Body(req): Body<UpdateDesiredLrpRequest>,
) -> Reply<Empty> {
    api.update_desired_lrp(&req.process_guid, req.update)
        .await?;
    done()
}

pub(crate) async fn remove_desired_lrp(
    State(api): State<Api>,
    Body(req): Body<ProcessGuidRequest>,
) -> Reply<Empty> {
    api.remove_desired_lrp(&req.process_guid).await?;
    done()
}

pub(crate) async fn list_desired_lrps(
    State(api): State<Api>,
    Body(filter): Body<DesiredLrpFilter>,
) -> Reply<DesiredLrpsResponse> {
    Ok(Json(DesiredLrpsResponse {
        desired_lrps: api.desired_lrps(filter).await?,
    }))
}

pub(crate) async fn desired_lrp_by_process_guid(
    State(api): State<Api>,
    Body(req): Body<ProcessGuidRequest>,
) -> Reply<DesiredLrpResponse> {
    Ok(Json(DesiredLrpResponse {
        desired_lrp: api.desired_lrp_by_process_guid(&req.process_guid).await?,
    }))
}
