//! The in-process rep client, and the registry the in-process BBS reaches cells through.
//!
//! The construction-order problem: `Bbs::start` needs a `RepClientFactory`, and `Cell::start`
//! needs the BBS. `LocalRepClients` breaks the cycle: create it empty, give it to the BBS,
//! then each `Cell::start` registers its cell in it. A presence whose cell is not registered
//! here (a cell in another process) is reached over HTTP at its `rep_url`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ingot_auction::{CellClient, CellError, CellState, Work};
use ingot_bbs::{
    ActualLrpInstanceKey, ActualLrpKey, CellPresence, Error as BbsError, RepClient,
    RepClientFactory,
};

use super::Core;
use crate::http::HttpRepClients;

/// Cells in this process by cell id, with HTTP for the rest. Clones share the registry.
#[derive(Clone, Default)]
pub struct LocalRepClients {
    cells: Arc<Mutex<BTreeMap<String, Arc<Core>>>>,
    remote: HttpRepClients,
}

impl std::fmt::Debug for LocalRepClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self
            .cells
            .lock()
            .expect("cells lock")
            .keys()
            .cloned()
            .collect();
        f.debug_struct("LocalRepClients")
            .field("cells", &ids)
            .finish()
    }
}

impl LocalRepClients {
    pub fn new() -> Self {
        Self::default()
    }

    /// A restarted cell replaces the one registered under its id.
    pub(crate) fn register(&self, core: Arc<Core>) {
        self.cells
            .lock()
            .expect("cells lock")
            .insert(core.config.cell_id.clone(), core);
    }

    /// The ids of the registered cells.
    pub fn cell_ids(&self) -> Vec<String> {
        self.cells
            .lock()
            .expect("cells lock")
            .keys()
            .cloned()
            .collect()
    }
}

impl RepClientFactory for LocalRepClients {
    fn client(&self, cell: &CellPresence) -> Arc<dyn RepClient> {
        let local = self
            .cells
            .lock()
            .expect("cells lock")
            .get(&cell.cell_id)
            .cloned();
        match local {
            Some(core) if !core.shutdown.is_cancelled() => Arc::new(LocalRep(core)),
            _ => self.remote.client(cell),
        }
    }
}

/// One in-process cell as a rep client.
pub(crate) struct LocalRep(pub(crate) Arc<Core>);

#[async_trait]
impl CellClient for LocalRep {
    async fn state(&self) -> Result<CellState, CellError> {
        Ok(self.0.state())
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        Ok(self.0.perform(work))
    }
}

#[async_trait]
impl RepClient for LocalRep {
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        self.0.retire_lrp(key, instance).await;
        Ok(())
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<(), BbsError> {
        self.0.executor.stop(task_guid);
        Ok(())
    }
}
