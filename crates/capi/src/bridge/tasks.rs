//! App tasks as Diego tasks: the definition CC desires, and what a completed Diego task
//! means for the CC task.

use ingot_bbs::{Action, EnvironmentVariable, SecurityGroupRule, SerialAction, TaskDefinition};

use super::actions::{download_droplet, launch};
use crate::{
    diego,
    model::{App, Droplet, Task, TaskState},
};

/// CF's "task was cancelled" failure reason, shared with the BBS.
pub(crate) use ingot_bbs::TASK_CANCELLED;

/// Everything a task's Diego definition is made of.
pub(crate) struct TaskSpec<'a> {
    pub task: &'a Task,
    pub app: &'a App,
    pub droplet: &'a Droplet,
    pub droplet_url: String,
    pub callback_url: String,
    pub env: Vec<EnvironmentVariable>,
    /// The app's space's running security groups.
    pub egress_rules: Vec<SecurityGroupRule>,
}

/// Fetch the droplet, then run the task's command through the launcher; the BBS calls the
/// Cloud Controller back when it ends.
pub(crate) fn task_definition(spec: TaskSpec<'_>) -> TaskDefinition {
    let TaskSpec {
        task,
        app,
        droplet,
        droplet_url,
        callback_url,
        env,
        egress_rules,
    } = spec;
    let log_source = format!("APP/TASK/{}", task.name);
    TaskDefinition {
        root_fs: diego::root_fs(&droplet.lifecycle.stack),
        env: env.clone(),
        action: Some(Action::Serial(SerialAction {
            actions: vec![
                download_droplet(droplet, droplet_url),
                launch(&task.command, env, log_source.clone()),
            ],
        })),
        memory_mb: task.memory_in_mb,
        disk_mb: task.disk_in_mb,
        log_guid: app.guid.clone(),
        log_source,
        completion_callback_url: callback_url,
        egress_rules,
        ..TaskDefinition::default()
    }
}

/// Whether a task in `state` may still be cancelled (CC refuses only finished tasks).
pub(crate) fn can_cancel(state: TaskState) -> bool {
    !is_finished(state)
}

pub(crate) fn is_finished(state: TaskState) -> bool {
    matches!(state, TaskState::Succeeded | TaskState::Failed)
}

/// The CC task's end state and failure reason for a completed Diego task.
pub(crate) fn outcome(diego_task: &ingot_bbs::Task) -> (TaskState, Option<String>) {
    if diego_task.failed {
        (
            TaskState::Failed,
            Some(diego_task.failure_reason.clone()).filter(|r| !r.is_empty()),
        )
    } else {
        (TaskState::Succeeded, None)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{bridge::nsync::tests::droplet, model::environment::tests::app};

    fn task() -> Task {
        Task {
            guid: "task-1".into(),
            app_guid: "app-1".into(),
            droplet_guid: "droplet-1".into(),
            sequence_id: 1,
            name: "migrate".into(),
            command: "rake db:migrate".into(),
            state: TaskState::Pending,
            memory_in_mb: 512,
            disk_in_mb: 1024,
            log_rate_limit_in_bytes_per_second: -1,
            failure_reason: None,
            metadata: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_task_runs_its_command_on_the_droplet() {
        let definition = task_definition(TaskSpec {
            task: &task(),
            app: &app(),
            droplet: &droplet(),
            droplet_url: "http://cc.test/internal/v4/droplets/droplet-1/download".into(),
            callback_url: "http://cc.test/internal/v4/tasks/task-1/completed?signature=s".into(),
            env: vec![EnvironmentVariable::new("A", "1")],
            egress_rules: vec![SecurityGroupRule {
                protocol: ingot_bbs::Protocol::All,
                destinations: vec!["1.1.1.1".into()],
                ports: Vec::new(),
                port_range: None,
                icmp_info: None,
                log: false,
                annotations: Vec::new(),
            }],
        });
        assert!(definition.validation_errors().is_empty());
        assert_eq!(definition.egress_rules[0].destinations, ["1.1.1.1"]);
        assert_eq!(definition.root_fs, "preloaded:cflinuxfs4");
        assert_eq!((definition.memory_mb, definition.disk_mb), (512, 1024));
        assert_eq!(definition.log_guid, "app-1");
        assert_eq!(definition.log_source, "APP/TASK/migrate");
        let json = serde_json::to_value(&definition).unwrap();
        let steps = &json["action"]["serial"]["actions"];
        assert_eq!(steps[0]["download"]["to"], "/home/vcap");
        assert_eq!(steps[0]["download"]["cache_key"], "droplets-droplet-1");
        assert_eq!(
            steps[1]["run"]["args"],
            serde_json::json!(["lifecycle", "launcher", "app", "rake db:migrate", ""])
        );
        assert_eq!(steps[1]["run"]["log_source"], "APP/TASK/migrate");
        assert_eq!(steps[1]["run"]["env"][0]["name"], "A");
        assert_eq!(
            definition.completion_callback_url,
            "http://cc.test/internal/v4/tasks/task-1/completed?signature=s"
        );
    }

    #[test]
    fn completion_and_cancellation_rules() {
        let diego = |failed: bool, reason: &str| ingot_bbs::Task {
            failed,
            failure_reason: reason.into(),
            ..ingot_bbs::Task::default()
        };
        assert_eq!(outcome(&diego(false, "")), (TaskState::Succeeded, None));
        assert_eq!(
            outcome(&diego(true, TASK_CANCELLED)),
            (TaskState::Failed, Some("task was cancelled".into()))
        );
        assert_eq!(outcome(&diego(true, "")), (TaskState::Failed, None));
        for (state, cancellable) in [
            (TaskState::Pending, true),
            (TaskState::Running, true),
            (TaskState::Canceling, true),
            (TaskState::Succeeded, false),
            (TaskState::Failed, false),
        ] {
            assert_eq!(can_cancel(state), cancellable, "{state:?}");
        }
    }
}
