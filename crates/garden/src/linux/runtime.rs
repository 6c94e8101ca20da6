//! The OCI runtime binary (runc or crun), driven through its command line.
//!
//! Both take the same commands for what Garden needs: `run --detach`, `exec --process`,
//! `state`, `kill` and `delete --force`, each with a state directory (`--root`) of our own,
//! so our containers never mix with other users of the runtime.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

use crate::error::Error;

#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    binary: PathBuf,
    root: PathBuf,
}

/// What `state` reports about a container.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct State {
    pub pid: i32,
    pub status: String,
}

impl State {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

impl Runtime {
    pub fn new(binary: PathBuf, root: PathBuf) -> Self {
        Self { binary, root }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.root).stdin(Stdio::null());
        command
    }

    /// Runs `command` to completion; a failure carries the runtime's own message.
    async fn check(&self, what: &str, command: Command) -> Result<Vec<u8>, Error> {
        let what = format!("{} {what}", self.binary.display());
        super::command::run(command, None, &what).await
    }

    /// Creates and starts the container's init process in the background. The init inherits
    /// the runtime's standard streams, so they point at /dev/null and a log file rather than
    /// pipes that would never close.
    pub async fn run_detached(&self, id: &str, bundle: &Path) -> Result<(), Error> {
        let log_path = bundle.join("runtime.log");
        let log = std::fs::File::create(&log_path).map_err(|e| Error::io(log_path.display(), e))?;
        let status = self
            .command()
            .args(["run", "--detach", "--bundle"])
            .arg(bundle)
            .arg(id)
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .await
            .map_err(|e| Error::io(format!("{} run", self.binary.display()), e))?;
        if status.success() {
            return Ok(());
        }
        let message = std::fs::read_to_string(&log_path).unwrap_or_default();
        Err(Error::Io {
            message: format!("{} run {id}: {}", self.binary.display(), message.trim()),
        })
    }

    /// The command that runs the process described by `process_json` in the container and
    /// waits for it, forwarding signals and exiting with its status. The process's host pid
    /// goes to `pid_file`.
    pub fn exec(&self, id: &str, process_json: &Path, pid_file: &Path) -> Command {
        let mut command = self.command();
        command
            .arg("exec")
            .arg("--process")
            .arg(process_json)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        command
    }

    /// The container's state; `None` when the runtime does not know it.
    pub async fn state(&self, id: &str) -> Option<State> {
        let mut command = self.command();
        command.args(["state", id]);
        let stdout = self.check("state", command).await.ok()?;
        serde_json::from_slice(&stdout).ok()
    }

    /// Removes the container, killing whatever still runs in it. Deleting one the runtime
    /// does not know is not an error.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        if !self.root.join(id).exists() {
            return Ok(());
        }
        let mut command = self.command();
        command.args(["delete", "--force", id]);
        match self.check("delete", command).await {
            Ok(_) => Ok(()),
            Err(_) if !self.root.join(id).exists() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The ids of every container in our state directory.
    pub fn ids(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the runtime supports seccomp filters (`features` answers; older runtimes
    /// without the command are assumed to, as Debian builds them with libseccomp).
    pub async fn supports_seccomp(&self) -> bool {
        let mut command = Command::new(&self.binary);
        command.arg("features").stdin(Stdio::null());
        let Ok(stdout) = self.check("features", command).await else {
            return true;
        };
        let features: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or_default();
        features
            .pointer("/linux/seccomp/enabled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true)
    }
}
