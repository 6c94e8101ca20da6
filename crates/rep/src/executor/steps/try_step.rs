//! Try: runs its child and ignores a failure (but not a cancellation).

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};

pub struct TryStep {
    child: BoxStep,
}

impl TryStep {
    pub fn new(child: BoxStep) -> Self {
        Self { child }
    }
}

#[async_trait]
impl Step for TryStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        match self.child.perform(cancel).await {
            Err(StepError::Cancelled) => Err(StepError::Cancelled),
            Err(err) => {
                tracing::debug!(error = %err, "try: ignoring a failed step");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::steps::testing::Scripted;

    #[tokio::test]
    async fn failures_are_ignored_but_cancellation_is_not() {
        let step = TryStep::new(Scripted::new(0, Err(StepError::Failed("x".into()))).boxed());
        step.perform(&CancellationToken::new()).await.unwrap();

        let step = TryStep::new(Scripted::new(10_000, Ok(())).boxed());
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(step.perform(&cancel).await, Err(StepError::Cancelled));
    }
}
