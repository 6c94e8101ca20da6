//! Places a batch of LRP instances and tasks onto cell snapshots, one at a time, so each
//! placement sees the ones before it. Deterministic: the same cells and batch always give the
//! same placement. No I/O: the runner fetches the snapshots and sends the work.
//!
//! Speed: each request scans only the cells that pass its constraint (filtered once per
//! distinct constraint), scores them from a compact copy of their free capacity, and reads
//! locality and zone counts from a per-process index instead of rescanning cell LRP lists.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::PlacementError;
use crate::model::{
    AuctionResults, Capacity, CellState, Lrp, LrpAuction, LrpInstance, PlacementConstraint,
    Resource, TaskAuction, TaskStartRequest, Work,
};
use crate::scoring::{self, Weights};

/// Tuning for one scheduler. The defaults are Diego's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SchedulerConfig {
    pub weights: Weights,
    /// Containers allowed to be starting at once across all cells (those already starting plus
    /// those placed this round). `None`: no cap, Diego's default.
    pub max_in_flight_starts: Option<u32>,
    /// Containers allowed to be starting at once on any one cell. `None`: no cap.
    pub max_starting_per_cell: Option<u32>,
}

/// A scheduled batch: the results (winners set, failures named) and the work for each cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    pub results: AuctionResults,
    /// Keyed by cell id; cells that won nothing are absent.
    pub work: BTreeMap<String, Work>,
}

/// The hot part of a cell's state, kept compact for the scoring scan.
#[derive(Debug, Clone, Copy)]
struct Slot {
    available: Capacity,
    inv_total: scoring::Reciprocals,
    starting: u32,
    tasks: u32,
    zone: u32,
}

/// Where one process's instances are: per zone and per cell.
#[derive(Debug, Default)]
struct Spread {
    zones: Vec<u32>,
    /// (cell position, instances); short, since instances spread.
    cells: Vec<(u32, u32)>,
}

impl Spread {
    fn add(&mut self, zone_count: usize, zone: u32, cell: u32) {
        if self.zones.is_empty() {
            self.zones = vec![0; zone_count];
        }
        self.zones[zone as usize] += 1;
        match self.cells.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, n)) => *n += 1,
            None => self.cells.push((cell, 1)),
        }
    }
}

type Candidates = Result<Arc<[u32]>, PlacementError>;

/// Holds the cell snapshots and updates them as work is placed.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    /// Sorted by cell id; evacuating cells are left out.
    cells: Vec<CellState>,
    slots: Vec<Slot>,
    zone_count: usize,
    spreads: HashMap<String, Spread>,
    candidates: HashMap<PlacementConstraint, Candidates>,
    in_flight: u64,
    /// Per-cell instance counts of the process being placed; zero between placements.
    locality: Vec<u32>,
    work: BTreeMap<u32, Work>,
}

impl Scheduler {
    /// Takes the round's cell snapshots. Evacuating cells take no new work; a repeated cell id
    /// keeps its first snapshot.
    pub fn new(config: SchedulerConfig, mut cells: Vec<CellState>) -> Self {
        cells.retain(|c| !c.evacuating);
        cells.sort_by(|a, b| a.cell_id.cmp(&b.cell_id));
        cells.dedup_by(|a, b| a.cell_id == b.cell_id);

        let mut zones: Vec<&str> = cells.iter().map(|c| c.zone.as_str()).collect();
        zones.sort_unstable();
        zones.dedup();
        let zone_of = |name: &str| zones.binary_search(&name).expect("zone listed") as u32;

        let mut spreads: HashMap<String, Spread> = HashMap::new();
        let mut slots = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            let zone = zone_of(&cell.zone);
            for lrp in &cell.lrps {
                spreads.entry(lrp.process_guid.clone()).or_default().add(
                    zones.len(),
                    zone,
                    i as u32,
                );
            }
            slots.push(Slot {
                available: cell.available,
                inv_total: scoring::Reciprocals::of(&cell.total),
                starting: cell.starting_container_count,
                tasks: cell.tasks.len() as u32,
                zone,
            });
        }
        let in_flight = cells
            .iter()
            .map(|c| u64::from(c.starting_container_count))
            .sum();
        let zone_count = zones.len();
        let locality = vec![0; cells.len()];
        Self {
            config,
            cells,
            slots,
            zone_count,
            spreads,
            candidates: HashMap::new(),
            in_flight,
            locality,
            work: BTreeMap::new(),
        }
    }

    /// The cell snapshots as updated by everything placed so far, in cell-id order.
    pub fn cells(&self) -> &[CellState] {
        &self.cells
    }

    pub fn into_cells(self) -> Vec<CellState> {
        self.cells
    }

    /// Places the batch in Diego's order: first instances (index 0) of LRPs, then tasks, then
    /// the other LRP instances. Within each group, lower indices and then bigger requests
    /// (memory, then disk) go first, so large work is placed while cells are still roomy.
    pub fn schedule(&mut self, mut lrps: Vec<LrpAuction>, mut tasks: Vec<TaskAuction>) -> Schedule {
        sort_lrps(&mut lrps);
        sort_tasks(&mut tasks);
        let split = lrps.partition_point(|a| a.lrp.index == 0);
        let later = lrps.split_off(split);

        let mut results = AuctionResults::default();
        for auction in lrps {
            self.auction_lrp(auction, &mut results);
        }
        for auction in tasks {
            self.auction_task(auction, &mut results);
        }
        for auction in later {
            self.auction_lrp(auction, &mut results);
        }

        let work = std::mem::take(&mut self.work)
            .into_iter()
            .map(|(cell, work)| (self.cells[cell as usize].cell_id.clone(), work))
            .collect();
        Schedule { results, work }
    }

    fn auction_lrp(&mut self, mut auction: LrpAuction, results: &mut AuctionResults) {
        match self.place_lrp(&auction.lrp) {
            Ok(cell) => {
                self.reserve_lrp(cell, &auction.lrp);
                auction.record.winner = Some(self.cells[cell as usize].cell_id.clone());
                auction.record.placement_error = None;
                results.successful_lrps.push(auction);
            }
            Err(err) => {
                auction.record.placement_error = Some(err);
                results.failed_lrps.push(auction);
            }
        }
    }

    fn auction_task(&mut self, mut auction: TaskAuction, results: &mut AuctionResults) {
        match self.place_task(&auction.task) {
            Ok(cell) => {
                self.reserve_task(cell, &auction.task);
                auction.record.winner = Some(self.cells[cell as usize].cell_id.clone());
                auction.record.placement_error = None;
                results.successful_tasks.push(auction);
            }
            Err(err) => {
                auction.record.placement_error = Some(err);
                results.failed_tasks.push(auction);
            }
        }
    }

    /// The cells that pass a constraint's static filters, computed once per constraint.
    fn candidates(&mut self, constraint: &PlacementConstraint) -> Candidates {
        if let Some(found) = self.candidates.get(constraint) {
            return found.clone();
        }
        let mut passed = Vec::new();
        let mut deepest: Option<PlacementError> = None;
        for (i, cell) in self.cells.iter().enumerate() {
            match scoring::filter(cell, constraint) {
                Ok(()) => passed.push(i as u32),
                Err(err) => {
                    let deeper = deepest
                        .as_ref()
                        .is_none_or(|d| scoring::filter_depth(&err) > scoring::filter_depth(d));
                    if deeper {
                        deepest = Some(err);
                    }
                }
            }
        }
        let found = if passed.is_empty() {
            Err(deepest.unwrap_or(PlacementError::CellCommunication))
        } else {
            Ok(Arc::from(passed))
        };
        self.candidates.insert(constraint.clone(), found.clone());
        found
    }

    fn start_limit_reached(&self) -> bool {
        self.config
            .max_in_flight_starts
            .is_some_and(|max| self.in_flight >= u64::from(max))
    }

    /// The winning cell for an LRP instance: fewest instances of its process in the zone
    /// first (zone balance), then the lowest score, then the lowest cell id.
    fn place_lrp(&mut self, lrp: &Lrp) -> Result<u32, PlacementError> {
        if self.start_limit_reached() {
            return Err(PlacementError::StartLimitReached);
        }
        let candidates = self.candidates(&lrp.constraint)?;
        let spread = self.spreads.get(&lrp.process_guid);
        if let Some(spread) = spread {
            for &(cell, n) in &spread.cells {
                self.locality[cell as usize] = n;
            }
        }
        let zones: &[u32] = spread.map(|s| s.zones.as_slice()).unwrap_or(&[]);

        let mut scan = Scan::new(self.config.max_starting_per_cell);
        for &cell in candidates.iter() {
            let slot = &self.slots[cell as usize];
            if !scan.admits(slot, &lrp.resource) {
                continue;
            }
            let zone_instances = zones.get(slot.zone as usize).copied().unwrap_or(0);
            if scan.loses_on_zone(zone_instances) {
                continue;
            }
            let resource =
                scoring::resource_score_with(&slot.available, &slot.inv_total, &lrp.resource);
            let locality = self.locality[cell as usize];
            let score = scoring::combine(
                resource,
                locality,
                slot.starting,
                cell as usize,
                true,
                &self.config.weights,
            );
            scan.offer(cell, zone_instances, score);
        }

        if let Some(spread) = spread {
            for &(cell, _) in &spread.cells {
                self.locality[cell as usize] = 0;
            }
        }
        scan.winner()
    }

    /// The winning cell for a task: the lowest score (tasks spread by tasks per cell; zones
    /// play no part), then the lowest cell id.
    fn place_task(&mut self, task: &TaskStartRequest) -> Result<u32, PlacementError> {
        if self.start_limit_reached() {
            return Err(PlacementError::StartLimitReached);
        }
        let candidates = self.candidates(&task.constraint)?;
        let mut scan = Scan::new(self.config.max_starting_per_cell);
        for &cell in candidates.iter() {
            let slot = &self.slots[cell as usize];
            if !scan.admits(slot, &task.resource) {
                continue;
            }
            let resource =
                scoring::resource_score_with(&slot.available, &slot.inv_total, &task.resource);
            let score = scoring::combine(
                resource,
                slot.tasks,
                slot.starting,
                0,
                false,
                &self.config.weights,
            );
            scan.offer(cell, 0, score);
        }
        scan.winner()
    }

    fn reserve(&mut self, cell: u32, resource: &Resource) {
        let slot = &mut self.slots[cell as usize];
        slot.available.take(resource);
        slot.starting += 1;
        let state = &mut self.cells[cell as usize];
        state.available = slot.available;
        state.starting_container_count = slot.starting;
        self.in_flight += 1;
    }

    fn reserve_lrp(&mut self, cell: u32, lrp: &Lrp) {
        self.reserve(cell, &lrp.resource);
        let zone = self.slots[cell as usize].zone;
        let zone_count = self.zone_count;
        match self.spreads.get_mut(&lrp.process_guid) {
            Some(spread) => spread.add(zone_count, zone, cell),
            None => {
                let mut spread = Spread::default();
                spread.add(zone_count, zone, cell);
                self.spreads.insert(lrp.process_guid.clone(), spread);
            }
        }
        self.cells[cell as usize].lrps.push(LrpInstance {
            process_guid: lrp.process_guid.clone(),
            index: lrp.index,
        });
        self.work.entry(cell).or_default().lrps.push(lrp.clone());
    }

    fn reserve_task(&mut self, cell: u32, task: &TaskStartRequest) {
        self.reserve(cell, &task.resource);
        self.slots[cell as usize].tasks += 1;
        self.cells[cell as usize].tasks.push(task.task_guid.clone());
        self.work.entry(cell).or_default().tasks.push(task.clone());
    }
}

/// One pass over the candidate cells: tracks the best so far and, for the error when nothing
/// fits, which resources were short on every cell and whether the start cap got in the way.
struct Scan {
    per_cell_cap: Option<u32>,
    best: Option<(u32, u32, f64)>,
    /// Bits: memory, disk, containers; cleared by any cell that had enough of that resource.
    short_everywhere: u8,
    capped: bool,
}

impl Scan {
    fn new(per_cell_cap: Option<u32>) -> Self {
        Self {
            per_cell_cap,
            best: None,
            short_everywhere: 0b111,
            capped: false,
        }
    }

    #[inline]
    fn admits(&mut self, slot: &Slot, need: &Resource) -> bool {
        let a = &slot.available;
        if a.memory_mb >= need.memory_mb && a.disk_mb >= need.disk_mb && a.containers >= 1 {
            if self.per_cell_cap.is_some_and(|cap| slot.starting >= cap) {
                self.capped = true;
                return false;
            }
            return true;
        }
        let short = u8::from(a.memory_mb < need.memory_mb)
            | u8::from(a.disk_mb < need.disk_mb) << 1
            | u8::from(a.containers < 1) << 2;
        self.short_everywhere &= short;
        false
    }

    /// A cell in a zone with more instances than the best so far cannot win; skip its score.
    #[inline]
    fn loses_on_zone(&self, zone_instances: u32) -> bool {
        self.best.is_some_and(|(_, zi, _)| zone_instances > zi)
    }

    #[inline]
    fn offer(&mut self, cell: u32, zone_instances: u32, score: f64) {
        // Candidates arrive in cell-id order, so a strict comparison keeps the lowest id on ties.
        let better = match self.best {
            None => true,
            Some((_, zi, s)) => zone_instances < zi || (zone_instances == zi && score < s),
        };
        if better {
            self.best = Some((cell, zone_instances, score));
        }
    }

    fn winner(self) -> Result<u32, PlacementError> {
        match self.best {
            Some((cell, _, _)) => Ok(cell),
            None if self.capped => Err(PlacementError::StartLimitReached),
            None => Err(PlacementError::InsufficientResources {
                memory: self.short_everywhere & 0b001 != 0,
                disk: self.short_everywhere & 0b010 != 0,
                containers: self.short_everywhere & 0b100 != 0,
            }),
        }
    }
}

fn sort_lrps(lrps: &mut [LrpAuction]) {
    lrps.sort_by(|a, b| {
        let (a, b) = (&a.lrp, &b.lrp);
        a.index
            .cmp(&b.index)
            .then(b.resource.memory_mb.cmp(&a.resource.memory_mb))
            .then(b.resource.disk_mb.cmp(&a.resource.disk_mb))
            .then_with(|| a.process_guid.cmp(&b.process_guid))
    });
}

fn sort_tasks(tasks: &mut [TaskAuction]) {
    tasks.sort_by(|a, b| {
        let (a, b) = (&a.task, &b.task);
        b.resource
            .memory_mb
            .cmp(&a.resource.memory_mb)
            .then(b.resource.disk_mb.cmp(&a.resource.disk_mb))
            .then_with(|| a.task_guid.cmp(&b.task_guid))
    });
}

#[cfg(test)]
mod tests;
