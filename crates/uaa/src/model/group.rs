//! Groups are UAA's scopes: a user's token may carry a scope only if the user is a member.

use chrono::{DateTime, Utc};

/// A group a user belongs to, as shown in the user's `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRef {
    pub id: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub version: i64,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// Member user ids with their origins.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub user_id: String,
    pub origin: String,
}

/// Groups every new user joins (UAA's `defaultUserGroups` in cf-deployment).
pub(crate) const DEFAULT_USER_GROUPS: &[&str] = &[
    "openid",
    "cloud_controller.read",
    "cloud_controller.write",
    "cloud_controller_service_permissions.read",
    "uaa.user",
    "scim.me",
    "password.write",
    "oauth.approvals",
    "profile",
    "roles",
    "user_attributes",
    "uaa.offline_token",
];

/// The extra groups of the bootstrap admin user.
pub(crate) const ADMIN_GROUPS: &[&str] = &[
    "cloud_controller.admin",
    "scim.read",
    "scim.write",
    "uaa.admin",
    "clients.read",
    "clients.write",
    "clients.secret",
    "doppler.firehose",
    "routing.router_groups.read",
    "routing.router_groups.write",
    "network.admin",
    "cloud_controller.admin_read_only",
    "cloud_controller.global_auditor",
];

/// Every group that must exist after start.
pub(crate) fn builtin_groups() -> impl Iterator<Item = &'static str> {
    DEFAULT_USER_GROUPS
        .iter()
        .chain(ADMIN_GROUPS.iter())
        .copied()
        .chain(["network.write", "uaa.resource", "uaa.none"])
}
