//! Builds: staging a READY package into a droplet through a Diego Task, and the task's
//! completion (through the BBS's callback) deciding the build's and droplet's fate.

use ingot_bbs::EnvironmentVariable;
use serde_json::json;

use super::{
    Actor, Service,
    apps::app_target,
    internal::{STAGING_TIMEOUT, STAGING_URL_TTL, paths},
};
use crate::{
    Error, bridge,
    diego::STAGING_DOMAIN,
    model::{
        App, AuditActor, Build, BuildState, Buildpack, Droplet, DropletState, Metadata,
        MetadataPatch, Package, PackageState, SecurityGroupLifecycle,
        app_rules::WEB,
        bits_rules::{
            self, STAGING_DISK_MB, STAGING_MEMORY_MB, StagingResult, staging_buildpacks,
            staging_error,
        },
        environment::{AppContext, app_environment},
        permissions::Action,
        query::{ListParams, Page},
    },
    stager::{self, StagingBuildpack, StagingRequest},
    store::{DocOp, Filter, docs},
};

impl Service {
    /// The build and its app, if the caller may see them.
    pub async fn build(&self, actor: &Actor, guid: &str) -> Result<Build, Error> {
        let build = docs::get::<Build>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Build"))?;
        self.located_app(actor, &build.app_guid)
            .await
            .map_err(|_| Error::NotFound("Build"))?;
        Ok(build)
    }

    pub async fn list_builds(
        &self,
        actor: &Actor,
        params: &ListParams,
        app_guid: Option<&str>,
    ) -> Result<Page<Build>, Error> {
        let mut filters = Vec::new();
        if let Some(app) = app_guid {
            self.located_app(actor, app).await?;
            filters.push(Filter::eq("app_guid", app));
        } else if let Some(apps) = params.filters.get("app_guids") {
            filters.push(Filter::In("app_guid", apps.clone()));
        }
        let builds = docs::list::<Build>(&*self.store, &filters).await?;
        let visible = self
            .visible_apps(actor, builds.iter().map(|b| b.app_guid.clone()))
            .await?;
        let builds = builds
            .into_iter()
            .filter(|b| {
                visible.contains_key(&b.app_guid)
                    && params.allows("guids", &b.guid)
                    && params.allows("package_guids", &b.package_guid)
                    && params.allows("states", docs::key(&b.state).as_deref().unwrap_or(""))
            })
            .collect();
        Ok(params.select(builds))
    }

    /// Stages the package: a STAGING build, its droplet-to-be, and the staging task in Diego.
    pub async fn create_build(
        &self,
        actor: &Actor,
        package_guid: &str,
        metadata: MetadataPatch,
    ) -> Result<Build, Error> {
        let invalid = || {
            Error::Unprocessable(
                "Unable to use package. Ensure that the package exists and you have access to it."
                    .into(),
            )
        };
        let package = docs::get::<Package>(&*self.store, package_guid)
            .await?
            .ok_or_else(invalid)?;
        let located = self
            .located_app(actor, &package.app_guid)
            .await
            .map_err(|_| invalid())?;
        located.require(actor, Action::ManageApps, "App")?;
        if package.state != PackageState::Ready {
            return Err(Error::Unprocessable(
                "Cannot stage package whose state is not ready.".into(),
            ));
        }
        let app = &located.app;
        let stack = if app.lifecycle.stack.is_empty() {
            bits_rules::DEFAULT_STACK.to_owned()
        } else {
            app.lifecycle.stack.clone()
        };
        let all = self.buildpacks_by_position().await?;
        let buildpacks = staging_buildpacks(&app.lifecycle.buildpacks, &all, &stack)
            .map_err(Error::Unprocessable)?;
        if buildpacks.is_empty() {
            return Err(Error::Unprocessable(format!(
                "No buildpacks are available for stack {stack}"
            )));
        }

        let now = self.now();
        let mut lifecycle = app.lifecycle.clone();
        lifecycle.stack = stack.clone();
        let mut build_metadata = Metadata::default();
        build_metadata.apply(&metadata);
        let droplet = Droplet {
            guid: self.new_guid(),
            app_guid: app.guid.clone(),
            package_guid: Some(package.guid.clone()),
            state: DropletState::AwaitingUpload,
            error: None,
            lifecycle: lifecycle.clone(),
            buildpacks: Vec::new(),
            process_types: Default::default(),
            execution_metadata: String::new(),
            sha256: None,
            image: None,
            metadata: Metadata::default(),
            created_at: now,
            updated_at: now,
        };
        let build = Build {
            guid: self.new_guid(),
            app_guid: app.guid.clone(),
            package_guid: package.guid.clone(),
            droplet_guid: Some(droplet.guid.clone()),
            state: BuildState::Staging,
            error: None,
            lifecycle,
            staging_memory_in_mb: STAGING_MEMORY_MB,
            staging_disk_in_mb: STAGING_DISK_MB,
            created_by_guid: actor.guid.clone(),
            created_by_name: actor.name.clone(),
            metadata: build_metadata,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            actor,
            "audit.app.build.create",
            app_target(app),
            json!({"build_guid": build.guid, "package_guid": package.guid}),
            Some(&located.space.guid),
            Some(&located.org.guid),
        );
        self.store
            .write_docs(
                &[DocOp::insert(&build), DocOp::insert(&droplet)],
                &[event],
                None,
            )
            .await?;

        let request = self
            .staging_request(&located, &build, &droplet, &package, &buildpacks, &stack)
            .await?;
        self.emit_app_log(&app.guid, "STG", "Staging app and tracing logs...");
        if let Err(e) = self
            .bbs
            .desire_task(
                &build.guid,
                STAGING_DOMAIN,
                stager::task_definition(&request),
            )
            .await
        {
            tracing::warn!(build = %build.guid, error = %e, "could not desire the staging task");
            return self
                .finish_build(&build.guid, Err(format!("StagingError - {e}")))
                .await;
        }
        Ok(build)
    }

    async fn staging_request(
        &self,
        located: &super::apps::Located,
        build: &Build,
        droplet: &Droplet,
        package: &Package,
        buildpacks: &[Buildpack],
        stack: &str,
    ) -> Result<StagingRequest, Error> {
        let app = &located.app;
        let group = self.group_variables("staging").await?;
        let uris = self.process_uris(&app.guid, WEB).await?;
        let mut env = bridge::env_vars(app_environment(
            &AppContext {
                app,
                process: None,
                space: &located.space,
                org: &located.org,
                uris: &uris,
                api_url: &self.settings.api_url,
                memory_mb: build.staging_memory_in_mb,
                disk_mb: build.staging_disk_in_mb,
            },
            &group,
        ));
        env.push(EnvironmentVariable::new("CF_STACK", stack));
        let post = |path: String| self.sign_internal_url_for("POST", &path, STAGING_URL_TTL);
        Ok(StagingRequest {
            app_guid: app.guid.clone(),
            stack: stack.to_owned(),
            memory_mb: build.staging_memory_in_mb,
            disk_mb: build.staging_disk_in_mb,
            env,
            package_url: self.sign_internal_url_for(
                "GET",
                &paths::package(&package.guid),
                STAGING_URL_TTL,
            ),
            buildpacks: buildpacks
                .iter()
                .map(|b| StagingBuildpack {
                    key: b.name.clone(),
                    url: self.sign_internal_url(&paths::buildpack(&b.guid)),
                    cache_key: format!("{}-{}", b.guid, b.sha256.as_deref().unwrap_or("")),
                })
                .collect(),
            skip_detect: !app.lifecycle.buildpacks.is_empty(),
            build_cache_download_url: self.sign_internal_url_for(
                "GET",
                &paths::build_cache(&app.guid, stack),
                STAGING_URL_TTL,
            ),
            build_cache_upload_url: post(paths::build_cache(&app.guid, stack)),
            droplet_upload_url: post(paths::droplet_upload(&droplet.guid)),
            completion_callback_url: post(paths::build_completed(&build.guid)),
            timeout_ms: STAGING_TIMEOUT.as_millis() as u64,
            egress_rules: self
                .egress_rules(&located.space.guid, SecurityGroupLifecycle::Staging)
                .await?,
        })
    }

    /// The staging task's completion, as the BBS posts it: a succeeded task's result file
    /// stages the droplet; a failed one fails build and droplet with CC's reason.
    pub(crate) async fn complete_build(
        &self,
        guid: &str,
        task: &ingot_bbs::Task,
    ) -> Result<Build, Error> {
        let outcome = if task.failed {
            Err(staging_error(&task.failure_reason))
        } else {
            serde_json::from_str::<StagingResult>(&task.result)
                .map_err(|e| format!("StagingError - Staging error: bad staging result: {e}"))
        };
        self.finish_build(guid, outcome).await
    }

    /// Moves a STAGING build (and its droplet) to STAGED or FAILED; a finished build stays as
    /// it is, so a repeated callback changes nothing.
    async fn finish_build(
        &self,
        guid: &str,
        outcome: Result<StagingResult, String>,
    ) -> Result<Build, Error> {
        let mut build = docs::get::<Build>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Build"))?;
        if build.state != BuildState::Staging {
            return Ok(build);
        }
        let droplet_guid = build.droplet_guid.clone().unwrap_or_default();
        let mut droplet = docs::get::<Droplet>(&*self.store, &droplet_guid)
            .await?
            .ok_or(Error::NotFound("Droplet"))?;
        let now = self.now();
        build.updated_at = now;
        droplet.updated_at = now;
        let outcome = outcome.and_then(|result| match droplet.sha256 {
            Some(_) => Ok(result),
            None => Err("StagingError - Staging error: the droplet was never uploaded".into()),
        });
        let mut events = Vec::new();
        match outcome {
            Ok(result) => {
                build.state = BuildState::Staged;
                droplet.state = DropletState::Staged;
                droplet.buildpacks = result.droplet_buildpacks();
                droplet.process_types = result.process_types;
                droplet.execution_metadata = result.execution_metadata;
                if let Some(app) = docs::get::<App>(&*self.store, &build.app_guid).await? {
                    let space = self.store.space(&app.space_guid).await?;
                    events.push(self.system_event(
                        &build,
                        "audit.app.droplet.create",
                        &app,
                        space.as_ref().map(|s| (s.guid.as_str(), s.organization_guid.as_str())),
                        json!({"droplet_guid": droplet.guid, "package_guid": build.package_guid}),
                    ));
                }
                self.emit_app_log(&build.app_guid, "STG", "Uploaded droplet");
            }
            Err(error) => {
                build.state = BuildState::Failed;
                build.error = Some(error.clone());
                droplet.state = DropletState::Failed;
                droplet.error = Some(error.clone());
                self.emit_app_log(&build.app_guid, "STG", &format!("Staging failed: {error}"));
            }
        }
        self.store
            .write_docs(
                &[DocOp::update(&build), DocOp::update(&droplet)],
                &events,
                None,
            )
            .await?;
        let counter = match build.state {
            BuildState::Staged => &self.staging_counts.succeeded,
            _ => &self.staging_counts.failed,
        };
        counter.inc();
        Ok(build)
    }

    /// An audit event done on behalf of the build's creator.
    fn system_event(
        &self,
        build: &Build,
        event_type: &str,
        app: &App,
        space_org: Option<(&str, &str)>,
        data: serde_json::Value,
    ) -> crate::model::AuditEvent {
        crate::model::AuditEvent {
            guid: self.new_guid(),
            event_type: event_type.to_owned(),
            actor: AuditActor {
                guid: build.created_by_guid.clone(),
                actor_type: "user".into(),
                name: build.created_by_name.clone(),
            },
            target: app_target(app),
            data,
            space_guid: space_org.map(|(s, _)| s.to_owned()),
            organization_guid: space_org.map(|(_, o)| o.to_owned()),
            created_at: self.now(),
        }
    }

    /// Fails builds staging longer than the staging timeout (plus the time their URLs allow),
    /// whose task was lost.
    pub(crate) async fn expire_builds(&self) -> Result<usize, Error> {
        let deadline = self.now() - chrono::Duration::from_std(STAGING_URL_TTL).unwrap_or_default();
        let stuck = docs::list::<Build>(&*self.store, &[Filter::eq("state", "STAGING")]).await?;
        let mut expired = 0;
        for build in stuck.into_iter().filter(|b| b.created_at < deadline) {
            self.finish_build(&build.guid, Err(bits_rules::staging_timeout_error()))
                .await?;
            expired += 1;
        }
        Ok(expired)
    }
}
