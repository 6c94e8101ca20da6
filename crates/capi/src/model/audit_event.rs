use chrono::{DateTime, Utc};

use super::Listable;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditActor {
    pub guid: String,
    /// `user` for user tokens.
    pub actor_type: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub guid: String,
    pub target_type: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub guid: String,
    pub event_type: String,
    pub actor: AuditActor,
    pub target: AuditTarget,
    pub data: serde_json::Value,
    pub space_guid: Option<String>,
    pub organization_guid: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Listable for AuditEvent {
    fn guid(&self) -> &str {
        &self.guid
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}
