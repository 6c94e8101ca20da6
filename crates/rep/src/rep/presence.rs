//! Cell presence: the heartbeat that keeps this cell registered with the BBS.

use std::sync::Arc;

use ingot_bbs::{CellPresence, RootfsProvider};

use super::Core;
use crate::error::Error;

impl Core {
    pub(crate) fn presence(&self) -> CellPresence {
        let c = &self.config;
        let stacks: Vec<&str> = c.stacks.iter().map(String::as_str).collect();
        let mut providers = vec![RootfsProvider::preloaded(&stacks)];
        providers.extend(c.rootfs_schemes.iter().map(|s| RootfsProvider::scheme(s)));
        CellPresence {
            cell_id: c.cell_id.clone(),
            rep_address: c.rep_address(),
            rep_url: c.rep_url.clone(),
            zone: c.zone.clone(),
            capacity: c.capacity,
            rootfs_providers: providers,
            placement_tags: c.placement_tags.clone(),
            optional_placement_tags: c.optional_placement_tags.clone(),
        }
    }

    pub(crate) async fn register_presence(&self) -> Result<(), Error> {
        self.bbs
            .register_cell(self.presence(), self.config.presence_ttl)
            .await?;
        Ok(())
    }
}

/// Renews the presence every heartbeat interval until shutdown.
pub(crate) async fn heartbeat(core: Arc<Core>) {
    loop {
        tokio::select! {
            _ = core.shutdown.cancelled() => return,
            _ = tokio::time::sleep(core.config.heartbeat_interval) => {}
        }
        if let Err(err) = core.register_presence().await {
            tracing::warn!(cell_id = %core.config.cell_id, error = %err, "rep: heartbeat failed");
        }
    }
}
