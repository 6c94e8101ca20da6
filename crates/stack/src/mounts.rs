//! Mounts inside a root file system being built, and removing such a tree safely.
//!
//! debootstrap mounts /proc and /sys inside its target and the package step mounts /proc; a
//! build that is killed can leave them mounted. Deleting a tree with a live mount in it would
//! walk into the host's /proc or /sys, so every removal unmounts first and refuses to go on
//! while anything is still mounted below.

use std::io;
use std::path::{Path, PathBuf};

use ingot_garden::linux::mounts_under;
use nix::mount::{MntFlags, MsFlags};

/// /proc mounted in a root file system until dropped; package scripts that run Java need it.
pub(crate) struct ProcMount(PathBuf);

impl ProcMount {
    pub(crate) fn mount(rootfs: &Path) -> io::Result<Self> {
        let target = rootfs.join("proc");
        std::fs::create_dir_all(&target)?;
        nix::mount::mount(
            Some("proc"),
            &target,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )?;
        Ok(Self(target))
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// Unmounts everything at or below `dir`, then deletes it. A missing `dir` is fine.
pub(crate) fn remove_tree(dir: &Path) -> io::Result<()> {
    let dir = match dir.canonicalize() {
        Ok(dir) => dir,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for mount_point in mounts_under(&dir)? {
        // Lazy: a process still inside (a killed build's leftover) cannot keep it busy.
        let _ = nix::mount::umount2(&mount_point, MntFlags::MNT_DETACH);
    }
    if let Some(left) = mounts_under(&dir)?.first() {
        return Err(io::Error::other(format!(
            "{} is still mounted; not deleting {}",
            left.display(),
            dir.display()
        )));
    }
    std::fs::remove_dir_all(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_tree_without_mounts_deletes_it_and_a_missing_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/file"), "x").unwrap();
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        remove_tree(&tree).unwrap();
    }
}
