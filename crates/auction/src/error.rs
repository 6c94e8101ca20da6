//! The crate's errors. Placement errors are values carried in results (one named reason per way
//! placement can fail); cell errors come from the cell clients.

use std::fmt;

/// Why a piece of work could not be placed. The Display strings follow Diego's wording, since
/// they end up in front of operators (`cf app` shows them as the instance's placement error).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PlacementError {
    /// No cell offers the requested rootfs (stack or image scheme).
    #[error("found no compatible cell for required rootfs")]
    CellMismatch,
    /// Cells with the rootfs exist, but none has every required volume driver.
    #[error("found no compatible cell with required volume drivers")]
    VolumeDriverMismatch,
    /// Cells with the rootfs and drivers exist, but none has matching placement tags.
    #[error("{}", PlacementTags(.tags))]
    PlacementTagMismatch { tags: Vec<String> },
    /// Compatible cells exist but none has room. The flags name the resources that were short
    /// on every compatible cell.
    #[error("{}", Shortfall { memory: *.memory, disk: *.disk, containers: *.containers })]
    InsufficientResources {
        memory: bool,
        disk: bool,
        containers: bool,
    },
    /// The cap on containers starting at once was reached; the work waits for a later round.
    #[error("waiting to start instance: reached in-flight start limit")]
    StartLimitReached,
    /// No cell answered the state request this round.
    #[error("unable to communicate to compatible cells")]
    CellCommunication,
    /// The winning cells kept refusing the work until the attempt limit.
    #[error("cells rejected the work {attempts} times")]
    Rejected { attempts: u32 },
}

struct PlacementTags<'a>(&'a [String]);

impl fmt::Display for PlacementTags<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("found no compatible cell with no placement tags"),
            [one] => write!(f, "found no compatible cell with placement tag \"{one}\""),
            [rest @ .., last] => {
                f.write_str("found no compatible cell with placement tags ")?;
                let quoted: Vec<String> = rest.iter().map(|t| format!("\"{t}\"")).collect();
                write!(f, "{} and \"{last}\"", quoted.join(", "))
            }
        }
    }
}

struct Shortfall {
    memory: bool,
    disk: bool,
    containers: bool,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.memory, "memory"),
            (self.disk, "disk"),
            (self.containers, "containers"),
        ]
        .into_iter()
        .filter_map(|(short, name)| short.then_some(name))
        .collect();
        if names.is_empty() {
            f.write_str("insufficient resources")
        } else {
            write!(f, "insufficient resources: {}", names.join(", "))
        }
    }
}

/// A cell client failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("cell {cell_id} is unavailable: {reason}")]
    Unavailable { cell_id: String, reason: String },
    #[error("cell {cell_id} did not answer within {timeout_ms} ms")]
    Timeout { cell_id: String, timeout_ms: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_follows_diego_wording() {
        let tags = |t: &[&str]| PlacementError::PlacementTagMismatch {
            tags: t.iter().map(|s| s.to_string()).collect(),
        };
        let short = |memory, disk, containers| PlacementError::InsufficientResources {
            memory,
            disk,
            containers,
        };
        let table = [
            (
                PlacementError::CellMismatch,
                "found no compatible cell for required rootfs",
            ),
            (
                PlacementError::VolumeDriverMismatch,
                "found no compatible cell with required volume drivers",
            ),
            (tags(&[]), "found no compatible cell with no placement tags"),
            (
                tags(&["a"]),
                "found no compatible cell with placement tag \"a\"",
            ),
            (
                tags(&["a", "b", "c"]),
                "found no compatible cell with placement tags \"a\", \"b\" and \"c\"",
            ),
            (short(true, false, false), "insufficient resources: memory"),
            (
                short(true, true, true),
                "insufficient resources: memory, disk, containers",
            ),
            (
                short(false, false, true),
                "insufficient resources: containers",
            ),
            (short(false, false, false), "insufficient resources"),
            (
                PlacementError::StartLimitReached,
                "waiting to start instance: reached in-flight start limit",
            ),
            (
                PlacementError::CellCommunication,
                "unable to communicate to compatible cells",
            ),
            (
                PlacementError::Rejected { attempts: 3 },
                "cells rejected the work 3 times",
            ),
        ];
        for (err, want) in table {
            assert_eq!(err.to_string(), want);
        }
    }
}
