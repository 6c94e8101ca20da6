//! Admin buildpacks (ordered by position, zips in the blobstore) and stacks.

use serde_json::json;
use tempfile::TempPath;

use super::{Actor, Service};
use crate::{
    Error,
    archive::{self, ArchiveError, Limits, sha256_bytes, sha256_file},
    blobstore::{BlobStream, blob_error as io_error, keys},
    model::{
        AuditTarget, Buildpack, BuildpackState, Job, JobOperation, Metadata, MetadataPatch, Stack,
        bits_rules::reposition,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, JobDone, StoreError, StoreResult, docs},
};

#[derive(Debug, Clone, Default)]
pub struct BuildpackFields {
    pub name: Option<String>,
    /// Outer None: not given; inner None: any stack.
    pub stack: Option<Option<String>>,
    pub position: Option<u32>,
    pub enabled: Option<bool>,
    pub locked: Option<bool>,
    pub metadata: Option<MetadataPatch>,
}

fn target(b: &Buildpack) -> AuditTarget {
    AuditTarget {
        guid: b.guid.clone(),
        target_type: "buildpack".into(),
        name: b.name.clone(),
    }
}

fn name_taken(b: &Buildpack) -> Error {
    Error::Unprocessable(match &b.stack {
        Some(stack) => format!(
            "Buildpack with name '{}' and stack '{stack}' already exists",
            b.name
        ),
        None => format!(
            "Buildpack with name '{}' and an unassigned stack already exists",
            b.name
        ),
    })
}

fn conflict(b: &Buildpack) -> impl Fn(StoreError) -> Error + '_ {
    move |e| match e {
        StoreError::Conflict(_) => name_taken(b),
        other => other.into(),
    }
}

impl Service {
    pub(super) fn require_admin(&self, actor: &Actor) -> Result<(), Error> {
        if actor.is_admin() {
            Ok(())
        } else {
            Err(Error::NotAuthorized)
        }
    }

    /// Every buildpack, by position.
    pub(super) async fn buildpacks_by_position(&self) -> Result<Vec<Buildpack>, Error> {
        let mut all = docs::list::<Buildpack>(&*self.store, &[]).await?;
        all.sort_by_key(|b| b.position);
        Ok(all)
    }

    pub async fn list_buildpacks(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<Buildpack>, Error> {
        self.require_read(actor)?;
        let all = self
            .buildpacks_by_position()
            .await?
            .into_iter()
            .filter(|b| {
                params.allows("names", &b.name)
                    && params.allows("guids", &b.guid)
                    && params.allows_opt("stacks", b.stack.as_deref())
            })
            .collect();
        Ok(params.select(all))
    }

    pub async fn buildpack(&self, actor: &Actor, guid: &str) -> Result<Buildpack, Error> {
        self.require_read(actor)?;
        docs::get::<Buildpack>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Buildpack"))
    }

    async fn stack_known(&self, stack: &Option<String>) -> Result<(), Error> {
        if let Some(name) = stack
            && docs::find::<Stack>(&*self.store, &[Filter::eq("name", name.as_str())])
                .await?
                .is_none()
        {
            return Err(Error::Unprocessable(format!(
                "Stack '{name}' does not exist"
            )));
        }
        Ok(())
    }

    /// A new buildpack, AWAITING_UPLOAD, at `position` (default last), shifting the others.
    pub async fn create_buildpack(
        &self,
        actor: &Actor,
        fields: BuildpackFields,
    ) -> Result<Buildpack, Error> {
        self.require_admin(actor)?;
        let stack = fields.stack.clone().flatten();
        self.stack_known(&stack).await?;
        let mut all = self.buildpacks_by_position().await?;
        let now = self.now();
        let mut metadata = Metadata::default();
        if let Some(m) = &fields.metadata {
            metadata.apply(m);
        }
        let buildpack = Buildpack {
            guid: self.new_guid(),
            name: fields.name.unwrap_or_default(),
            stack,
            position: all.len() as u32 + 1,
            enabled: fields.enabled.unwrap_or(true),
            locked: fields.locked.unwrap_or(false),
            state: BuildpackState::AwaitingUpload,
            filename: None,
            sha256: None,
            metadata,
            created_at: now,
            updated_at: now,
        };
        all.push(buildpack.clone());
        let moved = reposition(&all, &buildpack.guid, fields.position.unwrap_or(u32::MAX));
        let created = moved
            .iter()
            .find(|b| b.guid == buildpack.guid)
            .cloned()
            .unwrap_or_else(|| buildpack.clone());
        let mut ops = vec![DocOp::insert(&created)];
        ops.extend(
            moved
                .iter()
                .filter(|b| b.guid != created.guid)
                .map(DocOp::update),
        );
        let event = self.event(
            actor,
            "audit.buildpack.create",
            target(&created),
            json!({"request": {"name": created.name, "position": created.position}}),
            None,
            None,
        );
        self.store
            .write_docs(&ops, &[event], None)
            .await
            .map_err(conflict(&created))?;
        Ok(created)
    }

    pub async fn update_buildpack(
        &self,
        actor: &Actor,
        guid: &str,
        fields: BuildpackFields,
    ) -> Result<Buildpack, Error> {
        let before = self.buildpack(actor, guid).await?;
        self.require_admin(actor)?;
        let mut after = before.clone();
        if let Some(name) = fields.name {
            after.name = name;
        }
        if let Some(stack) = fields.stack {
            if before.stack.is_some() && before.stack != stack {
                return Err(Error::Unprocessable(
                    "Stack cannot be changed once it is set".into(),
                ));
            }
            self.stack_known(&stack).await?;
            after.stack = stack;
        }
        if let Some(enabled) = fields.enabled {
            after.enabled = enabled;
        }
        if let Some(locked) = fields.locked {
            after.locked = locked;
        }
        if let Some(m) = &fields.metadata {
            after.metadata.apply(m);
        }
        after.updated_at = self.now();
        let mut ops = Vec::new();
        if let Some(position) = fields.position {
            let all: Vec<Buildpack> = self
                .buildpacks_by_position()
                .await?
                .into_iter()
                .map(|b| {
                    if b.guid == after.guid {
                        after.clone()
                    } else {
                        b
                    }
                })
                .collect();
            for moved in reposition(&all, guid, position) {
                if moved.guid == after.guid {
                    after.position = moved.position;
                } else {
                    ops.push(DocOp::update(&moved));
                }
            }
        }
        ops.insert(0, DocOp::update(&after));
        let event = self.event(
            actor,
            "audit.buildpack.update",
            target(&after),
            json!({"request": {}}),
            None,
            None,
        );
        self.store
            .write_docs(&ops, &[event], None)
            .await
            .map_err(conflict(&after))?;
        Ok(after)
    }

    pub async fn delete_buildpack(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let buildpack = self.buildpack(actor, guid).await?;
        self.require_admin(actor)?;
        let event = self.event(
            actor,
            "audit.buildpack.delete",
            target(&buildpack),
            json!({}),
            None,
            None,
        );
        self.start_job(JobOperation::BuildpackDelete, guid, &[event])
            .await
    }

    /// The job's work: the record goes and the positions after it close up.
    pub(crate) async fn run_buildpack_delete(
        &self,
        guid: &str,
        done: JobDone<'_>,
    ) -> StoreResult<()> {
        let mut all = docs::list::<Buildpack>(&*self.store, &[]).await?;
        all.sort_by_key(|b| b.position);
        let gone = all.iter().find(|b| b.guid == guid).cloned();
        let rest: Vec<Buildpack> = all.into_iter().filter(|b| b.guid != guid).collect();
        let mut ops = vec![DocOp::delete::<Buildpack>(guid)];
        ops.extend(
            rest.iter()
                .enumerate()
                .filter(|(i, b)| b.position != *i as u32 + 1)
                .map(|(i, b)| {
                    DocOp::update(&Buildpack {
                        position: i as u32 + 1,
                        ..b.clone()
                    })
                }),
        );
        self.store.write_docs(&ops, &[], Some(done)).await?;
        if let Some(sha) = gone.and_then(|b| b.sha256)
            && !rest.iter().any(|b| b.sha256.as_deref() == Some(&sha))
            && let Err(e) = self.blobs.delete(&keys::buildpack(&sha)).await
        {
            tracing::warn!(buildpack = guid, error = %e, "could not delete the buildpack's bits");
        }
        Ok(())
    }

    /// Stores an uploaded zip after checking it like a package (a locked buildpack refuses),
    /// and returns the finished job the CLI polls.
    pub async fn upload_buildpack(
        &self,
        actor: &Actor,
        guid: &str,
        filename: &str,
        zip: TempPath,
    ) -> Result<Job, Error> {
        let mut buildpack = self.buildpack(actor, guid).await?;
        self.require_admin(actor)?;
        if buildpack.locked {
            return Err(Error::Unprocessable("Buildpack is locked".into()));
        }
        let sha = self.store_buildpack_zip(zip).await?;
        buildpack.sha256 = Some(sha);
        buildpack.filename = Some(filename.to_owned());
        buildpack.state = BuildpackState::Ready;
        buildpack.updated_at = self.now();
        let event = self.event(
            actor,
            "audit.buildpack.upload",
            target(&buildpack),
            json!({"request": {"filename": filename}}),
            None,
            None,
        );
        self.store
            .write_docs(&[DocOp::update(&buildpack)], &[], None)
            .await?;
        // The work is done; the job only reports it, as the CLI polls one.
        self.start_job(JobOperation::BuildpackUpload, guid, &[event])
            .await
    }

    async fn store_buildpack_zip(&self, zip: TempPath) -> Result<String, Error> {
        let path = zip.to_path_buf();
        let limits = Limits::of(&self.settings);
        let sha = tokio::task::spawn_blocking(move || {
            archive::check(&path, &limits)?;
            Ok::<_, ArchiveError>(sha256_file(&path)?)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| match e {
            ArchiveError::Invalid(msg) => {
                Error::Unprocessable(format!("Buildpack zip error: {msg}"))
            }
            ArchiveError::Io(e) => io_error(e),
        })?;
        self.blobs
            .put_file(&keys::buildpack(&sha), &zip)
            .await
            .map_err(io_error)?;
        Ok(sha)
    }

    /// A buildpack's zip by guid (the internal download for staging tasks).
    pub(crate) async fn buildpack_bits(&self, guid: &str) -> Result<(u64, BlobStream), Error> {
        let sha = docs::get::<Buildpack>(&*self.store, guid)
            .await?
            .and_then(|b| b.sha256)
            .ok_or(Error::NotFound("Buildpack"))?;
        self.blobs
            .get(&keys::buildpack(&sha))
            .await
            .map_err(io_error)?
            .ok_or(Error::NotFound("Buildpack"))
    }

    /// Installs the built-in buildpacks missing from the CCDB (after the existing ones, in the
    /// given order) and refreshes the bits of unlocked built-ins whose zip changed. Buildpacks
    /// users created are left alone. Also seeds the stacks.
    pub async fn seed_builtin_buildpacks(&self) -> Result<(), Error> {
        self.seed_stacks().await?;
        for builtin in &self.settings.builtin_buildpacks {
            let existing = docs::find::<Buildpack>(
                &*self.store,
                &[
                    Filter::eq("name", builtin.name.as_str()),
                    Filter::eq("stack", ""),
                ],
            )
            .await?;
            // An unchanged zip whose bits are stored needs no second check or copy (this
            // runs at every start).
            let sha = sha256_bytes(builtin.zip);
            if let Some(b) = &existing
                && (b.locked
                    || (b.sha256.as_deref() == Some(&sha)
                        && self
                            .blobs
                            .exists(&keys::buildpack(&sha))
                            .await
                            .map_err(io_error)?))
            {
                continue;
            }
            let tmp =
                tempfile::NamedTempFile::new_in(self.blobs.scratch_dir()).map_err(io_error)?;
            tokio::fs::write(tmp.path(), builtin.zip)
                .await
                .map_err(io_error)?;
            let mut buildpack = match existing {
                Some(b) => b,
                None => {
                    let all = self.buildpacks_by_position().await?;
                    let now = self.now();
                    let b = Buildpack {
                        guid: self.new_guid(),
                        name: builtin.name.clone(),
                        stack: None,
                        position: all.last().map_or(1, |b| b.position + 1),
                        enabled: true,
                        locked: false,
                        state: BuildpackState::AwaitingUpload,
                        filename: None,
                        sha256: None,
                        metadata: Metadata::default(),
                        created_at: now,
                        updated_at: now,
                    };
                    self.store
                        .write_docs(&[DocOp::insert(&b)], &[], None)
                        .await?;
                    b
                }
            };
            let sha = self.store_buildpack_zip(tmp.into_temp_path()).await?;
            if buildpack.sha256.as_deref() != Some(&sha) {
                buildpack.sha256 = Some(sha);
                buildpack.filename = Some(format!("{}.zip", builtin.name));
                buildpack.state = BuildpackState::Ready;
                buildpack.updated_at = self.now();
                self.store
                    .write_docs(&[DocOp::update(&buildpack)], &[], None)
                    .await?;
            }
        }
        Ok(())
    }

    async fn seed_stacks(&self) -> Result<(), Error> {
        for (name, description) in &self.settings.stacks {
            if docs::find::<Stack>(&*self.store, &[Filter::eq("name", name.as_str())])
                .await?
                .is_none()
            {
                let now = self.now();
                let stack = Stack {
                    guid: self.new_guid(),
                    name: name.clone(),
                    description: description.clone(),
                    metadata: Metadata::default(),
                    created_at: now,
                    updated_at: now,
                };
                match self
                    .store
                    .write_docs(&[DocOp::insert(&stack)], &[], None)
                    .await
                {
                    Err(StoreError::Conflict(_)) | Ok(()) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub async fn list_stacks(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<Stack>, Error> {
        self.require_read(actor)?;
        let stacks = docs::list::<Stack>(&*self.store, &[])
            .await?
            .into_iter()
            .filter(|s| params.allows("names", &s.name) && params.allows("guids", &s.guid))
            .collect();
        Ok(params.select(stacks))
    }

    pub async fn stack(&self, actor: &Actor, guid: &str) -> Result<Stack, Error> {
        self.require_read(actor)?;
        docs::get::<Stack>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Stack"))
    }
}
