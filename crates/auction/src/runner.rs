//! Drives auction rounds. A round drains the batch, asks every cell for its state (all at once,
//! each with a timeout), places the batch with the scheduler, sends each cell its work, and
//! reports the results. The outside world is reached only through the traits below: the
//! runner knows nothing of HTTP, the BBS or locks.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use tokio::time::Instant;

use crate::batch::Batch;
use crate::clock::Clock;
use crate::error::{CellError, PlacementError};
use crate::model::{
    AuctionRecord, AuctionResults, CellState, LrpStartRequest, TaskStartRequest, Work,
};
use crate::scheduler::{Scheduler, SchedulerConfig};

/// One cell's rep, as the auction sees it.
#[async_trait]
pub trait CellClient: Send + Sync {
    /// The cell's current snapshot. Errors: `CellError::Unavailable`.
    async fn state(&self) -> Result<CellState, CellError>;

    /// Asks the cell to start the work. Returns the part it could NOT accept (empty when it
    /// took everything). Errors: `CellError::Unavailable`; the work may then be partly started.
    async fn perform(&self, work: Work) -> Result<Work, CellError>;
}

/// Where the cells come from (cell presences, in a full deployment).
#[async_trait]
pub trait CellClients: Send + Sync {
    /// The cells to ask this round, keyed by cell id. Errors: `CellError::Unavailable`.
    async fn cells(&self) -> Result<BTreeMap<String, Arc<dyn CellClient>>, CellError>;
}

/// Receives results and metrics.
#[async_trait]
pub trait AuctionDelegate: Send + Sync {
    /// Every round's results: what was placed, and what failed and why.
    async fn auction_completed(&self, results: &AuctionResults);

    /// How long fetching cell states took, and how many cells answered or did not.
    async fn fetch_states_completed(&self, _took: Duration, _answered: usize, _failed: usize) {}

    /// One cell's state request failed or timed out; it sits this round out.
    async fn failed_cell_state_request(&self, _cell_id: &str, _error: &CellError) {}
}

/// Tuning for the runner. The defaults are Diego's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunnerConfig {
    pub scheduler: SchedulerConfig,
    /// How long each cell gets to report its state (and to answer `perform`).
    pub cell_state_timeout: Duration,
    /// Rounds a piece of work may take part in while cells keep rejecting it.
    pub max_attempts: u32,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            cell_state_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

/// Runs auctions for the work queued in its batch.
pub struct AuctionRunner {
    config: RunnerConfig,
    cells: Arc<dyn CellClients>,
    delegate: Arc<dyn AuctionDelegate>,
    clock: Arc<dyn Clock>,
    batch: Arc<Batch>,
}

impl std::fmt::Debug for AuctionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuctionRunner")
            .field("config", &self.config)
            .field("batch", &self.batch)
            .finish()
    }
}

impl AuctionRunner {
    pub fn new(
        config: RunnerConfig,
        cells: Arc<dyn CellClients>,
        delegate: Arc<dyn AuctionDelegate>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let batch = Arc::new(Batch::new(clock.clone()));
        Self {
            config,
            cells,
            delegate,
            clock,
            batch,
        }
    }

    pub fn batch(&self) -> &Arc<Batch> {
        &self.batch
    }

    pub fn schedule_lrp_starts(&self, starts: Vec<LrpStartRequest>) {
        self.batch.add_lrp_starts(starts);
    }

    pub fn schedule_task_starts(&self, tasks: Vec<TaskStartRequest>) {
        self.batch.add_task_starts(tasks);
    }

    /// Runs a round whenever work is waiting, until `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = self.batch.wait_for_work() => {
                    self.run_round().await;
                }
            }
        }
    }

    /// One auction round. Returns `None` when nothing was waiting.
    pub async fn run_round(&self) -> Option<AuctionResults> {
        let (lrps, tasks) = self.batch.drain();
        if lrps.is_empty() && tasks.is_empty() {
            return None;
        }

        let clients = match self.cells.cells().await {
            Ok(clients) => clients,
            Err(err) => {
                // No cells this round: the scheduler fails everything as unreachable.
                tracing::warn!(error = %err, "auction: failed to list cells");
                BTreeMap::new()
            }
        };
        let states = self.fetch_states(&clients).await;

        let mut scheduler = Scheduler::new(self.config.scheduler, states);
        let schedule = scheduler.schedule(lrps, tasks);
        let rejected = self.perform(&clients, schedule.work).await;

        let results = self.settle(schedule.results, &rejected);
        tracing::info!(
            successful_lrps = results.successful_lrps.len(),
            successful_tasks = results.successful_tasks.len(),
            failed_lrps = results.failed_lrps.len(),
            failed_tasks = results.failed_tasks.len(),
            "auction: round complete"
        );
        self.delegate.auction_completed(&results).await;
        Some(results)
    }

    async fn fetch_states(
        &self,
        clients: &BTreeMap<String, Arc<dyn CellClient>>,
    ) -> Vec<CellState> {
        let started = self.clock.now();
        let timeout = self.config.cell_state_timeout;
        let answers = join_all(clients.iter().map(|(cell_id, client)| async move {
            let answer = match tokio::time::timeout(timeout, client.state()).await {
                Ok(answer) => answer,
                Err(_) => Err(CellError::Timeout {
                    cell_id: cell_id.clone(),
                    timeout_ms: timeout.as_millis() as u64,
                }),
            };
            (cell_id, answer)
        }))
        .await;

        let mut states = Vec::with_capacity(answers.len());
        let mut failed = 0;
        for (cell_id, answer) in answers {
            match answer {
                // A snapshot under another id would send work to the wrong rep.
                Ok(state) if state.cell_id == *cell_id => states.push(state),
                Ok(state) => {
                    failed += 1;
                    tracing::warn!(cell_id = %cell_id, reported = %state.cell_id, "auction: cell id mismatch");
                }
                Err(err) => {
                    failed += 1;
                    tracing::warn!(cell_id = %cell_id, error = %err, "auction: cell state request failed");
                    self.delegate.failed_cell_state_request(cell_id, &err).await;
                }
            }
        }
        let took = self.clock.now().saturating_duration_since(started);
        self.delegate
            .fetch_states_completed(took, states.len(), failed)
            .await;
        states
    }

    /// Sends every cell its work at once. Returns the keys of the work cells rejected. A cell
    /// that errors may have started part of its work, so that work is NOT retried (that could
    /// start an instance twice); convergence repairs anything truly missing.
    async fn perform(
        &self,
        clients: &BTreeMap<String, Arc<dyn CellClient>>,
        work: BTreeMap<String, Work>,
    ) -> Rejected {
        let timeout = self.config.cell_state_timeout;
        let answers = join_all(work.into_iter().filter_map(|(cell_id, work)| {
            let client = clients.get(&cell_id)?.clone();
            Some(async move {
                let answer = tokio::time::timeout(timeout, client.perform(work)).await;
                (cell_id, answer)
            })
        }))
        .await;

        let mut rejected = Rejected::default();
        for (cell_id, answer) in answers {
            match answer {
                Ok(Ok(work)) => {
                    rejected
                        .lrps
                        .extend(work.lrps.into_iter().map(|l| (l.process_guid, l.index)));
                    rejected
                        .tasks
                        .extend(work.tasks.into_iter().map(|t| t.task_guid));
                }
                Ok(Err(err)) => {
                    tracing::warn!(cell_id = %cell_id, error = %err, "auction: perform failed")
                }
                Err(_) => tracing::warn!(cell_id = %cell_id, "auction: perform timed out"),
            }
        }
        rejected
    }

    /// Counts the attempt, stamps wait times, and turns rejected work into a retry (or, out
    /// of attempts, a failure).
    fn settle(&self, placed: AuctionResults, rejected: &Rejected) -> AuctionResults {
        let now = self.clock.now();
        let max = self.config.max_attempts;
        let mut results = AuctionResults {
            failed_lrps: placed.failed_lrps,
            failed_tasks: placed.failed_tasks,
            ..AuctionResults::default()
        };
        let (mut retry_lrps, mut retry_tasks) = (Vec::new(), Vec::new());

        for auction in &mut results.failed_lrps {
            auction.record.attempts += 1;
        }
        for auction in &mut results.failed_tasks {
            auction.record.attempts += 1;
        }
        for mut auction in placed.successful_lrps {
            let key = (auction.lrp.process_guid.clone(), auction.lrp.index);
            match outcome(&mut auction.record, rejected.lrps.contains(&key), now, max) {
                Outcome::Placed => results.successful_lrps.push(auction),
                Outcome::Failed => results.failed_lrps.push(auction),
                Outcome::Retry => retry_lrps.push(auction),
            }
        }
        for mut auction in placed.successful_tasks {
            let was_rejected = rejected.tasks.contains(&auction.task.task_guid);
            match outcome(&mut auction.record, was_rejected, now, max) {
                Outcome::Placed => results.successful_tasks.push(auction),
                Outcome::Failed => results.failed_tasks.push(auction),
                Outcome::Retry => retry_tasks.push(auction),
            }
        }
        self.batch.requeue(retry_lrps, retry_tasks);
        results
    }
}

/// Where a piece of work the scheduler placed goes once its cell has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The cell took it.
    Placed,
    /// The cell refused it and it is out of attempts.
    Failed,
    /// The cell refused it; it goes back in the batch.
    Retry,
}

/// Counts the attempt on `record` and decides the outcome: accepted work gets its wait
/// time; rejected work loses its winner and, at `max` attempts, gets a `Rejected` error.
fn outcome(record: &mut AuctionRecord, rejected: bool, now: Instant, max: u32) -> Outcome {
    record.attempts += 1;
    if !rejected {
        record.wait_duration = now.saturating_duration_since(record.queue_time);
        return Outcome::Placed;
    }
    record.winner = None;
    if record.attempts >= max {
        record.placement_error = Some(PlacementError::Rejected {
            attempts: record.attempts,
        });
        Outcome::Failed
    } else {
        Outcome::Retry
    }
}

#[derive(Debug, Default)]
struct Rejected {
    lrps: HashSet<(String, u32)>,
    tasks: HashSet<String>,
}

#[cfg(test)]
mod tests;
