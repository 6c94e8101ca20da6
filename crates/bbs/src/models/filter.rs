//! List filters; an empty field matches everything.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesiredLrpFilter {
    pub domain: String,
    pub process_guids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActualLrpFilter {
    pub domain: String,
    pub cell_id: String,
    pub process_guid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskFilter {
    pub domain: String,
    pub cell_id: String,
}

impl DesiredLrpFilter {
    pub fn matches(&self, lrp: &super::DesiredLrp) -> bool {
        (self.domain.is_empty() || self.domain == lrp.domain)
            && (self.process_guids.is_empty() || self.process_guids.contains(&lrp.process_guid))
    }
}

impl ActualLrpFilter {
    pub fn matches(&self, lrp: &super::ActualLrp) -> bool {
        (self.domain.is_empty() || self.domain == lrp.domain)
            && (self.cell_id.is_empty() || self.cell_id == lrp.cell_id)
            && (self.process_guid.is_empty() || self.process_guid == lrp.process_guid)
            && self.index.is_none_or(|i| i == lrp.index)
    }
}

impl TaskFilter {
    pub fn matches(&self, task: &super::Task) -> bool {
        (self.domain.is_empty() || self.domain == task.domain)
            && (self.cell_id.is_empty() || self.cell_id == task.cell_id)
    }
}
