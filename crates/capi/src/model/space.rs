use chrono::{DateTime, Utc};

use super::{Metadata, listable};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub guid: String,
    pub name: String,
    pub organization_guid: String,
    /// The space's `ssh` feature.
    pub allow_ssh: bool,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

listable!(Space { name, labels });
