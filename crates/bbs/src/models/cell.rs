//! Cell presence: a rep announcing itself, renewed on a heartbeat and dropped when its TTL runs
//! out.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellCapacity {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub containers: u32,
}

/// A kind of root filesystem a cell offers: `preloaded` with its stacks as properties (e.g.
/// `cflinuxfs4`), or an image scheme such as `docker`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsProvider {
    pub name: String,
    #[serde(default)]
    pub properties: Vec<String>,
}

impl RootfsProvider {
    pub fn preloaded(stacks: &[&str]) -> Self {
        Self {
            name: "preloaded".into(),
            properties: stacks.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn scheme(name: &str) -> Self {
        Self {
            name: name.into(),
            properties: Vec::new(),
        }
    }
}

/// How a cell's rep is announced to the BBS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CellPresence {
    pub cell_id: String,
    /// The rep's address (a URL).
    pub rep_address: String,
    /// The rep's URL for callers that need TLS names; empty when the same as `rep_address`.
    pub rep_url: String,
    pub zone: String,
    pub capacity: CellCapacity,
    pub rootfs_providers: Vec<RootfsProvider>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
}

impl CellPresence {
    pub fn validate(&self) -> Result<(), crate::Error> {
        let mut v = super::Validator::new();
        v.require(&self.cell_id, "cell_id");
        v.require(&self.rep_address, "rep_address");
        v.finish()
    }

    /// The stacks offered by the `preloaded` provider.
    pub fn preloaded_stacks(&self) -> Vec<String> {
        self.rootfs_providers
            .iter()
            .filter(|p| p.name == "preloaded")
            .flat_map(|p| p.properties.iter().cloned())
            .collect()
    }
}
