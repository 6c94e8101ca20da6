//! Packages: an app's bits, uploaded by the cf CLI as a zip plus the files the resource cache
//! already has, checked as untrusted input and stored as one zip by sha256.

use serde_json::json;
use tempfile::TempPath;

use super::{
    Actor, Service,
    apps::{Located, app_target},
};
use crate::{
    Error,
    archive::{self, ArchiveError, Limits, Matched},
    blobstore::{BlobStream, blob_error as io_error, keys},
    model::{
        Metadata, MetadataPatch, Package, PackageState, PackageType,
        permissions::Action,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, docs},
};

#[derive(Debug, Clone)]
pub struct NewPackage {
    pub app_guid: String,
    pub package_type: PackageType,
    pub metadata: MetadataPatch,
}

/// A file the client says the resource cache has, as `POST /v3/resource_matches` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub path: String,
    pub sha1: String,
    pub size: u64,
    pub mode: String,
}

fn invalid_package(msg: &str) -> Error {
    Error::Unprocessable(format!("The package is invalid: {msg}"))
}

/// A 40-digit lowercase hex sha1.
pub(crate) fn is_sha1(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Service {
    /// The package and its app, if the caller may see them.
    async fn locate_package(&self, actor: &Actor, guid: &str) -> Result<(Package, Located), Error> {
        let package = docs::get::<Package>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Package"))?;
        let located = self
            .located_app(actor, &package.app_guid)
            .await
            .map_err(|_| Error::NotFound("Package"))?;
        Ok((package, located))
    }

    pub async fn list_packages(
        &self,
        actor: &Actor,
        params: &ListParams,
        app_guid: Option<&str>,
    ) -> Result<Page<Package>, Error> {
        if let Some(app) = app_guid {
            self.located_app(actor, app).await?;
        }
        let mut filters = Vec::new();
        if let Some(app) = app_guid {
            filters.push(Filter::eq("app_guid", app));
        } else if let Some(apps) = params.filters.get("app_guids") {
            filters.push(Filter::In("app_guid", apps.clone()));
        }
        let packages = docs::list::<Package>(&*self.store, &filters).await?;
        let visible = self
            .visible_apps(actor, packages.iter().map(|p| p.app_guid.clone()))
            .await?;
        let packages = packages
            .into_iter()
            .filter(|p| visible.contains_key(&p.app_guid))
            .filter(|p| {
                params.allows("guids", &p.guid)
                    && params.allows("states", docs::key(&p.state).as_deref().unwrap_or(""))
                    && params.allows("types", docs::key(&p.package_type).as_deref().unwrap_or(""))
            })
            .collect();
        Ok(params.select(packages))
    }

    pub async fn package(&self, actor: &Actor, guid: &str) -> Result<Package, Error> {
        Ok(self.locate_package(actor, guid).await?.0)
    }

    /// A bits package awaiting its upload. Docker packages are not supported yet.
    pub async fn create_package(&self, actor: &Actor, new: NewPackage) -> Result<Package, Error> {
        let invalid_app = || {
            Error::Unprocessable(
                "App is invalid. Ensure it exists and you have access to it.".into(),
            )
        };
        let located = self
            .located_app(actor, &new.app_guid)
            .await
            .map_err(|_| invalid_app())?;
        located
            .require(actor, Action::ManageApps, "App")
            .map_err(|e| match e {
                Error::NotFound(_) => invalid_app(),
                other => other,
            })?;
        let Located { app, space, org } = located;
        if new.package_type == PackageType::Docker {
            return Err(Error::Unprocessable(
                "Docker lifecycle is not supported yet: push a bits package".into(),
            ));
        }
        let now = self.now();
        let mut metadata = Metadata::default();
        metadata.apply(&new.metadata);
        let package = Package {
            guid: self.new_guid(),
            app_guid: app.guid.clone(),
            package_type: new.package_type,
            state: PackageState::AwaitingUpload,
            sha256: None,
            image: None,
            error: None,
            metadata,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            actor,
            "audit.app.package.create",
            app_target(&app),
            json!({"package_guid": package.guid, "request": {"type": "bits"}}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.store
            .write_docs(&[DocOp::insert(&package)], &[event], None)
            .await?;
        Ok(package)
    }

    /// Builds the package from the uploaded zip and the matched resources and makes it READY
    /// before answering (the cf CLI then skips its 3 s poll). A bad archive leaves the package
    /// FAILED with the reason, and nothing of it is kept.
    pub async fn upload_package(
        &self,
        actor: &Actor,
        guid: &str,
        resources: Vec<ResourceRef>,
        bits: Option<TempPath>,
    ) -> Result<Package, Error> {
        let (mut package, located) = self.locate_package(actor, guid).await?;
        located.require(actor, Action::ManageApps, "Package")?;
        let Located { app, space, org } = located;
        if package.package_type != PackageType::Bits {
            return Err(Error::Unprocessable("Package type must be bits.".into()));
        }
        if package.state != PackageState::AwaitingUpload {
            return Err(Error::Unprocessable(
                "Package state must be AWAITING_UPLOAD".into(),
            ));
        }
        let result = self.build_package(resources, bits).await;
        package.updated_at = self.now();
        let outcome = match result {
            Ok(sha256) => {
                package.state = PackageState::Ready;
                package.sha256 = Some(sha256);
                Ok(())
            }
            Err(e) => {
                package.state = PackageState::Failed;
                package.error = Some(e.to_string());
                Err(e)
            }
        };
        let event = self.event(
            actor,
            "audit.app.package.upload",
            app_target(&app),
            json!({"package_guid": package.guid}),
            Some(&space.guid),
            Some(&org.guid),
        );
        self.store
            .write_docs(&[DocOp::update(&package)], &[event], None)
            .await?;
        outcome.map(|()| package)
    }

    /// Checks and combines the bits; returns the stored zip's sha256.
    async fn build_package(
        &self,
        resources: Vec<ResourceRef>,
        bits: Option<TempPath>,
    ) -> Result<String, Error> {
        let scratch = self.blobs.scratch_dir().to_owned();
        let mut copies = Vec::with_capacity(resources.len());
        for r in &resources {
            let path = archive::clean_path(&r.path)
                .map_err(|e| invalid_package(&e))?
                .ok_or_else(|| invalid_package("a resource has no path"))?;
            let mode = archive::parse_mode(&r.mode).map_err(|e| invalid_package(&e))?;
            if !is_sha1(&r.sha1) {
                return Err(invalid_package(&format!(
                    "resource {path:?} has no valid sha1 checksum"
                )));
            }
            let copy = tempfile::NamedTempFile::new_in(&scratch)
                .map_err(io_error)?
                .into_temp_path();
            // copy_to wants a fresh name.
            std::fs::remove_file(&copy).map_err(io_error)?;
            if !self
                .blobs
                .copy_to(&keys::resource(&r.sha1), &copy)
                .await
                .map_err(io_error)?
            {
                return Err(invalid_package(&format!(
                    "resource {path:?} ({}) is no longer in the resource cache; push again",
                    r.sha1
                )));
            }
            copies.push((path, archive::file_mode(mode), copy));
        }
        let limits = Limits::of(&self.settings);
        let repacked = tokio::task::spawn_blocking(move || {
            let matched: Vec<Matched<'_>> = copies
                .iter()
                .map(|(path, mode, file)| Matched {
                    path: path.clone(),
                    mode: *mode,
                    file,
                })
                .collect();
            archive::repack(bits.as_deref(), &matched, &limits, &scratch)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| match e {
            ArchiveError::Invalid(msg) => invalid_package(&msg),
            ArchiveError::Io(e) => io_error(e),
        })?;
        self.blobs
            .put_file(&keys::package(&repacked.sha256), &repacked.file)
            .await
            .map_err(io_error)?;
        for (sha1, file) in &repacked.cacheable {
            let key = keys::resource(sha1);
            if !self.blobs.exists(&key).await.map_err(io_error)? {
                self.blobs.put_file(&key, file).await.map_err(io_error)?;
            }
        }
        Ok(repacked.sha256)
    }

    /// The package's zip, for a user (`GET /v3/packages/:guid/download`).
    pub async fn download_package(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(u64, BlobStream), Error> {
        let (package, located) = self.locate_package(actor, guid).await?;
        located.require(actor, Action::ManageApps, "Package")?;
        self.package_bits(&package).await
    }

    /// A package's zip by guid (the internal download for staging tasks).
    pub(crate) async fn internal_package_bits(
        &self,
        guid: &str,
    ) -> Result<(u64, BlobStream), Error> {
        let package = docs::get::<Package>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Package"))?;
        self.package_bits(&package).await
    }

    async fn package_bits(&self, package: &Package) -> Result<(u64, BlobStream), Error> {
        let sha = package
            .sha256
            .as_deref()
            .filter(|_| package.state == PackageState::Ready)
            .ok_or_else(|| Error::Unprocessable("Package has no bits to download".into()))?;
        self.blobs
            .get(&keys::package(sha))
            .await
            .map_err(io_error)?
            .ok_or(Error::NotFound("Package"))
    }

    /// The subset of `resources` the resource cache holds (`POST /v3/resource_matches`).
    pub async fn match_resources(
        &self,
        actor: &Actor,
        resources: Vec<ResourceRef>,
    ) -> Result<Vec<ResourceRef>, Error> {
        self.require_read(actor)?;
        let mut matched = Vec::new();
        for r in resources {
            if Limits::of(&self.settings).cacheable(r.size)
                && is_sha1(&r.sha1)
                && self
                    .blobs
                    .exists(&keys::resource(&r.sha1))
                    .await
                    .map_err(io_error)?
            {
                matched.push(r);
            }
        }
        Ok(matched)
    }
}
