//! Tasks: one-off commands run on an app's droplet (`cf run-task`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Metadata, listable};
use crate::store::{
    Table,
    docs::{document, key},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    Pending,
    Running,
    Succeeded,
    Canceling,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub guid: String,
    pub app_guid: String,
    pub droplet_guid: String,
    /// 1, 2, ... per app.
    pub sequence_id: u32,
    pub name: String,
    pub command: String,
    pub state: TaskState,
    pub memory_in_mb: u64,
    pub disk_in_mb: u64,
    /// -1: unlimited.
    #[serde(default = "unlimited")]
    pub log_rate_limit_in_bytes_per_second: i64,
    pub failure_reason: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

document!(Task, Table::Tasks, |t| vec![
    Some(t.app_guid.clone()),
    key(&t.state),
    Some(t.sequence_id.to_string())
]);

fn unlimited() -> i64 {
    -1
}

listable!(Task { name, labels });
