use super::{Actor, Service};
use crate::{
    Error,
    model::{AuditEvent, Job, JobOperation, JobState, job::JobError},
    store::JobDone,
};

impl Service {
    /// Persists a PROCESSING job with the request's events, then runs it at once so the
    /// first poll normally sees COMPLETE. A crash in between leaves it for `resume_jobs`.
    pub(crate) async fn start_job(
        &self,
        operation: JobOperation,
        resource_guid: &str,
        events: &[AuditEvent],
    ) -> Result<Job, Error> {
        let now = self.now();
        let job = Job {
            guid: self.new_guid(),
            operation,
            resource_guid: resource_guid.to_owned(),
            state: JobState::Processing,
            errors: Vec::new(),
            warnings: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_job(&job, events).await?;
        self.run_job(&job).await;
        Ok(job)
    }

    /// Runs one job to COMPLETE, or marks it FAILED. Every operation is idempotent.
    pub(crate) async fn run_job(&self, job: &Job) {
        let done = JobDone {
            job_guid: &job.guid,
            at: self.now(),
        };
        let result = match job.operation {
            JobOperation::OrganizationDelete => {
                self.store
                    .delete_organization(&job.resource_guid, done)
                    .await
            }
            JobOperation::SpaceDelete => self.store.delete_space(&job.resource_guid, done).await,
            JobOperation::RoleDelete => self.store.delete_role(&job.resource_guid, done).await,
            JobOperation::UserDelete => self.store.delete_user(&job.resource_guid, done).await,
            JobOperation::DomainDelete => self.run_domain_delete(&job.resource_guid, done).await,
            JobOperation::RouteDelete => self.run_route_delete(&job.resource_guid, done).await,
            JobOperation::SpaceUnmappedRoutesDelete => {
                self.run_unmapped_routes_delete(&job.resource_guid, done)
                    .await
            }
            JobOperation::AppDelete => self.run_app_delete(&job.resource_guid, done).await,
            JobOperation::DropletDelete => self.run_droplet_delete(&job.resource_guid, done).await,
            JobOperation::BuildpackDelete => {
                self.run_buildpack_delete(&job.resource_guid, done).await
            }
            JobOperation::BuildpackUpload => self.store.write_docs(&[], &[], Some(done)).await,
            JobOperation::SecurityGroupDelete => {
                self.run_security_group_delete(&job.resource_guid, done)
                    .await
            }
            // Manifest jobs are stored finished; one left PROCESSING lost its manifest.
            JobOperation::ManifestApply => Err(crate::store::StoreError::Database(
                "an interrupted manifest cannot be applied again".into(),
            )),
        };
        if let Err(e) = result {
            tracing::warn!(job = %job.guid, operation = job.operation.as_str(), error = %e, "job failed");
            let error = JobError {
                code: 10001,
                title: "CF-ServerError".into(),
                detail: "An unknown error occurred.".into(),
            };
            if let Err(e) = self.store.fail_job(&job.guid, &error, self.now()).await {
                tracing::warn!(job = %job.guid, error = %e, "could not mark job failed");
            }
        }
    }

    /// Runs every job a crash left PROCESSING.
    pub(crate) async fn resume_jobs(&self) -> Result<usize, Error> {
        let jobs = self.store.unfinished_jobs().await?;
        for job in &jobs {
            self.run_job(job).await;
        }
        Ok(jobs.len())
    }

    pub async fn job(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        self.require_read(actor)?;
        self.store.job(guid).await?.ok_or(Error::NotFound("Job"))
    }
}
