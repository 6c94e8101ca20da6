//! The rep's tags on executor containers: which Task or LRP instance a container holds.
//! They are Garden properties, so a restarted cell can tell what it re-adopted.

use ingot_bbs::{ActualLrpInstanceKey, ActualLrpKey};

use crate::executor::{Container, Tags};

const LIFECYCLE: &str = "rep:lifecycle";
const PROCESS_GUID: &str = "rep:process-guid";
const INDEX: &str = "rep:index";
const DOMAIN: &str = "rep:domain";
const TASK_GUID: &str = "rep:task-guid";

/// What a container is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// An LRP instance; the container's guid is the instance guid.
    Lrp {
        key: ActualLrpKey,
        instance: ActualLrpInstanceKey,
    },
    /// A task; the container's guid is the task guid.
    Task { task_guid: String },
}

pub fn lrp_tags(key: &ActualLrpKey) -> Tags {
    [
        (LIFECYCLE, "lrp".to_owned()),
        (PROCESS_GUID, key.process_guid.clone()),
        (INDEX, key.index.to_string()),
        (DOMAIN, key.domain.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn task_tags(task_guid: &str, domain: &str) -> Tags {
    [
        (LIFECYCLE, "task".to_owned()),
        (TASK_GUID, task_guid.to_owned()),
        (DOMAIN, domain.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The workload of a container of `cell_id`; `None` for one the rep did not tag.
pub fn workload(container: &Container, cell_id: &str) -> Option<Workload> {
    let tag = |k: &str| container.tags.get(k).cloned();
    match tag(LIFECYCLE)?.as_str() {
        "lrp" => Some(Workload::Lrp {
            key: ActualLrpKey::new(
                tag(PROCESS_GUID)?,
                tag(INDEX)?.parse().ok()?,
                tag(DOMAIN).unwrap_or_default(),
            ),
            instance: ActualLrpInstanceKey::new(&container.guid, cell_id),
        }),
        "task" => Some(Workload::Task {
            task_guid: tag(TASK_GUID)?,
        }),
        _ => None,
    }
}
