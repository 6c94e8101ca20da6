//! Manifests: `cf push` configures apps only through apply_manifest (create or update the
//! app, its processes and its routes), and `cf create-app-manifest` reads one back.

use serde_json::json;

use super::{
    Actor, Service,
    apps::{LifecyclePatch, Located, NewApp},
    require,
    spaces::target,
};
use crate::{
    Error,
    model::{
        App, AuditEvent, Job, JobOperation, JobState, Process,
        app_rules::{Scale, WEB, new_process},
        job::JobError,
        manifest::{self, AppManifest},
        permissions::Action,
        route::route_url,
    },
    store::{DocOp, Filter, docs},
};

/// Failures while applying one application name it, as CC's do.
fn for_app(name: &str, e: Error) -> Error {
    match e {
        Error::Unprocessable(msg) => {
            Error::Unprocessable(format!("For application '{name}': {msg}"))
        }
        Error::Validation(problems) => {
            Error::Unprocessable(format!("For application '{name}': {}", problems.join(", ")))
        }
        other => other,
    }
}

impl Service {
    /// Applies every application of the manifest in order and records the outcome as a
    /// finished job (COMPLETE, or FAILED with the error the CLI shows). A manifest that breaks
    /// CC's rules is refused at once with nothing changed.
    pub async fn apply_manifest(
        &self,
        actor: &Actor,
        space_guid: &str,
        yaml: &str,
    ) -> Result<Job, Error> {
        let (space, org) = self.visible_space(actor, space_guid).await?;
        require(
            actor.perms.decide(Action::ManageApps, target(&space, &org)),
            "Space",
        )?;
        let apps = manifest::parse(yaml).map_err(|e| match e {
            None => Error::MessageParse("invalid request body".into()),
            Some(problems) => Error::Validation(problems),
        })?;
        let mut events = Vec::new();
        let mut failure = None;
        for m in &apps {
            match self.apply_app_manifest(actor, space_guid, m).await {
                Ok(event) => events.push(event),
                Err(e) => {
                    failure = Some(for_app(&m.name, e));
                    break;
                }
            }
        }
        self.nudge_nsync();
        let now = self.now();
        let job = Job {
            guid: self.new_guid(),
            operation: JobOperation::ManifestApply,
            resource_guid: space.guid.clone(),
            state: if failure.is_some() {
                JobState::Failed
            } else {
                JobState::Complete
            },
            errors: failure.iter().map(JobError::from).collect(),
            warnings: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_job(&job, &events).await?;
        Ok(job)
    }

    /// One application: the app (created if missing), its processes, then its routes.
    async fn apply_app_manifest(
        &self,
        actor: &Actor,
        space_guid: &str,
        m: &AppManifest,
    ) -> Result<AuditEvent, Error> {
        let lifecycle = LifecyclePatch {
            kind: None,
            buildpacks: m.buildpacks.clone(),
            stack: m.stack.clone(),
        };
        let existing = docs::find::<App>(
            &*self.store,
            &[
                Filter::eq("space_guid", space_guid),
                Filter::eq("name", m.name.clone()),
            ],
        )
        .await?;
        let located = match existing {
            Some(app) => {
                let mut located = self.app_for(actor, &app.guid, Action::ManageApps).await?;
                self.configure_existing(&mut located.app, m, &lifecycle)
                    .await?;
                located
            }
            None => {
                let new = NewApp {
                    name: m.name.clone(),
                    space_guid: space_guid.to_owned(),
                    lifecycle,
                    environment_variables: m.env.clone(),
                    metadata: m.metadata.clone().unwrap_or_default(),
                };
                let app = self.create_app(actor, new).await?;
                self.app_for(actor, &app.guid, Action::ManageApps).await?
            }
        };
        self.apply_processes(&located.app, m).await?;
        self.apply_routes(actor, &located.app, m).await?;
        Ok(self.app_event(
            actor,
            "audit.app.apply_manifest",
            &located.app,
            &located.org.guid,
            json!({"request": {"manifest": {"applications": [{"name": m.name}]}}}),
        ))
    }

    /// Lifecycle, variables (merged, as `cf set-env` would) and metadata of an existing app.
    async fn configure_existing(
        &self,
        app: &mut App,
        m: &AppManifest,
        lifecycle: &LifecyclePatch,
    ) -> Result<(), Error> {
        if lifecycle.buildpacks.is_some() || lifecycle.stack.is_some() {
            app.lifecycle = self
                .resolve_lifecycle(Some(&app.lifecycle), lifecycle)
                .await?;
        }
        app.environment_variables
            .extend(m.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(patch) = &m.metadata {
            app.metadata.apply(patch);
        }
        app.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&*app)], &[], None)
            .await?;
        Ok(())
    }

    /// Creates or changes each listed process in one write; limits are checked first.
    async fn apply_processes(&self, app: &App, m: &AppManifest) -> Result<(), Error> {
        let existing = self.app_processes(&app.guid).await?;
        let now = self.now();
        let mut ops = Vec::new();
        for pm in &m.processes {
            let (mut process, is_new) =
                match existing.iter().find(|p| p.process_type == pm.process_type) {
                    Some(p) => (p.clone(), false),
                    None => {
                        let guid = if pm.process_type == WEB {
                            app.guid.clone()
                        } else {
                            self.new_guid()
                        };
                        let p =
                            new_process(guid, &app.guid, &pm.process_type, self.new_guid(), now);
                        (p, true)
                    }
                };
            let scale = Scale {
                instances: pm.instances,
                memory_in_mb: pm.memory_in_mb,
                disk_in_mb: pm.disk_in_mb,
            };
            let problems = scale.problems();
            if !problems.is_empty() {
                return Err(Error::Validation(
                    problems
                        .into_iter()
                        .map(|p| format!("Process \"{}\": {p}", pm.process_type))
                        .collect(),
                ));
            }
            scale.apply(&mut process);
            process.health_check = pm
                .health_check
                .applied_to(&process.health_check)
                .map_err(Error::Validation)?;
            if let Some(command) = &pm.command {
                process.command = command.clone();
            }
            process.updated_at = now;
            ops.push(if is_new {
                DocOp::insert(&process)
            } else {
                DocOp::update(&process)
            });
        }
        self.store.write_docs(&ops, &[], None).await?;
        Ok(())
    }

    /// `no-route` unmaps everything; listed routes are created and mapped; otherwise a
    /// random or default route only for an app that has none.
    async fn apply_routes(&self, actor: &Actor, app: &App, m: &AppManifest) -> Result<(), Error> {
        if m.no_route {
            return self.unmap_all_routes(actor, app).await;
        }
        let wanted = match &m.routes {
            Some(urls) => {
                let mut routes = Vec::new();
                for url in urls {
                    routes.push(self.ensure_route(actor, &app.space_guid, url).await?);
                }
                routes
            }
            None if m.random_route || m.default_route => {
                if !self.routes_for_app(&app.guid).await?.is_empty() {
                    return Ok(());
                }
                let route = if m.random_route {
                    self.random_route(actor, app).await?
                } else {
                    self.default_route(actor, app).await?
                };
                vec![route]
            }
            None => Vec::new(),
        };
        for route in &wanted {
            self.map_route(actor, app, route, WEB).await?;
        }
        Ok(())
    }

    /// The app as a manifest (`cf create-app-manifest`); it holds the app's variables, so only
    /// callers who may read them get it.
    pub async fn app_manifest(&self, actor: &Actor, guid: &str) -> Result<String, Error> {
        let Located { app, .. } = self.env_readable_app(actor, guid).await?;
        let processes: Vec<Process> = self.app_processes(&app.guid).await?;
        let mut routes: Vec<String> = self
            .routes_for_app(&app.guid)
            .await?
            .iter()
            .map(|(route, domain, _)| route_url(route, domain))
            .collect();
        routes.dedup();
        Ok(manifest::generate(&app, &processes, &routes))
    }
}
