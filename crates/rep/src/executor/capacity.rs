//! Capacity accounting: what the cell has in total, what allocations hold, and whether one
//! more fits.

use serde::{Deserialize, Serialize};

/// Memory, disk and container slots: a cell's total, or what one allocation holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub containers: u32,
}

impl Resources {
    pub fn new(memory_mb: u64, disk_mb: u64, containers: u32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            containers,
        }
    }

    /// What one container asking for this memory and disk holds.
    pub fn container(memory_mb: u64, disk_mb: u64) -> Self {
        Self::new(memory_mb, disk_mb, 1)
    }
}

/// What an allocation lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("insufficient resources:{}{}{}",
    if *.memory { " memory" } else { "" },
    if *.disk { " disk" } else { "" },
    if *.containers { " containers" } else { "" })]
pub struct Shortfall {
    pub memory: bool,
    pub disk: bool,
    pub containers: bool,
}

/// The cell's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    total: Resources,
    used: Resources,
}

impl Capacity {
    pub fn new(total: Resources) -> Self {
        Self {
            total,
            used: Resources::default(),
        }
    }

    pub fn total(&self) -> Resources {
        self.total
    }

    pub fn remaining(&self) -> Resources {
        Resources {
            memory_mb: self.total.memory_mb.saturating_sub(self.used.memory_mb),
            disk_mb: self.total.disk_mb.saturating_sub(self.used.disk_mb),
            containers: self.total.containers.saturating_sub(self.used.containers),
        }
    }

    /// Holds `need` if it fits; otherwise names everything that is short.
    pub fn allocate(&mut self, need: Resources) -> Result<(), Shortfall> {
        let left = self.remaining();
        let shortfall = Shortfall {
            memory: need.memory_mb > left.memory_mb,
            disk: need.disk_mb > left.disk_mb,
            containers: need.containers > left.containers,
        };
        if shortfall.memory || shortfall.disk || shortfall.containers {
            return Err(shortfall);
        }
        self.force(need);
        Ok(())
    }

    /// Holds `need` even past the total: re-adopted containers already exist.
    pub fn force(&mut self, need: Resources) {
        self.used.memory_mb += need.memory_mb;
        self.used.disk_mb += need.disk_mb;
        self.used.containers += need.containers;
    }

    pub fn release(&mut self, held: Resources) {
        self.used.memory_mb = self.used.memory_mb.saturating_sub(held.memory_mb);
        self.used.disk_mb = self.used.disk_mb.saturating_sub(held.disk_mb);
        self.used.containers = self.used.containers.saturating_sub(held.containers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_fit_until_something_runs_out() {
        let mut cap = Capacity::new(Resources::new(1024, 2048, 2));
        cap.allocate(Resources::container(512, 1024)).unwrap();
        assert_eq!(cap.remaining(), Resources::new(512, 1024, 1));
        let err = cap.allocate(Resources::container(1024, 0)).unwrap_err();
        assert_eq!(err.to_string(), "insufficient resources: memory");
        cap.allocate(Resources::container(512, 1024)).unwrap();
        let err = cap.allocate(Resources::container(1, 1)).unwrap_err();
        assert_eq!(
            err,
            Shortfall {
                memory: true,
                disk: true,
                containers: true
            }
        );
        assert_eq!(
            err.to_string(),
            "insufficient resources: memory disk containers"
        );
    }

    #[test]
    fn release_gives_back_and_never_underflows() {
        let mut cap = Capacity::new(Resources::new(100, 100, 1));
        cap.allocate(Resources::container(100, 100)).unwrap();
        cap.release(Resources::container(100, 100));
        cap.release(Resources::container(100, 100));
        assert_eq!(cap.remaining(), cap.total());
    }

    #[test]
    fn forced_allocations_may_exceed_the_total() {
        let mut cap = Capacity::new(Resources::new(100, 100, 1));
        cap.force(Resources::container(200, 0));
        assert_eq!(cap.remaining().memory_mb, 0);
        assert!(cap.allocate(Resources::container(1, 0)).is_err());
    }
}
