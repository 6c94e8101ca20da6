use chrono::{DateTime, Utc};

use super::{Metadata, listable};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub guid: String,
    pub name: String,
    pub suspended: bool,
    pub quota_guid: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

listable!(Organization { name, labels });
