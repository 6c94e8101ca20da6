//! The Cloud Controller's workflows: authenticate, authorise, validate, then one store write.
//! Handlers call only this; it calls only the store and the user directory.

pub(crate) mod app_log;
mod apps;
mod audit_events;
mod buildpacks;
mod builds;
mod domains;
mod droplets;
mod environment;
mod feature_flags;
pub(crate) mod internal;
mod jobs;
mod manifests;
mod organizations;
mod packages;
mod processes;
mod quotas;
mod roles;
mod routes;
mod security_groups;
mod spaces;
mod staging_counts;
mod stats;
mod tasks;
mod users;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tokio::sync::Notify;

use chrono::{DateTime, Utc};
use ingot_bbs::BbsApi;
use ingot_core::{Clock, IdGen};
use ingot_logging::{Envelope, EnvelopeSink, LogType};
use ingot_uaa::{TokenError, TokenVerifier, UserDirectory};

pub use apps::{AppPatch, LifecyclePatch, NewApp};
pub use buildpacks::BuildpackFields;
pub use domains::NewDomain;
pub use organizations::{NewOrganization, OrganizationPatch};
pub use packages::{NewPackage, ResourceRef};
pub use processes::{ProcessPatch, ProcessView};
pub use roles::{NewRole, RoleList, RoleUser};
pub use routes::{NewRoute, RouteList, RouteView};
pub use security_groups::{NewSecurityGroup, SecurityGroupPatch};
pub use spaces::{NewSpace, SpacePatch};
pub use tasks::{NewTask, TaskView, task_completed_path};

use crate::{
    Error, Settings,
    model::{
        AuditActor, AuditEvent, AuditTarget, Organization, Space, User,
        permissions::{Decision, GlobalAccess, Permissions},
        user::UserView,
    },
    store::Store,
};

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub guid: String,
    /// The user name for users, the client id for clients.
    pub name: String,
    pub perms: Permissions,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.perms.is_admin()
    }

    fn audit(&self) -> AuditActor {
        AuditActor {
            guid: self.guid.clone(),
            actor_type: "user".into(),
            name: self.name.clone(),
        }
    }
}

/// The Service's collaborators.
pub struct Deps {
    pub directory: Arc<dyn UserDirectory>,
    pub verifier: TokenVerifier,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub bbs: Arc<dyn BbsApi>,
    pub logs: Arc<dyn EnvelopeSink>,
    pub metrics: Arc<dyn crate::InstanceMetrics>,
}

pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    directory: Arc<dyn UserDirectory>,
    verifier: TokenVerifier,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    pub(crate) bbs: Arc<dyn BbsApi>,
    /// The apps' logs (log-cache): staging progress and API actions.
    logs: Arc<dyn EnvelopeSink>,
    /// Instances' usage for process stats (container metrics in log-cache).
    pub(crate) metrics: Arc<dyn crate::InstanceMetrics>,
    pub(crate) settings: Settings,
    /// Packages, droplets, buildpacks and the resource cache.
    pub(crate) blobs: Arc<dyn crate::blobstore::Blobstore>,
    /// Wakes nsync so a change of desired state reaches Diego now, not at the next bulk sync.
    pub(crate) nsync: Arc<Notify>,
    pub(crate) default_quota_guid: String,
    /// Users already known to exist in the CCDB, so first-use creation costs one write ever.
    known_users: Mutex<HashSet<String>>,
    /// How stagings ended, for operators' metrics.
    pub(crate) staging_counts: staging_counts::StagingCounts,
}

/// Turns a permission decision into the error CC gives for it.
pub(crate) fn require(decision: Decision, kind: &'static str) -> Result<(), Error> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(Error::NotAuthorized),
        Decision::Invisible => Err(Error::NotFound(kind)),
    }
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        deps: Deps,
        settings: Settings,
        default_quota_guid: String,
    ) -> Self {
        Self {
            store,
            directory: deps.directory,
            verifier: deps.verifier,
            clock: deps.clock,
            ids: deps.ids,
            bbs: deps.bbs,
            logs: deps.logs,
            metrics: deps.metrics,
            blobs: Arc::new(crate::blobstore::LocalBlobstore::new(
                &settings.blobstore_dir,
            )),
            settings,
            nsync: Arc::new(Notify::new()),
            default_quota_guid,
            known_users: Mutex::new(HashSet::new()),
            staging_counts: staging_counts::StagingCounts::default(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn new_guid(&self) -> String {
        self.ids.new_guid()
    }

    /// Asks nsync to converge Diego's LRPs with the desired state now.
    pub(crate) fn nudge_nsync(&self) {
        self.nsync.notify_one();
    }

    /// A line in an app's logs from the Cloud Controller (`API`) or on its behalf (`STG`).
    pub(crate) fn emit_app_log(&self, app_guid: &str, source_type: &str, message: &str) {
        let now = self.now().timestamp_nanos_opt().unwrap_or_default();
        self.logs.ingest(Envelope::log(
            app_guid,
            "0",
            source_type,
            LogType::Out,
            message,
            now,
        ));
    }

    /// Verifies the `Authorization` header, creates the caller's user record on first use and
    /// loads their roles.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Actor, Error> {
        let claims = self.verifier.verify_header(header).map_err(|e| match e {
            TokenError::Missing => Error::NotAuthenticated,
            TokenError::Expired | TokenError::Invalid(_) => Error::InvalidAuthToken,
        })?;
        let guid = claims.user_id.clone().unwrap_or_else(|| claims.sub.clone());
        let name = claims
            .user_name
            .clone()
            .unwrap_or_else(|| claims.client_id.clone());
        self.ensure_user(&guid).await?;
        let global = if claims.has_scope("cloud_controller.admin") {
            GlobalAccess::Admin
        } else if claims.has_scope("cloud_controller.admin_read_only") {
            GlobalAccess::AdminReadOnly
        } else if claims.has_scope("cloud_controller.global_auditor") {
            GlobalAccess::GlobalAuditor
        } else {
            GlobalAccess::None
        };
        let read_scope = claims.has_scope("cloud_controller.read") || global != GlobalAccess::None;
        let write_scope = claims.has_scope("cloud_controller.write");
        let roles = self.store.roles_for_user(&guid).await?;
        Ok(Actor {
            guid,
            name,
            perms: Permissions {
                global,
                read_scope,
                write_scope,
                roles,
            },
        })
    }

    /// Creates the user record unless it exists (CC creates users on first sight).
    pub(crate) async fn ensure_user(&self, guid: &str) -> Result<(), Error> {
        let known = self
            .known_users
            .lock()
            .map(|set| set.contains(guid))
            .unwrap_or(false);
        if !known {
            self.store.ensure_user(&self.blank_user(guid)).await?;
            if let Ok(mut set) = self.known_users.lock() {
                set.insert(guid.to_owned());
            }
        }
        Ok(())
    }

    pub(crate) fn forget_user(&self, guid: &str) {
        if let Ok(mut set) = self.known_users.lock() {
            set.remove(guid);
        }
    }

    pub(crate) fn blank_user(&self, guid: &str) -> User {
        let now = self.now();
        User {
            guid: guid.to_owned(),
            metadata: Default::default(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Joins users with their UAA names. Users UAA does not know (clients) get none.
    pub(crate) async fn user_views(&self, users: Vec<User>) -> Result<Vec<UserView>, Error> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = users.iter().map(|u| u.guid.clone()).collect();
        let found: HashMap<String, ingot_uaa::UaaUser> = self
            .directory
            .find_by_ids(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        Ok(users
            .into_iter()
            .map(|user| {
                let uaa = found.get(&user.guid);
                UserView {
                    username: uaa.map(|u| u.username.clone()),
                    origin: uaa.map(|u| u.origin.clone()),
                    user,
                }
            })
            .collect())
    }

    pub(crate) fn event(
        &self,
        actor: &Actor,
        event_type: &str,
        target: AuditTarget,
        data: serde_json::Value,
        space_guid: Option<&str>,
        organization_guid: Option<&str>,
    ) -> AuditEvent {
        AuditEvent {
            guid: self.new_guid(),
            event_type: event_type.to_owned(),
            actor: actor.audit(),
            target,
            data,
            space_guid: space_guid.map(str::to_owned),
            organization_guid: organization_guid.map(str::to_owned),
            created_at: self.now(),
        }
    }

    /// The organization if it exists and the caller may see it.
    pub(crate) async fn visible_organization(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<Organization, Error> {
        match self.store.organization(guid).await? {
            Some(org) if actor.perms.can_see_organization(&org.guid) => Ok(org),
            _ => Err(Error::NotFound("Organization")),
        }
    }

    /// The space and its organization if the caller may see the space.
    pub(crate) async fn visible_space(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Space, Organization), Error> {
        let space = self
            .store
            .space(guid)
            .await?
            .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
            .ok_or(Error::NotFound("Space"))?;
        let org = self
            .store
            .organization(&space.organization_guid)
            .await?
            .ok_or(Error::NotFound("Space"))?;
        Ok((space, org))
    }

    /// The distinct guids an "include" asks for, for the store's `*_by_guids` reads.
    pub(crate) fn included_guids<'a>(guids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        guids
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    pub(crate) async fn feature_enabled(&self, name: &str) -> Result<bool, Error> {
        Ok(self
            .store
            .feature_flag(name)
            .await?
            .map(|f| f.enabled)
            .or_else(|| crate::model::feature_flag::default_enabled(name))
            .unwrap_or(false))
    }

    /// Reads need cloud_controller.read (or a global read scope).
    pub(crate) fn require_read(&self, actor: &Actor) -> Result<(), Error> {
        if actor.perms.read_scope || actor.is_admin() {
            Ok(())
        } else {
            Err(Error::NotAuthorized)
        }
    }
}
