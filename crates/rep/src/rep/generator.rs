//! The generator: compares the BBS's records for this cell with the executor's containers
//! and says what to do about each difference. Pure; the harmonizer runs the operations.
//!
//! Inputs must be read containers first, then the BBS, so that a container the rep has
//! just claimed is never mistaken for one the BBS does not know.

use std::collections::BTreeMap;

use ingot_bbs::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, NetInfo, PortMapping, Task,
    TaskState,
};

use super::tags::{Workload, workload};
use crate::executor::{Container, ContainerState};

/// The crash reason for an instance the BBS thinks runs here but has no container.
pub const MISSING_CONTAINER: &str = "the container is missing from its cell";
/// The failure reason of a running task whose container has gone.
pub const MISSING_TASK_CONTAINER: &str = "task container does not exist";

/// One thing to do, keyed by a container (or instance, or task) guid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// The container is running: tell the BBS.
    StartLrp {
        guid: String,
        key: ActualLrpKey,
        instance: ActualLrpInstanceKey,
        net_info: NetInfo,
    },
    /// The instance ended (or its container is missing): crash it, then delete the
    /// container if there is one.
    CrashLrp {
        guid: String,
        key: ActualLrpKey,
        instance: ActualLrpInstanceKey,
        reason: String,
        has_container: bool,
    },
    /// The instance was stopped on purpose: remove its record and its container.
    RemoveLrp {
        guid: String,
        key: ActualLrpKey,
        instance: ActualLrpInstanceKey,
    },
    /// The BBS no longer wants what runs in this container.
    StopContainer { guid: String },
    /// A completed container with nothing left to report.
    DeleteContainer { guid: String },
    /// The task's container completed: report it (with its result file), then delete it.
    CompleteTask {
        guid: String,
        failed: bool,
        failure_reason: String,
        result_file: String,
    },
    /// The task runs here according to the BBS, but its container is gone.
    FailMissingTask { guid: String },
}

impl Operation {
    /// The guid operations are deduplicated by.
    pub fn guid(&self) -> &str {
        match self {
            Self::StartLrp { guid, .. }
            | Self::CrashLrp { guid, .. }
            | Self::RemoveLrp { guid, .. }
            | Self::StopContainer { guid }
            | Self::DeleteContainer { guid }
            | Self::CompleteTask { guid, .. }
            | Self::FailMissingTask { guid } => guid,
        }
    }
}

/// Where a running container is reached.
pub fn net_info(container: &Container) -> NetInfo {
    NetInfo {
        address: container.host_ip.clone(),
        instance_address: container.host_ip.clone(),
        ports: container
            .ports
            .iter()
            .map(|p| PortMapping {
                container_port: u32::from(p.container_port),
                host_port: u32::from(p.host_port),
            })
            .collect(),
    }
}

/// What to do so the BBS and the containers agree. `lrps` and `tasks` are the BBS's records
/// whose cell is `cell_id`; the result is ordered by guid.
pub fn plan(
    cell_id: &str,
    lrps: &[ActualLrp],
    tasks: &[Task],
    containers: &[Container],
) -> Vec<Operation> {
    let lrps: BTreeMap<&str, &ActualLrp> = lrps
        .iter()
        .filter(|l| l.cell_id == cell_id)
        .map(|l| (l.instance_guid.as_str(), l))
        .collect();
    let tasks: BTreeMap<&str, &Task> = tasks
        .iter()
        .filter(|t| t.cell_id == cell_id)
        .map(|t| (t.task_guid.as_str(), t))
        .collect();
    let mut ops = Vec::new();
    let mut seen_lrps = Vec::new();
    let mut seen_tasks = Vec::new();
    for container in containers {
        match workload(container, cell_id) {
            Some(Workload::Lrp { key, instance }) => {
                seen_lrps.push(container.guid.as_str());
                lrp_container(
                    container,
                    key,
                    instance,
                    lrps.get(container.guid.as_str()),
                    &mut ops,
                );
            }
            Some(Workload::Task { task_guid }) => {
                seen_tasks.push(task_guid.clone());
                task_container(container, tasks.get(task_guid.as_str()), &mut ops);
            }
            None => {}
        }
    }
    for (guid, lrp) in &lrps {
        let held = matches!(lrp.state, ActualLrpState::Claimed | ActualLrpState::Running);
        if held && !seen_lrps.contains(guid) {
            ops.push(Operation::CrashLrp {
                guid: (*guid).to_owned(),
                key: lrp.key(),
                instance: lrp.instance_key(),
                reason: MISSING_CONTAINER.to_owned(),
                has_container: false,
            });
        }
    }
    for (guid, task) in &tasks {
        if task.state == TaskState::Running && !seen_tasks.iter().any(|t| t == guid) {
            ops.push(Operation::FailMissingTask {
                guid: (*guid).to_owned(),
            });
        }
    }
    ops.sort_by(|a, b| a.guid().cmp(b.guid()));
    ops
}

fn lrp_container(
    container: &Container,
    key: ActualLrpKey,
    instance: ActualLrpInstanceKey,
    record: Option<&&ActualLrp>,
    ops: &mut Vec<Operation>,
) {
    let guid = container.guid.clone();
    let state = record.map(|r| r.state);
    match container.state {
        // The life cycle that allocated it is still claiming or creating.
        ContainerState::Reserved | ContainerState::Initializing => {}
        ContainerState::Created | ContainerState::Running => match state {
            None | Some(ActualLrpState::Unclaimed | ActualLrpState::Crashed) => {
                ops.push(Operation::StopContainer { guid });
            }
            Some(ActualLrpState::Claimed) if container.state == ContainerState::Running => {
                ops.push(Operation::StartLrp {
                    guid,
                    key,
                    instance,
                    net_info: net_info(container),
                });
            }
            Some(_) => {}
        },
        ContainerState::Completed => match state {
            Some(ActualLrpState::Claimed | ActualLrpState::Running) if container.result.stopped => {
                ops.push(Operation::RemoveLrp {
                    guid,
                    key,
                    instance,
                });
            }
            Some(ActualLrpState::Claimed | ActualLrpState::Running) => {
                let reason = if container.result.failure_reason.is_empty() {
                    "Exited with status 0".to_owned()
                } else {
                    container.result.failure_reason.clone()
                };
                ops.push(Operation::CrashLrp {
                    guid,
                    key,
                    instance,
                    reason,
                    has_container: true,
                });
            }
            _ => ops.push(Operation::DeleteContainer { guid }),
        },
    }
}

fn task_container(container: &Container, task: Option<&&Task>, ops: &mut Vec<Operation>) {
    let guid = container.guid.clone();
    let running_here = task.is_some_and(|t| t.state == TaskState::Running);
    match container.state {
        ContainerState::Reserved | ContainerState::Initializing => {}
        ContainerState::Created | ContainerState::Running => {
            if !running_here {
                ops.push(Operation::StopContainer { guid });
            }
        }
        ContainerState::Completed => match task {
            Some(task) if running_here => ops.push(Operation::CompleteTask {
                guid,
                failed: container.result.failed || container.result.stopped,
                failure_reason: if container.result.stopped {
                    "task was stopped".to_owned()
                } else {
                    container.result.failure_reason.clone()
                },
                result_file: task.task_definition.result_file.clone(),
            }),
            _ => ops.push(Operation::DeleteContainer { guid }),
        },
    }
}

#[cfg(test)]
mod tests;
