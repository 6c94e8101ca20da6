//! In-process fake cells for simulations, tests and benchmarks. A `SimulationCell` implements
//! the real `CellClient` trait, keeps its own capacity accounting and refuses work that does
//! not fit, like a rep would. The report helpers measure a placement.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::CellError;
use crate::model::{CellState, LrpInstance, Work};
use crate::runner::{CellClient, CellClients};
use crate::scoring;

/// How a fake cell misbehaves, for failure tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Behaviour {
    /// `state` and `perform` fail.
    pub unavailable: bool,
    /// `state` answers only after this long (use paused tokio time in tests).
    pub state_delay: Option<Duration>,
    /// `perform` hands all work back.
    pub reject_all: bool,
}

/// A fake rep that keeps a cell's state in memory.
#[derive(Debug)]
pub struct SimulationCell {
    state: Mutex<CellState>,
    behaviour: Mutex<Behaviour>,
}

impl SimulationCell {
    pub fn new(state: CellState) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(state),
            behaviour: Mutex::new(Behaviour::default()),
        })
    }

    pub fn cell_id(&self) -> String {
        self.snapshot().cell_id
    }

    pub fn snapshot(&self) -> CellState {
        self.state.lock().expect("cell lock").clone()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("cell lock") = behaviour;
    }

    fn behaviour(&self) -> Behaviour {
        self.behaviour.lock().expect("cell lock").clone()
    }

    fn unavailable(&self) -> CellError {
        CellError::Unavailable {
            cell_id: self.cell_id(),
            reason: "simulated outage".into(),
        }
    }
}

#[async_trait]
impl CellClient for SimulationCell {
    async fn state(&self) -> Result<CellState, CellError> {
        let behaviour = self.behaviour();
        if let Some(delay) = behaviour.state_delay {
            tokio::time::sleep(delay).await;
        }
        if behaviour.unavailable {
            return Err(self.unavailable());
        }
        Ok(self.snapshot())
    }

    async fn perform(&self, work: Work) -> Result<Work, CellError> {
        let behaviour = self.behaviour();
        if behaviour.unavailable {
            return Err(self.unavailable());
        }
        if behaviour.reject_all {
            return Ok(work);
        }
        let mut state = self.state.lock().expect("cell lock");
        let mut rejected = Work::default();
        // Re-check every piece against what is free now, as a rep does: the auction worked
        // from a snapshot that may be stale.
        for lrp in work.lrps {
            if scoring::fit(&state.available, &lrp.resource).is_ok() {
                take(&mut state, &lrp.resource);
                state.lrps.push(LrpInstance {
                    process_guid: lrp.process_guid,
                    index: lrp.index,
                });
            } else {
                rejected.lrps.push(lrp);
            }
        }
        for task in work.tasks {
            if scoring::fit(&state.available, &task.resource).is_ok() {
                take(&mut state, &task.resource);
                state.tasks.push(task.task_guid);
            } else {
                rejected.tasks.push(task);
            }
        }
        Ok(rejected)
    }
}

fn take(state: &mut CellState, resource: &crate::model::Resource) {
    state.available.take(resource);
    state.starting_container_count += 1;
}

/// A fixed set of fake cells.
#[derive(Debug, Clone, Default)]
pub struct SimulationCells(pub Vec<Arc<SimulationCell>>);

#[async_trait]
impl CellClients for SimulationCells {
    async fn cells(&self) -> Result<BTreeMap<String, Arc<dyn CellClient>>, CellError> {
        Ok(self
            .0
            .iter()
            .map(|c| (c.cell_id(), c.clone() as Arc<dyn CellClient>))
            .collect())
    }
}

/// Memory in use per cell: std-dev / mean. Lower is more even; 0 is perfectly even.
pub fn distribution_score(cells: &[CellState]) -> f64 {
    let used: Vec<f64> = cells
        .iter()
        .map(|c| (c.total.memory_mb - c.available.memory_mb) as f64)
        .collect();
    if used.is_empty() {
        return 0.0;
    }
    let n = used.len() as f64;
    let mean = used.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return 0.0;
    }
    let variance = used.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / n;
    variance.sqrt() / mean
}

/// Cells whose assigned work exceeds what they had free, checked from the work itself rather
/// than from the scheduler's bookkeeping.
pub fn overcommit_count(before: &[CellState], work: &BTreeMap<String, Work>) -> usize {
    before
        .iter()
        .filter(|cell| {
            let Some(work) = work.get(&cell.cell_id) else {
                return false;
            };
            let resources = work
                .lrps
                .iter()
                .map(|l| l.resource)
                .chain(work.tasks.iter().map(|t| t.resource));
            let (memory, disk) =
                resources.fold((0, 0), |(m, d), r| (m + r.memory_mb, d + r.disk_mb));
            let containers = (work.lrps.len() + work.tasks.len()) as u64;
            memory > cell.available.memory_mb
                || disk > cell.available.disk_mb
                || containers > u64::from(cell.available.containers)
        })
        .count()
}
