//! Run: starts a process in the container through Garden, forwards its output line by line to
//! the log sink, ends it with Diego's "Exit status N" line, and fails with "Exited with
//! status N" when it exits non-zero. Cancelled, it sends SIGTERM and, after the grace time,
//! SIGKILL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ingot_garden::{ExitStatus, OutputChunk, ProcessIo, ProcessSpec, Signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Step, StepContext, StepError, format_duration};
use crate::logs::{LogStream, LogTarget};

pub struct RunStep {
    ctx: StepContext,
    spec: ProcessSpec,
    logs: LogTarget,
    suppress_log_output: bool,
}

impl RunStep {
    /// `spec.env` comes first and the context's env (instance ports and addresses) last, so
    /// the cell's values win.
    pub fn new(ctx: StepContext, mut spec: ProcessSpec, logs: LogTarget, suppress: bool) -> Self {
        spec.env.extend(ctx.env.iter().cloned());
        Self {
            ctx,
            spec,
            logs,
            suppress_log_output: suppress,
        }
    }

    fn forward(
        &self,
        rx: mpsc::Receiver<OutputChunk>,
        stream: LogStream,
    ) -> tokio::task::JoinHandle<()> {
        let logs = self.logs.clone();
        let quiet = self.suppress_log_output;
        tokio::spawn(forward_lines(rx, logs, stream, quiet))
    }
}

/// Splits chunks into lines; a trailing partial line is emitted when the stream closes.
async fn forward_lines(
    mut rx: mpsc::Receiver<OutputChunk>,
    logs: LogTarget,
    stream: LogStream,
    quiet: bool,
) {
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = rx.recv().await {
        if quiet {
            continue;
        }
        pending.extend_from_slice(&chunk);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            logs.emit(stream, text.trim_end_matches('\r'));
        }
    }
    if !pending.is_empty() {
        logs.emit(stream, String::from_utf8_lossy(&pending));
    }
}

#[async_trait]
impl Step for RunStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let (io, captured) = ProcessIo::capture();
        let process = self
            .ctx
            .container
            .run(self.spec.clone(), io)
            .await
            .map_err(|e| StepError::Failed(format!("failed to start {}: {e}", self.spec.path)))?;
        let out = self.forward(captured.stdout, LogStream::Stdout);
        let err = self.forward(captured.stderr, LogStream::Stderr);
        let (status, stopped) = tokio::select! {
            status = process.wait() => (status, None),
            _ = cancel.cancelled() => {
                let (status, killed) = stop(process.clone(), self.ctx.grace_time).await;
                (status, Some(killed))
            }
        };
        // Garden closes the streams once the output is drained; don't hang on a stuck one.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = out.await;
            let _ = err.await;
        })
        .await;
        // Why it exited, where Garden knows (e.g. an OOM kill), as Diego reports it.
        let events = match status {
            Ok(ExitStatus::Exited(code)) if code != 0 && stopped.is_none() => {
                super::container_events(self.ctx.container.as_ref()).await
            }
            _ => Vec::new(),
        };
        if let Ok(ExitStatus::Exited(code)) = status
            && !self.suppress_log_output
        {
            let mut line = format!("Exit status {code}{}", super::explain(&events));
            if stopped == Some(true) {
                line += &format!(
                    " (exceeded {} graceful shutdown interval)",
                    format_duration(self.ctx.grace_time)
                );
            }
            self.logs.out(line);
        }
        if stopped.is_some() {
            return Err(StepError::Cancelled);
        }
        match status {
            Ok(ExitStatus::Exited(0)) => Ok(()),
            Ok(ExitStatus::Exited(code)) => Err(StepError::Exited {
                log_source: self.logs.source_type.clone(),
                code,
                events,
            }),
            Ok(ExitStatus::Unknown) => Err(StepError::Failed(
                "process exited with an unknown status".into(),
            )),
            Err(e) => Err(StepError::Failed(format!("lost the process: {e}"))),
        }
    }
}

/// SIGTERM, then SIGKILL if it is still there after `grace`. Returns how it exited and
/// whether it had to be killed.
async fn stop(
    process: Arc<dyn ingot_garden::Process>,
    grace: Duration,
) -> (Result<ExitStatus, ingot_garden::Error>, bool) {
    let _ = process.signal(Signal::Terminate).await;
    if let Ok(status) = tokio::time::timeout(grace, process.wait()).await {
        return (status, false);
    }
    let _ = process.signal(Signal::Kill).await;
    let status = tokio::time::timeout(Duration::from_secs(5), process.wait())
        .await
        .unwrap_or(Ok(ExitStatus::Unknown));
    (status, true)
}

#[cfg(test)]
mod tests {
    use ingot_garden::testing::{FakeCall, ProcessScript};

    use super::*;
    use crate::executor::steps::testing::context;
    use crate::logs::RateLimit;
    use ingot_core::metrics::Counter;

    fn spec(path: &str) -> ProcessSpec {
        ProcessSpec {
            path: path.into(),
            env: vec!["A=1".into(), "PORT=1".into()],
            ..ProcessSpec::default()
        }
    }

    #[tokio::test]
    async fn forwards_output_and_succeeds_on_zero() {
        let (ctx, garden, sink) = context().await;
        garden.script(
            "/bin/app",
            ProcessScript::exits(0).stdout("hello\nworld\npartial"),
        );
        let logs = ctx.logs.clone();
        let step = RunStep::new(ctx, spec("/bin/app"), logs, false);
        step.perform(&CancellationToken::new()).await.unwrap();
        let messages: Vec<String> = sink.lines().into_iter().map(|l| l.message).collect();
        assert_eq!(messages, ["hello", "world", "partial", "Exit status 0"]);
        let run = garden.calls().into_iter().find_map(|c| match c {
            FakeCall::Run { spec, .. } => Some(spec),
            _ => None,
        });
        // The context's env comes last, so PORT=8080 wins.
        assert_eq!(run.unwrap().env, ["A=1", "PORT=1", "PORT=8080"]);
    }

    #[tokio::test]
    async fn an_out_of_memory_kill_says_so() {
        let (ctx, garden, sink) = context().await;
        garden.script("/bin/hog", ProcessScript::exits(137));
        garden.set_events("c1", &[ingot_garden::OUT_OF_MEMORY]);
        let logs = ctx.logs.clone();
        let step = RunStep::new(ctx, spec("/bin/hog"), logs, false);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "APP/PROC/WEB: Exited with status 137 (out of memory)"
        );
        let messages: Vec<String> = sink.lines().into_iter().map(|l| l.message).collect();
        assert_eq!(messages, ["Exit status 137 (out of memory)"]);
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_its_status() {
        let (ctx, garden, sink) = context().await;
        garden.script("/bin/false", ProcessScript::exits(1).stderr("oops\n"));
        let logs = ctx.logs.clone();
        let step = RunStep::new(ctx, spec("/bin/false"), logs, false);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "APP/PROC/WEB: Exited with status 1");
        let lines: Vec<(LogStream, String)> = sink
            .lines()
            .into_iter()
            .map(|l| (l.stream, l.message))
            .collect();
        assert_eq!(
            lines,
            [
                (LogStream::Stderr, "oops".to_owned()),
                (LogStream::Stdout, "Exit status 1".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn output_beyond_the_log_rate_limit_is_dropped_with_a_notice() {
        let (ctx, garden, sink) = context().await;
        let output: String = (0..10)
            .map(|i| format!("line {i} of the noisy app\n"))
            .collect();
        garden.script("/bin/noisy", ProcessScript::exits(0).stdout(output));
        // 50 bytes a second: the first two 23-byte lines fit, the rest do not.
        let dropped = Counter::default();
        let logs = LogTarget {
            rate_limit: Some(RateLimit::new(50, dropped.clone())),
            ..ctx.logs.clone()
        };
        RunStep::new(ctx, spec("/bin/noisy"), logs, false)
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        let messages: Vec<String> = sink.lines().into_iter().map(|l| l.message).collect();
        assert_eq!(
            messages[..3],
            [
                "line 0 of the noisy app",
                "line 1 of the noisy app",
                "app instance exceeded log rate limit (50 bytes/sec)",
            ]
        );
        assert!(
            !messages.iter().any(|m| m.starts_with("line 2")),
            "{messages:?}"
        );
        let notices = messages.iter().filter(|m| m.contains("exceeded")).count();
        assert_eq!(notices, 1, "{messages:?}");
        // Lines 2 to 9 and the "Exit status" line were dropped, and counted for the metrics.
        assert_eq!(dropped.get(), 9);
    }

    #[tokio::test]
    async fn suppressed_output_is_not_logged() {
        let (ctx, garden, sink) = context().await;
        garden.script("/bin/app", ProcessScript::exits(0).stdout("secret\n"));
        let logs = ctx.logs.clone();
        RunStep::new(ctx, spec("/bin/app"), logs, true)
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        assert!(sink.lines().is_empty());
    }

    #[tokio::test]
    async fn cancellation_terminates_the_process() {
        let (ctx, garden, sink) = context().await;
        garden.script("/bin/server", ProcessScript::runs_until_signalled());
        let logs = ctx.logs.clone();
        let step = RunStep::new(ctx, spec("/bin/server"), logs, false);
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stopper.cancel();
        });
        assert_eq!(step.perform(&cancel).await, Err(StepError::Cancelled));
        assert!(garden.calls().iter().any(|c| matches!(
            c,
            FakeCall::Signal {
                signal: Signal::Terminate,
                ..
            }
        )));
        assert!(sink.contains("Exit status 143"));
    }
}
