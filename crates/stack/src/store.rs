//! Where stacks live on disk, and the rules that keep a half-built one out of sight.
//!
//! ```text
//! <data dir>/stacks/<name>/rootfs        a complete stack's root file system
//! <data dir>/stacks/<name>/stack.json    its description; present only when complete
//! <data dir>/stacks/.build-<name>/       a build in progress (or a killed build's leftover)
//! <data dir>/stacks/.cache/debs/         every downloaded package, for the next build
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::IoContext;
use crate::mounts::remove_tree;

const MANIFEST: &str = "stack.json";
const ROOTFS: &str = "rootfs";

/// A complete stack: its `stack.json` and where its root file system is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltStack {
    pub name: String,
    /// What it is, in a sentence, for `ingot stack list` and `cf stacks`.
    pub description: String,
    /// The Debian suite it was bootstrapped from.
    pub suite: String,
    /// The mirror its packages came from.
    pub mirror: String,
    /// The packages installed on top of debootstrap's minimal base, sorted.
    pub packages: Vec<String>,
    pub built_at: DateTime<Utc>,
    /// Bytes in the root file system's files (hard links counted once).
    pub size_bytes: u64,
    /// The root file system. Not stored: it follows the data directory if that moves.
    #[serde(skip)]
    pub rootfs: PathBuf,
}

/// The complete stack called `name`, if there is one.
pub fn find(data_dir: &Path, name: &str) -> Option<BuiltStack> {
    if !is_valid_name(name) {
        return None;
    }
    let dir = stacks_dir(data_dir).join(name);
    let text = std::fs::read(dir.join(MANIFEST)).ok()?;
    let mut stack: BuiltStack = serde_json::from_slice(&text).ok()?;
    stack.rootfs = dir.join(ROOTFS);
    (stack.name == name && stack.rootfs.is_dir()).then_some(stack)
}

/// Every complete stack, by name.
pub fn list(data_dir: &Path) -> Vec<BuiltStack> {
    let Ok(entries) = std::fs::read_dir(stacks_dir(data_dir)) else {
        return Vec::new();
    };
    let mut stacks: Vec<BuiltStack> = entries
        .flatten()
        .filter_map(|entry| find(data_dir, entry.file_name().to_str()?))
        .collect();
    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    stacks
}

/// Lowercase letters, digits, `.`, `-` and `_`, starting with a letter or digit (so build
/// directories and the cache, which start with a dot, are never taken for stacks); `host` is
/// the host's own file system.
pub(crate) fn is_valid_name(name: &str) -> bool {
    name != crate::HOST_NAME
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

fn stacks_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("stacks")
}

/// What a build request comes to, given what is on disk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The complete stack already has these packages: nothing to do.
    Reuse(BuiltStack),
    /// Build it, for this reason.
    Build(&'static str),
}

/// `packages` must be sorted and free of duplicates, as stored.
pub(crate) fn plan(existing: Option<BuiltStack>, packages: &[String], force: bool) -> Plan {
    match existing {
        None => Plan::Build("it is not built yet"),
        Some(_) if force => Plan::Build("a rebuild was asked for"),
        Some(stack) if stack.packages != packages => Plan::Build("its package list changed"),
        Some(stack) => Plan::Reuse(stack),
    }
}

/// One stack's places under the data directory, and its build lock.
pub(crate) struct Layout {
    stacks: PathBuf,
    name: String,
}

impl Layout {
    pub(crate) fn new(data_dir: &Path, name: &str) -> Self {
        Self {
            stacks: stacks_dir(data_dir),
            name: name.to_owned(),
        }
    }

    /// Where debootstrap and apt keep the packages they download, across builds.
    pub(crate) fn deb_cache(&self) -> PathBuf {
        self.stacks.join(".cache/debs")
    }

    fn dir(&self) -> PathBuf {
        self.stacks.join(&self.name)
    }

    /// Held for the whole build: two builds of one stack would share a staging directory.
    pub(crate) fn lock(&self) -> Result<Flock<File>, Error> {
        let path = self.stacks.join(format!(".{}.lock", self.name));
        let file = std::fs::create_dir_all(&self.stacks)
            .and_then(|()| File::create(&path))
            .context(|| format!("creating {}", path.display()))?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| Error::Busy(self.name.clone()))
    }
}

/// A build's staging directory: deleted (after unmounting anything left inside) unless it was
/// committed.
pub(crate) struct Staging {
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// A fresh staging directory; a killed build's leftover is removed first.
    pub(crate) fn create(layout: &Layout) -> Result<Self, Error> {
        let dir = layout.stacks.join(format!(".build-{}", layout.name));
        remove_tree(&dir).context(|| format!("removing the unfinished build {}", dir.display()))?;
        std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir,
            committed: false,
        })
    }

    pub(crate) fn rootfs(&self) -> PathBuf {
        self.dir.join(ROOTFS)
    }

    /// Writes `stack.json` (the build's last write) and renames the build into place, replacing
    /// the stack's previous build. Returns the stack as [`find`] sees it.
    pub(crate) fn commit(
        mut self,
        layout: &Layout,
        stack: &BuiltStack,
    ) -> Result<BuiltStack, Error> {
        let manifest = self.dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(stack).expect("a stack serialises");
        std::fs::write(&manifest, json).context(|| format!("writing {}", manifest.display()))?;

        let (dir, retired) = (
            layout.dir(),
            layout.stacks.join(format!(".old-{}", layout.name)),
        );
        remove_tree(&retired).context(|| format!("removing {}", retired.display()))?;
        if dir.exists() {
            std::fs::rename(&dir, &retired)
                .context(|| format!("moving {} aside", dir.display()))?;
        }
        std::fs::rename(&self.dir, &dir)
            .context(|| format!("moving the build to {}", dir.display()))?;
        self.committed = true;
        remove_tree(&retired)
            .context(|| format!("removing the previous build {}", retired.display()))?;
        Ok(BuiltStack {
            rootfs: dir.join(ROOTFS),
            ..stack.clone()
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(name: &str, packages: &[&str]) -> BuiltStack {
        BuiltStack {
            name: name.into(),
            description: "a test stack".into(),
            suite: "bookworm".into(),
            mirror: "http://mirror.example/debian".into(),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            built_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            size_bytes: 42,
            rootfs: PathBuf::new(),
        }
    }

    /// A stack directory as a build leaves it: rootfs, and stack.json when `complete`.
    fn put(data_dir: &Path, dir_name: &str, stack: &BuiltStack, complete: bool) {
        let dir = stacks_dir(data_dir).join(dir_name);
        std::fs::create_dir_all(dir.join("rootfs/etc")).unwrap();
        if complete {
            std::fs::write(dir.join(MANIFEST), serde_json::to_vec(stack).unwrap()).unwrap();
        }
    }

    #[test]
    fn only_complete_stacks_are_found_and_listed() {
        let data = tempfile::tempdir().unwrap();
        let data = data.path();
        assert_eq!(find(data, "bookworm"), None);
        assert!(list(data).is_empty());

        put(data, "bookworm", &stack("bookworm", &[]), false);
        put(data, ".build-bookworm", &stack("bookworm", &[]), true);
        put(data, "zesty", &stack("zesty", &["curl"]), true);
        put(data, "renamed", &stack("other", &[]), true);
        let corrupt = stacks_dir(data).join("corrupt");
        std::fs::create_dir_all(corrupt.join("rootfs")).unwrap();
        std::fs::write(corrupt.join(MANIFEST), "{ half a fi").unwrap();
        let no_rootfs = stacks_dir(data).join("empty");
        std::fs::create_dir_all(&no_rootfs).unwrap();
        std::fs::write(
            no_rootfs.join(MANIFEST),
            serde_json::to_vec(&stack("empty", &[])).unwrap(),
        )
        .unwrap();

        assert_eq!(find(data, "bookworm"), None, "no stack.json: half built");
        assert_eq!(find(data, ".build-bookworm"), None);
        assert_eq!(find(data, "corrupt"), None);
        assert_eq!(find(data, "empty"), None, "no rootfs");
        assert_eq!(
            find(data, "renamed"),
            None,
            "stack.json names another stack"
        );
        let zesty = find(data, "zesty").expect("complete");
        assert_eq!(zesty.rootfs, stacks_dir(data).join("zesty/rootfs"));
        assert_eq!(zesty.packages, ["curl"]);
        assert_eq!(list(data), [zesty]);
    }

    #[test]
    fn the_same_packages_reuse_the_stack_and_anything_else_builds() {
        let built = stack("bookworm", &["curl", "git"]);
        let wanted: Vec<String> = vec!["curl".into(), "git".into()];
        assert_eq!(
            plan(None, &wanted, false),
            Plan::Build("it is not built yet")
        );
        assert_eq!(
            plan(Some(built.clone()), &wanted, false),
            Plan::Reuse(built.clone())
        );
        assert_eq!(
            plan(Some(built.clone()), &wanted, true),
            Plan::Build("a rebuild was asked for")
        );
        assert_eq!(
            plan(Some(built), &wanted[..1], false),
            Plan::Build("its package list changed")
        );
    }

    #[test]
    fn names_are_directory_safe_and_host_is_reserved() {
        for good in ["bookworm", "cflinuxfs4", "my-stack_2.1"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "host", ".cache", "-x", "Bookworm", "a/b", "..", "a b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_commit_replaces_the_previous_build_and_an_abandoned_staging_is_removed() {
        let data = tempfile::tempdir().unwrap();
        let layout = Layout::new(data.path(), "bookworm");
        put(data.path(), "bookworm", &stack("bookworm", &["old"]), true);

        let staging = Staging::create(&layout).unwrap();
        std::fs::create_dir_all(staging.rootfs().join("etc")).unwrap();
        let committed = staging
            .commit(&layout, &stack("bookworm", &["new"]))
            .unwrap();
        assert_eq!(find(data.path(), "bookworm"), Some(committed));
        let left: Vec<_> = std::fs::read_dir(stacks_dir(data.path()))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["bookworm"], "no staging or retired directory left");

        let staging = Staging::create(&layout).unwrap();
        let dir = staging.dir.clone();
        std::fs::create_dir_all(staging.rootfs()).unwrap();
        drop(staging);
        assert!(!dir.exists());
        assert_eq!(find(data.path(), "bookworm").unwrap().packages, ["new"]);
    }

    #[test]
    fn a_second_build_of_the_same_stack_is_refused_while_the_first_holds_the_lock() {
        let data = tempfile::tempdir().unwrap();
        let layout = Layout::new(data.path(), "bookworm");
        let held = layout.lock().unwrap();
        assert!(matches!(layout.lock(), Err(Error::Busy(name)) if name == "bookworm"));
        drop(held);
        layout.lock().unwrap();
    }
}
