use chrono::{DateTime, Utc};

use super::{Listable, Metadata};

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

impl Listable for Organization {
    fn guid(&self) -> &str {
        &self.guid
    }
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        Some(&self.metadata.labels)
    }
}
