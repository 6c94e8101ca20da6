use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Processing,
    Complete,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Processing => "PROCESSING",
            JobState::Complete => "COMPLETE",
            JobState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobState::Processing, JobState::Complete, JobState::Failed]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// What a job does; each is idempotent so a resumed job can simply run again.
// Only deletions so far; uploads and manifests will join them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOperation {
    OrganizationDelete,
    SpaceDelete,
    RoleDelete,
    UserDelete,
    DomainDelete,
    RouteDelete,
    /// `cf delete-orphaned-routes`: the space's routes without destinations.
    SpaceUnmappedRoutesDelete,
    AppDelete,
    /// Runs inline with the request; the manifest is not stored, so a job a crash left
    /// PROCESSING can only be failed.
    ManifestApply,
    DropletDelete,
    BuildpackDelete,
    /// Done inline before the job is stored; running it only marks it COMPLETE.
    BuildpackUpload,
    SecurityGroupDelete,
}

impl JobOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOperation::OrganizationDelete => "organization.delete",
            JobOperation::SpaceDelete => "space.delete",
            JobOperation::RoleDelete => "role.delete",
            JobOperation::UserDelete => "user.delete",
            JobOperation::DomainDelete => "domain.delete",
            JobOperation::RouteDelete => "route.delete",
            JobOperation::SpaceUnmappedRoutesDelete => "space.delete_unmapped_routes",
            JobOperation::AppDelete => "app.delete",
            JobOperation::ManifestApply => "space.apply_manifest",
            JobOperation::DropletDelete => "droplet.delete",
            JobOperation::BuildpackDelete => "buildpack.delete",
            JobOperation::BuildpackUpload => "buildpack.upload",
            JobOperation::SecurityGroupDelete => "security_group.delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            JobOperation::OrganizationDelete,
            JobOperation::SpaceDelete,
            JobOperation::RoleDelete,
            JobOperation::UserDelete,
            JobOperation::DomainDelete,
            JobOperation::RouteDelete,
            JobOperation::SpaceUnmappedRoutesDelete,
            JobOperation::AppDelete,
            JobOperation::ManifestApply,
            JobOperation::DropletDelete,
            JobOperation::BuildpackDelete,
            JobOperation::BuildpackUpload,
            JobOperation::SecurityGroupDelete,
        ]
        .into_iter()
        .find(|op| op.as_str() == s)
    }
}

/// Also the stored shape of a job error in the CCDB (`{"code","title","detail"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobError {
    pub code: i64,
    pub title: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub guid: String,
    pub operation: JobOperation,
    /// The guid of the resource the operation acts on.
    pub resource_guid: String,
    pub state: JobState,
    pub errors: Vec<JobError>,
    pub warnings: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in [JobState::Processing, JobState::Complete, JobState::Failed] {
            assert_eq!(JobState::parse(st.as_str()), Some(st));
        }
        for op in [
            JobOperation::OrganizationDelete,
            JobOperation::SpaceDelete,
            JobOperation::RoleDelete,
            JobOperation::UserDelete,
            JobOperation::DomainDelete,
            JobOperation::RouteDelete,
            JobOperation::SpaceUnmappedRoutesDelete,
            JobOperation::AppDelete,
            JobOperation::ManifestApply,
            JobOperation::SecurityGroupDelete,
        ] {
            assert_eq!(JobOperation::parse(op.as_str()), Some(op));
        }
    }

    #[test]
    fn stored_job_error_shape() {
        let stored = r#"[{"code":10001,"title":"CF-ServerError","detail":"boom"}]"#;
        let errors: Vec<JobError> = serde_json::from_str(stored).unwrap();
        assert_eq!(
            errors,
            vec![JobError {
                code: 10001,
                title: "CF-ServerError".into(),
                detail: "boom".into(),
            }]
        );
        assert_eq!(serde_json::to_string(&errors).unwrap(), stored);
    }
}
