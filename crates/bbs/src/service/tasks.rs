//! Task workflows: desiring, the reps' reports, cancelling, resolving, and completion
//! callbacks.

use std::sync::Arc;
use std::time::Duration;

use crate::auctioneer::task_start_request;
use crate::error::Error;
use crate::models::{Event, Task, TaskDefinition, TaskEvent, TaskState};
use crate::service::Core;

/// The failure reason of a cancelled task (Diego's wording).
pub const TASK_CANCELLED: &str = "task was cancelled";

impl Core {
    fn emit_task_change(&self, before: &Task, after: &Task) {
        if before != after {
            self.hub.emit(Event::TaskChanged {
                before: Box::new(before.clone()),
                after: Box::new(after.clone()),
            });
        }
    }

    pub(crate) async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: TaskDefinition,
    ) -> Result<(), Error> {
        let task = Task::pending(task_guid, domain, definition, self.now());
        task.validate()?;
        self.store.desire_task(&task).await?;
        self.hub.emit(Event::TaskCreated {
            task: Box::new(task.clone()),
        });
        self.auctioneer
            .schedule_task_starts(vec![task_start_request(&task)]);
        Ok(())
    }

    /// Auctions PENDING tasks again (convergence), with the records the caller holds.
    pub(crate) fn auction_tasks<'a>(&self, tasks: impl IntoIterator<Item = &'a Task>) {
        let starts: Vec<_> = tasks
            .into_iter()
            .filter(|task| task.state == TaskState::Pending)
            .map(task_start_request)
            .collect();
        if !starts.is_empty() {
            self.auctioneer.schedule_task_starts(starts);
        }
    }

    pub(crate) async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool, Error> {
        let event = TaskEvent::Start {
            cell_id: cell_id.to_owned(),
        };
        let (before, after) = self
            .store
            .change_task(task_guid, &event, self.now())
            .await?;
        self.emit_task_change(&before, &after);
        Ok(before.state == TaskState::Pending)
    }

    pub(crate) async fn cancel_task(self: &Arc<Self>, task_guid: &str) -> Result<(), Error> {
        let event = TaskEvent::Fail {
            failure_reason: TASK_CANCELLED.to_owned(),
        };
        let (before, after) = self
            .store
            .change_task(task_guid, &event, self.now())
            .await?;
        self.emit_task_change(&before, &after);
        let cell = match before.state {
            TaskState::Running => self.cells.get(&before.cell_id, self.now()),
            _ => None,
        };
        if let Some(cell) = cell {
            let rep = self.rep_clients.client(&cell);
            if let Err(err) = rep.cancel_task(task_guid).await {
                // The rep's own sync stops a container whose task is no longer RUNNING.
                tracing::warn!(task_guid, error = %err, "bbs: rep did not cancel the task");
            }
        }
        self.completed(&after);
        Ok(())
    }

    /// Ends a task that did not run to completion: `TaskEvent::Fail`, or
    /// `TaskEvent::Reject` when the auction gave up on a task the cells kept refusing.
    pub(crate) async fn fail_task(
        self: &Arc<Self>,
        task_guid: &str,
        event: &TaskEvent,
    ) -> Result<(), Error> {
        let (before, after) = self.store.change_task(task_guid, event, self.now()).await?;
        self.emit_task_change(&before, &after);
        self.completed(&after);
        Ok(())
    }

    pub(crate) async fn complete_task(
        self: &Arc<Self>,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), Error> {
        let event = TaskEvent::Complete {
            cell_id: cell_id.to_owned(),
            failed,
            failure_reason: failure_reason.to_owned(),
            result: result.to_owned(),
        };
        let (before, after) = self
            .store
            .change_task(task_guid, &event, self.now())
            .await?;
        self.emit_task_change(&before, &after);
        self.completed(&after);
        Ok(())
    }

    pub(crate) async fn resolving_task(&self, task_guid: &str) -> Result<Task, Error> {
        let (before, after) = self
            .store
            .change_task(task_guid, &TaskEvent::Resolving, self.now())
            .await?;
        self.emit_task_change(&before, &after);
        Ok(after)
    }

    pub(crate) async fn delete_task(&self, task_guid: &str) -> Result<(), Error> {
        let (before, _) = self
            .store
            .change_task(task_guid, &TaskEvent::Resolve, self.now())
            .await?;
        self.hub.emit(Event::TaskRemoved {
            task: Box::new(before),
        });
        Ok(())
    }

    /// Deletes a task nobody resolved in time (convergence).
    pub(crate) async fn reap_task(&self, task_guid: &str) -> Result<(), Error> {
        let removed = self.store.remove_task(task_guid).await?;
        self.hub.emit(Event::TaskRemoved {
            task: Box::new(removed),
        });
        Ok(())
    }

    /// A task just completed: if it has a completion callback, send it in the background.
    pub(crate) fn completed(self: &Arc<Self>, task: &Task) {
        if task.state == TaskState::Completed
            && !task.task_definition.completion_callback_url.is_empty()
        {
            let core = self.clone();
            let guid = task.task_guid.clone();
            tokio::spawn(async move { core.call_back(&guid).await });
        }
    }

    /// Diego's completion worker: take the task (RESOLVING), POST it to its callback URL with
    /// retries, then delete it. If another worker took it first, do nothing.
    pub(crate) async fn call_back(&self, task_guid: &str) {
        let task = match self.resolving_task(task_guid).await {
            Ok(task) => task,
            Err(err) => {
                tracing::debug!(task_guid, error = %err, "bbs: task already being resolved");
                return;
            }
        };
        let url = task.task_definition.completion_callback_url.clone();
        let attempts = self.config.callback_attempts.max(1);
        for attempt in 1..=attempts {
            let outcome = tokio::select! {
                () = self.shutdown.cancelled() => return,
                outcome = self.http.post(&url).json(&task).send() => outcome,
            };
            match outcome {
                Ok(response) if response.status().is_success() => break,
                Ok(response) if !matches!(response.status().as_u16(), 502..=504) => {
                    // A refusal will not change on retry; Diego deletes the task anyway.
                    tracing::warn!(task_guid, status = %response.status(), "bbs: completion callback refused");
                    break;
                }
                Ok(response) => {
                    tracing::warn!(task_guid, attempt, status = %response.status(), "bbs: completion callback failed");
                }
                Err(err) => {
                    tracing::warn!(task_guid, attempt, error = %err, "bbs: completion callback failed");
                }
            }
            if attempt == attempts {
                // Leave it RESOLVING: the reaper deletes it, and nothing was delivered.
                return;
            }
            let backoff = Duration::from_millis(250 * u64::from(attempt));
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
        }
        if let Err(err) = self.delete_task(task_guid).await {
            tracing::warn!(task_guid, error = %err, "bbs: deleting a resolved task failed");
        }
    }
}
