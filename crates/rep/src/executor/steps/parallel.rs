//! Parallel: runs all children at once and waits for every one; fails if any failed.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};

pub struct ParallelStep {
    children: Vec<BoxStep>,
}

impl ParallelStep {
    pub fn new(children: Vec<BoxStep>) -> Self {
        Self { children }
    }
}

#[async_trait]
impl Step for ParallelStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let results =
            futures::future::join_all(self.children.iter().map(|c| c.perform(cancel))).await;
        let mut errors: Vec<StepError> = results.into_iter().filter_map(Result::err).collect();
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ if errors.iter().all(|e| *e == StepError::Cancelled) => Err(StepError::Cancelled),
            _ => Err(StepError::Many(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::executor::steps::testing::Scripted;

    #[tokio::test]
    async fn waits_for_all_and_collects_every_failure() {
        let slow = Scripted::new(30, Ok(()));
        let slow_runs = slow.runs.clone();
        let step = ParallelStep::new(vec![
            Scripted::new(0, Err(StepError::Failed("one".into()))).boxed(),
            slow.boxed(),
            Scripted::new(10, Err(StepError::Failed("two".into()))).boxed(),
        ]);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "one; two");
        assert_eq!(slow_runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn succeeds_when_all_succeed() {
        let step = ParallelStep::new(vec![
            Scripted::new(5, Ok(())).boxed(),
            Scripted::new(1, Ok(())).boxed(),
        ]);
        step.perform(&CancellationToken::new()).await.unwrap();
    }
}
