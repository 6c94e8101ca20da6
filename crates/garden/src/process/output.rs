//! Delivers a process's output to a caller.
//!
//! Processes write stdout and stderr to files in their record directory rather than to pipes,
//! so they keep running (and are not killed by SIGPIPE) when the backend restarts. Each
//! subscriber tails the file until the process has exited and the file is drained, woken by
//! inotify when the file grows (and, in case a wake-up is missed, by a slow poll).

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, watch};

use super::growth;
use crate::io::OutputChunk;
use crate::model::ExitStatus;

/// How long a tail waits for more output before looking again: when inotify wakes it, and
/// when nothing does.
const POLL_WATCHED: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(25);
const CHUNK: usize = 16 * 1024;

/// Where a tail starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// Everything the process wrote (for `run`).
    Start,
    /// Only what it writes from now on (for `attach`, so output is not delivered twice).
    End,
}

/// Spawns a task that sends the file's contents to `tx` until the process exits.
pub(crate) fn tail(
    path: PathBuf,
    from: From,
    mut exited: watch::Receiver<Option<ExitStatus>>,
    tx: mpsc::Sender<OutputChunk>,
) {
    tokio::spawn(async move {
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        if from == From::End && file.seek(SeekFrom::End(0)).await.is_err() {
            return;
        }
        let mut watched = growth::watch(&path);
        let poll = if watched.is_some() {
            POLL_WATCHED
        } else {
            POLL
        };
        let mut buf = vec![0u8; CHUNK];
        let mut draining = false;
        loop {
            // Marked before reading: a write from now on wakes the wait below.
            if let Some(w) = &mut watched {
                w.changed.borrow_and_update();
            }
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "reading process output");
                    return;
                }
            };
            if n > 0 {
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    return;
                }
                continue;
            }
            if draining {
                return;
            }
            // Read once more after the exit is seen, so nothing written just before it is lost.
            if exited.borrow().is_some() {
                draining = true;
                continue;
            }
            let grew = async {
                match &mut watched {
                    Some(w) => {
                        if w.changed.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = exited.changed() => if changed.is_err() { draining = true },
                () = grew => {}
                _ = tokio::time::sleep(poll) => {}
                _ = tx.closed() => return,
            }
        }
    });
}
