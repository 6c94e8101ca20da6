//! What the events stream carries. ActualLRP changes use Diego's newer instance events
//! (`actual_lrp_instance_created/changed/removed`), one ActualLRP per event, never groups.
//! Records are boxed so an event is small to queue; serde does not see the boxes.

use serde::{Deserialize, Serialize};

use super::{ActualLrp, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp, Nanos, Task};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    DesiredLrpCreated {
        desired_lrp: Box<DesiredLrp>,
    },
    DesiredLrpChanged {
        before: Box<DesiredLrp>,
        after: Box<DesiredLrp>,
    },
    DesiredLrpRemoved {
        desired_lrp: Box<DesiredLrp>,
    },
    ActualLrpInstanceCreated {
        actual_lrp: Box<ActualLrp>,
    },
    ActualLrpInstanceChanged {
        before: Box<ActualLrp>,
        after: Box<ActualLrp>,
    },
    ActualLrpInstanceRemoved {
        actual_lrp: Box<ActualLrp>,
    },
    ActualLrpCrashed {
        actual_lrp_key: ActualLrpKey,
        actual_lrp_instance_key: ActualLrpInstanceKey,
        crash_count: u32,
        crash_reason: String,
        since: Nanos,
    },
    TaskCreated {
        task: Box<Task>,
    },
    TaskChanged {
        before: Box<Task>,
        after: Box<Task>,
    },
    TaskRemoved {
        task: Box<Task>,
    },
}

impl Event {
    /// The wire name, e.g. `desired_lrp_created` (the SSE `event:` field).
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::DesiredLrpCreated { .. } => "desired_lrp_created",
            Self::DesiredLrpChanged { .. } => "desired_lrp_changed",
            Self::DesiredLrpRemoved { .. } => "desired_lrp_removed",
            Self::ActualLrpInstanceCreated { .. } => "actual_lrp_instance_created",
            Self::ActualLrpInstanceChanged { .. } => "actual_lrp_instance_changed",
            Self::ActualLrpInstanceRemoved { .. } => "actual_lrp_instance_removed",
            Self::ActualLrpCrashed { .. } => "actual_lrp_crashed",
            Self::TaskCreated { .. } => "task_created",
            Self::TaskChanged { .. } => "task_changed",
            Self::TaskRemoved { .. } => "task_removed",
        }
    }

    /// True for task events (the separate task events route carries only these).
    pub fn is_task_event(&self) -> bool {
        matches!(
            self,
            Self::TaskCreated { .. } | Self::TaskChanged { .. } | Self::TaskRemoved { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_matches_event_type() {
        let event = Event::TaskRemoved {
            task: Box::default(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.event_type());
        assert!(event.is_task_event());
    }
}
