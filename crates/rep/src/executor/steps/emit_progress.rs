//! EmitProgress: logs a start message, then a success message or the failure with its prefix.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};
use crate::logs::LogTarget;

pub struct EmitProgressStep {
    child: BoxStep,
    logs: LogTarget,
    start: String,
    success: String,
    failure_prefix: String,
}

impl EmitProgressStep {
    pub fn new(
        child: BoxStep,
        logs: LogTarget,
        start: impl Into<String>,
        success: impl Into<String>,
        failure_prefix: impl Into<String>,
    ) -> Self {
        Self {
            child,
            logs,
            start: start.into(),
            success: success.into(),
            failure_prefix: failure_prefix.into(),
        }
    }
}

#[async_trait]
impl Step for EmitProgressStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        if !self.start.is_empty() {
            self.logs.out(&self.start);
        }
        let result = self.child.perform(cancel).await;
        match &result {
            Ok(()) if !self.success.is_empty() => self.logs.out(&self.success),
            Err(StepError::Cancelled) | Ok(()) => {}
            Err(err) if !self.failure_prefix.is_empty() => {
                self.logs.err(format!("{}: {err}", self.failure_prefix));
            }
            Err(_) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::steps::testing::{Scripted, context};

    #[tokio::test]
    async fn logs_start_and_success() {
        let (ctx, _garden, sink) = context().await;
        let step = EmitProgressStep::new(
            Scripted::new(0, Ok(())).boxed(),
            ctx.logs.clone(),
            "Downloading droplet...",
            "Downloaded droplet",
            "Failed to download droplet",
        );
        step.perform(&CancellationToken::new()).await.unwrap();
        let messages: Vec<String> = sink.lines().into_iter().map(|l| l.message).collect();
        assert_eq!(messages, ["Downloading droplet...", "Downloaded droplet"]);
    }

    #[tokio::test]
    async fn logs_the_failure_with_its_prefix() {
        let (ctx, _garden, sink) = context().await;
        let step = EmitProgressStep::new(
            Scripted::new(0, Err(StepError::Failed("404".into()))).boxed(),
            ctx.logs.clone(),
            "",
            "done",
            "Failed to download",
        );
        step.perform(&CancellationToken::new()).await.unwrap_err();
        let lines = sink.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "Failed to download: 404");
        assert_eq!(lines[0].stream, crate::logs::LogStream::Stderr);
    }
}
