//! Apps and their processes: what the developer asked to run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Metadata;
use crate::store::{
    Document, Table,
    docs::{document, key},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppState {
    Started,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleType {
    Buildpack,
    Docker,
}

/// How the app is staged: buildpacks by name (empty: detect among all) on a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(rename = "type")]
    pub kind: LifecycleType,
    pub buildpacks: Vec<String>,
    pub stack: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub guid: String,
    pub name: String,
    pub space_guid: String,
    pub state: AppState,
    pub lifecycle: Lifecycle,
    /// User-provided environment variables (`cf set-env`).
    pub environment_variables: BTreeMap<String, String>,
    /// The current droplet, once one is assigned.
    pub droplet_guid: Option<String>,
    pub enable_ssh: bool,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

document!(App, Table::Apps, |a| vec![
    Some(a.space_guid.clone()),
    Some(a.name.clone()),
    key(&a.state)
]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheckType {
    Port,
    Process,
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub kind: HealthCheckType,
    /// For `http`: the path to GET (default `/`).
    pub endpoint: Option<String>,
    /// Seconds the instance has to become healthy after starting.
    pub timeout: Option<u32>,
    /// Seconds one check attempt may take.
    pub invocation_timeout: Option<u32>,
}

/// One process type of an app (`web`, `worker`, ...), with its scale and health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub guid: String,
    pub app_guid: String,
    #[serde(rename = "type")]
    pub process_type: String,
    /// The command the user set; `None` uses the droplet's for this type.
    pub command: Option<String>,
    pub instances: u32,
    pub memory_in_mb: u64,
    pub disk_in_mb: u64,
    pub log_rate_limit_in_bytes_per_second: i64,
    pub health_check: HealthCheck,
    /// Changes on every start and restart; the Diego process guid is `<guid>-<version>`, so
    /// a new version replaces every instance.
    pub version: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

document!(Process, Table::Processes, |p| vec![
    Some(p.app_guid.clone()),
    Some(p.process_type.clone())
]);

/// A named set of environment variables every app gets: `running` or `staging`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariableGroup {
    /// `running` or `staging`; also the row's guid.
    pub name: String,
    pub var: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Document for EnvironmentVariableGroup {
    const TABLE: Table = Table::EnvironmentVariableGroups;
    fn guid(&self) -> &str {
        &self.name
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn keys(&self) -> Vec<Option<String>> {
        Vec::new()
    }
}
