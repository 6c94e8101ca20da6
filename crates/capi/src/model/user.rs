use chrono::{DateTime, Utc};

use super::{Listable, Metadata, listable};

/// A user as the CCDB knows them: only the guid. Names come from UAA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub guid: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user joined with what UAA says about them. `username` is None for clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub user: User,
    pub username: Option<String>,
    pub origin: Option<String>,
}

impl UserView {
    /// CC shows the username for users and the guid for clients.
    pub fn presentation_name(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.user.guid)
    }
}

listable!(User { labels });

impl Listable for UserView {
    fn guid(&self) -> &str {
        &self.user.guid
    }
    fn name(&self) -> Option<&str> {
        self.username.as_deref()
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.user.updated_at
    }
    fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        Some(&self.user.metadata.labels)
    }
}
