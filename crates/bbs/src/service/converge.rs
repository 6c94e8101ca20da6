//! Carrying out a convergence plan. The plan itself is pure (`loops::converger::plan`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::loops::converger::{ConvergenceInput, ConvergenceResult, plan};
use crate::models::{ActualLrpFilter, DesiredLrpFilter, Task, TaskEvent, TaskFilter};
use crate::service::Core;

impl Core {
    pub(crate) async fn converge(self: &Arc<Self>) -> Result<ConvergenceResult, Error> {
        let started = Instant::now();
        let now = self.now();
        let gone = self.cells.prune(now);
        if !gone.is_empty() {
            tracing::info!(cells = ?gone, "bbs: cell presences expired");
        }
        // ActualLRPs are read before DesiredLRPs: an LRP desired in between then shows up
        // as missing instances (creating them is a harmless conflict), never as extras.
        let actual = self.store.actual_lrps(&ActualLrpFilter::default()).await?;
        let input = ConvergenceInput {
            desired: self
                .store
                .desired_lrps(&DesiredLrpFilter::default())
                .await?,
            actual,
            domains: self.store.domains().await?,
            tasks: self.store.tasks(&TaskFilter::default()).await?,
            cells: self.cells.fresh(now),
        };
        let result = plan(&input, now, &self.rules());
        if !result.is_empty() {
            tracing::info!(
                missing = result.missing_lrps.len(),
                unclaimed = result.unclaimed_lrps_to_auction.len(),
                crashed = result.crashed_lrps_to_restart.len(),
                vanished = result.lrps_on_vanished_cells.len(),
                extra = result.extra_lrps.len(),
                tasks_to_auction = result.tasks_to_auction.len(),
                tasks_to_fail = result.tasks_to_fail.len(),
                tasks_to_reap = result.tasks_to_reap.len(),
                "bbs: converging"
            );
        }
        self.apply(&input, &result).await;
        self.metrics.converged(&input, started.elapsed());
        Ok(result)
    }

    /// Each repair is independent: one failing is logged and retried next time.
    async fn apply(self: &Arc<Self>, input: &ConvergenceInput, result: &ConvergenceResult) {
        let desired: BTreeMap<&str, _> = input
            .desired
            .iter()
            .map(|d| (d.process_guid.as_str(), d))
            .collect();
        let mut missing: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for key in &result.missing_lrps {
            missing
                .entry(key.process_guid.as_str())
                .or_default()
                .push(key.clone());
        }
        for (guid, keys) in missing {
            if let Some(d) = desired.get(guid) {
                log(
                    self.create_and_auction(d, keys).await,
                    "creating missing instances",
                );
            }
        }

        let mut to_auction = result.unclaimed_lrps_to_auction.clone();
        for key in &result.crashed_lrps_to_restart {
            if log(
                self.unclaim_actual_lrp(key).await,
                "restarting a crashed instance",
            ) {
                to_auction.push(key.clone());
            }
        }
        for lrp in &result.lrps_on_vanished_cells {
            let key = lrp.key();
            if log(
                self.unclaim_actual_lrp(&key).await,
                "unclaiming an instance on a lost cell",
            ) {
                to_auction.push(key);
            }
        }
        if !to_auction.is_empty() {
            self.auction_lrps(&desired, to_auction).await;
        }
        self.retire_all(result.extra_lrps.clone()).await;

        let tasks: BTreeMap<&str, &Task> = input
            .tasks
            .iter()
            .map(|t| (t.task_guid.as_str(), t))
            .collect();
        self.auction_tasks(
            result
                .tasks_to_auction
                .iter()
                .filter_map(|guid| tasks.get(guid.as_str()).copied()),
        );
        for (guid, reason) in &result.tasks_to_fail {
            let event = TaskEvent::Fail {
                failure_reason: reason.clone(),
            };
            log(self.fail_task(guid, &event).await, "failing a task");
        }
        for guid in &result.tasks_to_call_back {
            let core = self.clone();
            let guid = guid.clone();
            tokio::spawn(async move { core.call_back(&guid).await });
        }
        for guid in &result.tasks_to_reap {
            log(self.reap_task(guid).await, "reaping a task");
        }
    }
}

fn log(outcome: Result<(), Error>, what: &str) -> bool {
    match outcome {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err, "bbs: convergence: {what} failed");
            false
        }
    }
}
