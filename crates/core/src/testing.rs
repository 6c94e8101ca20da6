//! Helpers for the components' tests (feature `test-util`).

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 20 ms until it yields a value, failing the test after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, Duration::from_secs(10), check).await
}

/// [`eventually`] with its own time limit.
pub async fn eventually_within<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `done` holds, failing the test after `timeout`.
pub async fn until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    eventually_within(what, timeout, || std::future::ready(done().then_some(()))).await
}
