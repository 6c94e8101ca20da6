//! The rep's HTTP API, for distributed mode: the server puts any `RepClient` on HTTP, and
//! `HttpRepClient` implements `RepClient` (and so `CellClient`) over it. Routes are declared
//! once in `routes`.

mod client;
pub mod routes;
mod server;

pub use client::{HttpRepClient, HttpRepClients};
pub use server::router;

use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopLrpInstanceRequest {
    pub actual_lrp_key: ActualLrpKey,
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelTaskRequest {
    pub task_guid: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests;
