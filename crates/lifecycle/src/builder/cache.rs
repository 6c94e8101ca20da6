//! The build artifacts cache: what buildpacks keep between stagings of the same app.
//!
//! The stager unpacks the previous output cache into the cache dir before the builder runs and
//! uploads the tarball the builder writes. Inside, as in Cloud Foundry, the buildpack that
//! finalizes (or compiles) uses `final`, whichever buildpack that is, and each supply-only
//! buildpack uses a directory named by the hex md5 of its key.

use std::io;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::archive;

pub(super) struct BuildCache {
    root: PathBuf,
}

impl BuildCache {
    /// Creates the directories this staging needs and drops all others, so the cache of a
    /// buildpack the app no longer uses is not carried forward forever.
    pub fn prepare<'a>(
        root: &Path,
        supply_keys: impl IntoIterator<Item = &'a str>,
    ) -> io::Result<Self> {
        let cache = BuildCache {
            root: root.to_owned(),
        };
        let mut needed = vec![cache.final_dir()];
        needed.extend(supply_keys.into_iter().map(|key| cache.supply_dir(key)));
        std::fs::create_dir_all(root)?;
        for entry in std::fs::read_dir(root)? {
            let path = entry?.path();
            if !needed.contains(&path) {
                remove(&path)?;
            }
        }
        for dir in &needed {
            std::fs::create_dir_all(dir)?;
        }
        Ok(cache)
    }

    pub fn final_dir(&self) -> PathBuf {
        self.root.join("final")
    }

    pub fn supply_dir(&self, key: &str) -> PathBuf {
        self.root.join(format!("{:x}", Md5::digest(key.as_bytes())))
    }

    /// Writes the whole cache as a gzipped tar for the next staging.
    pub fn pack(&self, output: &Path) -> io::Result<()> {
        archive::write_tgz(output, &[("", &self.root)])
    }
}

fn remove(path: &Path) -> io::Result<()> {
    if path.symlink_metadata()?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}
