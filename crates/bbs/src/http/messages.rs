//! Request and response bodies, shared by the server and `BbsClient`. Field names follow
//! Diego's (`actual_lrp_key`, `error_message`, ...).

use serde::{Deserialize, Serialize};

use crate::models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, CellPresence, DesiredLrp, DesiredLrpUpdate,
    NetInfo, Task, TaskDefinition,
};

/// The body of a successful call that returns nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertDomainRequest {
    pub domain: String,
    /// Seconds; 0 never expires.
    #[serde(default)]
    pub ttl: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainsResponse {
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellsResponse {
    pub cells: Vec<CellPresence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterCellRequest {
    pub cell_presence: CellPresence,
    /// Seconds; 0 means the default (15 s).
    #[serde(default)]
    pub ttl: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesireLrpRequest {
    pub desired_lrp: DesiredLrp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDesiredLrpRequest {
    pub process_guid: String,
    pub update: DesiredLrpUpdate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessGuidRequest {
    pub process_guid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredLrpsResponse {
    pub desired_lrps: Vec<DesiredLrp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredLrpResponse {
    pub desired_lrp: DesiredLrp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualLrpsResponse {
    pub actual_lrps: Vec<ActualLrp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
    #[serde(default)]
    pub actual_lrp_net_info: NetInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
    #[serde(default)]
    pub error_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
    #[serde(default)]
    pub error_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_lrp_instance_key: Option<ActualLrpInstanceKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireActualLrpRequest {
    pub actual_lrp_key: ActualLrpKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesireTaskRequest {
    pub task_guid: String,
    pub domain: String,
    pub task_definition: TaskDefinition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksResponse {
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResponse {
    pub task: Task,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskGuidRequest {
    pub task_guid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTaskRequest {
    pub task_guid: String,
    pub cell_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTaskResponse {
    pub should_start: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailTaskRequest {
    pub task_guid: String,
    #[serde(default)]
    pub failure_reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteTaskRequest {
    pub task_guid: String,
    pub cell_id: String,
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub failure_reason: String,
    #[serde(default)]
    pub result: String,
}
