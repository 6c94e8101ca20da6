//! App tasks (`cf run-task`, `cf tasks`, `cf terminate-task`): a task runs once on the app's
//! droplet as a Diego task, and Diego's completion callback ends it.

use serde_json::json;

use super::{Actor, Service, apps::Located, processes::HIDDEN};
use crate::{
    Error,
    bridge::{
        self,
        tasks::{TASK_CANCELLED, TaskSpec, can_cancel, is_finished, outcome, task_definition},
    },
    diego,
    model::{
        App, AuditEvent, Droplet, DropletState, Metadata, MetadataPatch, Organization, Process,
        SecurityGroupLifecycle, Space, Task, TaskState,
        app_rules::WEB,
        environment::{AppContext, app_environment},
        permissions::Action,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, StoreError, docs},
};

/// CC's default task memory and disk (`default_app_memory`, `default_app_disk_in_mb`).
pub const DEFAULT_TASK_MEMORY_MB: u64 = 1024;
pub const DEFAULT_TASK_DISK_MB: u64 = 1024;

/// Attempts at taking the next sequence id when concurrent creates race for it.
const SEQUENCE_ATTEMPTS: usize = 5;

/// A task as requested (`POST /v3/apps/:guid/tasks`), already well-formed.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub command: Option<String>,
    pub name: Option<String>,
    pub memory_in_mb: Option<u64>,
    pub disk_in_mb: Option<u64>,
    pub log_rate_limit_in_bytes_per_second: Option<i64>,
    /// `template.process.guid`: take the command and limits of this process.
    pub template_process_guid: Option<String>,
    pub droplet_guid: Option<String>,
    pub metadata: MetadataPatch,
}

/// A task with what its JSON needs to know about the caller.
pub struct TaskView {
    pub task: Task,
    /// Whether the caller may see the command (CC shows it to those who may read the
    /// space's secrets).
    pub show_command: bool,
}

impl TaskView {
    /// The command shows to those who may read the app's environment.
    fn for_actor(task: Task, actor: &Actor, space: &Space) -> Self {
        Self {
            task,
            show_command: actor.perms.can_read_app_env(&space.guid),
        }
    }
}

/// A task the caller can see, with its app and where the app lives.
struct LocatedTask {
    task: Task,
    located: Located,
}

fn no_droplet() -> Error {
    Error::Unprocessable("Task must have a droplet. Assign current droplet to app.".into())
}

impl Service {
    async fn locate_task(&self, actor: &Actor, guid: &str) -> Result<LocatedTask, Error> {
        let task = docs::get::<Task>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Task"))?;
        let located = self
            .located_app(actor, &task.app_guid)
            .await
            .map_err(|_| Error::NotFound("Task"))?;
        Ok(LocatedTask { task, located })
    }

    /// Runs a one-off command on the app's droplet. Errors: 404 app, 403 for non-developers,
    /// 422 without a droplet or command, 503 when Diego refuses the task.
    pub async fn create_task(
        &self,
        actor: &Actor,
        app_guid: &str,
        new: NewTask,
    ) -> Result<TaskView, Error> {
        let Located { app, space, org } = self.app_for(actor, app_guid, Action::ManageApps).await?;
        let template = match &new.template_process_guid {
            Some(guid) => Some(
                docs::get::<Process>(&*self.store, guid)
                    .await?
                    .filter(|p| p.app_guid == app.guid)
                    .ok_or_else(|| {
                        Error::Unprocessable(format!(
                            "Process with guid '{guid}' not found for this app."
                        ))
                    })?,
            ),
            None => None,
        };
        let droplet = self.task_droplet(&app, new.droplet_guid.as_deref()).await?;
        let command = new
            .command
            .clone()
            .or_else(|| {
                let t = template.as_ref()?;
                bridge::nsync::start_command(t, &droplet).map(str::to_owned)
            })
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| Error::Validation(vec!["Command can't be blank".into()]))?;
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let mut task = Task {
            guid: self.new_guid(),
            app_guid: app.guid.clone(),
            droplet_guid: droplet.guid.clone(),
            sequence_id: 0,
            name: new.name.clone().unwrap_or_else(|| self.random_task_name()),
            command,
            state: TaskState::Pending,
            memory_in_mb: new
                .memory_in_mb
                .or(template.as_ref().map(|p| p.memory_in_mb))
                .unwrap_or(DEFAULT_TASK_MEMORY_MB),
            disk_in_mb: new
                .disk_in_mb
                .or(template.as_ref().map(|p| p.disk_in_mb))
                .unwrap_or(DEFAULT_TASK_DISK_MB),
            log_rate_limit_in_bytes_per_second: new
                .log_rate_limit_in_bytes_per_second
                .or(template
                    .as_ref()
                    .map(|p| p.log_rate_limit_in_bytes_per_second))
                .unwrap_or(-1),
            failure_reason: None,
            metadata,
            created_at: now,
            updated_at: now,
        };
        let event = self.app_event(
            actor,
            "audit.app.task.create",
            &app,
            &org.guid,
            json!({
                "task_guid": task.guid,
                "request": {
                    "name": task.name,
                    "memory_in_mb": task.memory_in_mb,
                    "command": HIDDEN,
                },
            }),
        );
        self.insert_task_with_sequence_id(&mut task, &event).await?;
        let definition = self
            .task_definition_for(&task, &app, &droplet, &space, &org)
            .await?;
        let desired = self
            .bbs
            .desire_task(&task.guid, diego::TASKS_DOMAIN, definition)
            .await;
        // CC marks a task RUNNING once Diego has it; Diego's callback ends it.
        let (state, reason) = match &desired {
            Ok(()) => (TaskState::Running, None),
            Err(e) => (
                TaskState::Failed,
                Some(format!("Diego refused the task: {e}")),
            ),
        };
        let task = self.set_task_state(task, state, reason).await?;
        desired.map_err(bridge::unavailable)?;
        self.emit_app_log(
            &app.guid,
            "API",
            &format!("Created task {} ({})", task.sequence_id, task.name),
        );
        Ok(TaskView::for_actor(task, actor, &space))
    }

    /// The requested droplet of the app, or its current one; it must be staged.
    async fn task_droplet(&self, app: &App, guid: Option<&str>) -> Result<Droplet, Error> {
        let Some(guid) = guid.or(app.droplet_guid.as_deref()) else {
            return Err(no_droplet());
        };
        docs::get::<Droplet>(&*self.store, guid)
            .await?
            .filter(|d| d.app_guid == app.guid && d.state == DropletState::Staged)
            .ok_or_else(no_droplet)
    }

    /// CF's default task name: 8 random hex digits.
    fn random_task_name(&self) -> String {
        self.new_guid()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect()
    }

    /// Takes the app's next sequence id; the UNIQUE (app, sequence id) constraint settles
    /// concurrent creates, and the loser takes the one after.
    async fn insert_task_with_sequence_id(
        &self,
        task: &mut Task,
        event: &AuditEvent,
    ) -> Result<(), Error> {
        for _ in 0..SEQUENCE_ATTEMPTS {
            let tasks: Vec<Task> = docs::list(
                &*self.store,
                &[Filter::eq("app_guid", task.app_guid.clone())],
            )
            .await?;
            task.sequence_id = tasks.iter().map(|t| t.sequence_id).max().unwrap_or(0) + 1;
            match self
                .store
                .write_docs(&[DocOp::insert(&*task)], std::slice::from_ref(event), None)
                .await
            {
                Err(StoreError::Conflict(_)) => continue,
                other => return other.map_err(Error::from),
            }
        }
        Err(Error::Unavailable(
            "Too many tasks created at once for this app; try again".into(),
        ))
    }

    async fn task_definition_for(
        &self,
        task: &Task,
        app: &App,
        droplet: &Droplet,
        space: &Space,
        org: &Organization,
    ) -> Result<ingot_bbs::TaskDefinition, Error> {
        let group = self.group_variables("running").await?;
        let uris = self.process_uris(&app.guid, WEB).await?;
        let env = app_environment(
            &AppContext {
                app,
                process: None,
                space,
                org,
                uris: &uris,
                api_url: &self.settings.api_url,
                memory_mb: task.memory_in_mb,
                disk_mb: task.disk_in_mb,
            },
            &group,
        );
        Ok(task_definition(TaskSpec {
            task,
            app,
            droplet,
            droplet_url: self.droplet_download_url(droplet),
            callback_url: self.sign_internal_url(&task_completed_path(&task.guid)),
            env: bridge::env_vars(env),
            egress_rules: self
                .egress_rules(&space.guid, SecurityGroupLifecycle::Running)
                .await?,
        }))
    }

    async fn set_task_state(
        &self,
        mut task: Task,
        state: TaskState,
        failure_reason: Option<String>,
    ) -> Result<Task, Error> {
        task.state = state;
        task.failure_reason = failure_reason;
        task.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&task)], &[], None)
            .await?;
        Ok(task)
    }

    pub async fn task(&self, actor: &Actor, guid: &str) -> Result<TaskView, Error> {
        let found = self.locate_task(actor, guid).await?;
        Ok(TaskView::for_actor(found.task, actor, &found.located.space))
    }

    /// The app's tasks (filters: names, states, guids, sequence_ids).
    pub async fn app_tasks(
        &self,
        actor: &Actor,
        app_guid: &str,
        params: &ListParams,
    ) -> Result<Page<TaskView>, Error> {
        let Located { app, .. } = self.located_app(actor, app_guid).await?;
        let tasks: Vec<Task> =
            docs::list(&*self.store, &[Filter::eq("app_guid", app.guid.clone())]).await?;
        let page = params.select(
            tasks
                .into_iter()
                .filter(|t| params.allows("sequence_ids", &t.sequence_id.to_string()))
                .filter(|t| task_filters_allow(params, t))
                .collect(),
        );
        Ok(hide_commands(page))
    }

    /// Every task the caller can see (filters: names, states, guids, app_guids,
    /// space_guids, organization_guids).
    pub async fn tasks(&self, actor: &Actor, params: &ListParams) -> Result<Page<TaskView>, Error> {
        let tasks: Vec<Task> = docs::list(&*self.store, &[]).await?;
        let app_space = self
            .visible_apps(actor, tasks.iter().map(|t| t.app_guid.clone()))
            .await?;
        let visible: Vec<Task> = tasks
            .into_iter()
            .filter(|t| {
                app_space.get(t.app_guid.as_str()).is_some_and(|s| {
                    params.allows("app_guids", &t.app_guid)
                        && params.allows("space_guids", &s.guid)
                        && params.allows("organization_guids", &s.organization_guid)
                })
            })
            .filter(|t| task_filters_allow(params, t))
            .collect();
        Ok(hide_commands(params.select(visible)))
    }

    /// Asks Diego to stop the task: CANCELING now, FAILED ("task was cancelled") when Diego
    /// calls back. Errors: 404, 403 for auditors and managers, 422 for a finished task.
    pub async fn cancel_task(&self, actor: &Actor, guid: &str) -> Result<TaskView, Error> {
        let LocatedTask { task, located } = self.locate_task(actor, guid).await?;
        located.require(actor, Action::OperateApps, "Task")?;
        let Located { app, space, org } = located;
        if !can_cancel(task.state) {
            return Err(Error::Unprocessable(format!(
                "Task state is {} and therefore cannot be canceled",
                docs::key(&task.state).unwrap_or_default()
            )));
        }
        let mut canceling = task;
        canceling.state = TaskState::Canceling;
        canceling.updated_at = self.now();
        let event = self.app_event(
            actor,
            "audit.app.task.cancel",
            &app,
            &org.guid,
            json!({"task_guid": canceling.guid, "request": {}}),
        );
        self.store
            .write_docs(&[DocOp::update(&canceling)], &[event], None)
            .await?;
        let task = match self.bbs.cancel_task(&canceling.guid).await {
            Ok(()) => canceling,
            // Diego no longer has it (it ended, or never arrived): nothing will call back.
            Err(ingot_bbs::Error::NotFound { .. }) => {
                self.set_task_state(canceling, TaskState::Failed, Some(TASK_CANCELLED.into()))
                    .await?
            }
            // Already ending: its completion callback settles the state.
            Err(ingot_bbs::Error::InvalidTransition { .. }) => canceling,
            Err(e) => return Err(bridge::unavailable(e)),
        };
        Ok(TaskView::for_actor(task, actor, &space))
    }

    /// Diego's completion callback (already authenticated by its signed URL): the task
    /// SUCCEEDED or FAILED. Repeated callbacks and unknown tasks change nothing.
    pub(crate) async fn complete_task(
        &self,
        guid: &str,
        diego_task: &ingot_bbs::Task,
    ) -> Result<(), Error> {
        let Some(task) = docs::get::<Task>(&*self.store, guid).await? else {
            return Ok(());
        };
        if is_finished(task.state) {
            return Ok(());
        }
        let (state, reason) = outcome(diego_task);
        let app_guid = task.app_guid.clone();
        let task = self.set_task_state(task, state, reason).await?;
        self.emit_app_log(
            &app_guid,
            "API",
            &format!(
                "Task {} ({}) {}",
                task.sequence_id,
                task.name,
                docs::key(&task.state).unwrap_or_default().to_lowercase()
            ),
        );
        Ok(())
    }
}

/// The internal path Diego calls back on when a task ends.
pub fn task_completed_path(guid: &str) -> String {
    format!("/internal/v4/tasks/{guid}/completed")
}

fn task_filters_allow(params: &ListParams, task: &Task) -> bool {
    params.allows("names", &task.name)
        && params.allows("guids", &task.guid)
        && params.allows("states", &docs::key(&task.state).unwrap_or_default())
}

/// CC leaves commands out of task lists, whoever asks (`cf tasks` shows "[hidden]").
fn hide_commands(page: Page<Task>) -> Page<TaskView> {
    Page {
        items: page
            .items
            .into_iter()
            .map(|task| TaskView {
                task,
                show_command: false,
            })
            .collect(),
        total_results: page.total_results,
        page: page.page,
        per_page: page.per_page,
    }
}
