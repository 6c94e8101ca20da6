//! Droplets: the staged result of a build, stored as a tgz by sha256.

use serde_json::json;
use tempfile::TempPath;

use super::{Actor, Service, apps::app_target};
use crate::{
    Error,
    archive::sha256_file,
    blobstore::{BlobStream, blob_error as io_error, keys},
    model::{
        App, Droplet, DropletState, Job, JobOperation,
        permissions::Action,
        query::{ListParams, Page},
    },
    store::{DocOp, Filter, JobDone, StoreResult, docs},
};

impl Service {
    /// The droplet and its app, if the caller may see them.
    async fn locate_droplet(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(Droplet, super::apps::Located), Error> {
        let droplet = docs::get::<Droplet>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Droplet"))?;
        let located = self
            .located_app(actor, &droplet.app_guid)
            .await
            .map_err(|_| Error::NotFound("Droplet"))?;
        Ok((droplet, located))
    }

    pub async fn droplet(&self, actor: &Actor, guid: &str) -> Result<Droplet, Error> {
        Ok(self.locate_droplet(actor, guid).await?.0)
    }

    /// Droplets, all or of one app or package.
    pub async fn list_droplets(
        &self,
        actor: &Actor,
        params: &ListParams,
        app_guid: Option<&str>,
        package_guid: Option<&str>,
    ) -> Result<Page<Droplet>, Error> {
        let mut filters = Vec::new();
        if let Some(app) = app_guid {
            self.located_app(actor, app).await?;
            filters.push(Filter::eq("app_guid", app));
        } else if let Some(apps) = params.filters.get("app_guids") {
            filters.push(Filter::In("app_guid", apps.clone()));
        }
        if let Some(package) = package_guid {
            self.package(actor, package).await?;
            filters.push(Filter::eq("package_guid", package));
        }
        let droplets = docs::list::<Droplet>(&*self.store, &filters).await?;
        let visible = self
            .visible_apps(actor, droplets.iter().map(|d| d.app_guid.clone()))
            .await?;
        let droplets = droplets
            .into_iter()
            .filter(|d| {
                visible.contains_key(&d.app_guid)
                    && params.allows("guids", &d.guid)
                    && params.allows_opt("package_guids", d.package_guid.as_deref())
                    && params.allows("states", docs::key(&d.state).as_deref().unwrap_or(""))
            })
            .collect();
        Ok(params.select(droplets))
    }

    pub async fn delete_droplet(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let (droplet, located) = self.locate_droplet(actor, guid).await?;
        located.require(actor, Action::ManageApps, "Droplet")?;
        let event = self.event(
            actor,
            "audit.app.droplet.delete",
            app_target(&located.app),
            json!({"droplet_guid": droplet.guid}),
            Some(&located.space.guid),
            Some(&located.org.guid),
        );
        self.start_job(JobOperation::DropletDelete, &droplet.guid, &[event])
            .await
    }

    /// The job's work: the record goes (an app pointing at it loses its current droplet);
    /// the blob stays when another droplet has the same contents.
    pub(crate) async fn run_droplet_delete(
        &self,
        guid: &str,
        done: JobDone<'_>,
    ) -> StoreResult<()> {
        let Some(droplet) = docs::get::<Droplet>(&*self.store, guid).await? else {
            return self.store.write_docs(&[], &[], Some(done)).await;
        };
        let mut ops = vec![DocOp::delete::<Droplet>(guid)];
        if let Some(mut app) = docs::get::<App>(&*self.store, &droplet.app_guid).await?
            && app.droplet_guid.as_deref() == Some(guid)
        {
            app.droplet_guid = None;
            ops.push(DocOp::update(&app));
        }
        self.store.write_docs(&ops, &[], Some(done)).await?;
        if let Some(sha) = &droplet.sha256 {
            let shared = docs::list::<Droplet>(&*self.store, &[])
                .await?
                .iter()
                .any(|d| d.sha256.as_deref() == Some(sha));
            if !shared && let Err(e) = self.blobs.delete(&keys::droplet(sha)).await {
                tracing::warn!(droplet = guid, error = %e, "could not delete the droplet's bits");
            }
        }
        Ok(())
    }

    /// The droplet's tgz, for a user (`GET /v3/droplets/:guid/download`).
    pub async fn download_droplet(
        &self,
        actor: &Actor,
        guid: &str,
    ) -> Result<(u64, BlobStream), Error> {
        let (droplet, located) = self.locate_droplet(actor, guid).await?;
        located.require(actor, Action::ManageApps, "Droplet")?;
        self.droplet_bits(&droplet.guid).await
    }

    /// A droplet's tgz by guid (the internal download for cells).
    pub(crate) async fn droplet_bits(&self, guid: &str) -> Result<(u64, BlobStream), Error> {
        let droplet = docs::get::<Droplet>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Droplet"))?;
        let sha = droplet
            .sha256
            .ok_or_else(|| Error::Unprocessable("Droplet has no bits to download".into()))?;
        self.blobs
            .get(&keys::droplet(&sha))
            .await
            .map_err(io_error)?
            .ok_or(Error::NotFound("Droplet"))
    }

    /// A staging task's droplet upload: stored by sha256, recorded on the droplet (which
    /// becomes STAGED when the build completes).
    pub(crate) async fn store_droplet_bits(&self, guid: &str, file: TempPath) -> Result<(), Error> {
        let mut droplet = docs::get::<Droplet>(&*self.store, guid)
            .await?
            .ok_or(Error::NotFound("Droplet"))?;
        if droplet.state != DropletState::AwaitingUpload {
            return Err(Error::Unprocessable(
                "Droplet is not awaiting an upload".into(),
            ));
        }
        let sha = tokio::task::spawn_blocking({
            let path = file.to_path_buf();
            move || sha256_file(&path)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(io_error)?;
        self.blobs
            .put_file(&keys::droplet(&sha), &file)
            .await
            .map_err(io_error)?;
        droplet.sha256 = Some(sha);
        droplet.updated_at = self.now();
        self.store
            .write_docs(&[DocOp::update(&droplet)], &[], None)
            .await?;
        Ok(())
    }
}
