//! Mounts inside a root file system being built, and removing such a tree safely.
//!
//! debootstrap mounts /proc and /sys inside its target and the package step mounts /proc; a
//! build that is killed can leave them mounted. Deleting a tree with a live mount in it would
//! walk into the host's /proc or /sys, so every removal unmounts first and refuses to go on
//! while anything is still mounted below.

use std::io;
use std::path::{Path, PathBuf};

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

/// Mount points at or below `dir` (canonical), deepest first.
fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut found: Vec<PathBuf> = mount_points(&mountinfo)
        .into_iter()
        .filter(|point| point.starts_with(dir))
        .collect();
    found.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    Ok(found)
}

/// The mount point column of /proc/self/mountinfo, with its octal escapes (`\040` for a space)
/// decoded.
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|escaped| PathBuf::from(unescape(escaped)))
        .collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_read_and_unescaped() {
        let mountinfo = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
98 22 0:5 / /data/stacks/.build-bookworm/rootfs/proc rw - proc proc rw
99 22 0:6 / /data/my\\040stacks/x rw - tmpfs tmpfs rw
";
        assert_eq!(
            mount_points(mountinfo),
            [
                PathBuf::from("/"),
                PathBuf::from("/data/stacks/.build-bookworm/rootfs/proc"),
                PathBuf::from("/data/my stacks/x"),
            ]
        );
    }

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
