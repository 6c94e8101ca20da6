//! The harmonizer: feeds the generator from two sources, a periodic bulk sync (correct) and
//! the executor's container events (fast), and runs the operations it plans, one at a time
//! per guid.

use std::sync::Arc;

use ingot_bbs::{ActualLrpFilter, Error as BbsError, TaskFilter};
use tokio::sync::broadcast;

use super::Core;
use super::generator::{self, MISSING_TASK_CONTAINER, Operation};
use super::tags::{self, Workload};
use crate::error::Error;
use crate::executor::{Container, ContainerEvent};

pub(crate) async fn run(core: Arc<Core>, mut events: broadcast::Receiver<ContainerEvent>) {
    let mut ticker = tokio::time::interval(core.config.sync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; Cell::start already synced
    loop {
        tokio::select! {
            _ = core.shutdown.cancelled() => return,
            _ = ticker.tick() => {
                if let Err(err) = core.sync_all().await {
                    tracing::warn!(error = %err, "rep: bulk sync failed");
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let core = core.clone();
                    tokio::spawn(async move { core.sync_one(event.container().clone()).await });
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Err(err) = core.sync_all().await {
                        tracing::warn!(error = %err, "rep: bulk sync failed");
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Lost races (the record moved on meanwhile) are not failures.
pub(super) fn raced(err: &BbsError) -> bool {
    matches!(
        err,
        BbsError::NotFound { .. } | BbsError::InvalidTransition { .. }
    )
}

impl Core {
    /// Compares every container with the BBS's records for this cell.
    pub(crate) async fn sync_all(self: &Arc<Self>) -> Result<(), Error> {
        let cell_id = self.config.cell_id.clone();
        // Containers first: see the generator's docs.
        let containers = self.executor.list();
        let lrps = self
            .bbs
            .actual_lrps(ActualLrpFilter {
                cell_id: cell_id.clone(),
                ..ActualLrpFilter::default()
            })
            .await?;
        let tasks = self
            .bbs
            .tasks(TaskFilter {
                cell_id: cell_id.clone(),
                ..TaskFilter::default()
            })
            .await?;
        for op in generator::plan(&cell_id, &lrps, &tasks, &containers) {
            self.dispatch(op);
        }
        Ok(())
    }

    /// Compares one container (from an event) with its BBS record.
    async fn sync_one(self: &Arc<Self>, container: Container) {
        let cell_id = self.config.cell_id.clone();
        let Some(container) = self.executor.get(&container.guid) else {
            return;
        };
        let fetched = match tags::workload(&container, &cell_id) {
            Some(Workload::Lrp { key, .. }) => self
                .bbs
                .actual_lrps(ActualLrpFilter {
                    cell_id: cell_id.clone(),
                    process_guid: key.process_guid,
                    index: Some(key.index),
                    ..ActualLrpFilter::default()
                })
                .await
                .map(|lrps| {
                    let mine = lrps
                        .into_iter()
                        .filter(|l| l.instance_guid == container.guid)
                        .collect();
                    (mine, Vec::new())
                }),
            Some(Workload::Task { task_guid }) => match self.bbs.task_by_guid(&task_guid).await {
                Ok(task) => Ok((Vec::new(), vec![task])),
                Err(BbsError::NotFound { .. }) => Ok((Vec::new(), Vec::new())),
                Err(err) => Err(err),
            },
            None => return,
        };
        match fetched {
            Ok((lrps, tasks)) => {
                for op in generator::plan(&cell_id, &lrps, &tasks, &[container]) {
                    self.dispatch(op);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "rep: could not read the BBS; the bulk sync will retry")
            }
        }
    }

    /// Runs `op` in the background unless one for the same guid is under way.
    fn dispatch(self: &Arc<Self>, op: Operation) {
        let guid = op.guid().to_owned();
        if !self
            .in_flight
            .lock()
            .expect("in-flight lock")
            .insert(guid.clone())
        {
            return;
        }
        let core = self.clone();
        tokio::spawn(async move {
            if let Err(err) = core.apply(&op).await {
                tracing::warn!(?op, error = %err, "rep: operation failed; the bulk sync will retry");
            }
            core.in_flight.lock().expect("in-flight lock").remove(&guid);
        });
    }

    async fn apply(&self, op: &Operation) -> Result<(), Error> {
        let cell_id = &self.config.cell_id;
        match op {
            Operation::StartLrp {
                guid,
                key,
                instance,
                net_info,
            } => match self
                .bbs
                .start_actual_lrp(key, instance, net_info.clone())
                .await
            {
                Ok(()) => Ok(()),
                // The slot went to another instance: this container has no job.
                Err(err) if raced(&err) => {
                    self.executor.stop(guid);
                    Ok(())
                }
                Err(err) => Err(err.into()),
            },
            Operation::CrashLrp {
                guid,
                key,
                instance,
                reason,
                has_container,
            } => {
                // A container allocated after the plan's snapshot is not missing.
                if !has_container && self.executor.get(guid).is_some() {
                    return Ok(());
                }
                match self.bbs.crash_actual_lrp(key, instance, reason).await {
                    Err(err) if !raced(&err) => return Err(err.into()),
                    _ => {}
                }
                tracing::info!(lrp = %key, %reason, "rep: instance crashed");
                if *has_container {
                    self.executor.delete(guid).await?;
                }
                Ok(())
            }
            Operation::RemoveLrp {
                guid,
                key,
                instance,
            } => {
                match self.bbs.remove_actual_lrp(key, Some(instance)).await {
                    Err(err) if !raced(&err) => return Err(err.into()),
                    _ => {}
                }
                self.executor.delete(guid).await
            }
            Operation::StopContainer { guid } => {
                self.executor.stop(guid);
                Ok(())
            }
            Operation::DeleteContainer { guid } => self.executor.delete(guid).await,
            Operation::CompleteTask {
                guid,
                failed,
                failure_reason,
                result_file,
            } => {
                let (mut failed, mut reason, mut result) =
                    (*failed, failure_reason.clone(), String::new());
                if !failed && !result_file.is_empty() {
                    match self.executor.read_file(guid, result_file).await {
                        Ok(bytes) => result = String::from_utf8_lossy(&bytes).into_owned(),
                        Err(err) => {
                            failed = true;
                            reason = format!("failed to read the result file: {err}");
                        }
                    }
                }
                match self
                    .bbs
                    .complete_task(guid, cell_id, failed, &reason, &result)
                    .await
                {
                    Err(err) if !raced(&err) => return Err(err.into()),
                    _ => {}
                }
                self.executor.delete(guid).await
            }
            Operation::FailMissingTask { guid } => {
                if self.executor.get(guid).is_some() {
                    return Ok(());
                }
                match self
                    .bbs
                    .complete_task(guid, cell_id, true, MISSING_TASK_CONTAINER, "")
                    .await
                {
                    Err(err) if !raced(&err) => Err(err.into()),
                    _ => Ok(()),
                }
            }
        }
    }
}
