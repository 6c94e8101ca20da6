//! The action pieces app instances and app tasks share: fetch the droplet, then run the
//! launcher on it. Paths in arguments are relative to the run's `dir`, so the same actions
//! work on the process container backend, where a container is a directory on the host.

use ingot_bbs::{Action, DownloadAction, EnvironmentVariable, ResourceLimits, RunAction};

use crate::{diego, model::Droplet, model::environment::FILE_DESCRIPTOR_LIMIT};

/// Where the droplet is unpacked and the launcher runs (the droplet holds `app/`).
pub(crate) const HOME_DIR: &str = "/home/vcap";

/// The user every app process runs as.
const USER: &str = "vcap";

/// Downloads and unpacks the droplet into [`HOME_DIR`], cached per droplet on the cell.
pub(crate) fn download_droplet(droplet: &Droplet, url: String) -> Action {
    let (checksum_algorithm, checksum_value) = match &droplet.sha256 {
        Some(sum) => ("sha256".to_owned(), sum.clone()),
        None => (String::new(), String::new()),
    };
    Action::Download(DownloadAction {
        from: url,
        to: HOME_DIR.to_owned(),
        cache_key: format!("droplets-{}", droplet.guid),
        checksum_algorithm,
        checksum_value,
        artifact: String::new(),
        user: USER.to_owned(),
    })
}

/// Runs `command` in the droplet's `app` directory through the launcher, which sources
/// `.profile.d` and the buildpack's environment first.
pub(crate) fn launch(command: &str, env: Vec<EnvironmentVariable>, log_source: String) -> Action {
    Action::Run(RunAction {
        path: diego::LIFECYCLE_PATH.to_owned(),
        args: ["lifecycle", "launcher", "app", command, ""]
            .map(str::to_owned)
            .to_vec(),
        dir: HOME_DIR.to_owned(),
        env,
        user: USER.to_owned(),
        resource_limits: ResourceLimits {
            nofile: Some(FILE_DESCRIPTOR_LIMIT),
            nproc: None,
        },
        log_source,
        suppress_log_output: false,
    })
}

/// Diego's environment variables from (name, value) pairs.
pub(crate) fn env_vars(pairs: Vec<(String, String)>) -> Vec<EnvironmentVariable> {
    pairs
        .into_iter()
        .map(|(name, value)| EnvironmentVariable { name, value })
        .collect()
}
