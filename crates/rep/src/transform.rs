//! Turns BBS action trees and check definitions into executor steps. This is the only module
//! that knows both the BBS models and the steps.

use std::sync::Arc;
use std::time::Duration;

use ingot_bbs::{
    Action, Check, CheckDefinition, DesiredLrp, Destination, EnvironmentVariable, Protocol,
    SecurityGroupRule, Task,
};
use ingot_garden::{
    IcmpControl, IpRange, NetOutRule, NetProtocol, PortRange, ProcessLimits, ProcessSpec,
};

use crate::executor::RunPlan;
use crate::executor::steps::{
    BoxStep, Checksum, CodependentStep, DownloadStep, EmitProgressStep, HealthCheck, MonitorStep,
    ParallelStep, RunStep, SerialStep, StepContext, TimeoutStep, TryStep, UploadStep,
};

/// `KEY=VALUE` pairs from BBS environment variables.
pub fn env_pairs(env: &[EnvironmentVariable]) -> Vec<String> {
    env.iter()
        .map(|e| format!("{}={}", e.name, e.value))
        .collect()
}

/// Garden's net-out rules for BBS egress rules: each destination an address range, ports
/// and port ranges as ranges, ICMP type and code (-1 is any). Destinations the BBS would
/// not have accepted are skipped.
pub fn net_out(rules: &[SecurityGroupRule]) -> Vec<NetOutRule> {
    rules
        .iter()
        .map(|rule| NetOutRule {
            protocol: match rule.protocol {
                Protocol::Tcp => NetProtocol::Tcp,
                Protocol::Udp => NetProtocol::Udp,
                Protocol::Icmp => NetProtocol::Icmp,
                Protocol::All => NetProtocol::All,
            },
            networks: rule
                .destinations
                .iter()
                .filter_map(|d| d.parse::<Destination>().ok())
                .map(|d| match d {
                    Destination::Address(ip) => IpRange { start: ip, end: ip },
                    Destination::Network(net) => IpRange {
                        start: net.network(),
                        end: net.broadcast(),
                    },
                    Destination::Range(start, end) => IpRange { start, end },
                })
                .collect(),
            ports: rule
                .ports
                .iter()
                .map(|p| PortRange { start: *p, end: *p })
                .chain(rule.port_range.map(|r| PortRange {
                    start: r.start,
                    end: r.end,
                }))
                .collect(),
            icmp: rule
                .icmp_info
                .and_then(|i| u8::try_from(i.r#type).ok().map(|kind| (kind, i.code)))
                .map(|(kind, code)| IcmpControl {
                    kind,
                    code: u8::try_from(code).ok(),
                }),
            log: rule.log,
        })
        .collect()
}

/// The step for one action tree. Run actions with their own log source log under it.
pub fn action_step(action: &Action, ctx: &StepContext) -> BoxStep {
    let children = |actions: &[Action]| actions.iter().map(|a| action_step(a, ctx)).collect();
    match action {
        Action::Run(run) => {
            let logs = if run.log_source.is_empty() {
                ctx.logs.clone()
            } else {
                ctx.logs.with_source_type(&run.log_source)
            };
            let spec = ProcessSpec {
                id: None,
                path: run.path.clone(),
                args: run.args.clone(),
                env: env_pairs(&run.env),
                dir: (!run.dir.is_empty()).then(|| run.dir.clone()),
                user: run.user.clone(),
                limits: ProcessLimits {
                    open_files: run.resource_limits.nofile,
                },
            };
            Box::new(RunStep::new(
                ctx.clone(),
                spec,
                logs,
                run.suppress_log_output,
            ))
        }
        Action::Download(d) => {
            let checksum = (!d.checksum_algorithm.is_empty()).then(|| Checksum {
                algorithm: d.checksum_algorithm.clone(),
                value: d.checksum_value.clone(),
            });
            Box::new(DownloadStep::new(
                ctx.clone(),
                &d.from,
                &d.to,
                &d.cache_key,
                checksum,
            ))
        }
        Action::Upload(u) => Box::new(UploadStep::new(ctx.clone(), &u.from, &u.to)),
        Action::Serial(s) => Box::new(SerialStep::new(children(&s.actions))),
        Action::Parallel(p) => Box::new(ParallelStep::new(children(&p.actions))),
        Action::Codependent(c) => Box::new(CodependentStep::new(children(&c.actions))),
        Action::Timeout(t) => Box::new(TimeoutStep::new(
            action_step(&t.action, ctx),
            Duration::from_millis(t.timeout_ms),
        )),
        Action::Try(t) => Box::new(TryStep::new(action_step(&t.action, ctx))),
        Action::EmitProgress(e) => Box::new(EmitProgressStep::new(
            action_step(&e.action, ctx),
            ctx.logs.clone(),
            &e.start_message,
            &e.success_message,
            &e.failure_message_prefix,
        )),
    }
}

/// The monitor of an LRP: its check definition if it has checks, else its monitor action
/// run as a check, else a process-only check (healthy as soon as it runs).
fn monitor_step(
    checks: Option<&CheckDefinition>,
    monitor: Option<&Action>,
    start_timeout: Duration,
    ctx: &StepContext,
) -> BoxStep {
    Box::new(lrp_monitor(checks, monitor, start_timeout, ctx))
}

/// The monitor of an LRP instance a restarted cell re-adopted: the same checks as
/// [`lrp_run_plan`]'s, without the starting phase (the instance is known healthy), so the
/// first check comes after the healthy interval.
pub fn adopted_lrp_monitor(desired: &DesiredLrp, ctx: &StepContext) -> BoxStep {
    Box::new(
        lrp_monitor(
            desired.check_definition.as_ref(),
            desired.monitor.as_ref(),
            start_timeout(desired, ctx),
            ctx,
        )
        .already_healthy(),
    )
}

fn lrp_monitor(
    checks: Option<&CheckDefinition>,
    monitor: Option<&Action>,
    start_timeout: Duration,
    ctx: &StepContext,
) -> MonitorStep {
    let default_timeout = ctx.health.default_check_timeout;
    let timeout = |ms: u64| {
        if ms == 0 {
            default_timeout
        } else {
            Duration::from_millis(ms)
        }
    };
    let checks: Vec<HealthCheck> = match (checks, monitor) {
        (Some(def), _) if !def.checks.is_empty() => def
            .checks
            .iter()
            .map(|check| match check {
                Check::TcpCheck(tcp) => HealthCheck::Port {
                    port: port(tcp.port),
                    timeout: timeout(tcp.connect_timeout_ms),
                },
                Check::HttpCheck(h) => HealthCheck::Http {
                    port: port(h.port),
                    path: if h.path.is_empty() {
                        "/".into()
                    } else {
                        h.path.clone()
                    },
                    timeout: timeout(h.request_timeout_ms),
                },
            })
            .collect(),
        (_, Some(action)) => {
            let action = action.clone();
            let mut health_ctx = ctx.clone();
            health_ctx.logs = ctx.logs.with_source_type("HEALTH");
            vec![HealthCheck::Action(Arc::new(move || {
                action_step(&action, &health_ctx)
            }))]
        }
        _ => Vec::new(),
    };
    MonitorStep::new(ctx.clone(), checks, start_timeout)
}

/// The LRP's start timeout, or the cell's default when it names none.
fn start_timeout(desired: &DesiredLrp, ctx: &StepContext) -> Duration {
    if desired.start_timeout_ms == 0 {
        ctx.health.default_start_timeout
    } else {
        Duration::from_millis(desired.start_timeout_ms)
    }
}

fn port(p: u32) -> u16 {
    u16::try_from(p).unwrap_or(0)
}

/// Setup, action and monitor of an LRP instance.
pub fn lrp_run_plan(desired: &DesiredLrp, ctx: &StepContext) -> RunPlan {
    RunPlan {
        setup: desired.setup.as_ref().map(|s| action_step(s, ctx)),
        action: desired
            .action
            .as_ref()
            .map_or_else(|| missing_action(), |a| action_step(a, ctx)),
        monitor: Some(monitor_step(
            desired.check_definition.as_ref(),
            desired.monitor.as_ref(),
            start_timeout(desired, ctx),
            ctx,
        )),
    }
}

/// A task's action; it has no monitor.
pub fn task_run_plan(task: &Task, ctx: &StepContext) -> RunPlan {
    RunPlan {
        setup: None,
        action: task
            .task_definition
            .action
            .as_ref()
            .map_or_else(|| missing_action(), |a| action_step(a, ctx)),
        monitor: None,
    }
}

/// The BBS validates that an action exists; this only guards against a bad record.
fn missing_action() -> BoxStep {
    struct Missing;
    #[async_trait::async_trait]
    impl crate::executor::steps::Step for Missing {
        async fn perform(
            &self,
            _: &tokio_util::sync::CancellationToken,
        ) -> Result<(), crate::executor::steps::StepError> {
            Err(crate::executor::steps::StepError::Failed(
                "no action to run".into(),
            ))
        }
    }
    Box::new(Missing)
}

#[cfg(test)]
mod tests {
    use ingot_bbs::{
        EmitProgressAction, HttpCheck, RunAction, SerialAction, TcpCheck, TimeoutAction, TryAction,
    };
    use ingot_garden::testing::{FakeCall, ProcessScript};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::executor::steps::testing::context;

    fn run(path: &str, source: &str) -> Action {
        Action::Run(RunAction {
            path: path.into(),
            args: vec!["-x".into()],
            env: vec![EnvironmentVariable::new("A", "1")],
            dir: "/app".into(),
            user: "vcap".into(),
            log_source: source.into(),
            ..RunAction::default()
        })
    }

    #[test]
    fn egress_rules_become_net_out_rules() {
        let rules = vec![
            SecurityGroupRule {
                protocol: Protocol::Tcp,
                destinations: vec![
                    "10.0.0.0/8".into(),
                    "1.2.3.4".into(),
                    "5.0.0.1-5.0.0.9".into(),
                ],
                ports: vec![443],
                port_range: Some(ingot_bbs::PortRange {
                    start: 8000,
                    end: 8010,
                }),
                icmp_info: None,
                log: true,
                annotations: Vec::new(),
            },
            SecurityGroupRule {
                protocol: Protocol::Icmp,
                destinations: vec!["0.0.0.0/0".into()],
                ports: Vec::new(),
                port_range: None,
                icmp_info: Some(ingot_bbs::IcmpInfo {
                    r#type: 8,
                    code: -1,
                }),
                log: false,
                annotations: Vec::new(),
            },
        ];
        let out = net_out(&rules);
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(
            out[0].networks,
            [
                IpRange {
                    start: ip("10.0.0.0"),
                    end: ip("10.255.255.255")
                },
                IpRange {
                    start: ip("1.2.3.4"),
                    end: ip("1.2.3.4")
                },
                IpRange {
                    start: ip("5.0.0.1"),
                    end: ip("5.0.0.9")
                },
            ]
        );
        assert_eq!(
            out[0].ports,
            [
                PortRange {
                    start: 443,
                    end: 443
                },
                PortRange {
                    start: 8000,
                    end: 8010
                }
            ]
        );
        assert!(out[0].log);
        assert_eq!(out[1].protocol, NetProtocol::Icmp);
        assert_eq!(
            out[1].icmp,
            Some(IcmpControl {
                kind: 8,
                code: None
            })
        );
    }

    #[tokio::test]
    async fn a_tree_runs_as_its_steps() {
        let (ctx, garden, sink) = context().await;
        garden.script("/bin/fails", ProcessScript::exits(3));
        garden.script("/bin/ok", ProcessScript::exits(0).stdout("ran\n"));
        let tree = Action::EmitProgress(EmitProgressAction {
            action: Box::new(Action::Serial(SerialAction {
                actions: vec![
                    Action::Try(TryAction {
                        action: Box::new(run("/bin/fails", "")),
                    }),
                    Action::Timeout(TimeoutAction {
                        action: Box::new(run("/bin/ok", "APP/TASK/x")),
                        timeout_ms: 5_000,
                    }),
                ],
            })),
            start_message: "starting".into(),
            success_message: "done".into(),
            failure_message_prefix: "failed".into(),
        });
        action_step(&tree, &ctx)
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        let lines = sink.lines();
        let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(
            messages,
            ["starting", "Exit status 3", "ran", "Exit status 0", "done"]
        );
        assert_eq!(lines[2].source_type, "APP/TASK/x");
        let specs: Vec<ProcessSpec> = garden
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                FakeCall::Run { spec, .. } => Some(spec),
                _ => None,
            })
            .collect();
        assert_eq!(specs[0].path, "/bin/fails");
        assert_eq!(specs[0].dir.as_deref(), Some("/app"));
        assert_eq!(specs[0].args, ["-x"]);
        assert_eq!(specs[0].env, ["A=1", "PORT=8080"]);
    }

    #[tokio::test]
    async fn a_timeout_names_its_duration() {
        let (ctx, garden, _sink) = context().await;
        garden.script("/bin/sleep", ProcessScript::runs_until_signalled());
        let tree = Action::Timeout(TimeoutAction {
            action: Box::new(run("/bin/sleep", "")),
            timeout_ms: 30,
        });
        let err = action_step(&tree, &ctx)
            .perform(&CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "exceeded 30ms timeout");
    }

    #[tokio::test]
    async fn check_definitions_become_port_and_http_checks() {
        let (ctx, _garden, _sink) = context().await;
        let def = CheckDefinition {
            checks: vec![
                Check::TcpCheck(TcpCheck {
                    port: 8080,
                    connect_timeout_ms: 0,
                }),
                Check::HttpCheck(HttpCheck {
                    port: 8080,
                    request_timeout_ms: 700,
                    path: String::new(),
                }),
            ],
            log_source: String::new(),
        };
        // Nothing listens, so the monitor fails and its reason names the first check.
        let step = monitor_step(Some(&def), None, Duration::from_millis(30), &ctx);
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("Failed to make TCP connection to port 8080"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn no_checks_and_no_monitor_is_process_only() {
        let (ctx, _garden, _sink) = context().await;
        let mut healthy = ctx.healthy.subscribe();
        let step = monitor_step(None, None, Duration::from_secs(1), &ctx);
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let cancel = cancel.clone();
            async move { step.perform(&cancel).await }
        });
        healthy.wait_for(|h| *h).await.unwrap();
        cancel.cancel();
        let _ = run.await;
    }

    #[tokio::test]
    async fn a_monitor_action_is_run_as_the_check() {
        let (ctx, garden, _sink) = context().await;
        garden.script("/bin/healthcheck", ProcessScript::exits(1));
        let step = monitor_step(
            None,
            Some(&run("/bin/healthcheck", "")),
            Duration::from_millis(30),
            &ctx,
        );
        let err = step.perform(&CancellationToken::new()).await.unwrap_err();
        assert!(
            err.to_string().contains("HEALTH: Exited with status 1"),
            "{err}"
        );
    }
}
