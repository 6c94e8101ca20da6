use std::time::Duration;

use axum::Json;
use axum::extract::State;

use super::{Reply, done};
use crate::http::Api;
use crate::http::extract::Body;
use crate::http::messages::{CellsResponse, Empty, RegisterCellRequest};

pub(crate) async fn list_cells(State(api): State<Api>) -> Reply<CellsResponse> {
    Ok(Json(CellsResponse {
        cells: api.cells().await?,
    }))
}

pub(crate) async fn register_cell(
    State(api): State<Api>,
    Body(req): Body<RegisterCellRequest>,
) -> Reply<Empty> {
    api.register_cell(req.cell_presence, Duration::from_secs(req.ttl))
        .await?;
    done()
}
