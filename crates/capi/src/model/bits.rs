//! What staging consumes and produces: packages (the app's bits), builds (one staging run),
//! droplets (the staged result), and the buildpacks and stacks staging uses.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Metadata, app::Lifecycle};
use crate::store::{
    Table,
    docs::{document, key},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageState {
    AwaitingUpload,
    ProcessingUpload,
    Ready,
    Failed,
    Copying,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageType {
    Bits,
    Docker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub guid: String,
    pub app_guid: String,
    #[serde(rename = "type")]
    pub package_type: PackageType,
    pub state: PackageState,
    /// sha256 of the stored zip (also its blobstore key) once READY.
    pub sha256: Option<String>,
    /// For docker packages.
    pub image: Option<String>,
    pub error: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildState {
    Staging,
    Staged,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: String,
    /// The droplet this build produces; created with the build, STAGED when it succeeds.
    pub droplet_guid: Option<String>,
    pub state: BuildState,
    /// e.g. "NoAppDetectedError - An app was not successfully detected by any available
    /// buildpack".
    pub error: Option<String>,
    pub lifecycle: Lifecycle,
    pub staging_memory_in_mb: u64,
    pub staging_disk_in_mb: u64,
    /// Who asked for it: guid, name.
    pub created_by_guid: String,
    pub created_by_name: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DropletState {
    AwaitingUpload,
    ProcessingUpload,
    Staged,
    Copying,
    Failed,
    Expired,
}

/// A buildpack as a droplet records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletBuildpack {
    pub name: String,
    pub buildpack_name: Option<String>,
    pub detect_output: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Droplet {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: Option<String>,
    pub state: DropletState,
    pub error: Option<String>,
    pub lifecycle: Lifecycle,
    pub buildpacks: Vec<DropletBuildpack>,
    /// Process type -> start command, from the buildpack's release and the Procfile.
    pub process_types: BTreeMap<String, String>,
    pub execution_metadata: String,
    /// sha256 of the droplet tgz (also its blobstore key) once uploaded.
    pub sha256: Option<String>,
    /// For docker droplets.
    pub image: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildpackState {
    AwaitingUpload,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buildpack {
    pub guid: String,
    pub name: String,
    /// `None`: any stack.
    pub stack: Option<String>,
    /// 1-based; buildpacks are tried in this order when detecting.
    pub position: u32,
    pub enabled: bool,
    pub locked: bool,
    pub state: BuildpackState,
    /// The uploaded file's name.
    pub filename: Option<String>,
    /// sha256 of the zip (also its blobstore key) once uploaded.
    pub sha256: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    pub guid: String,
    pub name: String,
    pub description: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

document!(Package, Table::Packages, |p| vec![
    Some(p.app_guid.clone()),
    key(&p.state)
]);
document!(Build, Table::Builds, |b| vec![
    Some(b.app_guid.clone()),
    Some(b.package_guid.clone()),
    key(&b.state)
]);
document!(Droplet, Table::Droplets, |d| vec![
    Some(d.app_guid.clone()),
    d.package_guid.clone(),
    key(&d.state)
]);
document!(Buildpack, Table::Buildpacks, |b| vec![
    Some(b.name.clone()),
    Some(b.stack.clone().unwrap_or_default())
]);
document!(Stack, Table::Stacks, |s| vec![Some(s.name.clone())]);
