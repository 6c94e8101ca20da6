//! Wakes output tails as soon as a process writes, instead of at their next poll.
//!
//! One inotify instance serves every tail in the process: instances are limited per user
//! (128 by default) while watches are plentiful. A plain thread reads its events, so it works
//! whichever tokio runtime the tails run on. Without inotify, tails just poll.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use inotify::{Inotify, WatchDescriptor, WatchMask, Watches};
use tokio::sync::watch;

/// The watched files: a counter per watch that goes up on every write, and how many tails
/// share the watch (the same file gives the same descriptor).
struct Growth {
    watches: Mutex<Watches>,
    files: Mutex<HashMap<WatchDescriptor, (watch::Sender<u64>, usize)>>,
}

/// While it lives, `changed` (a receiver of the file's write counter) wakes when the file grows.
pub(crate) struct Watched {
    wd: WatchDescriptor,
    pub(crate) changed: watch::Receiver<u64>,
}

/// Starts watching `path` for writes; `None` when inotify is unavailable.
pub(crate) fn watch(path: &Path) -> Option<Watched> {
    let growth = growth()?;
    let wd = growth
        .watches
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .add(path, WatchMask::MODIFY)
        .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "no inotify watch"))
        .ok()?;
    let mut files = growth.files.lock().unwrap_or_else(PoisonError::into_inner);
    let (counter, users) = files
        .entry(wd.clone())
        .or_insert_with(|| (watch::channel(0).0, 0));
    *users += 1;
    Some(Watched {
        wd,
        changed: counter.subscribe(),
    })
}

impl Drop for Watched {
    fn drop(&mut self) {
        let Some(growth) = growth() else { return };
        let mut files = growth.files.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, users)) = files.get_mut(&self.wd) {
            *users -= 1;
            if *users == 0 {
                files.remove(&self.wd);
                // Fails harmlessly when the file is gone already (the kernel dropped the watch).
                let _ = growth
                    .watches
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(self.wd.clone());
            }
        }
    }
}

fn growth() -> Option<&'static Growth> {
    static GROWTH: OnceLock<Option<Growth>> = OnceLock::new();
    GROWTH.get_or_init(start).as_ref()
}

fn start() -> Option<Growth> {
    let inotify = Inotify::init()
        .map_err(|e| tracing::warn!(error = %e, "inotify unavailable; process output is polled"))
        .ok()?;
    let growth = Growth {
        watches: Mutex::new(inotify.watches()),
        files: Mutex::new(HashMap::new()),
    };
    std::thread::Builder::new()
        .name("garden-output-watch".into())
        .spawn(move || read_events(inotify))
        .ok()?;
    Some(growth)
}

/// Bumps the counter of every file written to, for as long as the process runs.
fn read_events(mut inotify: Inotify) {
    let mut buffer = [0u8; 4096];
    loop {
        let events = match inotify.read_events_blocking(&mut buffer) {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "reading inotify events; process output is polled");
                return;
            }
        };
        let Some(growth) = growth() else { return };
        let files = growth.files.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            if let Some((counter, _)) = files.get(&event.wd) {
                counter.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    async fn wakes(watched: &mut Watched) {
        tokio::time::timeout(Duration::from_secs(10), watched.changed.changed())
            .await
            .expect("no wake-up for a write")
            .unwrap();
    }

    #[tokio::test]
    async fn a_write_wakes_every_tail_of_the_file_while_any_watches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout");
        let mut file = std::fs::File::create(&path).unwrap();
        let mut first = watch(&path).expect("inotify");
        let mut second = watch(&path).expect("inotify");
        assert_eq!(first.wd, second.wd);

        file.write_all(b"one\n").unwrap();
        wakes(&mut first).await;
        wakes(&mut second).await;

        // The watch stays while one tail still uses it.
        drop(first);
        file.write_all(b"two\n").unwrap();
        wakes(&mut second).await;
    }
}
