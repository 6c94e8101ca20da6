//! Serial: runs its children one after another; the first failure ends it.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepError};

pub struct SerialStep {
    children: Vec<BoxStep>,
}

impl SerialStep {
    pub fn new(children: Vec<BoxStep>) -> Self {
        Self { children }
    }
}

#[async_trait]
impl Step for SerialStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        for child in &self.children {
            if cancel.is_cancelled() {
                return Err(StepError::Cancelled);
            }
            child.perform(cancel).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::executor::steps::testing::Scripted;

    #[tokio::test]
    async fn runs_in_order_and_stops_at_the_first_failure() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let third = Scripted::new(0, Ok(())).named(&order, "c");
        let third_runs = third.runs.clone();
        let step = SerialStep::new(vec![
            Scripted::new(5, Ok(())).named(&order, "a").boxed(),
            Scripted::new(0, Err(StepError::Failed("b broke".into())))
                .named(&order, "b")
                .boxed(),
            third.boxed(),
        ]);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "b broke");
        assert_eq!(*order.lock().unwrap(), ["a", "b"]);
        assert_eq!(third_runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn cancellation_reaches_the_running_child() {
        let step = SerialStep::new(vec![Scripted::new(10_000, Ok(())).boxed()]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(step.perform(&cancel).await, Err(StepError::Cancelled));
    }
}
