//! One file per resource. Handlers only decode, call the `BbsApi` and encode.

pub(crate) mod actual_lrps;
pub(crate) mod cells;
pub(crate) mod desired_lrps;
pub(crate) mod domains;
pub(crate) mod events;
pub(crate) mod tasks;

use axum::Json;

use super::messages::Empty;

pub(crate) type Reply<T> = Result<Json<T>, crate::error::Error>;

pub(crate) fn done() -> Reply<Empty> {
    Ok(Json(Empty {}))
}

pub(crate) async fn ping() -> &'static str {
    "pong"
}
