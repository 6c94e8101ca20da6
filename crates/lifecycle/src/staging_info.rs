//! `staging_info.yml`, the one file the builder leaves in the droplet for the launcher.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) const FILE_NAME: &str = "staging_info.yml";

/// Written as JSON, which is valid YAML, exactly as Cloud Foundry's builder writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StagingInfo {
    #[serde(default)]
    pub detected_buildpack: String,
    #[serde(default)]
    pub start_command: String,
}

impl StagingInfo {
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut json = serde_json::to_vec(self)?;
        json.push(b'\n');
        std::fs::write(path, json)
    }

    /// A droplet without the file has no detected start command, as in Cloud Foundry.
    pub fn read(path: &Path) -> io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_yaml_ng::from_slice(&bytes)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err),
        }
    }
}
