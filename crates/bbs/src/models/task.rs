//! Tasks: one-off work (staging, `cf run-task`) and their state machine
//! PENDING -> RUNNING -> COMPLETED -> RESOLVING -> (deleted).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Action, EnvironmentVariable, InvalidTransition, Nanos, SecurityGroupRule, Validator};
use crate::error::Error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    #[default]
    Pending,
    Running,
    Completed,
    Resolving,
}

impl TaskState {
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Running,
        Self::Completed,
        Self::Resolving,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Resolving => "RESOLVING",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to run and with what; fixed once the task is desired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDefinition {
    pub root_fs: String,
    pub env: Vec<EnvironmentVariable>,
    pub action: Option<Action>,
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub max_pids: u32,
    pub cpu_weight: u32,
    pub log_guid: String,
    pub log_source: String,
    /// A file in the container whose contents become the task's `result`.
    pub result_file: String,
    /// Where the BBS POSTs the task once it completes.
    pub completion_callback_url: String,
    pub annotation: String,
    pub placement_tags: Vec<String>,
    /// Where the task may connect to; the cell denies everything else.
    pub egress_rules: Vec<SecurityGroupRule>,
}

impl TaskDefinition {
    pub fn validation_errors(&self) -> Vec<crate::error::FieldError> {
        let mut v = Validator::new();
        v.root_fs(&self.root_fs);
        v.action(self.action.as_ref());
        v.cpu_weight(self.cpu_weight);
        v.check(
            self.completion_callback_url.is_empty()
                || url::Url::parse(&self.completion_callback_url).is_ok(),
            "completion_callback_url",
            "must be a URL",
        );
        v.annotation(&self.annotation);
        v.egress_rules(&self.egress_rules);
        v.into_errors()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub task_guid: String,
    pub domain: String,
    pub task_definition: TaskDefinition,
    pub state: TaskState,
    pub cell_id: String,
    pub result: String,
    pub failed: bool,
    pub failure_reason: String,
    pub rejection_count: u32,
    pub rejection_reason: String,
    pub created_at: Nanos,
    pub updated_at: Nanos,
    pub first_completed_at: Nanos,
}

impl Task {
    /// A new PENDING task.
    pub fn pending(task_guid: &str, domain: &str, definition: TaskDefinition, now: Nanos) -> Self {
        Self {
            task_guid: task_guid.to_owned(),
            domain: domain.to_owned(),
            task_definition: definition,
            created_at: now,
            updated_at: now,
            ..Self::default()
        }
    }

    /// Every bad field, in one `Error::Validation`.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = Validator::new();
        v.guid(&self.task_guid, "task_guid");
        v.require(&self.domain, "domain");
        v.nested("task_definition", self.task_definition.validation_errors());
        v.finish()
    }
}

/// What can happen to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    /// A cell's rep starts the task.
    Start { cell_id: String },
    /// The cell running the task reports its end.
    Complete {
        cell_id: String,
        failed: bool,
        failure_reason: String,
        result: String,
    },
    /// The task ends without running to completion (cancelled, unplaceable, cell lost).
    Fail { failure_reason: String },
    /// The auction gave up on a PENDING task the cells kept refusing: the rejection is
    /// counted and the task fails with `reason`.
    Reject { reason: String },
    /// A client (or the callback worker) takes responsibility for the result.
    Resolving,
    /// The result was handled; the record goes away.
    Resolve,
}

impl TaskEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Complete { .. } => "complete",
            Self::Fail { .. } => "fail",
            Self::Reject { .. } => "reject",
            Self::Resolving => "resolving",
            Self::Resolve => "resolve",
        }
    }
}

/// Applies `event` to `before`. Starting a task the same cell already runs changes nothing
/// (the rep retries); `Resolve` returns the record unchanged and the caller deletes it.
pub fn transition(before: &Task, event: &TaskEvent, now: Nanos) -> Result<Task, InvalidTransition> {
    use TaskState::*;
    let mut after = before.clone();
    match (before.state, event) {
        (Pending, TaskEvent::Start { cell_id }) => {
            after.state = Running;
            after.cell_id.clone_from(cell_id);
        }
        (Running, TaskEvent::Start { cell_id }) if *cell_id == before.cell_id => return Ok(after),
        (
            Running,
            TaskEvent::Complete {
                cell_id,
                failed,
                failure_reason,
                result,
            },
        ) if *cell_id == before.cell_id => {
            after.state = Completed;
            after.failed = *failed;
            after.failure_reason.clone_from(failure_reason);
            after.result.clone_from(result);
            after.first_completed_at = now;
        }
        (Pending | Running, TaskEvent::Fail { failure_reason }) => {
            fail(&mut after, failure_reason, now);
        }
        (Pending, TaskEvent::Reject { reason }) => {
            after.rejection_count += 1;
            after.rejection_reason.clone_from(reason);
            fail(&mut after, reason, now);
        }
        (Completed, TaskEvent::Resolving) => after.state = Resolving,
        (Resolving, TaskEvent::Resolve) => return Ok(after),
        _ => return Err(InvalidTransition::new(before.state, event.name())),
    }
    after.updated_at = now;
    Ok(after)
}

fn fail(task: &mut Task, failure_reason: &str, now: Nanos) {
    task.state = TaskState::Completed;
    task.failed = true;
    task.failure_reason = failure_reason.to_owned();
    task.result.clear();
    task.first_completed_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    fn task(state: TaskState) -> Task {
        let mut t = Task::pending("t", "cf-tasks", TaskDefinition::default(), 0);
        t.state = state;
        if state != Pending {
            t.cell_id = "cell-1".into();
        }
        t
    }

    #[test]
    fn every_state_and_event() {
        let complete = |cell: &str| TaskEvent::Complete {
            cell_id: cell.into(),
            failed: false,
            failure_reason: String::new(),
            result: "ok".into(),
        };
        let events = [
            (
                "start here",
                TaskEvent::Start {
                    cell_id: "cell-1".into(),
                },
            ),
            (
                "start elsewhere",
                TaskEvent::Start {
                    cell_id: "cell-2".into(),
                },
            ),
            ("complete here", complete("cell-1")),
            ("complete elsewhere", complete("cell-2")),
            (
                "fail",
                TaskEvent::Fail {
                    failure_reason: "x".into(),
                },
            ),
            ("reject", TaskEvent::Reject { reason: "x".into() }),
            ("resolving", TaskEvent::Resolving),
            ("resolve", TaskEvent::Resolve),
        ];
        // Columns: PENDING, RUNNING, COMPLETED, RESOLVING; None = refused.
        let table: [[Option<TaskState>; 4]; 8] = [
            [Some(Running), Some(Running), None, None],
            [Some(Running), None, None, None],
            [None, Some(Completed), None, None],
            [None, None, None, None],
            [Some(Completed), Some(Completed), None, None],
            [Some(Completed), None, None, None],
            [None, None, Some(Resolving), None],
            [None, None, None, Some(Resolving)],
        ];
        for ((name, event), row) in events.iter().zip(table) {
            for (state, want) in TaskState::ALL.into_iter().zip(row) {
                let got = transition(&task(state), event, 5).map(|t| t.state).ok();
                assert_eq!(got, want, "{state} + {name}");
            }
        }
    }

    #[test]
    fn fail_and_complete_record_the_outcome() {
        let failed = transition(
            &task(Pending),
            &TaskEvent::Fail {
                failure_reason: "task was cancelled".into(),
            },
            7,
        )
        .unwrap();
        assert!(failed.failed);
        assert_eq!(failed.failure_reason, "task was cancelled");
        assert_eq!((failed.first_completed_at, failed.updated_at), (7, 7));
        assert_eq!(failed.rejection_count, 0, "a plain failure is no rejection");

        let rejected = transition(
            &task(Pending),
            &TaskEvent::Reject {
                reason: "cell full".into(),
            },
            8,
        )
        .unwrap();
        assert!(rejected.failed);
        assert_eq!(
            (
                rejected.rejection_count,
                rejected.rejection_reason.as_str(),
                rejected.failure_reason.as_str()
            ),
            (1, "cell full", "cell full")
        );
        assert_eq!((rejected.first_completed_at, rejected.updated_at), (8, 8));

        let repeat = transition(
            &task(Running),
            &TaskEvent::Start {
                cell_id: "cell-1".into(),
            },
            9,
        )
        .unwrap();
        assert_eq!(repeat, task(Running), "a repeated start changes nothing");
    }

    #[test]
    fn validation_collects_every_bad_field() {
        let definition = TaskDefinition {
            egress_rules: vec![crate::models::SecurityGroupRule {
                protocol: crate::models::Protocol::All,
                destinations: Vec::new(),
                ports: Vec::new(),
                port_range: None,
                icmp_info: None,
                log: false,
                annotations: Vec::new(),
            }],
            ..TaskDefinition::default()
        };
        let t = Task::pending("", "", definition, 0);
        let Err(Error::Validation { errors }) = t.validate() else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "task_guid",
                "domain",
                "task_definition.root_fs",
                "task_definition.action",
                "task_definition.egress_rules[0].destinations"
            ]
        );
    }
}
