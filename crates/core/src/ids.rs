use std::sync::atomic::{AtomicU64, Ordering};

/// The source of new resource GUIDs, so tests can predict them.
pub trait IdGen: Send + Sync + 'static {
    fn new_guid(&self) -> String;
}

/// Random (v4) UUIDs, as Cloud Foundry uses for every resource.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdGen for UuidIds {
    fn new_guid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Predictable UUID-shaped ids for tests: `00000000-0000-0000-0000-000000000001`, ...
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdGen for SequentialIds {
    fn new_guid(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        format!("00000000-0000-0000-0000-{n:012}")
    }
}
