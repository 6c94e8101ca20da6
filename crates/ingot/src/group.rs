//! Runs a process's components as one group: they share a shutdown token, and when any of them
//! stops (on its own or with an error) the others are told to stop too.

use std::future::Future;

use ingot_core::Shutdown;
use tokio::task::JoinSet;

pub struct Group {
    shutdown: Shutdown,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl Group {
    pub fn new(shutdown: Shutdown) -> Self {
        Self {
            shutdown,
            tasks: JoinSet::new(),
        }
    }

    pub fn spawn(
        &mut self,
        name: &'static str,
        component: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.spawn(async move { (name, component.await) });
    }

    /// Waits until every component has stopped. The first one to stop triggers shutdown for the
    /// rest; the first error (or a component stopping before shutdown) is returned.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let failure = match joined {
                Ok((_, Ok(()))) if self.shutdown.is_cancelled() => None,
                Ok((name, Ok(()))) => Some(anyhow::anyhow!("{name} stopped unexpectedly")),
                Ok((name, Err(e))) => Some(e.context(format!("{name} failed"))),
                Err(e) => Some(anyhow::anyhow!("a component panicked: {e}")),
            };
            if let Some(error) = failure {
                tracing::error!("{error:#}");
                first_error.get_or_insert(error);
            }
            self.shutdown.cancel();
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_component_stops_the_others_and_its_error_is_returned() {
        let shutdown = Shutdown::new();
        let mut group = Group::new(shutdown.clone());
        let token = shutdown.clone();
        group.spawn("server", async move {
            token.cancelled().await;
            Ok(())
        });
        group.spawn("broken", async { Err(anyhow::anyhow!("port in use")) });
        let err = group.wait().await.unwrap_err();
        assert!(format!("{err:#}").contains("broken failed: port in use"));
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn shutdown_stops_everything_cleanly() {
        let shutdown = Shutdown::new();
        let mut group = Group::new(shutdown.clone());
        for name in ["a", "b"] {
            let token = shutdown.clone();
            group.spawn(name, async move {
                token.cancelled().await;
                Ok(())
            });
        }
        shutdown.cancel();
        group.wait().await.unwrap();
    }
}
