//! How one cell rates one piece of work: filters (rootfs, volume drivers, placement tags,
//! resources) and the score. Pure functions of a `CellState` snapshot; lower scores win.

use crate::error::PlacementError;
use crate::model::{Capacity, CellState, Lrp, PlacementConstraint, Resource, TaskStartRequest};

/// Added per instance of the same process already on the cell (per task already on the cell,
/// for tasks). It dwarfs the other terms, so instances spread before cells fill up.
pub const LOCALITY_PENALTY: f64 = 1000.0;

/// The tunable terms of the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Per container the cell is still starting: steers work away from busy cells.
    pub starting_container: f64,
    /// Per position in cell order: above zero, fills low cells first (bin packing).
    pub bin_pack_first_fit: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            starting_container: 0.25,
            bin_pack_first_fit: 0.0,
        }
    }
}

/// Does the cell offer this rootfs? `preloaded:<stack>` needs the stack; any other URL needs
/// the cell to accept its scheme (e.g. `docker`).
pub fn matches_rootfs(cell: &CellState, root_fs: &str) -> bool {
    match root_fs.split_once(':') {
        Some(("preloaded", stack)) => cell.stacks.iter().any(|s| s == stack),
        Some((scheme, _)) => cell.rootfs_schemes.iter().any(|s| s == scheme),
        None => false,
    }
}

/// Every driver the work needs must be on the cell.
pub fn matches_volume_drivers(cell: &CellState, drivers: &[String]) -> bool {
    drivers.iter().all(|d| cell.volume_drivers.contains(d))
}

/// The cell's required tags must all be asked for, and every tag asked for must be one the
/// cell has, required or optional.
pub fn matches_placement_tags(cell: &CellState, tags: &[String]) -> bool {
    cell.placement_tags.iter().all(|t| tags.contains(t))
        && tags
            .iter()
            .all(|t| cell.placement_tags.contains(t) || cell.optional_placement_tags.contains(t))
}

/// The static filters, in Diego's order: rootfs, then volume drivers, then placement tags.
/// The error names the first filter this cell failed.
pub fn filter(cell: &CellState, constraint: &PlacementConstraint) -> Result<(), PlacementError> {
    if !matches_rootfs(cell, &constraint.root_fs) {
        return Err(PlacementError::CellMismatch);
    }
    if !matches_volume_drivers(cell, &constraint.volume_drivers) {
        return Err(PlacementError::VolumeDriverMismatch);
    }
    if !matches_placement_tags(cell, &constraint.placement_tags) {
        return Err(PlacementError::PlacementTagMismatch {
            tags: constraint.placement_tags.clone(),
        });
    }
    Ok(())
}

/// How far a filter error got: when no cell passes, the batch reports the furthest any cell
/// got, since that is the most useful thing to fix.
pub(crate) fn filter_depth(err: &PlacementError) -> u8 {
    match err {
        PlacementError::CellMismatch => 0,
        PlacementError::VolumeDriverMismatch => 1,
        PlacementError::PlacementTagMismatch { .. } => 2,
        _ => 3,
    }
}

/// Never overcommit: the work must fit in what is free, plus one container slot.
pub fn fit(available: &Capacity, resource: &Resource) -> Result<(), PlacementError> {
    let memory = available.memory_mb < resource.memory_mb;
    let disk = available.disk_mb < resource.disk_mb;
    let containers = available.containers < 1;
    if memory || disk || containers {
        Err(PlacementError::InsufficientResources {
            memory,
            disk,
            containers,
        })
    } else {
        Ok(())
    }
}

/// `1 / total` for each resource, worked out once per cell so the scoring scan multiplies
/// instead of dividing. A zero total counts as always full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reciprocals {
    memory: f64,
    disk: f64,
    containers: f64,
}

impl Reciprocals {
    pub fn of(total: &Capacity) -> Self {
        let inv = |t: u64| if t == 0 { 0.0 } else { 1.0 / t as f64 };
        Self {
            memory: inv(total.memory_mb),
            disk: inv(total.disk_mb),
            containers: inv(u64::from(total.containers)),
        }
    }
}

/// The mean fraction of memory, disk and container slots in use once the work is placed. Lower
/// means a roomier cell. Call only after `fit` succeeded.
pub fn resource_score(available: &Capacity, total: &Capacity, resource: &Resource) -> f64 {
    resource_score_with(available, &Reciprocals::of(total), resource)
}

/// `resource_score` with the reciprocals already worked out; both give identical results.
#[inline]
pub fn resource_score_with(
    available: &Capacity,
    inv_total: &Reciprocals,
    resource: &Resource,
) -> f64 {
    let used = |free: u64, need: u64, inv: f64| 1.0 - free.saturating_sub(need) as f64 * inv;
    (used(available.memory_mb, resource.memory_mb, inv_total.memory)
        + used(available.disk_mb, resource.disk_mb, inv_total.disk)
        + used(u64::from(available.containers), 1, inv_total.containers))
        / 3.0
}

/// The terms of a score, so the scheduler's fast path and the plain functions below share
/// one formula.
#[inline]
pub fn combine(
    resource_score: f64,
    locality: u32,
    starting: u32,
    cell_index: usize,
    bin_pack: bool,
    w: &Weights,
) -> f64 {
    let index_term = if bin_pack {
        cell_index as f64 * w.bin_pack_first_fit
    } else {
        0.0
    };
    resource_score
        + LOCALITY_PENALTY * f64::from(locality)
        + w.starting_container * f64::from(starting)
        + index_term
}

/// A cell's score for one LRP instance, or why the instance cannot go there. `cell_index` is
/// the cell's position in cell-id order (the bin-pack term).
pub fn score_lrp(
    cell: &CellState,
    cell_index: usize,
    lrp: &Lrp,
    w: &Weights,
) -> Result<f64, PlacementError> {
    filter(cell, &lrp.constraint)?;
    fit(&cell.available, &lrp.resource)?;
    let locality = cell.instances_of(&lrp.process_guid) as u32;
    let resource = resource_score(&cell.available, &cell.total, &lrp.resource);
    Ok(combine(
        resource,
        locality,
        cell.starting_container_count,
        cell_index,
        true,
        w,
    ))
}

/// A cell's score for one task. Tasks spread by the number of tasks already on the cell and
/// take no bin-pack term, as in Diego.
pub fn score_task(
    cell: &CellState,
    task: &TaskStartRequest,
    w: &Weights,
) -> Result<f64, PlacementError> {
    filter(cell, &task.constraint)?;
    fit(&cell.available, &task.resource)?;
    let resource = resource_score(&cell.available, &cell.total, &task.resource);
    Ok(combine(
        resource,
        cell.tasks.len() as u32,
        cell.starting_container_count,
        0,
        false,
        w,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LrpInstance;

    fn cell() -> CellState {
        CellState::new("cell-a", "z1", Capacity::new(1000, 2000, 10))
    }

    fn lrp(guid: &str, memory: u64, disk: u64) -> Lrp {
        Lrp {
            process_guid: guid.into(),
            index: 0,
            domain: "cf-apps".into(),
            resource: Resource::new(memory, disk),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rootfs_table() {
        let c = cell();
        let table = [
            ("preloaded:cflinuxfs4", true),
            ("preloaded:cflinuxfs3", false),
            ("docker:///cloudfoundry/grace", true),
            ("oci:///something", false),
            ("cflinuxfs4", false),
        ];
        for (rootfs, want) in table {
            assert_eq!(matches_rootfs(&c, rootfs), want, "{rootfs}");
        }
    }

    #[test]
    fn placement_tags_table() {
        // (cell's required tags, cell's optional tags, tags asked for, matches)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], bool);
        let table: [Case; 8] = [
            (&[], &[], &[], true),
            (&[], &[], &["gpu"], false),
            (&["gpu"], &[], &[], false),
            (&["gpu"], &[], &["gpu"], true),
            (&["gpu"], &["ssd"], &["gpu", "ssd"], true),
            (&["gpu"], &["ssd"], &["ssd"], false),
            (&[], &["ssd"], &["ssd"], true),
            (&[], &["ssd"], &[], true),
        ];
        for (required, optional, asked, want) in table {
            let mut c = cell();
            c.placement_tags = strings(required);
            c.optional_placement_tags = strings(optional);
            assert_eq!(
                matches_placement_tags(&c, &strings(asked)),
                want,
                "{required:?} {optional:?} {asked:?}"
            );
        }
    }

    #[test]
    fn volume_drivers_table() {
        let mut c = cell();
        c.volume_drivers = strings(&["nfs", "smb"]);
        let table: [(&[&str], bool); 4] = [
            (&[], true),
            (&["nfs"], true),
            (&["nfs", "smb"], true),
            (&["ceph"], false),
        ];
        for (asked, want) in table {
            assert_eq!(
                matches_volume_drivers(&c, &strings(asked)),
                want,
                "{asked:?}"
            );
        }
    }

    #[test]
    fn filter_reports_the_first_failed_filter() {
        let mut c = cell();
        c.volume_drivers = strings(&["nfs"]);
        let constraint = |rootfs: &str, drivers: &[&str], tags: &[&str]| PlacementConstraint {
            root_fs: rootfs.into(),
            placement_tags: strings(tags),
            volume_drivers: strings(drivers),
        };
        let table = [
            (
                constraint("preloaded:nope", &["ceph"], &["x"]),
                Err(PlacementError::CellMismatch),
            ),
            (
                constraint("preloaded:cflinuxfs4", &["ceph"], &["x"]),
                Err(PlacementError::VolumeDriverMismatch),
            ),
            (
                constraint("preloaded:cflinuxfs4", &["nfs"], &["x"]),
                Err(PlacementError::PlacementTagMismatch {
                    tags: strings(&["x"]),
                }),
            ),
            (constraint("preloaded:cflinuxfs4", &["nfs"], &[]), Ok(())),
        ];
        for (pc, want) in table {
            assert_eq!(filter(&c, &pc), want, "{pc:?}");
        }
    }

    #[test]
    fn fit_names_every_short_resource() {
        let free = Capacity::new(100, 100, 1);
        let none = Capacity::new(100, 100, 0);
        let short = |memory, disk, containers| {
            Err(PlacementError::InsufficientResources {
                memory,
                disk,
                containers,
            })
        };
        let table = [
            (free, Resource::new(100, 100), Ok(())),
            (free, Resource::new(101, 100), short(true, false, false)),
            (free, Resource::new(100, 101), short(false, true, false)),
            (none, Resource::new(1, 1), short(false, false, true)),
            (none, Resource::new(101, 101), short(true, true, true)),
        ];
        for (available, resource, want) in table {
            assert_eq!(
                fit(&available, &resource),
                want,
                "{available:?} {resource:?}"
            );
        }
    }

    #[test]
    fn score_table() {
        let w = Weights::default();
        let with = |f: &dyn Fn(&mut CellState)| {
            let mut c = cell();
            f(&mut c);
            c
        };
        // Empty cell, 100 MB / 200 MB / 1 container of 1000 / 2000 / 10: each fraction is 0.1.
        let table: [(CellState, usize, Lrp, f64); 5] = [
            (cell(), 0, lrp("p", 100, 200), 0.1),
            (
                with(&|c| {
                    c.available = Capacity::new(500, 1000, 5);
                }),
                0,
                lrp("p", 100, 200),
                0.6,
            ),
            (
                with(&|c| {
                    c.lrps.push(LrpInstance {
                        process_guid: "p".into(),
                        index: 1,
                    });
                    c.lrps.push(LrpInstance {
                        process_guid: "q".into(),
                        index: 0,
                    });
                }),
                0,
                lrp("p", 100, 200),
                1000.1,
            ),
            (
                with(&|c| c.starting_container_count = 4),
                0,
                lrp("p", 100, 200),
                1.1,
            ),
            (cell(), 7, lrp("p", 100, 200), 0.1),
        ];
        for (c, index, l, want) in table {
            let got = score_lrp(&c, index, &l, &w).unwrap();
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
        let bin_pack = Weights {
            bin_pack_first_fit: 2.0,
            ..w
        };
        let got = score_lrp(&cell(), 3, &lrp("p", 100, 200), &bin_pack).unwrap();
        assert!((got - 6.1).abs() < 1e-9, "{got}");
    }

    #[test]
    fn task_score_spreads_by_tasks_on_the_cell() {
        let w = Weights {
            bin_pack_first_fit: 5.0,
            ..Weights::default()
        };
        let mut c = cell();
        c.tasks.push("t0".into());
        let task = TaskStartRequest {
            task_guid: "t1".into(),
            domain: "cf-tasks".into(),
            resource: Resource::new(100, 200),
            constraint: PlacementConstraint::new("preloaded:cflinuxfs4"),
        };
        let got = score_task(&c, &task, &w).unwrap();
        assert!((got - 1000.1).abs() < 1e-9, "{got}");
    }

    #[test]
    fn score_refuses_what_does_not_fit() {
        let c = cell();
        assert_eq!(
            score_lrp(&c, 0, &lrp("p", 1001, 1), &Weights::default()),
            Err(PlacementError::InsufficientResources {
                memory: true,
                disk: false,
                containers: false
            })
        );
        let mut other = lrp("p", 1, 1);
        other.constraint.root_fs = "preloaded:windows".into();
        assert_eq!(
            score_lrp(&c, 0, &other, &Weights::default()),
            Err(PlacementError::CellMismatch)
        );
    }
}
