//! Convergence: compares what is desired with what runs and says what to repair. `plan` is
//! pure; `run` is the thin loop that calls the service on a timer, and early when a cell's
//! presence is about to expire.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::models::{
    ActualLrp, ActualLrpKey, ActualLrpState, CellPresence, DesiredLrp, Domain, Nanos,
    RestartCalculator, Task, TaskState, duration_nanos,
};

/// The timing rules convergence applies (see `BbsConfig` for their meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvergenceRules {
    pub stale_unclaimed_actual_lrp: Duration,
    pub kick_task: Duration,
    pub expire_pending_task: Duration,
    pub expire_completed_task: Duration,
    pub restart: RestartCalculator,
}

/// Everything convergence looks at, read in one consistent snapshot.
#[derive(Debug, Clone, Default)]
pub struct ConvergenceInput {
    pub desired: Vec<DesiredLrp>,
    pub actual: Vec<ActualLrp>,
    /// The fresh cell presences.
    pub cells: Vec<CellPresence>,
    pub domains: Vec<Domain>,
    pub tasks: Vec<Task>,
}

/// The reason given to tasks whose cell went away.
pub const CELL_DISAPPEARED: &str = "cell disappeared before completion";
/// The reason given to tasks that waited too long for a cell.
pub const PENDING_TOO_LONG: &str = "not started within time limit";

/// What to repair. Each list is ordered, so a plan is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvergenceResult {
    /// Indices with no ActualLRP: create them UNCLAIMED and auction them.
    pub missing_lrps: Vec<ActualLrpKey>,
    /// UNCLAIMED instances whose auction was lost (or failed): auction again.
    pub unclaimed_lrps_to_auction: Vec<ActualLrpKey>,
    /// CRASHED instances whose back-off is over: unclaim and auction.
    pub crashed_lrps_to_restart: Vec<ActualLrpKey>,
    /// CLAIMED or RUNNING instances on cells whose presence expired: unclaim and auction.
    pub lrps_on_vanished_cells: Vec<ActualLrp>,
    /// Instances beyond the desired count, or of no DesiredLRP, in fresh domains only;
    /// highest indices first.
    pub extra_lrps: Vec<ActualLrp>,
    /// PENDING tasks to auction again.
    pub tasks_to_auction: Vec<String>,
    /// Tasks to fail, with the reason.
    pub tasks_to_fail: Vec<(String, String)>,
    /// COMPLETED tasks whose completion callback should be sent again.
    pub tasks_to_call_back: Vec<String>,
    /// COMPLETED or RESOLVING tasks nobody resolved in time: delete.
    pub tasks_to_reap: Vec<String>,
}

impl ConvergenceResult {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn older_than(now: Nanos, since: Nanos, age: Duration) -> bool {
    now.saturating_sub(since) >= duration_nanos(age)
}

/// Decides what convergence must do. Pure.
pub fn plan(input: &ConvergenceInput, now: Nanos, rules: &ConvergenceRules) -> ConvergenceResult {
    let mut result = ConvergenceResult::default();
    let fresh: BTreeSet<&str> = input
        .domains
        .iter()
        .filter(|d| d.is_fresh(now))
        .map(|d| d.name.as_str())
        .collect();
    let cells: BTreeSet<&str> = input.cells.iter().map(|c| c.cell_id.as_str()).collect();
    let desired: BTreeMap<&str, &DesiredLrp> = input
        .desired
        .iter()
        .map(|d| (d.process_guid.as_str(), d))
        .collect();
    let existing: BTreeSet<(&str, u32)> = input
        .actual
        .iter()
        .map(|a| (a.process_guid.as_str(), a.index))
        .collect();

    for d in desired.values() {
        for index in 0..d.instances {
            if !existing.contains(&(d.process_guid.as_str(), index)) {
                result
                    .missing_lrps
                    .push(ActualLrpKey::new(&d.process_guid, index, &d.domain));
            }
        }
    }

    let mut actual: Vec<&ActualLrp> = input.actual.iter().collect();
    actual.sort_by(|a, b| (&a.process_guid, a.index).cmp(&(&b.process_guid, b.index)));
    for a in actual {
        let wanted = desired
            .get(a.process_guid.as_str())
            .is_some_and(|d| a.index < d.instances);
        if !wanted {
            // Only a fresh domain's DesiredLRPs are known to be complete; otherwise the
            // "extra" may be something nsync has not re-desired yet.
            if fresh.contains(a.domain.as_str()) {
                result.extra_lrps.push(a.clone());
            }
            continue;
        }
        match a.state {
            ActualLrpState::Unclaimed => {
                if older_than(now, a.since, rules.stale_unclaimed_actual_lrp) {
                    result.unclaimed_lrps_to_auction.push(a.key());
                }
            }
            ActualLrpState::Claimed | ActualLrpState::Running => {
                if !cells.contains(a.cell_id.as_str()) {
                    result.lrps_on_vanished_cells.push(a.clone());
                }
            }
            ActualLrpState::Crashed => {
                if rules.restart.should_restart(now, a.since, a.crash_count) {
                    result.crashed_lrps_to_restart.push(a.key());
                }
            }
        }
    }
    // Retire from the top so a scale-down keeps the lowest indices.
    result
        .extra_lrps
        .sort_by(|a, b| (&a.process_guid, b.index).cmp(&(&b.process_guid, a.index)));

    let mut tasks: Vec<&Task> = input.tasks.iter().collect();
    tasks.sort_by(|a, b| a.task_guid.cmp(&b.task_guid));
    for t in tasks {
        let guid = t.task_guid.clone();
        match t.state {
            TaskState::Pending => {
                if older_than(now, t.created_at, rules.expire_pending_task) {
                    result
                        .tasks_to_fail
                        .push((guid, PENDING_TOO_LONG.to_owned()));
                } else if older_than(now, t.updated_at, rules.kick_task) {
                    result.tasks_to_auction.push(guid);
                }
            }
            TaskState::Running => {
                if !cells.contains(t.cell_id.as_str()) {
                    result
                        .tasks_to_fail
                        .push((guid, CELL_DISAPPEARED.to_owned()));
                }
            }
            TaskState::Completed => {
                if older_than(now, t.first_completed_at, rules.expire_completed_task) {
                    result.tasks_to_reap.push(guid);
                } else if !t.task_definition.completion_callback_url.is_empty()
                    && older_than(now, t.first_completed_at, rules.kick_task)
                {
                    result.tasks_to_call_back.push(guid);
                }
            }
            TaskState::Resolving => {
                if older_than(now, t.updated_at, rules.expire_completed_task) {
                    result.tasks_to_reap.push(guid);
                }
            }
        }
    }
    result
}

/// The thin runner: converge every `interval`, or when the next cell presence
/// runs out (`next_expiry` says in how long). One converger runs per process; distributed
/// mode will hold a database lock around it.
pub async fn run<F, Fut>(
    interval: Duration,
    next_expiry: impl Fn() -> Option<Duration>,
    shutdown: CancellationToken,
    mut converge: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        let cell_expiry = next_expiry();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = async {
                match cell_expiry {
                    // A little after the TTL, so the presence is gone when we look.
                    Some(wait) => tokio::time::sleep(wait + Duration::from_millis(100)).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        converge().await;
    }
}

#[cfg(test)]
mod tests;
