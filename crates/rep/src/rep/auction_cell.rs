//! The bidding side: what this cell has (state) and taking work it won (perform).

use std::sync::Arc;

use ingot_auction::{Capacity, CellState, LrpInstance, Work};

use super::Core;
use super::tags::{self, Workload};
use crate::executor::{ContainerState, Resources};

impl Core {
    /// The cell's snapshot for the auction.
    pub(crate) fn state(&self) -> CellState {
        let total = self.executor.total();
        let free = self.executor.remaining();
        let capacity = |r: Resources| Capacity::new(r.memory_mb, r.disk_mb, r.containers);
        let mut lrps = Vec::new();
        let mut tasks = Vec::new();
        let mut starting = 0;
        for container in self.executor.list() {
            if matches!(
                container.state,
                ContainerState::Reserved | ContainerState::Initializing | ContainerState::Created
            ) {
                starting += 1;
            }
            match tags::workload(&container, &self.config.cell_id) {
                Some(Workload::Lrp { key, .. }) => lrps.push(LrpInstance {
                    process_guid: key.process_guid,
                    index: key.index,
                }),
                Some(Workload::Task { task_guid }) => tasks.push(task_guid),
                None => {}
            }
        }
        let c = &self.config;
        CellState {
            cell_id: c.cell_id.clone(),
            zone: c.zone.clone(),
            rep_address: c.rep_address(),
            stacks: c.stacks.clone(),
            rootfs_schemes: c.rootfs_schemes.clone(),
            placement_tags: c.placement_tags.clone(),
            optional_placement_tags: c.optional_placement_tags.clone(),
            volume_drivers: Vec::new(),
            total: capacity(total),
            available: capacity(free),
            lrps,
            tasks,
            starting_container_count: starting,
            evacuating: false,
        }
    }

    /// Reserves a container for each piece of work and starts it in the background. Returns
    /// what did not fit.
    pub(crate) fn perform(self: &Arc<Self>, work: Work) -> Work {
        // A cell that is shutting down takes nothing.
        if self.shutdown.is_cancelled() {
            return work;
        }
        let mut rejected = Work::default();
        let mut started = Vec::new();
        for lrp in work.lrps {
            let guid = self.ids.new_guid();
            let key = ingot_bbs::ActualLrpKey::new(&lrp.process_guid, lrp.index, &lrp.domain);
            let need = Resources::container(lrp.resource.memory_mb, lrp.resource.disk_mb);
            match self.executor.allocate(&guid, need, tags::lrp_tags(&key)) {
                Ok(()) => {
                    started.push(tokio::spawn(self.clone().start_lrp(key, guid)));
                }
                Err(err) => {
                    tracing::info!(lrp = %key, error = %err, "rep: rejecting an instance");
                    rejected.lrps.push(lrp);
                }
            }
        }
        for task in work.tasks {
            let need = Resources::container(task.resource.memory_mb, task.resource.disk_mb);
            let task_tags = tags::task_tags(&task.task_guid, &task.domain);
            match self.executor.allocate(&task.task_guid, need, task_tags) {
                Ok(()) => {
                    started.push(tokio::spawn(
                        self.clone().start_task(task.task_guid.clone()),
                    ));
                }
                Err(err) => {
                    tracing::info!(task_guid = %task.task_guid, error = %err, "rep: rejecting a task");
                    rejected.tasks.push(task);
                }
            }
        }
        let mut starting = self.starting.lock().expect("starting lock");
        starting.retain(|h| !h.is_finished());
        starting.extend(started);
        rejected
    }
}
