//! Sharing of values that repeat across a source's envelopes (instance ids, tag sets), so a
//! source of 100,000 lines holds a handful of copies instead of 100,000.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// How many distinct values one interner keeps. A source normally has a few (one per instance,
/// one tag set per source type); a source with a new value per envelope simply stops sharing.
const CAPACITY: usize = 64;

#[derive(Debug)]
pub(crate) struct Interner<T: ?Sized> {
    values: HashSet<Arc<T>>,
}

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Self {
            values: HashSet::new(),
        }
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The shared copy of `value`; `value` itself becomes it if there is none yet.
    pub(crate) fn share<Q>(&mut self, value: Q) -> Arc<T>
    where
        Q: Borrow<T>,
        Arc<T>: From<Q>,
    {
        if let Some(shared) = self.values.get(value.borrow()) {
            return Arc::clone(shared);
        }
        let shared = Arc::<T>::from(value);
        if self.values.len() >= CAPACITY {
            // Forget values no stored envelope uses any more.
            self.values.retain(|v| Arc::strong_count(v) > 1);
        }
        if self.values.len() < CAPACITY {
            self.values.insert(Arc::clone(&shared));
        }
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation() {
        let mut interner = Interner::<str>::default();
        let a = interner.share("0");
        let b = interner.share(String::from("0"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &interner.share("1")));
    }

    #[test]
    fn stays_bounded_and_forgets_unused_values() {
        let mut interner = Interner::<str>::default();
        let kept: Vec<Arc<str>> = (0..CAPACITY)
            .map(|i| interner.share(i.to_string()))
            .collect();
        // Full of values still in use: new ones are not shared, and the set does not grow.
        let extra = interner.share("extra");
        assert!(!Arc::ptr_eq(&extra, &interner.share("extra")));
        assert_eq!(interner.values.len(), CAPACITY);
        drop(kept);
        let again = interner.share("extra");
        assert!(Arc::ptr_eq(&again, &interner.share("extra")));
        assert_eq!(interner.values.len(), 1);
    }
}
