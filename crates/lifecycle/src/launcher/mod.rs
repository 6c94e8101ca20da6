//! The launcher: starts an app from an unpacked droplet the way Cloud Foundry's launcher does.
//!
//! The droplet is unpacked so that `APP_DIR/..` is its root (`deps/`, `profile.d/`, `tmp/`,
//! `staging_info.yml`). The launcher becomes bash, which sources the droplet's and the app's
//! profile scripts and then execs the start command, so the app ends up with the launcher's pid.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths;
use crate::staging_info::{self, StagingInfo};

/// Arguments of `ingot lifecycle launcher APP_DIR START_COMMAND [METADATA]`.
#[derive(clap::Args, Debug, Clone)]
pub struct LauncherArgs {
    /// The droplet's `app` directory; relative paths are resolved against the cwd.
    pub app_dir: PathBuf,
    /// The start command; empty means the one in `staging_info.yml`.
    #[arg(allow_hyphen_values = true)]
    pub start_command: String,
    /// Ignored; older Diego versions passed the execution metadata here.
    #[arg(allow_hyphen_values = true)]
    pub metadata: Option<String>,
}

/// Why the app could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("no start command specified or detected in droplet ({0})")]
    NoStartCommand(PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Run by `bash -c` with `$1` the default TMPDIR and `$2` the start command. Profile scripts
/// are sourced into this shell so what they export reaches the app; the final `exec` hands the
/// pid to `bash -c COMMAND`, which itself execs a simple command, so no shell stays around.
const LAUNCH_SCRIPT: &str = r#"
export TMPDIR="${TMPDIR:-$1}"
echo 'Invoking pre-start scripts.'
for env_file in ../profile.d/* .profile.d/*; do
  if [ -f "$env_file" ]; then
    source "$env_file"
  fi
done
if [ -f .profile ]; then
  source .profile
fi
shift
echo 'Invoking start command.'
exec bash -c "$1"
"#;

/// The command `exec` runs: bash, in the app dir, with HOME and DEPS_DIR set as Cloud Foundry
/// sets them and every other variable inherited from the container.
pub fn command(args: &LauncherArgs) -> Result<Command, LaunchError> {
    let app_dir = paths::absolute(&args.app_dir).map_err(|source| LaunchError::Io {
        context: format!("resolving {}", args.app_dir.display()),
        source,
    })?;
    let droplet_root = app_dir.parent().unwrap_or(&app_dir);
    let start_command = start_command(args, droplet_root)?;

    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(LAUNCH_SCRIPT)
        .arg("launcher")
        .arg(droplet_root.join("tmp"))
        .arg(start_command)
        .current_dir(&app_dir)
        .env("HOME", &app_dir)
        .env("DEPS_DIR", droplet_root.join("deps"));
    Ok(cmd)
}

/// Replaces this process with the app. Returns only on failure.
pub fn exec(args: &LauncherArgs) -> LaunchError {
    match command(args) {
        Ok(mut cmd) => LaunchError::Io {
            context: "exec bash".into(),
            source: cmd.exec(),
        },
        Err(err) => err,
    }
}

/// The given command, else the one staging detected.
fn start_command(args: &LauncherArgs, droplet_root: &Path) -> Result<String, LaunchError> {
    if !args.start_command.is_empty() {
        return Ok(args.start_command.clone());
    }
    let path = droplet_root.join(staging_info::FILE_NAME);
    let info = StagingInfo::read(&path).map_err(|source| LaunchError::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    if info.start_command.is_empty() {
        return Err(LaunchError::NoStartCommand(path));
    }
    Ok(info.start_command)
}
