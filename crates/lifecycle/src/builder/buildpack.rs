//! Finding a buildpack on disk and running its `bin/` scripts.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use md5::{Digest, Md5};

use super::BuilderError;

/// One buildpack: its key (as in `--buildpack-order`) and the directory holding `bin/`.
#[derive(Debug, Clone)]
pub(super) struct Buildpack {
    pub key: String,
    pub dir: PathBuf,
}

impl Buildpack {
    /// Finds `<buildpacks_dir>/<hex md5 of key>`. Like Cloud Foundry, accepts a directory whose
    /// only entry holds `bin/`, which is how most buildpack zips unpack.
    pub fn locate(buildpacks_dir: &Path, key: &str) -> Result<Self, BuilderError> {
        let base = buildpacks_dir.join(format!("{:x}", Md5::digest(key.as_bytes())));
        let found = |dir: PathBuf| {
            Ok(Buildpack {
                key: key.to_owned(),
                dir,
            })
        };
        if base.join("bin").is_dir() {
            return found(base);
        }
        let entries: Vec<_> = std::fs::read_dir(&base)
            .map_err(|err| {
                BuilderError::Staging(format!(
                    "buildpack {key} not found at {}: {err}",
                    base.display()
                ))
            })?
            .collect::<Result<_, _>>()
            .map_err(|err| BuilderError::Staging(format!("reading {}: {err}", base.display())))?;
        match entries.as_slice() {
            [only] if only.path().join("bin").is_dir() => found(only.path()),
            _ => Err(BuilderError::Staging(format!(
                "malformed buildpack does not contain a /bin dir: {key}"
            ))),
        }
    }

    pub fn has(&self, script: &str) -> bool {
        self.script(script).is_file()
    }

    fn script(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// Runs buildpack scripts in the staging environment: the inherited one (VCAP_APPLICATION,
/// VCAP_SERVICES, MEMORY_LIMIT and the app's env come from the task) plus `CF_STACK`.
pub(super) struct Scripts<'a> {
    pub stack: &'a str,
}

impl Scripts<'_> {
    /// Runs `bin/<name>` with its stdout and stderr going straight to ours, so the user sees
    /// staging output as it is written. The error says what failed, for the phase to wrap.
    pub fn stream(&self, bp: &Buildpack, name: &str, args: &[&OsStr]) -> Result<(), String> {
        let status = self
            .command(bp, name, args)
            .stdout(Stdio::inherit())
            .status()
            .map_err(|err| spawn_failed(bp, name, err))?;
        check(bp, name, status)
    }

    /// Runs `bin/<name>` and returns its stdout; its stderr still goes to ours.
    pub fn capture(&self, bp: &Buildpack, name: &str, args: &[&OsStr]) -> Result<String, String> {
        let output = self
            .command(bp, name, args)
            .stdout(Stdio::piped())
            .output()
            .map_err(|err| spawn_failed(bp, name, err))?;
        check(bp, name, output.status)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn command(&self, bp: &Buildpack, name: &str, args: &[&OsStr]) -> Command {
        let mut cmd = Command::new(bp.script(name));
        cmd.args(args)
            .env("CF_STACK", self.stack)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        cmd
    }
}

fn spawn_failed(bp: &Buildpack, name: &str, err: std::io::Error) -> String {
    format!("could not run bin/{name} of buildpack {}: {err}", bp.key)
}

fn check(bp: &Buildpack, name: &str, status: std::process::ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "bin/{name} of buildpack {} failed ({status})",
            bp.key
        ))
    }
}
