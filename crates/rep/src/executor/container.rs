//! An executor container's life cycle as a pure state machine:
//! reserved -> initializing -> created -> running -> completed, and any -> completed.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Capacity is held; nothing exists in Garden yet.
    Reserved,
    /// The Garden container is being created.
    Initializing,
    /// The Garden container exists; its steps may be running (setup, starting).
    Created,
    /// The action runs and (for a monitored container) the monitor passed.
    Running,
    /// Its steps ended; the result says how.
    Completed,
}

impl ContainerState {
    pub const ALL: [Self; 5] = [
        Self::Reserved,
        Self::Initializing,
        Self::Created,
        Self::Running,
        Self::Completed,
    ];
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Reserved => "reserved",
            Self::Initializing => "initializing",
            Self::Created => "created",
            Self::Running => "running",
            Self::Completed => "completed",
        };
        f.write_str(s)
    }
}

/// What can happen to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Initialize,
    Create,
    Run,
    Complete,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("container cannot {event:?} from {from}")]
pub struct InvalidTransition {
    pub from: ContainerState,
    pub event: Transition,
}

/// The state after `event`, or why it is refused.
pub fn transition(
    from: ContainerState,
    event: Transition,
) -> Result<ContainerState, InvalidTransition> {
    use ContainerState::*;
    match (from, event) {
        (Reserved, Transition::Initialize) => Ok(Initializing),
        (Initializing, Transition::Create) => Ok(Created),
        (Created, Transition::Run) => Ok(Running),
        (Reserved | Initializing | Created | Running, Transition::Complete) => Ok(Completed),
        _ => Err(InvalidTransition { from, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState::*;

    #[test]
    fn every_state_and_event() {
        // Columns: Reserved, Initializing, Created, Running, Completed; None = refused.
        let table: [(Transition, [Option<ContainerState>; 5]); 4] = [
            (
                Transition::Initialize,
                [Some(Initializing), None, None, None, None],
            ),
            (Transition::Create, [None, Some(Created), None, None, None]),
            (Transition::Run, [None, None, Some(Running), None, None]),
            (
                Transition::Complete,
                [
                    Some(Completed),
                    Some(Completed),
                    Some(Completed),
                    Some(Completed),
                    None,
                ],
            ),
        ];
        for (event, row) in table {
            for (state, want) in ContainerState::ALL.into_iter().zip(row) {
                let got = transition(state, event).ok();
                assert_eq!(got, want, "{state} + {event:?}");
            }
        }
    }

    #[test]
    fn refusals_name_the_state() {
        let err = transition(Completed, Transition::Run).unwrap_err();
        assert_eq!(err.to_string(), "container cannot Run from completed");
    }
}
