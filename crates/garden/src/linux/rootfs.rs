//! Root file systems: a stack as the read-only lower layer of an overlay, with a writable
//! upper layer per container, plus the few files each container gets of its own.
//!
//! Two kinds of stack: a directory holding a whole root file system (e.g. the Debian stack
//! `ingot stack build` makes), and the host stack, an almost empty skeleton whose /usr, /bin,
//! /lib, /sbin and /etc are the host's own, mounted read-only into the container.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use serde::{Deserialize, Serialize};

use super::bundle::{VCAP_HOME, VCAP_UID};
use crate::error::Error;

/// Host directories the host stack shares (those that exist on this host).
const HOST_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"];
/// Empty directories every root needs as mount points or scratch space.
const SKELETON_DIRS: &[&str] = &[
    "proc", "sys", "dev", "tmp", "var/tmp", "run", "root", "home",
];

/// Where a stack's files come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum StackRootfs {
    /// The host's own /usr, /lib, /bin, /sbin and /etc, read-only.
    Host,
    /// A complete root file system in this directory.
    Directory(PathBuf),
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// What a stack gives every container: the overlay's lower layer, and the host directories
/// mounted read-only, as (host, container).
#[derive(Debug)]
pub(crate) struct Layer {
    pub lower: PathBuf,
    pub shared_mounts: Vec<(PathBuf, String)>,
}

/// The layer of `stack`; the host stack's skeleton is made under `skeleton`.
pub(crate) fn lower_layer(stack: &StackRootfs, skeleton: &Path) -> Result<Layer, Error> {
    match stack {
        StackRootfs::Directory(dir) => {
            if !dir.join("bin/sh").exists() && !dir.join("usr/bin/sh").exists() {
                return Err(Error::Io {
                    message: format!("stack {} has no /bin/sh; is it built?", dir.display()),
                });
            }
            Ok(Layer {
                lower: dir.clone(),
                shared_mounts: Vec::new(),
            })
        }
        StackRootfs::Host => {
            let mut shared = Vec::new();
            for dir in HOST_DIRS {
                let host = Path::new(dir);
                let Ok(meta) = std::fs::symlink_metadata(host) else {
                    continue;
                };
                let inside = skeleton.join(&dir[1..]);
                if meta.file_type().is_symlink() {
                    // Merged-/usr hosts link /bin to usr/bin: the skeleton links the same way.
                    let target = std::fs::read_link(host).map_err(io(host.display()))?;
                    if std::fs::symlink_metadata(&inside).is_err() {
                        std::os::unix::fs::symlink(&target, &inside)
                            .map_err(io(inside.display()))?;
                    }
                } else {
                    std::fs::create_dir_all(&inside).map_err(io(inside.display()))?;
                    shared.push((host.to_path_buf(), dir.to_string()));
                }
            }
            make_skeleton(skeleton)?;
            Ok(Layer {
                lower: skeleton.to_path_buf(),
                shared_mounts: shared,
            })
        }
    }
}

/// Mount points, a world-writable /tmp and vcap's home, owned by vcap.
fn make_skeleton(root: &Path) -> Result<(), Error> {
    for dir in SKELETON_DIRS {
        let path = root.join(dir);
        std::fs::create_dir_all(&path).map_err(io(path.display()))?;
    }
    for tmp in ["tmp", "var/tmp"] {
        let path = root.join(tmp);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777))
            .map_err(io(path.display()))?;
    }
    let home = root.join(&VCAP_HOME[1..]);
    std::fs::create_dir_all(&home).map_err(io(home.display()))?;
    nix::unistd::chown(
        &home,
        Some(nix::unistd::Uid::from_raw(VCAP_UID)),
        Some(nix::unistd::Gid::from_raw(VCAP_UID)),
    )
    .map_err(|e| Error::io(home.display(), e))?;
    Ok(())
}

/// `passwd` or `group` text with a vcap entry (uid and gid 2000), replacing any other.
pub(crate) fn with_vcap(text: &str, group: bool) -> String {
    let mut out: String = text
        .lines()
        .filter(|line| !line.starts_with("vcap:"))
        .map(|line| format!("{line}\n"))
        .collect();
    if group {
        out.push_str(&format!("vcap:x:{VCAP_UID}:\n"));
    } else {
        out.push_str(&format!(
            "vcap:x:{VCAP_UID}:{VCAP_UID}::{VCAP_HOME}:/bin/bash\n"
        ));
    }
    out
}

/// The files a container gets of its own, written under `dir`, as (host, container) pairs:
/// hosts, hostname and resolv.conf; and on the host stack, passwd and group with vcap added.
pub(crate) fn container_files(
    dir: &Path,
    hostname: &str,
    ip: &str,
    stack: &StackRootfs,
) -> Result<Vec<(PathBuf, String)>, Error> {
    std::fs::create_dir_all(dir).map_err(io(dir.display()))?;
    let mut files = vec![
        (
            "hosts".to_string(),
            format!("127.0.0.1 localhost\n::1 localhost\n{ip} {hostname}\n"),
        ),
        ("hostname".to_string(), format!("{hostname}\n")),
        (
            "resolv.conf".to_string(),
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        ),
    ];
    if *stack == StackRootfs::Host {
        for (name, group) in [("passwd", false), ("group", true)] {
            let host = std::fs::read_to_string(format!("/etc/{name}")).unwrap_or_default();
            files.push((name.to_string(), with_vcap(&host, group)));
        }
    }
    let mut pairs = Vec::new();
    for (name, text) in files {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(io(path.display()))?;
        pairs.push((path, format!("/etc/{name}")));
    }
    Ok(pairs)
}

/// The directories of one container's root file system.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl Overlay {
    pub fn new(container_dir: &Path) -> Self {
        Self {
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
            merged: container_dir.join("rootfs"),
        }
    }

    /// Mounts `lower` read-only under a fresh writable layer.
    pub fn mount(&self, lower: &Path) -> Result<(), Error> {
        for dir in [&self.upper, &self.work, &self.merged] {
            std::fs::create_dir_all(dir).map_err(io(dir.display()))?;
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            self.upper.display(),
            self.work.display()
        );
        mount(
            Some("overlay"),
            &self.merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| {
            Error::io(
                format!("mounting the overlay at {}", self.merged.display()),
                e,
            )
        })
    }

    /// Bytes written by the container: the size of its writable layer.
    pub fn disk_usage(&self) -> u64 {
        crate::process::depot::disk_usage(&self.upper)
    }
}

/// Detaches the mount at `path`; not being mounted (or not existing) is fine.
pub(crate) fn unmount(path: &Path) -> Result<(), Error> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io(format!("unmounting {}", path.display()), e)),
    }
}

/// Every mount point at or under `dir` (canonical), deepest first, from
/// /proc/self/mountinfo.
///
/// Errors: reading /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut found: Vec<PathBuf> = mount_points(&mountinfo)
        .into_iter()
        .filter(|point| point.starts_with(dir))
        .collect();
    found.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    found.dedup();
    Ok(found)
}

/// The mount point column of mountinfo text, with its octal escapes (`\040` for a space)
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
    fn vcap_is_added_once() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nvcap:x:1:1::/x:/bin/sh\n";
        let out = with_vcap(passwd, false);
        assert_eq!(out.lines().filter(|l| l.starts_with("vcap:")).count(), 1);
        assert!(out.contains("vcap:x:2000:2000::/home/vcap:/bin/bash\n"));
        assert!(out.starts_with("root:x:0:0"));
        assert!(with_vcap("", true).contains("vcap:x:2000:"));
    }

    #[test]
    fn a_directory_stack_needs_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let stack = StackRootfs::Directory(dir.path().to_path_buf());
        assert!(lower_layer(&stack, dir.path()).is_err());
    }

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
}
