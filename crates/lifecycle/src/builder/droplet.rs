//! The droplet being assembled: everything but the app lives in a scratch directory laid out as
//! the droplet's root (`deps/`, `profile.d/`, `tmp/`, `logs/`, `staging_info.yml`); the staged
//! build dir is packed in as `app/` without being copied.

use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::archive;
use crate::staging_info::{self, StagingInfo};

pub(super) struct DropletContents {
    dir: TempDir,
    buildpack_count: usize,
}

impl DropletContents {
    /// Creates the scratch directory beside the output droplet (inside the container, never the
    /// host's temp dir) with one deps dir per buildpack.
    pub fn create(output_droplet: &Path, buildpack_count: usize) -> io::Result<Self> {
        let parent = output_droplet.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let contents = DropletContents {
            dir: tempfile::Builder::new()
                .prefix("contents")
                .tempdir_in(parent)?,
            buildpack_count,
        };
        for i in 0..buildpack_count {
            std::fs::create_dir_all(contents.deps_dir().join(contents.deps_index(i)))?;
        }
        std::fs::create_dir_all(contents.profile_dir())?;
        Ok(contents)
    }

    /// `DEPS_DIR` for the buildpacks.
    pub fn deps_dir(&self) -> PathBuf {
        self.dir.path().join("deps")
    }

    /// The `PROFILE_DIR` a finalizing buildpack writes launch-time scripts to.
    pub fn profile_dir(&self) -> PathBuf {
        self.dir.path().join("profile.d")
    }

    /// `DEPS_IDX` of the i-th buildpack, zero-padded to the width of the buildpack count as in
    /// Cloud Foundry, so the indexes sort as the buildpacks ran.
    pub fn deps_index(&self, i: usize) -> String {
        let width = self.buildpack_count.max(1).to_string().len();
        format!("{i:0width$}")
    }

    /// Writes `staging_info.yml` and packs the droplet.
    pub fn pack(&self, build_dir: &Path, info: &StagingInfo, output: &Path) -> io::Result<()> {
        self.collect_deps_profile_scripts()?;
        self.remove_empty_deps()?;
        for dir in ["tmp", "logs"] {
            std::fs::create_dir_all(self.dir.path().join(dir))?;
        }
        info.write(&self.dir.path().join(staging_info::FILE_NAME))?;
        archive::write_tgz(output, &[("", self.dir.path()), ("app", build_dir)])
    }

    /// Copies each `deps/<idx>/profile.d/<name>` to `profile.d/<idx>_<name>`, where the launcher
    /// sources it. Cloud Foundry's own buildpacks do this in finalize; doing it here too (to the
    /// same names) makes it hold for every final buildpack.
    fn collect_deps_profile_scripts(&self) -> io::Result<()> {
        for dep in std::fs::read_dir(self.deps_dir())? {
            let dep = dep?;
            let scripts = dep.path().join("profile.d");
            if !scripts.is_dir() {
                continue;
            }
            for script in std::fs::read_dir(scripts)? {
                let script = script?;
                if !script.path().is_file() {
                    continue;
                }
                let mut name = dep.file_name();
                name.push("_");
                name.push(script.file_name());
                std::fs::copy(script.path(), self.profile_dir().join(name))?;
            }
        }
        Ok(())
    }

    /// A droplet has `deps/` only when some buildpack supplied something.
    fn remove_empty_deps(&self) -> io::Result<()> {
        let deps = self.deps_dir();
        for dep in std::fs::read_dir(&deps)? {
            let dep = dep?.path();
            if std::fs::read_dir(&dep)?.next().is_none() {
                std::fs::remove_dir(dep)?;
            }
        }
        if std::fs::read_dir(&deps)?.next().is_none() {
            std::fs::remove_dir(deps)?;
        }
        Ok(())
    }

    /// Drops the deps dir of a buildpack that cannot use one (the compile contract).
    pub fn remove_deps(&self, i: usize) -> io::Result<()> {
        std::fs::remove_dir_all(self.deps_dir().join(self.deps_index(i)))
    }
}
