//! Retiring an LRP instance (scale down, stop, a new version) so that no request a router has
//! sent it fails: unregister first, then wait, then stop.
//!
//! 1. The instance's record leaves the BBS, so the route emitter unregisters it and routers
//!    send it nothing new.
//! 2. The container keeps running for `CellConfig::drain_wait`: routers learn of the removal
//!    and the requests they already sent finish.
//! 3. The container stops: SIGTERM, then SIGKILL after the grace time.
//!
//! The BBS does not wait for steps 2 and 3 (it removes the record itself after asking, which
//! then finds nothing). A bulk sync during the wait sees a container without a record and
//! asks to stop it, which does not cut the wait short (`Executor::stop_after`).

use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey};

use super::Core;
use super::harmonizer::raced;
use crate::executor::ContainerState;

impl Core {
    /// Stops the instance `instance` of `key` if this cell runs it. Only a running container
    /// can be routed to, so only one waits; one still starting stops at once.
    pub(crate) async fn retire_lrp(&self, key: &ActualLrpKey, instance: &ActualLrpInstanceKey) {
        let guid = &instance.instance_guid;
        if instance.cell_id != self.config.cell_id {
            return;
        }
        let Some(container) = self.executor.get(guid) else {
            return;
        };
        if container.state != ContainerState::Running {
            self.executor.stop(guid);
            return;
        }
        match self.bbs.remove_actual_lrp(key, Some(instance)).await {
            Ok(()) => tracing::info!(lrp = %key, %guid, "rep: instance unregistered; draining"),
            Err(err) if raced(&err) => {}
            // The BBS removes the record itself once this call returns.
            Err(err) => {
                tracing::warn!(lrp = %key, error = %err, "rep: could not remove a retired instance")
            }
        }
        self.executor.stop_after(guid, self.config.drain_wait);
    }
}

#[cfg(test)]
mod tests;
