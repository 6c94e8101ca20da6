use chrono::{DateTime, Utc};

use super::{Listable, listable};

/// An organization quota. Only the unlimited `default` quota exists for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationQuota {
    pub guid: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const DEFAULT_QUOTA_NAME: &str = "default";

listable!(OrganizationQuota { name });

/// A quota with the guids of the organizations using it that the caller can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaWithOrganizations {
    pub quota: OrganizationQuota,
    pub organization_guids: Vec<String>,
}

impl Listable for QuotaWithOrganizations {
    fn guid(&self) -> &str {
        self.quota.guid()
    }
    fn name(&self) -> Option<&str> {
        self.quota.name()
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.quota.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.quota.updated_at
    }
}
