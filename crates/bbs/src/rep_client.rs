//! What the BBS needs from a cell's rep besides bidding (which is `ingot_auction::CellClient`).

use std::sync::Arc;

use async_trait::async_trait;
use ingot_auction::{CellClient, CellError, CellState, Work};

use crate::error::Error;
use crate::models::{ActualLrpInstanceKey, ActualLrpKey, CellPresence};

/// One cell's rep, as the BBS reaches it.
#[async_trait]
pub trait RepClient: CellClient {
    /// Stops the instance's container. A missing container is success.
    /// Errors: `Unavailable` (the rep did not answer).
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), Error>;

    /// Stops the task's container. A missing container is success.
    /// Errors: `Unavailable`.
    async fn cancel_task(&self, task_guid: &str) -> Result<(), Error>;
}

/// Makes a rep client for a cell from its presence (over HTTP, or in process).
pub trait RepClientFactory: Send + Sync + 'static {
    fn client(&self, cell: &CellPresence) -> Arc<dyn RepClient>;
}

/// Lets the auction use a rep client as its `CellClient` (no trait upcasting needed).
pub(crate) struct AsCellClient(pub Arc<dyn RepClient>);

#[async_trait]
impl CellClient for AsCellClient {
    async fn state(&self) -> Result<CellState, CellError> {
        self.0.state().await
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        self.0.perform(work).await
    }
}
