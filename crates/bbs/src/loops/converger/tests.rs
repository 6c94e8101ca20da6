use super::*;
use crate::models::{Action, TaskDefinition};

const S: Nanos = 1_000_000_000;
const NOW: Nanos = 10_000 * S;

fn rules() -> ConvergenceRules {
    ConvergenceRules {
        stale_unclaimed_actual_lrp: Duration::from_secs(30),
        kick_task: Duration::from_secs(30),
        expire_pending_task: Duration::from_secs(30 * 60),
        expire_completed_task: Duration::from_secs(120),
        restart: RestartCalculator::default(),
    }
}

fn desired(guid: &str, domain: &str, instances: u32) -> DesiredLrp {
    DesiredLrp {
        process_guid: guid.into(),
        domain: domain.into(),
        instances,
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(Action::run("/bin/true", &[])),
        ..DesiredLrp::default()
    }
}

fn actual(guid: &str, domain: &str, index: u32, state: ActualLrpState, cell: &str) -> ActualLrp {
    let mut a = ActualLrp::unclaimed(&ActualLrpKey::new(guid, index, domain), "e", NOW);
    a.state = state;
    if !cell.is_empty() {
        a.cell_id = cell.into();
        a.instance_guid = format!("{guid}-{index}");
    }
    a
}

fn cell(id: &str) -> CellPresence {
    CellPresence {
        cell_id: id.into(),
        rep_address: "http://127.0.0.1:1".into(),
        ..CellPresence::default()
    }
}

fn domain(name: &str, fresh: bool) -> Domain {
    Domain {
        name: name.into(),
        expires_at: Some(if fresh { NOW + S } else { NOW - S }),
    }
}

fn task(guid: &str, state: TaskState, cell: &str, age_secs: i64) -> Task {
    let mut t = Task::pending(
        guid,
        "cf-tasks",
        TaskDefinition::default(),
        NOW - age_secs * S,
    );
    t.state = state;
    t.cell_id = cell.into();
    if matches!(state, TaskState::Completed | TaskState::Resolving) {
        t.first_completed_at = NOW - age_secs * S;
    }
    t
}

fn key(guid: &str, index: u32) -> ActualLrpKey {
    ActualLrpKey::new(guid, index, "cf-apps")
}

fn base() -> ConvergenceInput {
    ConvergenceInput {
        cells: vec![cell("cell-1")],
        domains: vec![domain("cf-apps", true)],
        ..ConvergenceInput::default()
    }
}

#[test]
fn lrp_table() {
    use ActualLrpState::*;
    struct Case {
        name: &'static str,
        input: ConvergenceInput,
        want: ConvergenceResult,
    }
    let with = |desired: Vec<DesiredLrp>, actual: Vec<ActualLrp>| ConvergenceInput {
        desired,
        actual,
        ..base()
    };
    let crashed = |count: u32, secs_ago: i64| {
        let mut a = actual("p", "cf-apps", 0, Crashed, "");
        a.crash_count = count;
        a.since = NOW - secs_ago * S;
        a
    };
    let stale_unclaimed = {
        let mut a = actual("p", "cf-apps", 0, Unclaimed, "");
        a.since = NOW - 30 * S;
        a
    };
    let cases = vec![
        Case {
            name: "converged",
            input: with(
                vec![desired("p", "cf-apps", 2)],
                vec![
                    actual("p", "cf-apps", 0, Running, "cell-1"),
                    actual("p", "cf-apps", 1, Claimed, "cell-1"),
                ],
            ),
            want: ConvergenceResult::default(),
        },
        Case {
            name: "missing indices",
            input: with(
                vec![desired("p", "cf-apps", 3)],
                vec![actual("p", "cf-apps", 1, Running, "cell-1")],
            ),
            want: ConvergenceResult {
                missing_lrps: vec![key("p", 0), key("p", 2)],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "extra in a fresh domain, highest index first",
            input: with(
                vec![desired("p", "cf-apps", 1)],
                vec![
                    actual("p", "cf-apps", 0, Running, "cell-1"),
                    actual("p", "cf-apps", 1, Running, "cell-1"),
                    actual("p", "cf-apps", 2, Unclaimed, ""),
                ],
            ),
            want: ConvergenceResult {
                extra_lrps: vec![
                    actual("p", "cf-apps", 2, Unclaimed, ""),
                    actual("p", "cf-apps", 1, Running, "cell-1"),
                ],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "no desired LRP at all, fresh domain",
            input: with(
                vec![],
                vec![actual("gone", "cf-apps", 0, Running, "cell-1")],
            ),
            want: ConvergenceResult {
                extra_lrps: vec![actual("gone", "cf-apps", 0, Running, "cell-1")],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "extra in a stale domain is kept",
            input: ConvergenceInput {
                domains: vec![domain("cf-apps", false)],
                ..with(
                    vec![desired("p", "cf-apps", 1)],
                    vec![
                        actual("p", "cf-apps", 0, Running, "cell-1"),
                        actual("p", "cf-apps", 1, Running, "cell-1"),
                    ],
                )
            },
            want: ConvergenceResult::default(),
        },
        Case {
            name: "extra in an unknown domain is kept",
            input: with(vec![], vec![actual("q", "other", 0, Running, "cell-1")]),
            want: ConvergenceResult::default(),
        },
        Case {
            name: "vanished cell",
            input: with(
                vec![desired("p", "cf-apps", 2)],
                vec![
                    actual("p", "cf-apps", 0, Running, "cell-gone"),
                    actual("p", "cf-apps", 1, Claimed, "cell-gone"),
                ],
            ),
            want: ConvergenceResult {
                lrps_on_vanished_cells: vec![
                    actual("p", "cf-apps", 0, Running, "cell-gone"),
                    actual("p", "cf-apps", 1, Claimed, "cell-gone"),
                ],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "fresh unclaimed is left to its auction",
            input: with(
                vec![desired("p", "cf-apps", 1)],
                vec![actual("p", "cf-apps", 0, Unclaimed, "")],
            ),
            want: ConvergenceResult::default(),
        },
        Case {
            name: "stale unclaimed lost its auction",
            input: with(vec![desired("p", "cf-apps", 1)], vec![stale_unclaimed]),
            want: ConvergenceResult {
                unclaimed_lrps_to_auction: vec![key("p", 0)],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "crashed inside its back-off",
            input: with(vec![desired("p", "cf-apps", 1)], vec![crashed(3, 29)]),
            want: ConvergenceResult::default(),
        },
        Case {
            name: "crashed after its back-off",
            input: with(vec![desired("p", "cf-apps", 1)], vec![crashed(4, 60)]),
            want: ConvergenceResult {
                crashed_lrps_to_restart: vec![key("p", 0)],
                ..ConvergenceResult::default()
            },
        },
        Case {
            name: "crashed too often stays crashed",
            input: with(
                vec![desired("p", "cf-apps", 1)],
                vec![crashed(200, 100_000)],
            ),
            want: ConvergenceResult::default(),
        },
    ];
    for case in cases {
        assert_eq!(plan(&case.input, NOW, &rules()), case.want, "{}", case.name);
    }
}

#[test]
fn task_table() {
    use TaskState::*;
    let with_callback = {
        let mut t = task("cb", Completed, "cell-1", 31);
        t.task_definition.completion_callback_url = "http://127.0.0.1:1/done".into();
        t
    };
    let table: Vec<(&str, Task, ConvergenceResult)> = vec![
        (
            "new pending",
            task("t", Pending, "", 1),
            ConvergenceResult::default(),
        ),
        (
            "pending long enough to kick",
            task("t", Pending, "", 30),
            ConvergenceResult {
                tasks_to_auction: vec!["t".into()],
                ..ConvergenceResult::default()
            },
        ),
        (
            "pending too long",
            task("t", Pending, "", 30 * 60),
            ConvergenceResult {
                tasks_to_fail: vec![("t".into(), PENDING_TOO_LONG.into())],
                ..ConvergenceResult::default()
            },
        ),
        (
            "running on a live cell",
            task("t", Running, "cell-1", 5000),
            ConvergenceResult::default(),
        ),
        (
            "running on a vanished cell",
            task("t", Running, "cell-gone", 1),
            ConvergenceResult {
                tasks_to_fail: vec![("t".into(), CELL_DISAPPEARED.into())],
                ..ConvergenceResult::default()
            },
        ),
        (
            "recently completed",
            task("t", Completed, "cell-1", 119),
            ConvergenceResult::default(),
        ),
        (
            "completed and never resolved",
            task("t", Completed, "cell-1", 120),
            ConvergenceResult {
                tasks_to_reap: vec!["t".into()],
                ..ConvergenceResult::default()
            },
        ),
        (
            "completed with a callback not yet resolved",
            with_callback,
            ConvergenceResult {
                tasks_to_call_back: vec!["cb".into()],
                ..ConvergenceResult::default()
            },
        ),
        (
            "resolving",
            task("t", Resolving, "cell-1", 60),
            ConvergenceResult::default(),
        ),
        (
            "resolving too long",
            task("t", Resolving, "cell-1", 120),
            ConvergenceResult {
                tasks_to_reap: vec!["t".into()],
                ..ConvergenceResult::default()
            },
        ),
    ];
    for (name, t, want) in table {
        let input = ConvergenceInput {
            tasks: vec![t],
            ..base()
        };
        assert_eq!(plan(&input, NOW, &rules()), want, "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn runner_wakes_on_cell_expiry() {
    let shutdown = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            run(
                Duration::from_secs(30),
                || Some(Duration::from_secs(5)),
                shutdown,
                || {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(tokio::time::Instant::now());
                    }
                },
            )
            .await
        }
    });
    let start = tokio::time::Instant::now();
    // The presence expiring (5 s) comes before the timer (30 s).
    let first = rx.recv().await.unwrap();
    assert_eq!(first - start, Duration::from_millis(5100));
    shutdown.cancel();
    runner.await.unwrap();
}
