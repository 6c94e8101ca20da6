//! Cell presences, kept in memory like Diego's locket presences: a rep re-registers on a
//! heartbeat, and a presence whose TTL runs out is gone.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::models::{CellPresence, Nanos};

#[derive(Default)]
pub(crate) struct CellRegistry {
    cells: Mutex<BTreeMap<String, (CellPresence, Nanos)>>,
}

impl CellRegistry {
    pub(crate) fn register(&self, presence: CellPresence, expires_at: Nanos) {
        let mut cells = self.cells.lock().expect("cells lock");
        cells.insert(presence.cell_id.clone(), (presence, expires_at));
    }

    /// The presences still fresh at `now`, by cell id.
    pub(crate) fn fresh(&self, now: Nanos) -> Vec<CellPresence> {
        let cells = self.cells.lock().expect("cells lock");
        cells
            .values()
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub(crate) fn get(&self, cell_id: &str, now: Nanos) -> Option<CellPresence> {
        let cells = self.cells.lock().expect("cells lock");
        cells
            .get(cell_id)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(p, _)| p.clone())
    }

    /// Forgets expired presences and returns their ids.
    pub(crate) fn prune(&self, now: Nanos) -> Vec<String> {
        let mut cells = self.cells.lock().expect("cells lock");
        let gone: Vec<String> = cells
            .iter()
            .filter(|(_, (_, expires_at))| now >= *expires_at)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            cells.remove(id);
        }
        gone
    }

    /// When the next presence runs out, if any is registered.
    pub(crate) fn next_expiry(&self) -> Option<Nanos> {
        let cells = self.cells.lock().expect("cells lock");
        cells.values().map(|(_, expires_at)| *expires_at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presences_expire() {
        let registry = CellRegistry::default();
        let cell = |id: &str| CellPresence {
            cell_id: id.into(),
            rep_address: "http://127.0.0.1:1".into(),
            ..CellPresence::default()
        };
        registry.register(cell("a"), 10);
        registry.register(cell("b"), 20);
        assert_eq!(registry.fresh(5).len(), 2);
        assert_eq!(registry.next_expiry(), Some(10));
        assert!(registry.get("a", 10).is_none());
        assert_eq!(registry.prune(10), ["a"]);
        assert_eq!(registry.fresh(10), [cell("b")]);
        registry.register(cell("b"), 30); // the heartbeat renews
        assert_eq!(registry.fresh(25).len(), 1);
    }
}
