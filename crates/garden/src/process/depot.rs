//! The on-disk layout of a container in the depot, and its persisted state.
//!
//! ```text
//! <depot>/<handle>/
//!   state.json          Meta: spec, state, port mappings, creation time (written last on create)
//!   properties.json     the container's properties
//!   rootfs/             the container's file system root (its working tree)
//!   tmp/                TMPDIR
//!   processes/<id>/     process.json (pid + start time), stdout, stderr, exit_status
//! ```

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{ContainerState, PortMapping};
use crate::spec::{BindMount, Limits};

/// The paths of one container.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(depot: &Path, handle: &str) -> Self {
        Self {
            dir: depot.join(handle),
        }
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn properties_file(&self) -> PathBuf {
        self.dir.join("properties.json")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn tmp(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    pub fn processes(&self) -> PathBuf {
        self.dir.join("processes")
    }

    pub fn process(&self, id: &str) -> ProcessLayout {
        ProcessLayout {
            dir: self.processes().join(id),
        }
    }

    /// The host path of `path` inside the container. Absolute and relative paths both start
    /// at the container's root; `..` is refused so nothing escapes it.
    pub fn host_path(&self, path: &str) -> Result<PathBuf, Error> {
        let mut host = self.rootfs();
        for component in Path::new(path).components() {
            match component {
                Component::Normal(part) => host.push(part),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(Error::invalid("path", "must not contain '..'"));
                }
            }
        }
        Ok(host)
    }
}

/// The paths of one process's records.
#[derive(Debug, Clone)]
pub(crate) struct ProcessLayout {
    pub dir: PathBuf,
}

impl ProcessLayout {
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("process.json")
    }

    pub fn stdout(&self) -> PathBuf {
        self.dir.join("stdout")
    }

    pub fn stderr(&self) -> PathBuf {
        self.dir.join("stderr")
    }

    pub fn exit_file(&self) -> PathBuf {
        self.dir.join("exit_status")
    }
}

/// What the backend keeps about a container across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub handle: String,
    pub rootfs: String,
    pub env: Vec<String>,
    pub bind_mounts: Vec<BindMount>,
    pub limits: Limits,
    pub grace_time: Duration,
    pub state: ContainerState,
    pub mapped_ports: Vec<PortMapping>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

/// Writes JSON through a temporary file and a rename, so a crash never leaves half a file.
pub(crate) async fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::io(path.display(), e))?;
    let tmp = path.with_extension("json.tmp");
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| Error::io(tmp.display(), e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| Error::io(path.display(), e))
}

pub(crate) async fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| Error::io(path.display(), e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::io(path.display(), e))
}

/// Bytes in the files under `dir`, each hard-linked file counted once; symlinks (the
/// process backend's emulated bind mounts among them) are not followed, and entries that
/// vanish or cannot be read while walking are skipped.
pub fn disk_usage(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .map(|entry| match entry.metadata() {
                Ok(meta) if meta.is_dir() => walk(&entry.path(), seen),
                Ok(meta) if meta.is_file() && seen.insert((meta.dev(), meta.ino())) => meta.len(),
                _ => 0,
            })
            .sum()
    }
    walk(dir, &mut std::collections::HashSet::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_stay_inside_the_rootfs() {
        let layout = Layout::new(Path::new("/depot"), "h");
        assert_eq!(
            layout.host_path("/home/vcap/app").unwrap(),
            Path::new("/depot/h/rootfs/home/vcap/app")
        );
        assert_eq!(
            layout.host_path("app/./x").unwrap(),
            Path::new("/depot/h/rootfs/app/x")
        );
        assert_eq!(layout.host_path("/").unwrap(), Path::new("/depot/h/rootfs"));
        assert!(matches!(
            layout.host_path("/a/../../etc"),
            Err(Error::InvalidSpec { .. })
        ));
    }

    #[test]
    fn disk_usage_counts_files_once_and_not_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        std::fs::hard_link(dir.path().join("sub/b"), dir.path().join("c")).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        assert_eq!(disk_usage(dir.path()), 15);
    }
}
