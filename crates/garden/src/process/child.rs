//! One process: its record on disk, its exit status, and the `Process` trait.
//!
//! A process this backend started is reaped by a waiter task that records its exit status.
//! A process adopted after a restart is not our child, so its exit is found by polling /proc,
//! and its status is unknown unless the previous backend recorded it.

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::Signal as NixSignal;
use tokio::sync::watch;

use super::depot::ProcessLayout;
use super::group;
use super::procfs::{self, Group};
use crate::api::Process;
use crate::error::Error;
use crate::model::{ExitStatus, Signal};

/// How often an adopted process is checked for exit.
const ADOPTED_POLL: Duration = Duration::from_millis(100);

/// A process Garden knows about, running or exited.
pub(crate) struct ProcessRecord {
    pub id: String,
    pub layout: ProcessLayout,
    pub group: Group,
    pub exit: watch::Receiver<Option<ExitStatus>>,
}

impl ProcessRecord {
    pub fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }
}

fn to_exit_status(status: std::process::ExitStatus) -> ExitStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Exited(code),
        (None, Some(signal)) => ExitStatus::Exited(128 + signal),
        (None, None) => ExitStatus::Unknown,
    }
}

/// The group a freshly spawned child leads.
pub(crate) fn own_group(child: &tokio::process::Child) -> Result<Group, Error> {
    let pid = child.id().ok_or_else(|| Error::Io {
        message: "process exited before it could be recorded".into(),
    })? as i32;
    // Not yet reaped, so /proc/<pid> exists even if the process already exited.
    let start_time = procfs::stat(pid).map(|s| s.start_time).unwrap_or(0);
    Ok(Group {
        pgid: pid,
        start_time,
    })
}

/// Takes ownership of a freshly spawned child: records `group` (the processes signals go
/// to, the child's own group or the one it started) and reaps the child when it exits.
pub(crate) async fn watch_child(
    id: String,
    layout: ProcessLayout,
    mut child: tokio::process::Child,
    group: Group,
) -> Result<Arc<ProcessRecord>, Error> {
    let record_result = super::depot::write_json(&layout.pid_file(), &group).await;
    let (tx, rx) = watch::channel(None);
    let exit_file = layout.exit_file();
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(status) => to_exit_status(status),
            Err(_) => ExitStatus::Unknown,
        };
        if let Some(code) = status.code() {
            // Best effort: lets a restarted backend report the real exit code.
            let _ = tokio::fs::write(&exit_file, code.to_string()).await;
        }
        let _ = tx.send(Some(status));
    });
    if let Err(e) = record_result {
        // An unrecorded process could outlive a restart unseen, so it must not run.
        let _ = group::signal_groups(&[group], NixSignal::SIGKILL).await;
        return Err(e);
    }
    Ok(Arc::new(ProcessRecord {
        id,
        layout,
        group,
        exit: rx,
    }))
}

/// The exit code an earlier backend wrote, if it saw the exit.
async fn recorded_exit(path: &std::path::Path) -> ExitStatus {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => text
            .trim()
            .parse()
            .map_or(ExitStatus::Unknown, ExitStatus::Exited),
        Err(_) => ExitStatus::Unknown,
    }
}

/// Whether anything of the group still runs (its leader may be gone: a runtime's helper).
fn is_running(group: Group) -> bool {
    !procfs::group_members(&[group]).is_empty()
}

/// Re-adopts a process recorded by an earlier backend, or reports how it ended.
pub(crate) async fn adopt(id: String, layout: ProcessLayout) -> Option<Arc<ProcessRecord>> {
    let group: Group = super::depot::read_json(&layout.pid_file()).await.ok()?;
    let (tx, rx) = watch::channel(None);
    if is_running(group) {
        let exit_file = layout.exit_file();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(ADOPTED_POLL) => {}
                    _ = tx.closed() => return,
                }
                if !is_running(group) {
                    let _ = tx.send(Some(recorded_exit(&exit_file).await));
                    return;
                }
            }
        });
    } else {
        let _ = tx.send(Some(recorded_exit(&layout.exit_file()).await));
    }
    Some(Arc::new(ProcessRecord {
        id,
        layout,
        group,
        exit: rx,
    }))
}

#[async_trait]
impl Process for ProcessRecord {
    fn id(&self) -> &str {
        &self.id
    }

    async fn wait(&self) -> Result<ExitStatus, Error> {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(status) => Ok(status.unwrap_or(ExitStatus::Unknown)),
            Err(_) => Err(Error::Unrecoverable {
                message: format!("lost track of process {}", self.id),
            }),
        }
    }

    async fn signal(&self, signal: Signal) -> Result<(), Error> {
        let signal = match signal {
            Signal::Terminate => NixSignal::SIGTERM,
            Signal::Kill => NixSignal::SIGKILL,
        };
        group::signal_groups(&[self.group], signal).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_to_shell_style_codes() {
        assert_eq!(
            to_exit_status(std::process::ExitStatus::from_raw(3 << 8)),
            ExitStatus::Exited(3)
        );
        assert_eq!(
            to_exit_status(std::process::ExitStatus::from_raw(9)),
            ExitStatus::Exited(137)
        );
    }
}
