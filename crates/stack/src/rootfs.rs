//! Finishing a bootstrapped root file system so it can be a container's read-only lower layer.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Files the container runtime bind-mounts over; they must exist, and hold nothing of the
/// build machine's.
const BIND_MOUNT_TARGETS: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// Makes invoke-rc.d refuse to start services (101: "action forbidden"), so installing a package
/// never starts a daemon in the build chroot, nor later in a container.
pub(crate) fn forbid_service_starts(rootfs: &Path) -> io::Result<()> {
    let path = rootfs.join("usr/sbin/policy-rc.d");
    fs::write(
        &path,
        "#!/bin/sh\n# Containers start no system services.\nexit 101\n",
    )?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
}

/// Hard-links (or copies, across file systems) each `.deb` of `from` that `to` lacks.
pub(crate) fn share_debs(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let path = entry?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        let target = to.join(name);
        if path.extension().is_none_or(|ext| ext != "deb") || target.exists() {
            continue;
        }
        if fs::hard_link(&path, &target).is_err() {
            fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// Empty bind-mount targets, a world-writable sticky /tmp, and no apt package lists or
/// downloaded packages (they only cost space: containers never run apt).
pub(crate) fn make_container_ready(rootfs: &Path) -> io::Result<()> {
    for file in BIND_MOUNT_TARGETS {
        let path = rootfs.join(file);
        // A symlink (resolv.conf often is one) would lead the write out of the rootfs.
        if path.symlink_metadata().is_ok_and(|meta| !meta.is_file()) {
            fs::remove_file(&path)?;
        }
        fs::write(&path, "")?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    }
    let tmp = rootfs.join("tmp");
    fs::create_dir_all(&tmp)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))?;

    remove_files(&rootfs.join("var/lib/apt/lists"), |_| true)?;
    remove_files(&rootfs.join("var/cache/apt/archives"), |name| {
        name.ends_with(".deb")
    })?;
    remove_files(&rootfs.join("var/cache/apt"), |name| name.ends_with(".bin"))
}

/// Removes the regular files directly in `dir` whose names `matches` accepts.
fn remove_files(dir: &Path, matches: impl Fn(&str) -> bool) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let is_file = entry.file_type()?.is_file();
        if is_file && entry.file_name().to_str().is_some_and(&matches) {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn a_bootstrapped_tree_is_made_container_ready() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path();
        for sub in [
            "etc",
            "tmp",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
        ] {
            fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        fs::write(rootfs.join("etc/hostname"), "build-machine\n").unwrap();
        let outside = dir.path().join("outside-resolv.conf");
        fs::write(&outside, "nameserver 10.0.0.1\n").unwrap();
        symlink(&outside, rootfs.join("etc/resolv.conf")).unwrap();
        fs::write(rootfs.join("var/lib/apt/lists/x_Packages"), "p").unwrap();
        fs::write(rootfs.join("var/cache/apt/archives/curl_1_amd64.deb"), "d").unwrap();
        fs::write(rootfs.join("var/cache/apt/archives/lock"), "").unwrap();
        fs::write(rootfs.join("var/cache/apt/pkgcache.bin"), "b").unwrap();

        make_container_ready(rootfs).unwrap();

        for file in BIND_MOUNT_TARGETS {
            let meta = rootfs.join(file).symlink_metadata().unwrap();
            assert!(meta.is_file() && meta.len() == 0, "{file} is an empty file");
        }
        assert_eq!(
            fs::read_to_string(&outside).unwrap(),
            "nameserver 10.0.0.1\n"
        );
        let tmp_mode = fs::metadata(rootfs.join("tmp"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(tmp_mode & 0o7777, 0o1777);
        assert!(!rootfs.join("var/lib/apt/lists/x_Packages").exists());
        assert!(
            !rootfs
                .join("var/cache/apt/archives/curl_1_amd64.deb")
                .exists()
        );
        assert!(!rootfs.join("var/cache/apt/pkgcache.bin").exists());
        assert!(rootfs.join("var/cache/apt/archives/lock").exists());
        assert!(rootfs.join("var/lib/apt/lists/partial").is_dir());
    }

    #[test]
    fn debs_are_shared_once_and_other_files_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(&from).unwrap();
        fs::write(from.join("a_1_all.deb"), "new").unwrap();
        fs::write(from.join("b_1_all.deb"), "b").unwrap();
        fs::write(from.join("lock"), "").unwrap();
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("a_1_all.deb"), "kept").unwrap();

        share_debs(&from, &to).unwrap();

        assert_eq!(fs::read_to_string(to.join("a_1_all.deb")).unwrap(), "kept");
        assert_eq!(fs::read_to_string(to.join("b_1_all.deb")).unwrap(), "b");
        assert!(!to.join("lock").exists());
    }
}
