//! Signals and stops the process groups of a container.
//!
//! Every process runs as the leader of its own group, so a signal to the group also reaches
//! the children and grandchildren it started (unless they made a new session or group).

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal as NixSignal, killpg};
use nix::unistd::Pid;
use tokio::time::{Instant, sleep};

use super::procfs::{self, Group};
use crate::error::Error;

/// How often a stop checks whether the groups are gone.
const POLL: Duration = Duration::from_millis(20);
/// How long SIGKILL may take to empty the groups before stop gives up.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `signal` to each group that still has running members. A recorded group with no
/// members is skipped, so a recycled pid is never signalled.
pub(crate) async fn signal_groups(groups: &[Group], signal: NixSignal) -> Result<(), Error> {
    let groups = groups.to_vec();
    let live = tokio::task::spawn_blocking(move || {
        let members = procfs::group_members(&groups);
        groups
            .into_iter()
            .filter(|g| members.iter().any(|m| m.pgid == g.pgid))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Error::io("scanning /proc", e))?;
    for group in live {
        match killpg(Pid::from_raw(group.pgid), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(Error::io(format!("signalling group {}", group.pgid), e)),
        }
    }
    Ok(())
}

/// Waits until no group has running members, or `timeout` passes; true if they are gone.
pub(crate) async fn wait_until_empty(groups: &[Group], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let scan = groups.to_vec();
        let empty = tokio::task::spawn_blocking(move || procfs::group_members(&scan).is_empty())
            .await
            .unwrap_or(false);
        if empty {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(POLL).await;
    }
}

/// Garden's stop: SIGTERM, wait up to `grace_time`, then SIGKILL (or SIGKILL at once when
/// `kill`). Returns once every group is empty.
pub(crate) async fn stop_groups(
    groups: &[Group],
    grace_time: Duration,
    kill: bool,
) -> Result<(), Error> {
    if !kill {
        signal_groups(groups, NixSignal::SIGTERM).await?;
        if wait_until_empty(groups, grace_time).await {
            return Ok(());
        }
    }
    signal_groups(groups, NixSignal::SIGKILL).await?;
    if wait_until_empty(groups, KILL_TIMEOUT).await {
        Ok(())
    } else {
        Err(Error::Io {
            message: "processes survived SIGKILL".into(),
        })
    }
}
