//! Apps: create, list, rename, configure the lifecycle, delete, start/stop/restart and the
//! current droplet. A change of what should run nudges nsync, which tells Diego.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use super::{Actor, Service, app_log, require, spaces::target};
use crate::{
    Error,
    model::{
        App, AppState, AuditEvent, AuditTarget, Buildpack, Droplet, DropletState, Job,
        JobOperation, Lifecycle, LifecycleType, Metadata, MetadataPatch, Organization, Process,
        Space, Stack,
        app_rules::{new_process, reconcile_process_types},
        environment::name_problems,
        permissions::Action,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, JobDone, StoreError, StoreResult, docs},
};

/// `lifecycle.data` of a request: absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecyclePatch {
    /// `Some(Docker)` is refused: docker apps are not supported yet.
    pub kind: Option<LifecycleType>,
    pub buildpacks: Option<Vec<String>>,
    pub stack: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub space_guid: String,
    pub lifecycle: LifecyclePatch,
    pub environment_variables: BTreeMap<String, String>,
    pub metadata: MetadataPatch,
}

#[derive(Debug, Clone, Default)]
pub struct AppPatch {
    pub name: Option<String>,
    pub lifecycle: Option<LifecyclePatch>,
    pub metadata: Option<MetadataPatch>,
}

/// A page of apps with the spaces and organizations an `include` asked for.
pub struct AppList {
    pub page: Page<App>,
    pub spaces: Vec<Space>,
    pub organizations: Vec<Organization>,
}

/// An app with where it lives.
pub struct Located {
    pub app: App,
    pub space: Space,
    pub org: Organization,
}

impl Located {
    /// Checks the caller may perform `action` on the app; a denial names `kind` (404 when
    /// the caller may not see it, 403 otherwise).
    pub(crate) fn require(
        &self,
        actor: &Actor,
        action: Action,
        kind: &'static str,
    ) -> Result<(), Error> {
        require(
            actor.perms.decide(action, target(&self.space, &self.org)),
            kind,
        )
    }
}

pub(crate) fn app_target(app: &App) -> AuditTarget {
    AuditTarget {
        guid: app.guid.clone(),
        target_type: "app".into(),
        name: app.name.clone(),
    }
}

fn name_taken(name: &str) -> Error {
    Error::Unprocessable(format!("App with the name '{name}' already exists."))
}

fn invalid_space() -> Error {
    Error::Unprocessable(
        "Invalid space. Ensure that the space exists and you have access to it.".into(),
    )
}

fn no_droplet() -> Error {
    Error::Unprocessable("Assign a droplet before starting this app.".into())
}

fn bad_droplet() -> Error {
    Error::Unprocessable(
        "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
            .into(),
    )
}

fn docker_unsupported() -> Error {
    Error::Unprocessable("Docker apps are not supported by this Cloud Foundry yet".into())
}

fn is_buildpack_url(name: &str) -> bool {
    ["http://", "https://", "git://"]
        .iter()
        .any(|scheme| name.starts_with(scheme))
}

impl Service {
    /// The app if the caller may see it, with its space and organization.
    pub(crate) async fn located_app(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.require_read(actor)?;
        let app = docs::get::<App>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("App"))?;
        let (space, org) = self
            .visible_space(actor, &app.space_guid)
            .await
            .map_err(|_| Error::NotFound("App"))?;
        Ok(Located { app, space, org })
    }

    /// The app if the caller may perform `action` on it (404 when invisible, 403 otherwise).
    pub(crate) async fn app_for(
        &self,
        actor: &Actor,
        guid: &str,
        action: Action,
    ) -> Result<Located, Error> {
        let located = self.located_app(actor, guid).await?;
        located.require(actor, action, "App")?;
        Ok(located)
    }

    /// Which of these apps the caller may see, each with its space.
    pub(crate) async fn visible_apps(
        &self,
        actor: &Actor,
        app_guids: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, Space>, Error> {
        self.require_read(actor)?;
        let wanted: Vec<String> = app_guids
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let apps = docs::list::<App>(&*self.store, &[Filter::In("guid", wanted)]).await?;
        let spaces: HashMap<String, Space> = self
            .store
            .spaces_by_guids(&Self::included_guids(
                apps.iter().map(|a| a.space_guid.as_str()),
            ))
            .await?
            .into_iter()
            .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
            .map(|s| (s.guid.clone(), s))
            .collect();
        Ok(apps
            .into_iter()
            .filter_map(|a| Some((a.guid, spaces.get(&a.space_guid)?.clone())))
            .collect())
    }

    /// An audit event about an app, in its space and organization.
    pub(crate) fn app_event(
        &self,
        actor: &Actor,
        event_type: &str,
        app: &App,
        org_guid: &str,
        data: Value,
    ) -> AuditEvent {
        self.event(
            actor,
            event_type,
            app_target(app),
            data,
            Some(&app.space_guid),
            Some(org_guid),
        )
    }

    pub async fn list_apps(&self, actor: &Actor, params: &ListParams) -> Result<AppList, Error> {
        self.require_read(actor)?;
        let spaces: HashMap<String, Space> = self
            .store
            .spaces()
            .await?
            .into_iter()
            .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
            .map(|s| (s.guid.clone(), s))
            .collect();
        let mut filters = vec![Filter::In("space_guid", spaces.keys().cloned().collect())];
        if let Some(names) = params.filters.get("names") {
            filters.push(Filter::In("name", names.clone()));
        }
        let apps = docs::list::<App>(&*self.store, &filters)
            .await?
            .into_iter()
            .filter(|a| {
                let org = spaces
                    .get(&a.space_guid)
                    .map(|s| s.organization_guid.as_str())
                    .unwrap_or_default();
                params.allows("guids", &a.guid)
                    && params.allows("space_guids", &a.space_guid)
                    && params.allows("organization_guids", org)
                    && params.allows("stacks", &a.lifecycle.stack)
                    && params.allows(
                        "lifecycle_type",
                        docs::key(&a.lifecycle.kind).as_deref().unwrap_or_default(),
                    )
            })
            .collect();
        let page = params.select(apps);
        let wants_orgs = params.includes("space.organization");
        let (mut included_spaces, mut organizations) = (Vec::new(), Vec::new());
        if params.includes("space") || wants_orgs {
            included_spaces =
                Self::included_guids(page.items.iter().map(|a| a.space_guid.as_str()))
                    .into_iter()
                    .filter_map(|g| spaces.get(g).cloned())
                    .collect();
        }
        if wants_orgs {
            let wanted =
                Self::included_guids(included_spaces.iter().map(|s| s.organization_guid.as_str()));
            organizations = self.store.organizations_by_guids(&wanted).await?;
        }
        if !params.includes("space") {
            included_spaces.clear();
        }
        Ok(AppList {
            page,
            spaces: included_spaces,
            organizations,
        })
    }

    pub async fn app(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.located_app(actor, guid).await
    }

    /// The lifecycle after `patch`, with its stack and buildpacks checked as CC does.
    pub(super) async fn resolve_lifecycle(
        &self,
        current: Option<&Lifecycle>,
        patch: &LifecyclePatch,
    ) -> Result<Lifecycle, Error> {
        if patch.kind == Some(LifecycleType::Docker) {
            return Err(docker_unsupported());
        }
        let default_stack = || {
            self.settings
                .stacks
                .first()
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| "cflinuxfs4".into())
        };
        let lifecycle = Lifecycle {
            kind: LifecycleType::Buildpack,
            buildpacks: patch
                .buildpacks
                .clone()
                .or_else(|| current.map(|l| l.buildpacks.clone()))
                .unwrap_or_default(),
            stack: patch
                .stack
                .clone()
                .or_else(|| current.map(|l| l.stack.clone()))
                .unwrap_or_else(default_stack),
        };
        let mut problems = Vec::new();
        for name in &lifecycle.buildpacks {
            if !is_buildpack_url(name) && !self.buildpack_exists(name).await? {
                problems.push(format!(
                    "Buildpack \"{name}\" must be an existing admin buildpack or a valid git URI"
                ));
            }
        }
        if patch.stack.is_some() && !self.stack_exists(&lifecycle.stack).await? {
            problems.push("Stack must be an existing stack".into());
        }
        if problems.is_empty() {
            Ok(lifecycle)
        } else {
            Err(Error::Validation(problems))
        }
    }

    async fn buildpack_exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self
            .settings
            .builtin_buildpacks
            .iter()
            .any(|b| b.name == name)
            || docs::find::<Buildpack>(&*self.store, &[Filter::eq("name", name)])
                .await?
                .is_some())
    }

    async fn stack_exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self.settings.stacks.iter().any(|(s, _)| s == name)
            || docs::find::<Stack>(&*self.store, &[Filter::eq("name", name)])
                .await?
                .is_some())
    }

    /// Creates the app STOPPED with its `web` process (CC's defaults).
    pub async fn create_app(&self, actor: &Actor, new: NewApp) -> Result<App, Error> {
        let (space, org) = self
            .visible_space(actor, &new.space_guid)
            .await
            .map_err(|_| invalid_space())?;
        require(
            actor.perms.decide(Action::ManageApps, target(&space, &org)),
            "Space",
        )
        .map_err(|e| match e {
            Error::NotFound(_) => invalid_space(),
            other => other,
        })?;
        let problems = name_problems("Environment variables", new.environment_variables.keys());
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        let lifecycle = self.resolve_lifecycle(None, &new.lifecycle).await?;
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let app = App {
            guid: self.new_guid(),
            name: new.name,
            space_guid: space.guid.clone(),
            state: AppState::Stopped,
            lifecycle,
            environment_variables: new.environment_variables,
            droplet_guid: None,
            enable_ssh: space.allow_ssh,
            metadata,
            created_at: now,
            updated_at: now,
        };
        let web = new_process(
            app.guid.clone(),
            &app.guid,
            crate::model::app_rules::WEB,
            self.new_guid(),
            now,
        );
        let event = self.app_event(
            actor,
            "audit.app.create",
            &app,
            &org.guid,
            json!({"request": {"name": app.name, "space_guid": space.guid}}),
        );
        self.store
            .write_docs(&[DocOp::insert(&app), DocOp::insert(&web)], &[event], None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(&app.name),
                other => other.into(),
            })?;
        self.emit_app_log(
            &app.guid,
            "API",
            &format!("Created app with guid {}", app.guid),
        );
        Ok(app)
    }

    /// Writes a changed app with its audit event; a taken name is CC's 422.
    pub(crate) async fn save_app(&self, app: &App, event: AuditEvent) -> Result<(), Error> {
        self.store
            .write_docs(&[DocOp::update(app)], &[event], None)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => name_taken(&app.name),
                other => other.into(),
            })
    }

    /// `cf rename`, lifecycle (buildpacks, stack) and metadata changes.
    pub async fn update_app(
        &self,
        actor: &Actor,
        guid: &str,
        patch: AppPatch,
    ) -> Result<Located, Error> {
        let mut located = self.app_for(actor, guid, Action::ManageApps).await?;
        let app = &mut located.app;
        if let Some(lifecycle) = &patch.lifecycle {
            app.lifecycle = self
                .resolve_lifecycle(Some(&app.lifecycle), lifecycle)
                .await?;
        }
        if let Some(name) = &patch.name {
            app.name = name.clone();
        }
        if let Some(m) = &patch.metadata {
            app.metadata.apply(m);
        }
        app.updated_at = self.now();
        let mut request = serde_json::Map::new();
        if let Some(n) = &patch.name {
            request.insert("name".into(), json!(n));
        }
        if patch.lifecycle.is_some() {
            request.insert(
                "lifecycle".into(),
                json!({"type": "buildpack", "data": {
                    "buildpacks": app.lifecycle.buildpacks, "stack": app.lifecycle.stack}}),
            );
        }
        let request = Value::Object(request);
        let event = self.app_event(
            actor,
            "audit.app.update",
            app,
            &located.org.guid,
            json!({ "request": request }),
        );
        self.save_app(app, event).await?;
        self.emit_app_log(&app.guid, "API", &app_log::app_updated(&app.guid, &request));
        Ok(located)
    }

    /// Deletes the app (and, through the foreign keys, everything that hangs off it) in a job.
    pub async fn delete_app(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let Located { app, org, .. } = self.app_for(actor, guid, Action::ManageApps).await?;
        let event = self.app_event(
            actor,
            "audit.app.delete-request",
            &app,
            &org.guid,
            json!({"request": {"recursive": true}}),
        );
        let job = self
            .start_job(JobOperation::AppDelete, &app.guid, &[event])
            .await?;
        self.emit_app_log(
            &app.guid,
            "API",
            &format!("Deleted app with guid {}", app.guid),
        );
        Ok(job)
    }

    /// The app-delete job: one delete, and nsync drops its LRPs.
    pub(crate) async fn run_app_delete(&self, guid: &str, done: JobDone<'_>) -> StoreResult<()> {
        self.store
            .write_docs(&[DocOp::delete::<App>(guid)], &[], Some(done))
            .await?;
        self.nudge_nsync();
        Ok(())
    }

    /// Starts the app on its current droplet. Processes get a new version when the app was
    /// stopped (or always, on restart), so Diego runs fresh instances.
    async fn set_app_state(
        &self,
        actor: &Actor,
        guid: &str,
        state: AppState,
        new_versions: bool,
        event_type: &str,
    ) -> Result<Located, Error> {
        let mut located = self.app_for(actor, guid, Action::OperateApps).await?;
        if state == AppState::Started && located.app.droplet_guid.is_none() {
            return Err(no_droplet());
        }
        let now = self.now();
        let was = located.app.state;
        located.app.state = state;
        located.app.updated_at = now;
        let mut ops = vec![DocOp::update(&located.app)];
        if state == AppState::Started && (new_versions || was == AppState::Stopped) {
            let processes = self.app_processes(&located.app.guid).await?;
            for mut p in processes {
                p.version = self.new_guid();
                p.updated_at = now;
                ops.push(DocOp::update(&p));
            }
        }
        let event = self.app_event(
            actor,
            event_type,
            &located.app,
            &located.org.guid,
            json!({}),
        );
        self.store.write_docs(&ops, &[event], None).await?;
        self.nudge_nsync();
        let said = match event_type {
            "audit.app.restart" => "Restarted",
            "audit.app.start" => "Starting",
            _ => "Stopping",
        };
        let guid = &located.app.guid;
        self.emit_app_log(guid, "API", &format!("{said} app with guid {guid}"));
        Ok(located)
    }

    pub async fn start_app(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.set_app_state(actor, guid, AppState::Started, false, "audit.app.start")
            .await
    }

    pub async fn stop_app(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.set_app_state(actor, guid, AppState::Stopped, false, "audit.app.stop")
            .await
    }

    /// Stop then start: every process gets a new version, so every instance is replaced.
    pub async fn restart_app(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.set_app_state(actor, guid, AppState::Started, true, "audit.app.restart")
            .await
    }

    /// The app's processes, oldest first.
    pub(crate) async fn app_processes(&self, app_guid: &str) -> Result<Vec<Process>, Error> {
        Ok(docs::list::<Process>(&*self.store, &[Filter::eq("app_guid", app_guid)]).await?)
    }

    /// The app's current droplet; 404 "Droplet not found" without one (the CLI relies on it).
    pub async fn current_droplet(&self, actor: &Actor, guid: &str) -> Result<Droplet, Error> {
        let Located { app, .. } = self.located_app(actor, guid).await?;
        match &app.droplet_guid {
            Some(d) => docs::get::<Droplet>(&*self.store, d)
                .await?
                .ok_or(Error::NotFound("Droplet")),
            None => Err(Error::NotFound("Droplet")),
        }
    }

    /// Makes a STAGED droplet of the app current, and shapes the processes after its process
    /// types: new types get a process (no instances unless web), vanished types lose theirs.
    pub async fn set_current_droplet(
        &self,
        actor: &Actor,
        guid: &str,
        droplet_guid: &str,
    ) -> Result<Located, Error> {
        let mut located = self.app_for(actor, guid, Action::ManageApps).await?;
        let droplet = docs::get::<Droplet>(&*self.store, droplet_guid)
            .await?
            .filter(|d| d.app_guid == located.app.guid && d.state == DropletState::Staged)
            .ok_or_else(bad_droplet)?;
        let now = self.now();
        let app = &mut located.app;
        app.droplet_guid = Some(droplet.guid.clone());
        app.updated_at = now;
        let processes = self.app_processes(&app.guid).await?;
        let (create, delete) = reconcile_process_types(&processes, &droplet.process_types);
        let mut ops = vec![DocOp::update(&*app)];
        for t in &create {
            let guid = if t == crate::model::app_rules::WEB {
                app.guid.clone()
            } else {
                self.new_guid()
            };
            ops.push(DocOp::insert(&new_process(
                guid,
                &app.guid,
                t,
                self.new_guid(),
                now,
            )));
        }
        ops.extend(delete.iter().map(|p| DocOp::delete::<Process>(&p.guid)));
        let request = json!({"droplet_guid": droplet.guid});
        let event = self.app_event(
            actor,
            "audit.app.droplet.mapped",
            app,
            &located.org.guid,
            json!({ "request": request }),
        );
        self.store.write_docs(&ops, &[event], None).await?;
        self.nudge_nsync();
        self.emit_app_log(&app.guid, "API", &app_log::app_updated(&app.guid, &request));
        Ok(located)
    }
}
