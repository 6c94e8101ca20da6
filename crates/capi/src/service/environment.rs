//! Environment: an app's own variables (`cf set-env`), what `cf env` shows, and the running
//! and staging environment variable groups every app gets.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Actor, Service, apps::Located};
use crate::{
    Error,
    model::{
        EnvironmentVariableGroup, Process,
        app_rules::WEB,
        environment::{AppContext, name_problems, vcap_application},
        permissions::Action,
    },
    store::{DocOp, docs},
};

/// Everything `GET /v3/apps/:guid/env` shows.
pub struct AppEnv {
    pub located: Located,
    pub running: BTreeMap<String, String>,
    pub staging: BTreeMap<String, String>,
    /// VCAP_APPLICATION as the web process would get it.
    pub vcap_application: serde_json::Value,
}

const GROUPS: [&str; 2] = ["running", "staging"];

fn check_group(name: &str) -> Result<(), Error> {
    if GROUPS.contains(&name) {
        Ok(())
    } else {
        Err(Error::NotFound("Environment variable group"))
    }
}

impl Service {
    /// The app if the caller may read its environment (403 for auditors and managers).
    pub(super) async fn env_readable_app(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<Located, Error> {
        let located = self.located_app(actor, guid).await?;
        if actor.perms.can_read_app_env(&located.space.guid) {
            Ok(located)
        } else {
            Err(Error::NotAuthorized)
        }
    }

    /// The variables of the `running` or `staging` group (empty until set).
    pub(crate) async fn group_variables(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, String>, Error> {
        Ok(docs::get::<EnvironmentVariableGroup>(&*self.store, name)
            .await?
            .map(|g| g.var)
            .unwrap_or_default())
    }

    pub async fn app_env(&self, actor: &Actor, guid: &str) -> Result<AppEnv, Error> {
        let located = self.env_readable_app(actor, guid).await?;
        let web = self
            .app_processes(&located.app.guid)
            .await?
            .into_iter()
            .find(|p| p.process_type == WEB);
        let uris = self.process_uris(&located.app.guid, WEB).await?;
        let (memory_mb, disk_mb) = web
            .as_ref()
            .map_or((0, 0), |p: &Process| (p.memory_in_mb, p.disk_in_mb));
        let vcap = vcap_application(&AppContext {
            app: &located.app,
            process: web.as_ref(),
            space: &located.space,
            org: &located.org,
            uris: &uris,
            api_url: &self.settings.api_url,
            memory_mb,
            disk_mb,
        });
        Ok(AppEnv {
            running: self.group_variables("running").await?,
            staging: self.group_variables("staging").await?,
            vcap_application: vcap,
            located,
        })
    }

    pub async fn environment_variables(&self, actor: &Actor, guid: &str) -> Result<Located, Error> {
        self.env_readable_app(actor, guid).await
    }

    /// `cf set-env` / `cf unset-env`: a value sets, `None` removes.
    pub async fn update_environment_variables(
        &self,
        actor: &Actor,
        guid: &str,
        var: BTreeMap<String, Option<String>>,
    ) -> Result<Located, Error> {
        let mut located = self.app_for(actor, guid, Action::ManageApps).await?;
        let problems = name_problems("Var", var.keys());
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        let env = &mut located.app.environment_variables;
        for (k, v) in var {
            match v {
                Some(v) => env.insert(k, v),
                None => env.remove(&k),
            };
        }
        located.app.updated_at = self.now();
        let request = json!({"environment_variables": "[PRIVATE DATA HIDDEN]"});
        let event = self.app_event(
            actor,
            "audit.app.update",
            &located.app,
            &located.org.guid,
            json!({ "request": request }),
        );
        self.save_app(&located.app, event).await?;
        let guid = &located.app.guid;
        self.emit_app_log(guid, "API", &super::app_log::app_updated(guid, &request));
        Ok(located)
    }

    pub async fn environment_variable_group(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<EnvironmentVariableGroup, Error> {
        self.require_read(actor)?;
        check_group(name)?;
        let now = self.now();
        Ok(docs::get::<EnvironmentVariableGroup>(&*self.store, name)
            .await?
            .unwrap_or_else(|| EnvironmentVariableGroup {
                name: name.to_owned(),
                var: BTreeMap::new(),
                created_at: now,
                updated_at: now,
            }))
    }

    /// Admins change a group; a value sets, `None` removes.
    pub async fn update_environment_variable_group(
        &self,
        actor: &Actor,
        name: &str,
        var: BTreeMap<String, Option<String>>,
    ) -> Result<EnvironmentVariableGroup, Error> {
        let mut group = self.environment_variable_group(actor, name).await?;
        if !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        let stored = docs::get::<EnvironmentVariableGroup>(&*self.store, name)
            .await?
            .is_some();
        let problems = name_problems("Var", var.keys());
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        for (k, v) in var {
            match v {
                Some(v) => group.var.insert(k, v),
                None => group.var.remove(&k),
            };
        }
        group.updated_at = self.now();
        let op = if stored {
            DocOp::update(&group)
        } else {
            DocOp::insert(&group)
        };
        self.store.write_docs(&[op], &[], None).await?;
        self.nudge_nsync();
        Ok(group)
    }
}
