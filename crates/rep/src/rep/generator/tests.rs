//! The generator's plan, case by case: every container state against every BBS state.

use ingot_bbs::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpState, Task, TaskDefinition, TaskState,
};

use super::*;
use crate::executor::{Container, ContainerState, PortBinding, Resources, RunResult};
use crate::rep::tags::{lrp_tags, task_tags};

const CELL: &str = "cell-1";

fn key() -> ActualLrpKey {
    ActualLrpKey::new("web", 0, "cf-apps")
}

fn lrp_container(guid: &str, state: ContainerState, result: RunResult) -> Container {
    Container {
        guid: guid.into(),
        state,
        resources: Resources::container(64, 64),
        tags: lrp_tags(&key()),
        host_ip: "127.0.0.1".into(),
        ports: vec![PortBinding {
            container_port: 8080,
            host_port: 61001,
            inner_port: 61001,
        }],
        metrics: None,
        result,
    }
}

fn task_container(guid: &str, state: ContainerState, result: RunResult) -> Container {
    Container {
        tags: task_tags(guid, "cf-tasks"),
        ports: Vec::new(),
        ..lrp_container(guid, state, result)
    }
}

fn record(instance_guid: &str, cell_id: &str, state: ActualLrpState) -> ActualLrp {
    let mut lrp = ActualLrp::unclaimed(&key(), "epoch", 0);
    lrp.state = state;
    lrp.instance_guid = instance_guid.into();
    lrp.cell_id = cell_id.into();
    lrp
}

fn task(guid: &str, cell_id: &str, state: TaskState) -> Task {
    let mut task = Task::pending(
        guid,
        "cf-tasks",
        TaskDefinition {
            result_file: "/tmp/result".into(),
            ..TaskDefinition::default()
        },
        0,
    );
    task.state = state;
    task.cell_id = cell_id.into();
    task
}

fn instance(guid: &str) -> ActualLrpInstanceKey {
    ActualLrpInstanceKey::new(guid, CELL)
}

fn ok() -> RunResult {
    RunResult::default()
}

fn crashed(reason: &str) -> RunResult {
    RunResult {
        failed: true,
        failure_reason: reason.into(),
        stopped: false,
    }
}

fn stopped() -> RunResult {
    RunResult {
        failed: false,
        failure_reason: String::new(),
        stopped: true,
    }
}

/// What the plan says about one LRP container `c` for each BBS record state of instance `c`
/// on this cell (or no record).
#[test]
fn lrp_containers_against_every_bbs_state() {
    use ActualLrpState as A;
    use ContainerState as C;
    let start = || Operation::StartLrp {
        guid: "c".into(),
        key: key(),
        instance: instance("c"),
        net_info: NetInfo {
            address: "127.0.0.1".into(),
            instance_address: "127.0.0.1".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61001,
            }],
        },
    };
    let stop = || Operation::StopContainer { guid: "c".into() };
    let delete = || Operation::DeleteContainer { guid: "c".into() };
    let crash = |reason: &str| Operation::CrashLrp {
        guid: "c".into(),
        key: key(),
        instance: instance("c"),
        reason: reason.into(),
        has_container: true,
    };
    let remove = || Operation::RemoveLrp {
        guid: "c".into(),
        key: key(),
        instance: instance("c"),
    };
    // (container state, result, BBS state or None) -> operations
    let cases: Vec<(
        ContainerState,
        RunResult,
        Option<ActualLrpState>,
        Vec<Operation>,
    )> = vec![
        (C::Reserved, ok(), None, vec![]),
        (C::Reserved, ok(), Some(A::Claimed), vec![]),
        (C::Initializing, ok(), None, vec![]),
        (C::Initializing, ok(), Some(A::Claimed), vec![]),
        (C::Created, ok(), None, vec![stop()]),
        (C::Created, ok(), Some(A::Claimed), vec![]),
        (C::Created, ok(), Some(A::Running), vec![]),
        (C::Running, ok(), None, vec![stop()]),
        (C::Running, ok(), Some(A::Claimed), vec![start()]),
        (C::Running, ok(), Some(A::Running), vec![]),
        (
            C::Completed,
            crashed("APP/PROC/WEB: Exited with status 1"),
            Some(A::Claimed),
            vec![crash("APP/PROC/WEB: Exited with status 1")],
        ),
        (
            C::Completed,
            crashed("Instance became unhealthy: x"),
            Some(A::Running),
            vec![crash("Instance became unhealthy: x")],
        ),
        (
            C::Completed,
            ok(),
            Some(A::Running),
            vec![crash("Exited with status 0")],
        ),
        (C::Completed, stopped(), Some(A::Running), vec![remove()]),
        (C::Completed, stopped(), Some(A::Claimed), vec![remove()]),
        (C::Completed, stopped(), None, vec![delete()]),
        (C::Completed, crashed("x"), None, vec![delete()]),
    ];
    for (state, result, bbs, want) in cases {
        let containers = [lrp_container("c", state, result.clone())];
        let records: Vec<ActualLrp> = bbs.map(|s| record("c", CELL, s)).into_iter().collect();
        let got = plan(CELL, &records, &[], &containers);
        assert_eq!(got, want, "container {state} {result:?}, bbs {bbs:?}");
    }
}

#[test]
fn a_container_whose_slot_moved_elsewhere_is_stopped() {
    // The BBS gave index 0 to another instance (here or on another cell).
    let containers = [lrp_container("c", ContainerState::Running, ok())];
    for other in [
        record("d", CELL, ActualLrpState::Running),
        record("c", "cell-2", ActualLrpState::Running),
    ] {
        let ops = plan(CELL, std::slice::from_ref(&other), &[], &containers);
        assert!(
            ops.contains(&Operation::StopContainer { guid: "c".into() }),
            "{other:?}: {ops:?}"
        );
    }
}

#[test]
fn records_without_containers_are_crashed_so_convergence_replaces_them() {
    use ActualLrpState::*;
    for (state, want) in [
        (Claimed, true),
        (Running, true),
        (Unclaimed, false),
        (Crashed, false),
    ] {
        let ops = plan(CELL, &[record("gone", CELL, state)], &[], &[]);
        let expected = want.then(|| Operation::CrashLrp {
            guid: "gone".into(),
            key: key(),
            instance: instance("gone"),
            reason: MISSING_CONTAINER.into(),
            has_container: false,
        });
        assert_eq!(ops, expected.into_iter().collect::<Vec<_>>(), "{state}");
    }
    // Another cell's records are not ours to judge.
    assert!(plan(CELL, &[record("x", "cell-2", Running)], &[], &[]).is_empty());
}

#[test]
fn task_containers_against_every_task_state() {
    use ContainerState as C;
    use TaskState as T;
    let stop = || Operation::StopContainer { guid: "t".into() };
    let delete = || Operation::DeleteContainer { guid: "t".into() };
    let complete = |failed: bool, reason: &str| Operation::CompleteTask {
        guid: "t".into(),
        failed,
        failure_reason: reason.into(),
        result_file: "/tmp/result".into(),
    };
    let cases: Vec<(ContainerState, RunResult, Option<TaskState>, Vec<Operation>)> = vec![
        (C::Reserved, ok(), None, vec![]),
        (C::Reserved, ok(), Some(T::Pending), vec![]),
        (C::Initializing, ok(), Some(T::Running), vec![]),
        (C::Created, ok(), Some(T::Running), vec![]),
        (C::Running, ok(), Some(T::Running), vec![]),
        (C::Running, ok(), None, vec![stop()]),
        (C::Running, ok(), Some(T::Completed), vec![stop()]),
        (C::Running, ok(), Some(T::Resolving), vec![stop()]),
        (C::Created, ok(), Some(T::Completed), vec![stop()]),
        (
            C::Completed,
            ok(),
            Some(T::Running),
            vec![complete(false, "")],
        ),
        (
            C::Completed,
            crashed("exceeded 1s timeout"),
            Some(T::Running),
            vec![complete(true, "exceeded 1s timeout")],
        ),
        (
            C::Completed,
            stopped(),
            Some(T::Running),
            vec![complete(true, "task was stopped")],
        ),
        (C::Completed, ok(), Some(T::Completed), vec![delete()]),
        (C::Completed, ok(), None, vec![delete()]),
    ];
    for (state, result, bbs, want) in cases {
        let containers = [task_container("t", state, result.clone())];
        let tasks: Vec<Task> = bbs.map(|s| task("t", CELL, s)).into_iter().collect();
        let got = plan(CELL, &[], &tasks, &containers);
        assert_eq!(got, want, "container {state} {result:?}, task {bbs:?}");
    }
}

#[test]
fn running_tasks_without_containers_fail() {
    let ops = plan(CELL, &[], &[task("t", CELL, TaskState::Running)], &[]);
    assert_eq!(ops, [Operation::FailMissingTask { guid: "t".into() }]);
    assert!(plan(CELL, &[], &[task("t", CELL, TaskState::Completed)], &[]).is_empty());
    assert!(plan(CELL, &[], &[task("t", "cell-2", TaskState::Running)], &[]).is_empty());
}

#[test]
fn untagged_containers_are_left_alone_and_output_is_ordered() {
    let mut stranger = lrp_container("zzz", ContainerState::Running, ok());
    stranger.tags.clear();
    let containers = [
        stranger,
        lrp_container("b", ContainerState::Completed, stopped()),
        lrp_container("a", ContainerState::Completed, stopped()),
    ];
    let ops = plan(CELL, &[], &[], &containers);
    let guids: Vec<&str> = ops.iter().map(Operation::guid).collect();
    assert_eq!(guids, ["a", "b"]);
}
