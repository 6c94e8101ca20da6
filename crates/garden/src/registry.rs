//! The containers a backend holds, by handle: what every backend does the same way with
//! them (claiming a handle within the limit, finding, filtering by properties, removing).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::api::Container;
use crate::error::Error;
use crate::process::properties::PropertyStore;
use crate::spec::Properties;

/// A container whose properties a registry can filter on.
pub(crate) trait Registered: Container + 'static {
    fn property_store(&self) -> &PropertyStore;
}

/// Cheap to clone; clones share the same containers.
pub(crate) struct Registry<C> {
    map: Arc<Mutex<BTreeMap<String, Arc<C>>>>,
    max: u64,
}

impl<C> Clone for Registry<C> {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
            max: self.max,
        }
    }
}

impl<C: Registered> Registry<C> {
    pub fn new(containers: BTreeMap<String, Arc<C>>, max: u64) -> Self {
        Self {
            map: Arc::new(Mutex::new(containers)),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<C>>> {
        self.map.lock().expect("container map poisoned")
    }

    /// Whether a container with `handle` may be created: not taken, and room left.
    ///
    /// Errors: `AlreadyExists`, `ServiceUnavailable` (the limit is reached).
    pub fn check_room(&self, handle: &str) -> Result<(), Error> {
        let map = self.lock();
        if map.contains_key(handle) {
            return Err(Error::AlreadyExists {
                handle: handle.to_string(),
            });
        }
        if map.len() as u64 >= self.max {
            return Err(Error::ServiceUnavailable {
                message: format!("{} containers is the limit", self.max),
            });
        }
        Ok(())
    }

    pub fn insert(&self, container: Arc<C>, handle: String) {
        self.lock().insert(handle, container);
    }

    /// Errors: `ContainerNotFound`.
    pub fn get(&self, handle: &str) -> Result<Arc<C>, Error> {
        self.lock()
            .get(handle)
            .cloned()
            .ok_or_else(|| Error::container_not_found(handle))
    }

    /// Errors: `ContainerNotFound`.
    pub fn remove(&self, handle: &str) -> Result<Arc<C>, Error> {
        self.lock()
            .remove(handle)
            .ok_or_else(|| Error::container_not_found(handle))
    }

    pub fn all(&self) -> Vec<Arc<C>> {
        self.lock().values().cloned().collect()
    }

    /// Every container whose properties include all of `filter`.
    pub async fn matching(&self, filter: &Properties) -> Vec<Arc<dyn Container>> {
        let mut matching: Vec<Arc<dyn Container>> = Vec::new();
        for container in self.all() {
            if container.property_store().matches(filter).await {
                matching.push(container);
            }
        }
        matching
    }

    /// A weak handle for background tasks that must not keep the containers alive.
    pub fn downgrade(&self) -> std::sync::Weak<Mutex<BTreeMap<String, Arc<C>>>> {
        Arc::downgrade(&self.map)
    }
}
