//! Timeout: fails its child with "exceeded <d> timeout" when it runs too long.

use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};

pub struct TimeoutStep {
    child: BoxStep,
    timeout: Duration,
}

impl TimeoutStep {
    pub fn new(child: BoxStep, timeout: Duration) -> Self {
        Self { child, timeout }
    }
}

#[async_trait]
impl Step for TimeoutStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let inner = cancel.child_token();
        let run = self.child.perform(&inner);
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result,
            _ = tokio::time::sleep(self.timeout) => {
                // Let the child stop what it started before reporting.
                inner.cancel();
                let _ = run.await;
                Err(StepError::TimedOut(self.timeout))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::executor::steps::testing::Scripted;

    #[tokio::test]
    async fn a_slow_child_times_out_and_is_cancelled() {
        let slow = Scripted::new(10_000, Ok(()));
        let cancelled = slow.cancelled.clone();
        let step = TimeoutStep::new(slow.boxed(), Duration::from_millis(20));
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "exceeded 20ms timeout");
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_quick_child_keeps_its_result() {
        let step = TimeoutStep::new(
            Scripted::new(1, Err(StepError::Failed("nope".into()))).boxed(),
            Duration::from_secs(10),
        );
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "nope");
    }
}
