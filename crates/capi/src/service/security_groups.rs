//! Application security groups. Admins create, change, enable globally and delete them;
//! admins, org managers and space managers bind the groups they can see to their spaces.
//! Readers see the globally enabled groups and those bound to spaces they can see.
//!
//! A change reaches containers only when Diego is next asked for them (see
//! `bridge::egress`): running apps get it on restart, staging on the next restage.

use std::collections::{BTreeSet, HashSet};

use ingot_bbs::SecurityGroupRule;

use super::{Actor, Service, spaces::target};
use crate::{
    Error, bridge,
    model::{
        GloballyEnabled, Job, JobOperation, SecurityGroup, SecurityGroupLifecycle,
        SecurityGroupSet, SecurityGroupSpace, SecurityGroupView, Seed, Space,
        permissions::{Action, Decision},
        query::{ListParams, Page},
        security_group::default_groups,
        security_group_rule::Rule,
        validation::humanize,
    },
    store::{DocOp, JobDone, StoreError, StoreResult, docs},
};

use SecurityGroupLifecycle::{Running, Staging};

/// The seed marker of the default groups.
const SEED: &str = "security_groups";

/// How often a bind retries when a concurrent bind of the same space got there first.
const BIND_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct NewSecurityGroup {
    pub name: String,
    pub globally_enabled: GloballyEnabled,
    pub rules: Vec<Rule>,
    pub running_spaces: Vec<String>,
    pub staging_spaces: Vec<String>,
}

/// What a PATCH changes; `globally_enabled` merges field by field, `rules` replaces.
#[derive(Debug, Clone, Default)]
pub struct SecurityGroupPatch {
    pub name: Option<String>,
    pub running: Option<bool>,
    pub staging: Option<bool>,
    pub rules: Option<Vec<Rule>>,
}

fn not_found() -> Error {
    Error::NotFound("Security group")
}

fn name_taken(name: &str) -> impl Fn(StoreError) -> Error + '_ {
    move |e| match e {
        StoreError::Conflict(_) => {
            Error::Unprocessable(format!("Security group with name '{name}' already exists."))
        }
        other => other.into(),
    }
}

/// Guids as CC's messages print a list of them: `["a", "b"]`.
fn guid_list(guids: &[&str]) -> String {
    let quoted: Vec<String> = guids.iter().map(|g| format!("\"{g}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A `true`/`false` list filter such as `globally_enabled_running`.
fn bool_filter(params: &ListParams, name: &str) -> Result<Option<bool>, Error> {
    match params.filters.get(name).map(Vec::as_slice) {
        None => Ok(None),
        Some([value]) if value == "true" => Ok(Some(true)),
        Some([value]) if value == "false" => Ok(Some(false)),
        Some(_) => Err(Error::Unprocessable(format!(
            "{} must be a boolean",
            humanize(name)
        ))),
    }
}

impl Service {
    /// Every group and every binding.
    pub(crate) async fn security_group_set(&self) -> Result<SecurityGroupSet, Error> {
        Ok(SecurityGroupSet {
            groups: docs::list(&*self.store, &[]).await?,
            bindings: docs::list(&*self.store, &[]).await?,
        })
    }

    /// The egress rules of `lifecycle` containers in the space.
    pub(crate) async fn egress_rules(
        &self,
        space_guid: &str,
        lifecycle: SecurityGroupLifecycle,
    ) -> Result<Vec<SecurityGroupRule>, Error> {
        let set = self.security_group_set().await?;
        Ok(bridge::egress::egress_rules(
            &set.applying_to(space_guid, lifecycle),
        ))
    }

    /// Every group the caller may read, each with the bound spaces the caller may see.
    async fn readable_security_groups(
        &self,
        actor: &Actor,
    ) -> Result<Vec<SecurityGroupView>, Error> {
        self.require_read(actor)?;
        let set = self.security_group_set().await?;
        // None: every space is visible.
        let visible: Option<HashSet<String>> = if actor.perms.reads_everything() {
            None
        } else {
            let bound: BTreeSet<&str> =
                set.bindings.iter().map(|b| b.space_guid.as_str()).collect();
            let spaces = self
                .store
                .spaces_by_guids(&bound.into_iter().collect::<Vec<_>>())
                .await?;
            Some(
                spaces
                    .into_iter()
                    .filter(|s| actor.perms.can_see_space(&s.organization_guid, &s.guid))
                    .map(|s| s.guid)
                    .collect(),
            )
        };
        let seen = |guids: Vec<String>| -> Vec<String> {
            guids
                .into_iter()
                .filter(|g| visible.as_ref().is_none_or(|v| v.contains(g)))
                .collect()
        };
        Ok(set
            .groups
            .iter()
            .map(|group| SecurityGroupView {
                running_spaces: seen(set.spaces(&group.guid, Running)),
                staging_spaces: seen(set.spaces(&group.guid, Staging)),
                group: group.clone(),
            })
            .filter(|view| {
                visible.is_none()
                    || view.group.globally_enabled.any()
                    || !view.running_spaces.is_empty()
                    || !view.staging_spaces.is_empty()
            })
            .collect())
    }

    pub async fn list_security_groups(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<SecurityGroupView>, Error> {
        let running = bool_filter(params, "globally_enabled_running")?;
        let staging = bool_filter(params, "globally_enabled_staging")?;
        let bound_to = |spaces: &[String], filter: &str| {
            params
                .filters
                .get(filter)
                .is_none_or(|wanted| spaces.iter().any(|s| wanted.contains(s)))
        };
        let views = self
            .readable_security_groups(actor)
            .await?
            .into_iter()
            .filter(|v| {
                let enabled = v.group.globally_enabled;
                params.allows("guids", &v.group.guid)
                    && params.allows("names", &v.group.name)
                    && running.is_none_or(|r| enabled.running == r)
                    && staging.is_none_or(|s| enabled.staging == s)
                    && bound_to(&v.running_spaces, "running_space_guids")
                    && bound_to(&v.staging_spaces, "staging_space_guids")
            })
            .collect();
        Ok(params.select(views))
    }

    pub async fn security_group(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<SecurityGroupView, Error> {
        self.readable_security_groups(actor)
            .await?
            .into_iter()
            .find(|v| v.group.guid == guid)
            .ok_or_else(not_found)
    }

    /// A readable group the caller may change: admins only.
    async fn writable_security_group(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<SecurityGroupView, Error> {
        let view = self.security_group(actor, guid).await?;
        self.require_admin(actor)?;
        Ok(view)
    }

    pub async fn create_security_group(
        &self,
        actor: &Actor,
        new: NewSecurityGroup,
    ) -> Result<SecurityGroupView, Error> {
        self.require_admin(actor)?;
        let running: BTreeSet<&str> = new.running_spaces.iter().map(String::as_str).collect();
        let staging: BTreeSet<&str> = new.staging_spaces.iter().map(String::as_str).collect();
        let wanted: Vec<&str> = running.union(&staging).copied().collect();
        let existing: HashSet<String> = self
            .store
            .spaces_by_guids(&wanted)
            .await?
            .into_iter()
            .map(|s| s.guid)
            .collect();
        for requested in [&new.staging_spaces, &new.running_spaces] {
            let missing: Vec<&str> = requested
                .iter()
                .map(String::as_str)
                .filter(|g| !existing.contains(*g))
                .collect();
            if !missing.is_empty() {
                return Err(Error::Unprocessable(format!(
                    "Spaces with guids {} do not exist.",
                    guid_list(&missing)
                )));
            }
        }
        let now = self.now();
        let group = SecurityGroup {
            guid: self.new_guid(),
            name: new.name,
            globally_enabled: new.globally_enabled,
            rules: new.rules,
            created_at: now,
            updated_at: now,
        };
        let bindings: Vec<SecurityGroupSpace> = [(Running, &running), (Staging, &staging)]
            .into_iter()
            .flat_map(|(lifecycle, spaces)| spaces.iter().map(move |space| (lifecycle, *space)))
            .map(|(lifecycle, space)| self.binding(&group.guid, space, lifecycle))
            .collect();
        let mut ops = vec![DocOp::insert(&group)];
        ops.extend(bindings.iter().map(DocOp::insert));
        self.store
            .write_docs(&ops, &[], None)
            .await
            .map_err(name_taken(&group.name))?;
        Ok(SecurityGroupView {
            running_spaces: running.into_iter().map(str::to_owned).collect(),
            staging_spaces: staging.into_iter().map(str::to_owned).collect(),
            group,
        })
    }

    fn binding(
        &self,
        group: &str,
        space: &str,
        lifecycle: SecurityGroupLifecycle,
    ) -> SecurityGroupSpace {
        SecurityGroupSpace {
            guid: self.new_guid(),
            security_group_guid: group.to_owned(),
            space_guid: space.to_owned(),
            lifecycle,
            created_at: self.now(),
        }
    }

    pub async fn update_security_group(
        &self,
        actor: &Actor,
        guid: &str,
        patch: SecurityGroupPatch,
    ) -> Result<SecurityGroupView, Error> {
        let mut view = self.writable_security_group(actor, guid).await?;
        let group = &mut view.group;
        if let Some(name) = patch.name {
            group.name = name;
        }
        if let Some(running) = patch.running {
            group.globally_enabled.running = running;
        }
        if let Some(staging) = patch.staging {
            group.globally_enabled.staging = staging;
        }
        if let Some(rules) = patch.rules {
            group.rules = rules;
        }
        group.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&*group)], &[], None)
            .await
            .map_err(name_taken(&group.name))?;
        Ok(view)
    }

    /// Starts the job that deletes the group; its bindings go with it.
    pub async fn delete_security_group(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let view = self.writable_security_group(actor, guid).await?;
        self.start_job(JobOperation::SecurityGroupDelete, &view.group.guid, &[])
            .await
    }

    pub(crate) async fn run_security_group_delete(
        &self,
        guid: &str,
        done: JobDone<'_>,
    ) -> StoreResult<()> {
        self.store
            .write_docs(&[DocOp::delete::<SecurityGroup>(guid)], &[], Some(done))
            .await
    }

    /// Binds the group to the spaces for `lifecycle`; returns every space it is bound to
    /// for it. The caller must be able to update each space (admins, org and space managers).
    pub async fn bind_security_group(
        &self,
        actor: &Actor,
        guid: &str,
        lifecycle: SecurityGroupLifecycle,
        space_guids: &[String],
    ) -> Result<Vec<String>, Error> {
        let group = self.security_group(actor, guid).await?.group;
        let wanted: BTreeSet<&str> = space_guids.iter().map(String::as_str).collect();
        let spaces = self
            .store
            .spaces_by_guids(&wanted.iter().copied().collect::<Vec<_>>())
            .await?;
        for space in &spaces {
            self.require_space_update(actor, space).await?;
        }
        let found: HashSet<&str> = spaces.iter().map(|s| s.guid.as_str()).collect();
        let missing: Vec<&str> = space_guids
            .iter()
            .map(String::as_str)
            .filter(|g| !found.contains(g))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Unprocessable(format!(
                "Spaces with guids {} do not exist, or you do not have access to them.",
                guid_list(&missing)
            )));
        }
        for _ in 0..BIND_ATTEMPTS {
            let bound = self
                .security_group_set()
                .await?
                .spaces(&group.guid, lifecycle);
            let new: Vec<SecurityGroupSpace> = wanted
                .iter()
                .filter(|s| !bound.iter().any(|b| b == *s))
                .map(|space| self.binding(&group.guid, space, lifecycle))
                .collect();
            let ops: Vec<DocOp> = new.iter().map(DocOp::insert).collect();
            match self.store.write_docs(&ops, &[], None).await {
                Ok(()) => {
                    let mut all = bound;
                    all.extend(new.into_iter().map(|b| b.space_guid));
                    return Ok(all);
                }
                // A concurrent bind of one of these spaces: look again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Unavailable(
            "Too many concurrent changes to this security group; try again".into(),
        ))
    }

    pub async fn unbind_security_group(
        &self,
        actor: &Actor,
        guid: &str,
        lifecycle: SecurityGroupLifecycle,
        space_guid: &str,
    ) -> Result<(), Error> {
        let group = self.security_group(actor, guid).await?.group;
        let not_bound = || {
            Error::Unprocessable(format!(
                "Unable to unbind security group from space with guid '{space_guid}'. Ensure the space is bound to this security group."
            ))
        };
        let space = self.store.space(space_guid).await?.ok_or_else(not_bound)?;
        self.require_space_update(actor, &space).await?;
        let binding = self
            .security_group_set()
            .await?
            .bindings
            .into_iter()
            .find(|b| {
                b.security_group_guid == group.guid
                    && b.space_guid == space.guid
                    && b.lifecycle == lifecycle
            })
            .ok_or_else(not_bound)?;
        self.store
            .write_docs(
                &[DocOp::delete::<SecurityGroupSpace>(&binding.guid)],
                &[],
                None,
            )
            .await?;
        Ok(())
    }

    /// CC's "can update this active space": admins, the org's managers and the space's
    /// managers, in an organization that is not suspended.
    async fn require_space_update(&self, actor: &Actor, space: &Space) -> Result<(), Error> {
        let org = self
            .store
            .organization(&space.organization_guid)
            .await?
            .ok_or(Error::NotFound("Space"))?;
        match actor.perms.decide(Action::UpdateSpace, target(space, &org)) {
            Decision::Allow => Ok(()),
            Decision::Deny | Decision::Invisible => Err(Error::NotAuthorized),
        }
    }

    /// The groups that apply to `lifecycle` containers in a space the caller can see; each
    /// shows only this space among its bindings.
    pub async fn space_security_groups(
        &self,
        actor: &Actor,
        space_guid: &str,
        lifecycle: SecurityGroupLifecycle,
        params: &ListParams,
    ) -> Result<Page<SecurityGroupView>, Error> {
        let (space, _) = self.space(actor, space_guid).await?;
        let set = self.security_group_set().await?;
        let only_this = |group: &SecurityGroup, bound_for| -> Vec<String> {
            set.spaces(&group.guid, bound_for)
                .into_iter()
                .filter(|s| *s == space.guid)
                .collect()
        };
        let views = set
            .applying_to(&space.guid, lifecycle)
            .into_iter()
            .filter(|g| params.allows("guids", &g.guid) && params.allows("names", &g.name))
            .map(|group| SecurityGroupView {
                running_spaces: only_this(group, Running),
                staging_spaces: only_this(group, Staging),
                group: group.clone(),
            })
            .collect();
        Ok(params.select(views))
    }

    /// Creates the default groups, globally enabled, on the first start of a CCDB only: a
    /// default an admin deleted stays deleted.
    pub async fn seed_security_groups(&self) -> Result<(), Error> {
        if docs::get::<Seed>(&*self.store, SEED).await?.is_some() {
            return Ok(());
        }
        let now = self.now();
        let mut ops = vec![DocOp::insert(&Seed {
            guid: SEED.into(),
            created_at: now,
        })];
        for ((name, rules), order) in default_groups().into_iter().zip(0..) {
            // A microsecond apart, so they list in this order.
            let created_at = now + chrono::Duration::microseconds(order);
            ops.push(DocOp::insert(&SecurityGroup {
                guid: self.new_guid(),
                name: name.into(),
                globally_enabled: GloballyEnabled {
                    running: true,
                    staging: true,
                },
                rules,
                created_at,
                updated_at: created_at,
            }));
        }
        match self.store.write_docs(&ops, &[], None).await {
            // Another Cloud Controller seeded first.
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
