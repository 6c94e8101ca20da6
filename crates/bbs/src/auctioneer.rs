//! The auctioneer glue: turns BBS records into auction requests, gives the auction runner its
//! cells (from fresh cell presences and the rep client factory), and records the outcome
//! (placement errors on ActualLRPs, failed or rejected Tasks). One auctioneer runs per
//! process; distributed mode will hold a database lock around it.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use ingot_auction::{
    AuctionDelegate, AuctionResults, CellClient, CellClients, CellError, LrpStartRequest,
    PlacementConstraint, PlacementError, Resource, TaskStartRequest,
};

use crate::error::Error;
use crate::models::{ActualLrpKey, DesiredLrp, Task, TaskEvent};
use crate::rep_client::AsCellClient;
use crate::service::Core;

pub(crate) fn lrp_start_request(desired: &DesiredLrp, indices: Vec<u32>) -> LrpStartRequest {
    LrpStartRequest {
        process_guid: desired.process_guid.clone(),
        domain: desired.domain.clone(),
        indices,
        resource: Resource {
            memory_mb: desired.memory_mb,
            disk_mb: desired.disk_mb,
            max_pids: desired.max_pids,
        },
        constraint: PlacementConstraint {
            root_fs: desired.root_fs.clone(),
            placement_tags: desired.placement_tags.clone(),
            volume_drivers: Vec::new(),
        },
    }
}

pub(crate) fn task_start_request(task: &Task) -> TaskStartRequest {
    let def = &task.task_definition;
    TaskStartRequest {
        task_guid: task.task_guid.clone(),
        domain: task.domain.clone(),
        resource: Resource {
            memory_mb: def.memory_mb,
            disk_mb: def.disk_mb,
            max_pids: def.max_pids,
        },
        constraint: PlacementConstraint {
            root_fs: def.root_fs.clone(),
            placement_tags: def.placement_tags.clone(),
            volume_drivers: Vec::new(),
        },
    }
}

/// The cells for each round: every fresh presence, through the rep client factory.
pub(crate) struct PresenceCellClients(pub(crate) Weak<Core>);

#[async_trait]
impl CellClients for PresenceCellClients {
    async fn cells(&self) -> Result<BTreeMap<String, Arc<dyn CellClient>>, CellError> {
        let Some(core) = self.0.upgrade() else {
            return Ok(BTreeMap::new());
        };
        Ok(core
            .cells
            .fresh(core.now())
            .into_iter()
            .map(|presence| {
                let client: Arc<dyn CellClient> =
                    Arc::new(AsCellClient(core.rep_clients.client(&presence)));
                (presence.cell_id, client)
            })
            .collect())
    }
}

/// Records each round's failures in the BBS.
pub(crate) struct BbsAuctionDelegate(pub(crate) Weak<Core>);

fn reason(error: Option<&PlacementError>) -> String {
    error.map_or_else(|| "auction failed".to_owned(), ToString::to_string)
}

fn ignore_raced(outcome: Result<(), Error>, what: &str) {
    match outcome {
        // The work was claimed, removed or finished meanwhile: nothing to record.
        Ok(()) | Err(Error::NotFound { .. } | Error::InvalidTransition { .. }) => {}
        Err(err) => tracing::warn!(error = %err, "auctioneer: recording {what} failed"),
    }
}

#[async_trait]
impl AuctionDelegate for BbsAuctionDelegate {
    async fn auction_completed(&self, results: &AuctionResults) {
        let Some(core) = self.0.upgrade() else {
            return;
        };
        core.metrics.auction_completed(results);
        for failed in &results.failed_lrps {
            let lrp = &failed.lrp;
            let key = ActualLrpKey::new(&lrp.process_guid, lrp.index, &lrp.domain);
            let why = reason(failed.record.placement_error.as_ref());
            tracing::info!(lrp = %key, reason = %why, "auctioneer: could not place instance");
            ignore_raced(core.fail_actual_lrp(&key, &why).await, "a placement error");
        }
        for failed in &results.failed_tasks {
            let guid = &failed.task.task_guid;
            let why = reason(failed.record.placement_error.as_ref());
            tracing::info!(task_guid = %guid, reason = %why, "auctioneer: could not place task");
            let event = match failed.record.placement_error {
                Some(PlacementError::Rejected { .. }) => TaskEvent::Reject { reason: why },
                _ => TaskEvent::Fail {
                    failure_reason: why,
                },
            };
            ignore_raced(core.fail_task(guid, &event).await, "a task failure");
        }
    }

    async fn fetch_states_completed(&self, took: Duration, _answered: usize, _failed: usize) {
        if let Some(core) = self.0.upgrade() {
            core.metrics.fetched_states(took);
        }
    }

    async fn failed_cell_state_request(&self, _cell_id: &str, _error: &CellError) {
        if let Some(core) = self.0.upgrade() {
            core.metrics.failed_cell_state_request();
        }
    }
}
