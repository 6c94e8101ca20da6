//! Pure data and rules: records, validation, state transitions, the restart calculator. No I/O.

mod action;
mod actual_lrp;
mod cell;
mod desired_lrp;
mod domain;
mod event;
mod filter;
mod restart;
mod security_group;
mod task;
mod validation;

pub use action::{
    Action, Check, CheckDefinition, CodependentAction, DownloadAction, EmitProgressAction,
    EnvironmentVariable, HttpCheck, ParallelAction, ResourceLimits, RunAction, SerialAction,
    TcpCheck, TimeoutAction, TryAction, UploadAction,
};
pub use actual_lrp::{
    ActualLrp, ActualLrpEvent, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, NetInfo,
    PortMapping, Presence, TransitionContext, transition as transition_actual_lrp,
};
pub use cell::{CellCapacity, CellPresence, RootfsProvider};
pub use desired_lrp::{DesiredLrp, DesiredLrpUpdate, ModificationTag};
pub use domain::Domain;
pub use event::Event;
pub use filter::{ActualLrpFilter, DesiredLrpFilter, TaskFilter};
pub use restart::RestartCalculator;
pub use security_group::{
    Destination, DestinationError, IcmpInfo, PortRange, Protocol, SecurityGroupRule,
};
pub use task::{Task, TaskDefinition, TaskEvent, TaskState, transition as transition_task};
pub use validation::{InvalidTransition, Validator};

/// Timestamps are Unix nanoseconds, as Diego (and cfdot) print them.
pub type Nanos = i64;

/// Converts the injected clock's time to Diego's timestamp unit.
pub fn to_nanos(t: chrono::DateTime<chrono::Utc>) -> Nanos {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Nanoseconds in a duration, saturating.
pub fn duration_nanos(d: std::time::Duration) -> Nanos {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
