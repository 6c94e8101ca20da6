//! Pure Cloud Controller types and rules: no I/O, so every rule here is cheap to test.

pub mod app;
pub mod app_rules;
pub mod audit_event;
pub mod bits;
pub mod bits_rules;
pub mod environment;
pub mod feature_flag;
pub mod job;
pub mod label_selector;
pub mod manifest;
pub mod metadata;
pub mod organization;
pub mod permissions;
pub mod query;
pub mod quota;
pub mod role;
pub mod route;
pub mod security_group;
pub mod security_group_rule;
pub mod seed;
pub mod space;
pub mod task;
pub mod user;
pub mod validation;

pub use app::{
    App, AppState, EnvironmentVariableGroup, HealthCheck, HealthCheckType, Lifecycle,
    LifecycleType, Process,
};
pub use audit_event::{AuditActor, AuditEvent, AuditTarget};
pub use bits::{
    Build, BuildState, Buildpack, BuildpackState, Droplet, DropletBuildpack, DropletState, Package,
    PackageState, PackageType, Stack,
};
pub use feature_flag::FeatureFlag;
pub use job::{Job, JobOperation, JobState};
pub use metadata::{Metadata, MetadataPatch};
pub use organization::Organization;
pub use quota::OrganizationQuota;
pub use role::{Role, RoleType};
pub use route::{Domain, Route, RouteMapping};
pub use security_group::{
    GloballyEnabled, SecurityGroup, SecurityGroupLifecycle, SecurityGroupSet, SecurityGroupSpace,
    SecurityGroupView,
};
pub use seed::Seed;
pub use space::Space;
pub use task::{Task, TaskState};
pub use user::User;

use chrono::{DateTime, Utc};

/// What every listable resource offers to generic ordering, filtering and label selection.
pub trait Listable {
    fn guid(&self) -> &str;
    fn name(&self) -> Option<&str> {
        None
    }
    fn created_at(&self) -> DateTime<Utc>;
    fn updated_at(&self) -> DateTime<Utc>;
    fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        None
    }

    /// For resources ordered by `position` (buildpacks).
    fn position(&self) -> Option<u32> {
        None
    }
}

/// Implements [`Listable`] for a type with `guid`, `created_at` and `updated_at` fields.
/// The optional list opts into the other fields: `name` (a `name` field), `labels`
/// (`metadata.labels`) and `position` (a `position` field), e.g.
/// `listable!(App { name, labels })`.
macro_rules! listable {
    ($t:ident $({ $($field:ident),* $(,)? })?) => {
        impl $crate::model::Listable for $t {
            fn guid(&self) -> &str {
                &self.guid
            }
            fn created_at(&self) -> ::chrono::DateTime<::chrono::Utc> {
                self.created_at
            }
            fn updated_at(&self) -> ::chrono::DateTime<::chrono::Utc> {
                self.updated_at
            }
            $($($crate::model::listable!(@$field);)*)?
        }
    };
    (@name) => {
        fn name(&self) -> Option<&str> {
            Some(&self.name)
        }
    };
    (@labels) => {
        fn labels(&self) -> Option<&::std::collections::BTreeMap<String, String>> {
            Some(&self.metadata.labels)
        }
    };
    (@position) => {
        fn position(&self) -> Option<u32> {
            Some(self.position)
        }
    };
}
pub(crate) use listable;
