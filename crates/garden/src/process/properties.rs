//! A container's properties, kept in memory and written through to a file on every change.

use std::path::PathBuf;

use super::depot;
use crate::error::Error;
use crate::spec::Properties;

pub(crate) struct PropertyStore {
    path: PathBuf,
    // A tokio mutex, held while the file is written, so writes never reorder.
    map: tokio::sync::Mutex<Properties>,
}

impl PropertyStore {
    pub fn new(path: PathBuf, properties: Properties) -> Self {
        Self {
            path,
            map: tokio::sync::Mutex::new(properties),
        }
    }

    pub async fn snapshot(&self) -> Properties {
        self.map.lock().await.clone()
    }

    pub async fn get(&self, name: &str) -> Option<String> {
        self.map.lock().await.get(name).cloned()
    }

    pub async fn set(&self, name: &str, value: &str) -> Result<(), Error> {
        let mut map = self.map.lock().await;
        map.insert(name.to_string(), value.to_string());
        depot::write_json(&self.path, &*map).await
    }

    /// Removing an unset property is not an error.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let mut map = self.map.lock().await;
        if map.remove(name).is_some() {
            depot::write_json(&self.path, &*map).await?;
        }
        Ok(())
    }

    /// Whether every `filter` pair is set.
    pub async fn matches(&self, filter: &Properties) -> bool {
        let map = self.map.lock().await;
        filter.iter().all(|(k, v)| map.get(k) == Some(v))
    }
}
