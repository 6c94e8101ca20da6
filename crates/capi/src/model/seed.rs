//! Markers of seeds that run once per CCDB, so what an admin later deletes stays deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Table, docs::document};

/// The seed named `guid` ran at `created_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    pub guid: String,
    pub created_at: DateTime<Utc>,
}

document!(Seed, Table::Seeds, |_s| Vec::new());
