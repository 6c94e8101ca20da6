//! The executor against a fake Garden: allocation, creation, running, stopping, deleting,
//! and re-adoption.

use std::sync::Arc;
use std::time::Duration;

use ingot_garden::testing::{FakeCall, FakeGarden, ProcessScript};
use ingot_garden::{Garden, ProcessSpec};

use super::steps::{MonitorStep, RunStep};
use super::*;
use crate::logs::{LogTarget, MemoryLogSink};

fn executor(garden: &FakeGarden) -> Executor {
    Executor::new(
        ExecutorConfig {
            owner: "cell-1".into(),
            total: Resources::new(1024, 1024, 3),
            grace_time: Duration::from_millis(100),
            health: HealthCheckConfig::default(),
            host_ip: "127.0.0.1".into(),
            cache_dir: std::env::temp_dir().join("ingot-rep-executor-tests"),
            bind_mounts: Vec::new(),
        },
        Arc::new(garden.clone()),
    )
}

fn logs() -> LogTarget {
    LogTarget {
        sink: Arc::new(MemoryLogSink::new()),
        clock: Arc::new(ingot_core::SystemClock),
        source_id: "g".into(),
        source_type: "APP".into(),
        instance_id: "0".into(),
        rate_limit: None,
    }
}

fn run_plan(ctx: &StepContext, path: &str, monitored: bool) -> RunPlan {
    let spec = ProcessSpec {
        path: path.into(),
        ..ProcessSpec::default()
    };
    RunPlan {
        setup: None,
        action: Box::new(RunStep::new(ctx.clone(), spec, ctx.logs.clone(), false)),
        monitor: monitored.then(|| {
            Box::new(MonitorStep::new(
                ctx.clone(),
                Vec::new(),
                Duration::from_secs(1),
            )) as BoxStep
        }),
    }
}

async fn next(events: &mut broadcast::Receiver<ContainerEvent>) -> ContainerEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event")
        .expect("open")
}

#[tokio::test]
async fn allocation_is_limited_by_capacity() {
    let garden = FakeGarden::new();
    let ex = executor(&garden);
    ex.allocate("a", Resources::container(512, 0), Tags::new())
        .unwrap();
    assert!(matches!(
        ex.allocate("a", Resources::container(1, 0), Tags::new()),
        Err(Error::ContainerExists { .. })
    ));
    let err = ex
        .allocate("b", Resources::container(1000, 0), Tags::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot allocate container b: insufficient resources: memory"
    );
    assert_eq!(ex.remaining(), Resources::new(512, 1024, 2));
    ex.delete("a").await.unwrap();
    assert_eq!(ex.remaining(), ex.total());
}

#[tokio::test]
async fn a_container_runs_to_completion_with_events() {
    let garden = FakeGarden::new();
    garden.script("/bin/app", ProcessScript::runs_until_signalled());
    let ex = executor(&garden);
    let mut events = ex.subscribe();
    let tags: Tags = [("rep:lifecycle".to_owned(), "lrp".to_owned())].into();
    ex.allocate("c1", Resources::container(64, 64), tags)
        .unwrap();
    let cell_log = Arc::new(MemoryLogSink::new());
    let created = ex
        .create(
            "c1",
            CreateSpec {
                rootfs: "preloaded:cflinuxfs4".into(),
                env: vec!["A=1".into()],
                ports: vec![8080],
                metrics: None,
                log: Some(LogTarget {
                    sink: cell_log.clone(),
                    source_type: "CELL".into(),
                    ..logs()
                }),
                ..CreateSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.ports[0].container_port, 8080);
    let spec = garden.calls().into_iter().find_map(|c| match c {
        FakeCall::Create(spec) => Some(spec),
        _ => None,
    });
    let spec = spec.unwrap();
    assert_eq!(spec.properties["executor:owner"], "cell-1");
    assert_eq!(spec.properties["rep:lifecycle"], "lrp");
    assert_eq!(spec.grace_time, Some(Duration::from_millis(100)));

    let ctx = ex.step_context("c1", logs()).unwrap();
    let host_port = created.ports[0].host_port;
    assert!(ctx.env.contains(&format!("CF_INSTANCE_PORT={host_port}")));
    assert!(
        ctx.env
            .contains(&format!("CF_INSTANCE_ADDR=127.0.0.1:{host_port}"))
    );
    assert!(ctx.env.iter().any(|e| e.starts_with("PORT=")));
    ex.run("c1", run_plan(&ctx, "/bin/app", true)).unwrap();
    let ContainerEvent::Running(running) = next(&mut events).await else {
        panic!("expected running first");
    };
    assert_eq!(running.state, ContainerState::Running);

    ex.stop("c1");
    let ContainerEvent::Completed(done) = next(&mut events).await else {
        panic!("expected completed");
    };
    assert!(done.result.stopped);
    ex.delete("c1").await.unwrap();
    assert!(ex.get("c1").is_none());
    assert!(garden.calls().contains(&FakeCall::Destroy("c1".into())));
    let told: Vec<String> = cell_log.lines().into_iter().map(|l| l.message).collect();
    assert_eq!(
        told,
        [
            "Cell cell-1 creating container for instance c1",
            "Cell cell-1 successfully created container for instance c1",
            "Cell cell-1 stopping instance c1",
            "Cell cell-1 destroying container for instance c1",
            "Cell cell-1 successfully destroyed container for instance c1",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_after_a_wait_signals_only_when_the_wait_is_over() {
    let garden = FakeGarden::new();
    garden.script("/bin/app", ProcessScript::runs_until_signalled());
    let ex = executor(&garden);
    let mut events = ex.subscribe();
    ex.allocate("c1", Resources::container(1, 1), Tags::new())
        .unwrap();
    ex.create("c1", CreateSpec::default()).await.unwrap();
    let ctx = ex.step_context("c1", logs()).unwrap();
    ex.run("c1", run_plan(&ctx, "/bin/app", false)).unwrap();
    assert!(matches!(
        next(&mut events).await,
        ContainerEvent::Running(_)
    ));
    let signalled = || {
        garden
            .calls()
            .iter()
            .any(|c| matches!(c, FakeCall::Signal { .. }))
    };

    let asked = tokio::time::Instant::now();
    ex.stop_after("c1", Duration::from_secs(2));
    ex.stop("c1"); // a second stop does not cut the wait short
    tokio::time::sleep(Duration::from_millis(1990)).await;
    assert!(!signalled(), "signalled during the wait");
    assert_eq!(ex.get("c1").unwrap().state, ContainerState::Running);
    let ContainerEvent::Completed(done) = next(&mut events).await else {
        panic!("expected completed");
    };
    assert!(asked.elapsed() >= Duration::from_secs(2));
    assert!(signalled());
    assert!(done.result.stopped && !done.result.failed);
}

#[tokio::test]
async fn a_failing_action_completes_failed() {
    let garden = FakeGarden::new();
    garden.script("/bin/false", ProcessScript::exits(2));
    let ex = executor(&garden);
    let mut events = ex.subscribe();
    ex.allocate("c1", Resources::container(1, 1), Tags::new())
        .unwrap();
    ex.create("c1", CreateSpec::default()).await.unwrap();
    let ctx = ex.step_context("c1", logs()).unwrap();
    ex.run("c1", run_plan(&ctx, "/bin/false", false)).unwrap();
    // Unmonitored: running at once, then completed.
    assert!(matches!(
        next(&mut events).await,
        ContainerEvent::Running(_)
    ));
    let ContainerEvent::Completed(done) = next(&mut events).await else {
        panic!("expected completed");
    };
    assert_eq!(done.result.failure_reason, "APP: Exited with status 2");
    assert!(done.result.failed && !done.result.stopped);
}

#[tokio::test]
async fn a_failed_create_completes_the_container() {
    let garden = FakeGarden::new();
    garden.fail_next(
        "create",
        ingot_garden::Error::ServiceUnavailable {
            message: "full".into(),
        },
    );
    let ex = executor(&garden);
    ex.allocate("c1", Resources::container(1, 1), Tags::new())
        .unwrap();
    assert!(ex.create("c1", CreateSpec::default()).await.is_err());
    let c = ex.get("c1").unwrap();
    assert_eq!(c.state, ContainerState::Completed);
    assert!(
        c.result
            .failure_reason
            .starts_with("failed to create container")
    );
}

#[tokio::test]
async fn stopping_a_reserved_container_completes_it() {
    let garden = FakeGarden::new();
    let ex = executor(&garden);
    ex.allocate("c1", Resources::container(1, 1), Tags::new())
        .unwrap();
    ex.stop("c1");
    let c = ex.get("c1").unwrap();
    assert_eq!(c.state, ContainerState::Completed);
    assert!(c.result.stopped);
    // A later create is refused by the state machine.
    assert!(matches!(
        ex.create("c1", CreateSpec::default()).await,
        Err(Error::InvalidTransition(_))
    ));
}

#[tokio::test]
async fn containers_of_this_cell_are_readopted() {
    let garden = FakeGarden::new();
    garden.script("/bin/server", ProcessScript::runs_until_signalled());
    garden.script("/bin/setup", ProcessScript::exits(0));
    let first = executor(&garden);
    first
        .allocate(
            "alive",
            Resources::container(64, 0),
            [("t".to_owned(), "1".to_owned())].into(),
        )
        .unwrap();
    let reported = MetricsConfig {
        guid: "app".into(),
        index: 2,
        tags: [("process_id".to_owned(), "web".to_owned())].into(),
    };
    let spec = CreateSpec {
        metrics: Some(reported.clone()),
        ..CreateSpec::default()
    };
    first.create("alive", spec).await.unwrap();
    let container = garden.lookup("alive").await.unwrap();
    for path in ["/bin/setup", "/bin/server"] {
        container
            .run(
                ProcessSpec {
                    path: path.into(),
                    ..ProcessSpec::default()
                },
                ProcessIo::default(),
            )
            .await
            .unwrap();
    }
    first
        .allocate("dead", Resources::container(64, 0), Tags::new())
        .unwrap();
    first.create("dead", CreateSpec::default()).await.unwrap();
    // Another cell's container is not ours.
    garden
        .create(ingot_garden::ContainerSpec {
            handle: "foreign".into(),
            properties: [(OWNER_PROPERTY.to_owned(), "cell-2".to_owned())].into(),
            ..ingot_garden::ContainerSpec::default()
        })
        .await
        .unwrap();
    first.abandon();

    let second = executor(&garden);
    let mut adopted = second.adopt().await.unwrap();
    adopted.sort();
    assert_eq!(adopted, ["alive", "dead"]);
    assert_eq!(second.get("alive").unwrap().state, ContainerState::Running);
    assert_eq!(second.get("alive").unwrap().tags["t"], "1");
    assert_eq!(second.get("alive").unwrap().metrics, Some(reported));
    assert_eq!(second.get("dead").unwrap().metrics, None);
    assert_eq!(second.get("dead").unwrap().state, ContainerState::Completed);
    assert_eq!(second.remaining().memory_mb, 1024 - 128);

    let mut events = second.subscribe();
    second.stop("alive");
    let ContainerEvent::Completed(done) = next(&mut events).await else {
        panic!("expected completed");
    };
    assert!(done.result.stopped);
}

#[tokio::test]
async fn a_readopted_container_fails_with_its_monitor() {
    use super::steps::testing::Scripted;

    let garden = FakeGarden::new();
    garden.script("/bin/server", ProcessScript::runs_until_signalled());
    let first = executor(&garden);
    for guid in ["hangs", "dead"] {
        first
            .allocate(guid, Resources::container(64, 0), Tags::new())
            .unwrap();
        first.create(guid, CreateSpec::default()).await.unwrap();
    }
    garden
        .lookup("hangs")
        .await
        .unwrap()
        .run(
            ProcessSpec {
                path: "/bin/server".into(),
                ..ProcessSpec::default()
            },
            ProcessIo::default(),
        )
        .await
        .unwrap();
    first.abandon();

    let second = executor(&garden);
    second.adopt().await.unwrap();
    let failing = || Scripted::new(0, Err(StepError::HealthCheck("unhealthy".into()))).boxed();
    // Only a running re-adopted container takes a monitor.
    assert!(matches!(
        second.monitor_adopted("dead", failing()),
        Err(Error::InvalidTransition(_))
    ));
    let mut events = second.subscribe();
    second.monitor_adopted("hangs", failing()).unwrap();
    let ContainerEvent::Completed(done) = next(&mut events).await else {
        panic!("expected completed");
    };
    assert_eq!(
        done.result,
        RunResult {
            failed: true,
            failure_reason: "unhealthy".into(),
            stopped: false,
        }
    );
    assert!(garden.calls().contains(&FakeCall::Stop {
        handle: "hangs".into(),
        kill: false,
    }));
    assert!(second.monitor_adopted("hangs", failing()).is_err());
}

#[tokio::test]
async fn bulk_metrics_cover_the_created_containers_that_report() {
    let garden = FakeGarden::new();
    let ex = executor(&garden);
    let reported = |index| CreateSpec {
        metrics: Some(MetricsConfig {
            guid: "app".into(),
            index,
            tags: BTreeMap::new(),
        }),
        ..CreateSpec::default()
    };
    for guid in ["reports", "silent", "reserved"] {
        ex.allocate(guid, Resources::container(64, 64), Tags::new())
            .unwrap();
    }
    ex.create("reports", reported(0)).await.unwrap();
    ex.create("silent", CreateSpec::default()).await.unwrap();
    let usage = ingot_garden::ContainerMetrics {
        memory_bytes: 4096,
        cpu_ns: 1_000,
        disk_bytes: 512,
        age: Duration::from_secs(1),
    };
    garden.set_metrics("reports", usage);

    let sampled = ex.bulk_metrics().await.unwrap();
    assert_eq!(sampled.len(), 1, "{sampled:?}");
    assert_eq!(sampled[0].0.guid, "reports");
    assert_eq!(sampled[0].1, usage);

    // Destroyed behind the executor's back: left out, not an error.
    garden.destroy("reports").await.unwrap();
    assert!(ex.bulk_metrics().await.unwrap().is_empty());
}

#[tokio::test]
async fn metrics_count_creates_and_read_containers_and_capacity_when_scraped() {
    let garden = FakeGarden::new();
    let ex = executor(&garden);
    let metrics = ingot_core::Metrics::new();
    ex.register_metrics(&metrics);
    ex.allocate("ok", Resources::container(256, 128), Tags::new())
        .unwrap();
    ex.create("ok", CreateSpec::default()).await.unwrap();
    garden.fail_next(
        "create",
        ingot_garden::Error::ServiceUnavailable {
            message: "full".into(),
        },
    );
    ex.allocate("broken", Resources::container(1, 1), Tags::new())
        .unwrap();
    assert!(ex.create("broken", CreateSpec::default()).await.is_err());

    let text = metrics.encode();
    let lines: Vec<&str> = text.lines().collect();
    for line in [
        "ingot_rep_container_creates_total 1",
        "ingot_rep_container_create_failures_total 1",
        "ingot_rep_containers{state=\"created\"} 1",
        "ingot_rep_containers{state=\"completed\"} 1",
        "ingot_rep_containers{state=\"running\"} 0",
        // 1024 MiB total, 256 held by "ok" and 1 by "broken" until it is deleted.
        "ingot_rep_capacity_remaining_memory_bytes 804257792",
        "ingot_rep_capacity_remaining_containers 1",
    ] {
        assert!(lines.contains(&line), "{line} in {text}");
    }
}
