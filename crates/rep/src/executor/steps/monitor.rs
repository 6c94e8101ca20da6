//! Monitor: health-checks an instance. While it starts, checks run quickly at first and back
//! off to every `starting_interval` until one round passes (the instance is healthy: the executor marks the container running)
//! or the start timeout runs out. Once healthy, checks run every `healthy_interval`, and the
//! first failure fails the step, which ends the instance. With no checks (a process-only
//! health check) the instance is healthy at once and the step waits to be cancelled.
//!
//! An instance known to be healthy already (one a restarted cell re-adopted) skips the
//! starting phase: see [`MonitorStep::already_healthy`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{BoxStep, Step, StepContext, StepError, format_duration};
use crate::logs::LogTarget;

/// One check; all checks of a round must pass.
#[derive(Clone)]
pub enum HealthCheck {
    /// A TCP connection to the container port's host port.
    Port { port: u16, timeout: Duration },
    /// A GET of `path` on the container port's host port answers 200.
    Http {
        port: u16,
        path: String,
        timeout: Duration,
    },
    /// A step (a monitor action, e.g. the healthcheck binary) that succeeds; built afresh for
    /// every round.
    Action(Arc<dyn Fn() -> BoxStep + Send + Sync>),
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Port { port, .. } => write!(f, "port {port}"),
            Self::Http { port, path, .. } => write!(f, "http {port}{path}"),
            Self::Action(_) => f.write_str("action"),
        }
    }
}

pub struct MonitorStep {
    ctx: StepContext,
    checks: Vec<HealthCheck>,
    start_timeout: Duration,
    /// Whether to wait for a first passing round (false once known healthy).
    starting: bool,
    /// Where failed checks' reasons go (`HEALTH`); the instance's own target (`CELL` for an
    /// LRP) gets the state changes, as Diego writes them.
    health_logs: LogTarget,
}

impl MonitorStep {
    pub fn new(ctx: StepContext, checks: Vec<HealthCheck>, start_timeout: Duration) -> Self {
        let health_logs = ctx.logs.with_source_type("HEALTH");
        Self {
            ctx,
            checks,
            start_timeout,
            starting: true,
            health_logs,
        }
    }

    /// For an instance already known healthy (re-adopted after a restart of the cell): no
    /// starting phase, the first check comes after `healthy_interval`.
    pub fn already_healthy(mut self) -> Self {
        self.starting = false;
        self
    }

    fn host_port(&self, container_port: u16) -> u16 {
        self.ctx
            .ports
            .iter()
            .find(|p| p.container_port == container_port)
            .map_or(container_port, |p| p.host_port)
    }

    async fn check(&self, check: &HealthCheck, cancel: &CancellationToken) -> Result<(), String> {
        match check {
            HealthCheck::Port { port, timeout } => {
                let addr = format!("{}:{}", self.ctx.host_ip, self.host_port(*port));
                match tokio::time::timeout(*timeout, tokio::net::TcpStream::connect(&addr)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("Failed to make TCP connection to port {port}: {e}")),
                    Err(_) => Err(format!(
                        "Failed to make TCP connection to port {port}: timed out after {}",
                        format_duration(*timeout)
                    )),
                }
            }
            HealthCheck::Http {
                port,
                path,
                timeout,
            } => {
                let url = format!(
                    "http://{}:{}{}",
                    self.ctx.host_ip,
                    self.host_port(*port),
                    path
                );
                let failed = |why: String| {
                    format!("Failed to make HTTP request to '{path}' on port {port}: {why}")
                };
                match self.ctx.http.get(&url).timeout(*timeout).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => Ok(()),
                    Ok(r) => Err(failed(format!(
                        "received status code {}",
                        r.status().as_u16()
                    ))),
                    Err(e) => Err(failed(e.to_string())),
                }
            }
            HealthCheck::Action(build) => build().perform(cancel).await.map_err(|e| e.to_string()),
        }
    }

    async fn round(&self, cancel: &CancellationToken) -> Result<(), String> {
        for check in &self.checks {
            self.check(check, cancel).await?;
        }
        Ok(())
    }

    fn healthy(&self) {
        self.ctx.healthy.send_replace(true);
    }

    /// The starting phase: rounds until one passes, or the start timeout fails the step.
    async fn until_healthy(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let started = Instant::now();
        // Early checks come quickly and back off to `starting_interval`: most instances listen
        // within milliseconds, and a replacement should not sit out a whole interval first.
        let mut delay = FIRST_STARTING_DELAY.min(self.ctx.health.starting_interval);
        loop {
            match self.round(cancel).await {
                Ok(()) => return Ok(()),
                Err(_) if cancel.is_cancelled() => return Err(StepError::Cancelled),
                Err(reason) if started.elapsed() >= self.start_timeout => {
                    let timeout = format_duration(self.start_timeout);
                    self.health_logs.err(&reason);
                    self.ctx.logs.err(format!(
                        "Failed after {timeout}: readiness health check never passed."
                    ));
                    return Err(StepError::HealthCheck(format!(
                        "Instance never healthy after {timeout}: {reason}"
                    )));
                }
                Err(_) => {
                    pause(delay, cancel).await?;
                    delay = (delay * 2).min(self.ctx.health.starting_interval);
                }
            }
        }
    }
}

/// Sleeps, unless cancelled first.
async fn pause(d: Duration, cancel: &CancellationToken) -> Result<(), StepError> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cancel.cancelled() => Err(StepError::Cancelled),
    }
}

/// The wait after the first failed startup check; it doubles up to `starting_interval`.
const FIRST_STARTING_DELAY: Duration = Duration::from_millis(50);

#[async_trait]
impl Step for MonitorStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        if self.checks.is_empty() {
            self.healthy();
            cancel.cancelled().await;
            return Err(StepError::Cancelled);
        }
        if self.starting {
            self.ctx.logs.out("Starting health monitoring of container");
            self.until_healthy(cancel).await?;
            self.ctx.logs.out("Container became healthy");
        }
        self.healthy();
        loop {
            pause(self.ctx.health.healthy_interval, cancel).await?;
            if let Err(reason) = self.round(cancel).await {
                if cancel.is_cancelled() {
                    return Err(StepError::Cancelled);
                }
                self.health_logs.err(&reason);
                self.ctx.logs.out("Container became unhealthy");
                return Err(StepError::HealthCheck(format!(
                    "Instance became unhealthy: {reason}"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::PortBinding;
    use crate::executor::steps::testing::{Scripted, context};

    #[tokio::test]
    async fn no_checks_means_healthy_at_once() {
        let (ctx, _garden, _sink) = context().await;
        let mut healthy = ctx.healthy.subscribe();
        let step = MonitorStep::new(ctx, Vec::new(), Duration::from_secs(1));
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let cancel = cancel.clone();
            async move { step.perform(&cancel).await }
        });
        healthy.wait_for(|h| *h).await.unwrap();
        cancel.cancel();
        assert_eq!(run.await.unwrap(), Err(StepError::Cancelled));
    }

    #[tokio::test]
    async fn a_port_that_never_opens_fails_after_the_start_timeout() {
        let (ctx, _garden, sink) = context().await;
        // A port nothing listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let check = HealthCheck::Port {
            port,
            timeout: Duration::from_millis(100),
        };
        let step = MonitorStep::new(ctx, vec![check], Duration::from_millis(100));
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Instance never healthy after 100ms: Failed to make TCP connection"),
            "{err}"
        );
        let lines: Vec<(String, String)> = sink
            .lines()
            .into_iter()
            .map(|l| (l.source_type, l.message))
            .collect();
        assert_eq!(lines[0].1, "Starting health monitoring of container");
        assert_eq!(lines[1].0, "HEALTH");
        assert!(
            lines[1].1.starts_with("Failed to make TCP connection"),
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            (
                "APP/PROC/WEB".to_owned(),
                "Failed after 100ms: readiness health check never passed.".to_owned()
            )
        );
    }

    #[tokio::test]
    async fn healthy_then_unhealthy_when_the_listener_goes() {
        let (mut ctx, _garden, sink) = context().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host_port = listener.local_addr().unwrap().port();
        ctx.ports = vec![PortBinding {
            container_port: 8080,
            host_port,
            inner_port: host_port,
        }];
        let mut healthy = ctx.healthy.subscribe();
        let check = HealthCheck::Port {
            port: 8080,
            timeout: Duration::from_millis(200),
        };
        let step = MonitorStep::new(ctx, vec![check], Duration::from_secs(5));
        let run = tokio::spawn(async move { step.perform(&CancellationToken::new()).await });
        healthy.wait_for(|h| *h).await.unwrap();
        drop(listener);
        let err = run.await.unwrap().unwrap_err();
        assert!(
            err.to_string().starts_with("Instance became unhealthy"),
            "{err}"
        );
        assert!(sink.contains("Container became healthy"));
    }

    #[tokio::test]
    async fn an_instance_already_healthy_skips_the_starting_phase() {
        let (ctx, _garden, sink) = context().await;
        let mut healthy = ctx.healthy.subscribe();
        // Nothing listens: a starting monitor would retry until its (long) start timeout.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let check = HealthCheck::Port {
            port,
            timeout: Duration::from_millis(100),
        };
        let step = MonitorStep::new(ctx, vec![check], Duration::from_secs(60)).already_healthy();
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Instance became unhealthy: Failed to make TCP connection"),
            "{err}"
        );
        assert!(
            *healthy.borrow_and_update(),
            "it counts as healthy from the start"
        );
        assert!(!sink.contains("Container became healthy"));
        assert!(sink.contains("Container became unhealthy"));
    }

    #[tokio::test]
    async fn an_http_check_needs_a_200() {
        let (ctx, _garden, _sink) = context().await;
        let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut healthy = ctx.healthy.subscribe();
        let good = HealthCheck::Http {
            port,
            path: "/health".into(),
            timeout: Duration::from_millis(500),
        };
        let step = MonitorStep::new(ctx.clone(), vec![good], Duration::from_secs(5));
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let cancel = cancel.clone();
            async move { step.perform(&cancel).await }
        });
        healthy.wait_for(|h| *h).await.unwrap();
        cancel.cancel();
        assert_eq!(run.await.unwrap(), Err(StepError::Cancelled));

        let bad = HealthCheck::Http {
            port,
            path: "/missing".into(),
            timeout: Duration::from_millis(500),
        };
        let err = MonitorStep::new(ctx, vec![bad], Duration::from_millis(50))
            .perform(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("received status code 404"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_action_check_passes_when_its_step_does() {
        let (ctx, _garden, _sink) = context().await;
        let mut healthy = ctx.healthy.subscribe();
        let check = HealthCheck::Action(Arc::new(|| Scripted::new(0, Ok(())).boxed()));
        let step = MonitorStep::new(ctx, vec![check], Duration::from_secs(1));
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let cancel = cancel.clone();
            async move { step.perform(&cancel).await }
        });
        healthy.wait_for(|h| *h).await.unwrap();
        cancel.cancel();
        let _ = run.await.unwrap();
    }
}
