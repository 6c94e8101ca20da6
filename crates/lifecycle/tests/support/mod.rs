//! Fixtures shared by the builder and launcher tests: a staging area in a tempdir with
//! buildpacks written as small shell scripts, and helpers to read tarballs.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use ingot_lifecycle::builder::BuilderArgs;
use md5::{Digest, Md5};
use tempfile::TempDir;

/// A container-like root: `app/`, `buildpacks/`, `cache/` and the builder's outputs.
pub struct Staging {
    pub root: TempDir,
}

impl Staging {
    pub fn new() -> Self {
        let staging = Staging {
            root: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(staging.app()).unwrap();
        staging
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn app(&self) -> PathBuf {
        self.path("app")
    }

    /// Writes a file into the app, creating parents.
    pub fn app_file(&self, rel: &str, contents: &str) -> PathBuf {
        write(&self.app().join(rel), contents, 0o644)
    }

    /// Writes buildpack `key` with the given `bin/` scripts (bodies run by `/bin/sh -e`).
    pub fn buildpack(&self, key: &str, scripts: &[(&str, &str)]) -> PathBuf {
        let dir = self
            .path("buildpacks")
            .join(format!("{:x}", Md5::digest(key)));
        for (name, body) in scripts {
            write(
                &dir.join("bin").join(name),
                &format!("#!/bin/sh\nset -e\n{body}\n"),
                0o755,
            );
        }
        dir
    }

    /// Builder arguments for this area, all absolute.
    pub fn args(&self, order: &[&str], skip_detect: bool) -> BuilderArgs {
        BuilderArgs {
            build_dir: self.app(),
            buildpacks_dir: self.path("buildpacks"),
            buildpack_order: order.iter().map(|k| k.to_string()).collect(),
            skip_detect,
            output_droplet: self.path("out/droplet.tgz"),
            output_metadata: self.path("out/result.json"),
            build_artifacts_cache_dir: self.path("cache"),
            output_build_artifacts_cache: self.path("out/cache.tgz"),
            stack: "cflinuxfs4".into(),
        }
    }

    /// Unpacks the droplet written by the builder.
    pub fn droplet(&self) -> TempDir {
        untar(&self.path("out/droplet.tgz"))
    }
}

pub fn write(path: &Path, contents: &str, mode: u32) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    path.to_owned()
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Unpacks a gzipped tar into a new tempdir, keeping modes.
pub fn untar(tgz: &Path) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut archive = tar::Archive::new(GzDecoder::new(fs::File::open(tgz).unwrap()));
    archive.set_preserve_permissions(true);
    archive.unpack(dir.path()).unwrap();
    dir
}

/// Every entry of a gzipped tar: path -> (mode, symlink target).
pub fn entries(tgz: &Path) -> BTreeMap<String, (u32, Option<PathBuf>)> {
    let mut archive = tar::Archive::new(GzDecoder::new(fs::File::open(tgz).unwrap()));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let path = entry
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_owned();
            let link = entry.link_name().unwrap().map(|l| l.into_owned());
            (path, (entry.header().mode().unwrap(), link))
        })
        .collect()
}

/// Polls until `ready` holds, failing the test after 10 seconds.
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
