//! Running a build step's program with its output streamed as progress.

use std::collections::VecDeque;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::error::IoContext;
use crate::{Error, Progress};

/// How many of a failed program's last lines its error carries.
const TAIL_LINES: usize = 25;

/// Runs `command` to completion, passing every line it prints (stdout and stderr) to `progress`.
///
/// The program leads its own process group, and dropping the returned future (a timeout, a
/// cancelled build) kills the whole group: debootstrap and apt leave dpkg, wget and maintainer
/// scripts running otherwise.
pub(crate) async fn run(
    mut command: Command,
    what: &str,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<(), Error> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().context(|| format!("starting {what}"))?;
    let group = GroupGuard(child.id().map(|pid| Pid::from_raw(pid as i32)));

    let (lines, mut received) = mpsc::unbounded_channel();
    tokio::spawn(forward_lines(child.stdout.take(), lines.clone()));
    tokio::spawn(forward_lines(child.stderr.take(), lines));
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    while let Some(line) = received.recv().await {
        progress(Progress::Output(&line));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    let status = child
        .wait()
        .await
        .context(|| format!("waiting for {what}"))?;
    group.disarm();
    if status.success() {
        return Ok(());
    }
    Err(Error::CommandFailed {
        command: what.to_owned(),
        status,
        tail: Vec::from(tail).join("\n"),
    })
}

/// Sends each line of `stream` (lossily decoded: packages may print any bytes) until it closes.
async fn forward_lines(
    stream: Option<impl AsyncRead + Unpin>,
    lines: mpsc::UnboundedSender<String>,
) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    while reader
        .read_until(b'\n', &mut line)
        .await
        .is_ok_and(|n| n > 0)
    {
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        line.clear();
        if lines.send(text).is_err() {
            return;
        }
    }
}

/// Kills a process group unless its leader was waited for.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[tokio::test]
    async fn output_lines_are_streamed_and_a_failure_carries_the_last_ones() {
        let mut seen = Vec::new();
        let err = run(
            shell("echo one; echo two >&2; printf 'three'; exit 3"),
            "the script",
            &mut |p| {
                if let Progress::Output(line) = p {
                    seen.push(line.to_owned());
                }
            },
        )
        .await
        .unwrap_err();
        seen.sort();
        assert_eq!(seen, ["one", "three", "two"]);
        let Error::CommandFailed {
            command,
            status,
            tail,
        } = err
        else {
            panic!("unexpected {err}")
        };
        assert_eq!((command.as_str(), status.code()), ("the script", Some(3)));
        assert!(tail.contains("one") && tail.contains("three"), "{tail}");
    }

    #[tokio::test]
    async fn dropping_the_run_kills_the_programs_children_too() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "sleep 300 & echo $! > {}; echo started; wait",
            pid_file.display()
        );
        let mut ignore = |_: Progress<'_>| {};
        let run = run(shell(&script), "the script", &mut ignore);
        // Cancelled (by the timeout dropping it) while the grandchild sleeps.
        let cancelled = tokio::time::timeout(std::time::Duration::from_secs(2), run).await;
        assert!(cancelled.is_err(), "the script should still be running");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        gone(pid).await;
    }

    /// Waits (bounded) until `pid` no longer runs; a killed but unreaped child counts as gone.
    async fn gone(pid: i32) {
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            if stat.is_empty() || state.starts_with('Z') {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("process {pid} outlived its cancelled build step");
    }
}
