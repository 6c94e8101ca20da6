use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFlag {
    pub name: String,
    pub enabled: bool,
    pub custom_error_message: Option<String>,
    /// None until an admin first changes the flag.
    pub updated_at: Option<DateTime<Utc>>,
}

/// CF's standard flags and their defaults.
pub const DEFAULTS: &[(&str, bool)] = &[
    ("user_org_creation", false),
    ("private_domain_creation", true),
    ("app_bits_upload", true),
    ("app_scaling", true),
    ("route_creation", true),
    ("service_instance_creation", true),
    ("diego_docker", false),
    ("set_roles_by_username", true),
    ("unset_roles_by_username", true),
    ("task_creation", true),
    ("env_var_visibility", true),
    ("space_scoped_private_broker_creation", true),
    ("space_developer_env_var_visibility", true),
    ("service_instance_sharing", false),
    ("hide_marketplace_from_unauthenticated_users", false),
    ("resource_matching", true),
    ("route_sharing", false),
];

pub fn default_enabled(name: &str) -> Option<bool> {
    DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// A flag is listable by name; it has no guid or creation time of its own.
impl super::Listable for FeatureFlag {
    fn guid(&self) -> &str {
        &self.name
    }
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
    fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
    }
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.updated_at
            .unwrap_or(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH)
    }
}
