//! Composable steps: one file per step, all implementing [`Step`]. Composite steps hold their
//! children. A step runs until it is done or its cancellation token fires; a cancelled step
//! stops what it started and returns [`StepError::Cancelled`].

mod codependent;
mod download;
mod emit_progress;
mod monitor;
mod parallel;
mod run;
mod serial;
mod timeout;
mod try_step;
pub(crate) mod upload;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use codependent::CodependentStep;
pub use download::{Checksum, DownloadCache, DownloadStep};
pub use emit_progress::EmitProgressStep;
pub use monitor::{HealthCheck, MonitorStep};
pub use parallel::ParallelStep;
pub use run::RunStep;
pub use serial::SerialStep;
pub use timeout::TimeoutStep;
pub use try_step::TryStep;
pub use upload::UploadStep;

use crate::logs::LogTarget;

/// How a step failed. The `Display` text is what ends up as a crash or failure reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// A process exited non-zero; `source` is its log source (e.g. `APP/PROC/WEB`), and
    /// `events` what Garden says happened to the container (e.g. "out of memory").
    #[error("{}Exited with status {code}{}", prefix(log_source), explain(events))]
    Exited {
        log_source: String,
        code: i32,
        events: Vec<String>,
    },
    /// The step was cancelled (a stop, or a sibling ended first).
    #[error("cancelled")]
    Cancelled,
    /// A timeout step's child ran too long.
    #[error("exceeded {} timeout", format_duration(*.0))]
    TimedOut(Duration),
    /// The monitor gave up on the instance.
    #[error("{0}")]
    HealthCheck(String),
    /// Anything else, with a message for the user.
    #[error("{0}")]
    Failed(String),
    /// Several children of a parallel step failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Many(Vec<StepError>),
}

/// Garden's events about a container, as Diego appends them: " (out of memory)".
pub(crate) fn explain(events: &[String]) -> String {
    if events.is_empty() {
        String::new()
    } else {
        format!(" ({})", events.join(", "))
    }
}

/// What Garden says happened to the container, for a process that exited non-zero.
pub(crate) async fn container_events(container: &dyn ingot_garden::Container) -> Vec<String> {
    container.info().await.map(|i| i.events).unwrap_or_default()
}

fn prefix(source: &str) -> String {
    if source.is_empty() {
        String::new()
    } else {
        format!("{source}: ")
    }
}

/// `1500ms`, `2s`, `1m30s`: short and exact, like Go's durations in Diego's messages.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// One runnable node of a step tree.
#[async_trait]
pub trait Step: Send + Sync {
    /// Runs to completion, or until `cancel` fires.
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError>;
}

pub type BoxStep = Box<dyn Step>;

/// What the steps of one container share: its Garden container, its extra environment, where
/// its logs go, and the cell's download cache and HTTP client.
#[derive(Clone)]
pub struct StepContext {
    pub container: Arc<dyn ingot_garden::Container>,
    /// `KEY=VALUE` pairs added after (and overriding) each run action's env: the instance's
    /// addresses and ports.
    pub env: Vec<String>,
    pub logs: LogTarget,
    pub http: reqwest::Client,
    pub cache: Arc<DownloadCache>,
    pub grace_time: Duration,
    pub health: crate::config::HealthCheckConfig,
    /// The host address and host port of each port the container asked for, by container
    /// port.
    pub host_ip: String,
    pub ports: Vec<crate::executor::PortBinding>,
    /// Set to `true` by the monitor the first time the instance is healthy.
    pub healthy: Arc<tokio::sync::watch::Sender<bool>>,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext")
            .field("container", &self.container.handle())
            .field("logs", &self.logs)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Scripted steps and a context on a fake Garden, for the steps' own tests.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ingot_garden::testing::FakeGarden;
    use ingot_garden::{ContainerSpec, Garden};

    use super::*;
    use crate::logs::MemoryLogSink;

    /// A step that waits `delay`, then returns `result`; or, if cancelled first, records it.
    pub struct Scripted {
        pub delay: Duration,
        pub result: Result<(), StepError>,
        pub runs: Arc<AtomicUsize>,
        pub cancelled: Arc<AtomicUsize>,
        pub order: Option<(Arc<Mutex<Vec<String>>>, String)>,
    }

    impl Scripted {
        pub fn new(delay_ms: u64, result: Result<(), StepError>) -> Self {
            Self {
                delay: Duration::from_millis(delay_ms),
                result,
                runs: Arc::default(),
                cancelled: Arc::default(),
                order: None,
            }
        }

        pub fn named(mut self, log: &Arc<Mutex<Vec<String>>>, name: &str) -> Self {
            self.order = Some((log.clone(), name.to_owned()));
            self
        }

        pub fn boxed(self) -> BoxStep {
            Box::new(self)
        }
    }

    #[async_trait]
    impl Step for Scripted {
        async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if let Some((log, name)) = &self.order {
                log.lock().unwrap().push(name.clone());
            }
            tokio::select! {
                _ = tokio::time::sleep(self.delay) => self.result.clone(),
                _ = cancel.cancelled() => {
                    self.cancelled.fetch_add(1, Ordering::SeqCst);
                    Err(StepError::Cancelled)
                }
            }
        }
    }

    pub async fn context() -> (StepContext, FakeGarden, Arc<MemoryLogSink>) {
        let garden = FakeGarden::new();
        let container = garden
            .create(ContainerSpec {
                handle: "c1".into(),
                ..ContainerSpec::default()
            })
            .await
            .unwrap();
        let sink = Arc::new(MemoryLogSink::new());
        let dir = std::env::temp_dir().join(format!("ingot-rep-steps-{}", std::process::id()));
        let ctx = StepContext {
            container,
            env: vec!["PORT=8080".into()],
            logs: LogTarget {
                sink: sink.clone(),
                clock: Arc::new(ingot_core::SystemClock),
                source_id: "log-guid".into(),
                source_type: "APP/PROC/WEB".into(),
                instance_id: "0".into(),
                rate_limit: None,
            },
            http: reqwest::Client::new(),
            cache: Arc::new(DownloadCache::new(dir)),
            grace_time: Duration::from_millis(200),
            health: crate::config::HealthCheckConfig {
                starting_interval: Duration::from_millis(20),
                healthy_interval: Duration::from_millis(20),
                default_start_timeout: Duration::from_millis(500),
                default_check_timeout: Duration::from_millis(200),
            },
            host_ip: "127.0.0.1".into(),
            ports: Vec::new(),
            healthy: Arc::new(tokio::sync::watch::channel(false).0),
        };
        (ctx, garden, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_diegos() {
        assert_eq!(
            StepError::Exited {
                log_source: "APP/PROC/WEB".into(),
                code: 1,
                events: Vec::new(),
            }
            .to_string(),
            "APP/PROC/WEB: Exited with status 1"
        );
        assert_eq!(
            StepError::Exited {
                log_source: "APP/PROC/WEB".into(),
                code: 137,
                events: vec!["out of memory".into()],
            }
            .to_string(),
            "APP/PROC/WEB: Exited with status 137 (out of memory)"
        );
        assert_eq!(
            StepError::Exited {
                log_source: String::new(),
                code: 2,
                events: Vec::new(),
            }
            .to_string(),
            "Exited with status 2"
        );
        assert_eq!(
            StepError::TimedOut(Duration::from_millis(500)).to_string(),
            "exceeded 500ms timeout"
        );
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
    }
}
