//! What the Cloud Controller tells Diego that both the stager and nsync must agree on.

/// The ingot binary inside every container: cells mount their own executable here, so the
/// builder and launcher always match the cell that runs them.
pub const LIFECYCLE_PATH: &str = "/tmp/lifecycle/ingot";

/// The BBS domain of app LRPs; nsync refreshes it after every complete sync so the converger
/// only removes extra instances while the Cloud Controller's view is fresh.
pub const APPS_DOMAIN: &str = "cf-apps";

/// The BBS domain of app tasks (`cf run-task`).
pub const TASKS_DOMAIN: &str = "cf-tasks";

/// The BBS domain of staging tasks.
pub const STAGING_DOMAIN: &str = "cf-app-staging";

/// The rootfs of a stack preloaded on the cells.
pub fn root_fs(stack: &str) -> String {
    format!("preloaded:{stack}")
}
