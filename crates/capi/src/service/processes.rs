//! Processes: what runs of an app (web, worker, ...), how many, how big, and how its health
//! is checked. Scaling and changes nudge nsync so Diego follows.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Actor, Service, apps::Located, require, spaces::target};
use crate::{
    Error,
    model::{
        App, Droplet, MetadataPatch, Process,
        app_rules::{HealthCheckPatch, Scale},
        permissions::Action,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, docs},
};

/// What CC shows instead of a command to callers who may not read the space's secrets.
pub const HIDDEN: &str = "[PRIVATE DATA HIDDEN]";
/// What CC shows instead of a command in lists.
pub const HIDDEN_IN_LISTS: &str = "[PRIVATE DATA HIDDEN IN LISTS]";

/// A process as presented: `command` is the effective one (the user's, else the droplet's),
/// or a redaction.
pub struct ProcessView {
    pub process: Process,
    pub command: Option<String>,
    pub space_guid: String,
}

#[derive(Debug, Clone, Default)]
pub struct ProcessPatch {
    /// `Some(None)` resets to the droplet's command.
    pub command: Option<Option<String>>,
    pub health_check: HealthCheckPatch,
    pub metadata: Option<MetadataPatch>,
}

impl Service {
    /// Processes of apps in spaces the caller can see, with the list filters applied.
    pub async fn list_processes(
        &self,
        actor: &Actor,
        params: &ListParams,
        app_guid: Option<&str>,
    ) -> Result<Page<ProcessView>, Error> {
        self.require_read(actor)?;
        let apps: HashMap<String, App> = match app_guid {
            Some(guid) => {
                let located = self.located_app(actor, guid).await?;
                HashMap::from([(located.app.guid.clone(), located.app)])
            }
            None => {
                let spaces: HashMap<String, String> = self
                    .store
                    .spaces()
                    .await?
                    .into_iter()
                    .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
                    .filter(|s| {
                        params.allows("space_guids", &s.guid)
                            && params.allows("organization_guids", &s.organization_guid)
                    })
                    .map(|s| (s.guid, s.organization_guid))
                    .collect();
                docs::list::<App>(
                    &*self.store,
                    &[Filter::In("space_guid", spaces.into_keys().collect())],
                )
                .await?
                .into_iter()
                .map(|a| (a.guid.clone(), a))
                .collect()
            }
        };
        let mut filters = vec![Filter::In("app_guid", apps.keys().cloned().collect())];
        if let Some(types) = params.filters.get("types") {
            filters.push(Filter::In("type", types.clone()));
        }
        let processes = docs::list::<Process>(&*self.store, &filters)
            .await?
            .into_iter()
            .filter(|p| params.allows("guids", &p.guid) && params.allows("app_guids", &p.app_guid))
            .collect();
        let page = params.select(processes);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|process| ProcessView {
                    space_guid: apps
                        .get(&process.app_guid)
                        .map(|a| a.space_guid.clone())
                        .unwrap_or_default(),
                    process,
                    command: Some(HIDDEN_IN_LISTS.into()),
                })
                .collect(),
            total_results: page.total_results,
            page: page.page,
            per_page: page.per_page,
        })
    }

    /// The process and its app, if the caller may see them.
    async fn visible_process(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Process, Located), Error> {
        self.require_read(actor)?;
        let process = docs::get::<Process>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Process"))?;
        let located = self
            .located_app(actor, &process.app_guid)
            .await
            .map_err(|_| Error::NotFound("Process"))?;
        Ok((process, located))
    }

    async fn app_process_guid(
        &self,
        actor: &Actor,
        app_guid: &str,
        process_type: &str,
    ) -> Result<String, Error> {
        let located = self.located_app(actor, app_guid).await?;
        docs::find::<Process>(
            &*self.store,
            &[
                Filter::eq("app_guid", located.app.guid),
                Filter::eq("type", process_type),
            ],
        )
        .await?
        .map(|p| p.guid)
        .ok_or(Error::NotFound("Process"))
    }

    /// The command the process runs: the user's, else its droplet's for this type.
    pub(crate) async fn effective_command(
        &self,
        app: &App,
        process: &Process,
    ) -> Result<Option<String>, Error> {
        if process.command.is_some() {
            return Ok(process.command.clone());
        }
        let Some(droplet_guid) = &app.droplet_guid else {
            return Ok(None);
        };
        Ok(docs::get::<Droplet>(&*self.store, droplet_guid)
            .await?
            .and_then(|d| d.process_types.get(&process.process_type).cloned()))
    }

    async fn process_view(
        &self,
        actor: &Actor,
        process: Process,
        located: &Located,
    ) -> Result<ProcessView, Error> {
        let command = if actor.perms.can_read_app_env(&located.space.guid) {
            self.effective_command(&located.app, &process).await?
        } else {
            Some(HIDDEN.into())
        };
        Ok(ProcessView {
            process,
            command,
            space_guid: located.space.guid.clone(),
        })
    }

    pub async fn process(&self, actor: &Actor, guid: &str) -> Result<ProcessView, Error> {
        let (process, located) = self.visible_process(actor, guid).await?;
        self.process_view(actor, process, &located).await
    }

    pub async fn app_process(
        &self,
        actor: &Actor,
        app_guid: &str,
        process_type: &str,
    ) -> Result<ProcessView, Error> {
        let guid = self.app_process_guid(actor, app_guid, process_type).await?;
        self.process(actor, &guid).await
    }

    /// The process if the caller may change it.
    async fn changeable_process(
        &self,
        actor: &Actor,
        guid: &str,
        action: Action,
    ) -> Result<(Process, Located), Error> {
        let (process, located) = self.visible_process(actor, guid).await?;
        require(
            actor
                .perms
                .decide(action, target(&located.space, &located.org)),
            "Process",
        )?;
        Ok((process, located))
    }

    async fn save_process(
        &self,
        actor: &Actor,
        process: &Process,
        located: &Located,
        event_type: &str,
        request: Value,
    ) -> Result<(), Error> {
        let event = self.app_event(
            actor,
            event_type,
            &located.app,
            &located.org.guid,
            json!({
                "process_guid": process.guid,
                "process_type": process.process_type,
                "request": request,
            }),
        );
        self.store
            .write_docs(&[DocOp::update(process)], &[event], None)
            .await?;
        self.nudge_nsync();
        let verb = if event_type == "audit.app.process.scale" {
            "Scaling"
        } else {
            "Updating"
        };
        self.emit_app_log(
            &located.app.guid,
            "API",
            &format!("{verb} process: \"{}\"", process.process_type),
        );
        Ok(())
    }

    /// `cf set-health-check`, a custom command, metadata.
    pub async fn update_process(
        &self,
        actor: &Actor,
        guid: &str,
        patch: ProcessPatch,
    ) -> Result<ProcessView, Error> {
        let (mut process, located) = self
            .changeable_process(actor, guid, Action::ManageApps)
            .await?;
        process.health_check = patch
            .health_check
            .applied_to(&process.health_check)
            .map_err(Error::Validation)?;
        let mut request = Map::new();
        if let Some(command) = &patch.command {
            process.command = command.clone();
            request.insert("command".into(), json!("[PRIVATE DATA HIDDEN]"));
        }
        if !patch.health_check.is_empty() {
            request.insert(
                "health_check".into(),
                json!({"type": process.health_check.kind, "data": {
                    "endpoint": process.health_check.endpoint,
                    "timeout": process.health_check.timeout,
                    "invocation_timeout": process.health_check.invocation_timeout,
                }}),
            );
        }
        if let Some(m) = &patch.metadata {
            process.metadata.apply(m);
        }
        process.updated_at = self.now();
        self.save_process(
            actor,
            &process,
            &located,
            "audit.app.process.update",
            Value::Object(request),
        )
        .await?;
        self.process_view(actor, process, &located).await
    }

    /// `cf scale`: instances, memory, disk.
    pub async fn scale_process(
        &self,
        actor: &Actor,
        guid: &str,
        scale: Scale,
    ) -> Result<ProcessView, Error> {
        let (mut process, located) = self
            .changeable_process(actor, guid, Action::OperateApps)
            .await?;
        let problems = scale.problems();
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        scale.apply(&mut process);
        process.updated_at = self.now();
        let mut request = Map::new();
        for (key, value) in [
            ("instances", scale.instances),
            ("memory_in_mb", scale.memory_in_mb),
            ("disk_in_mb", scale.disk_in_mb),
        ] {
            if let Some(v) = value {
                request.insert(key.into(), json!(v));
            }
        }
        self.save_process(
            actor,
            &process,
            &located,
            "audit.app.process.scale",
            Value::Object(request),
        )
        .await?;
        self.process_view(actor, process, &located).await
    }

    pub async fn scale_app_process(
        &self,
        actor: &Actor,
        app_guid: &str,
        process_type: &str,
        scale: Scale,
    ) -> Result<ProcessView, Error> {
        let guid = self.app_process_guid(actor, app_guid, process_type).await?;
        self.scale_process(actor, &guid, scale).await
    }
}
