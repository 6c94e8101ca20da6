use chrono::{DateTime, Utc};

use super::Listable;

/// An organization quota. Only the unlimited `default` quota exists for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationQuota {
    pub guid: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const DEFAULT_QUOTA_NAME: &str = "default";

impl Listable for OrganizationQuota {
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
}
