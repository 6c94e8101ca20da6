//! Codependent: runs all children at once; the first one to finish, for any reason, ends the
//! others. Used for an LRP's action beside its monitor: if either ends, the instance is over.

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};

pub struct CodependentStep {
    children: Vec<BoxStep>,
}

impl CodependentStep {
    pub fn new(children: Vec<BoxStep>) -> Self {
        Self { children }
    }
}

#[async_trait]
impl Step for CodependentStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let siblings = cancel.child_token();
        let mut running: FuturesUnordered<_> =
            self.children.iter().map(|c| c.perform(&siblings)).collect();
        let Some(first) = running.next().await else {
            return Ok(());
        };
        siblings.cancel();
        // The others only report that they were cancelled; the first result is the story,
        // unless it succeeded and a sibling failed on its own while stopping.
        let mut outcome = first;
        while let Some(other) = running.next().await {
            if outcome.is_ok() && !matches!(other, Ok(()) | Err(StepError::Cancelled)) {
                outcome = other;
            }
        }
        if outcome.is_ok() && cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::executor::steps::testing::Scripted;

    #[tokio::test]
    async fn the_first_to_finish_ends_the_rest() {
        let long = Scripted::new(10_000, Ok(()));
        let long_cancelled = long.cancelled.clone();
        let step = CodependentStep::new(vec![
            long.boxed(),
            Scripted::new(5, Err(StepError::Failed("monitor failed".into()))).boxed(),
        ]);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "monitor failed");
        assert_eq!(long_cancelled.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_success_also_ends_the_rest() {
        let long = Scripted::new(10_000, Ok(()));
        let long_cancelled = long.cancelled.clone();
        let step = CodependentStep::new(vec![long.boxed(), Scripted::new(1, Ok(())).boxed()]);
        step.perform(&CancellationToken::new()).await.unwrap();
        assert_eq!(long_cancelled.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn outer_cancellation_cancels_all() {
        let step = CodependentStep::new(vec![
            Scripted::new(10_000, Ok(())).boxed(),
            Scripted::new(10_000, Ok(())).boxed(),
        ]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(step.perform(&cancel).await, Err(StepError::Cancelled));
    }
}
