//! The platform's admin credentials: generated on first start, kept in the data directory, and
//! reused on every later start. There is no fixed default password.

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::Context;
use rand::{Rng, distributions::Alphanumeric};
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "credentials.json";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminCredentials {
    pub admin_username: String,
    pub admin_password: String,
    pub admin_client_id: String,
    pub admin_client_secret: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("admin_username", &self.admin_username)
            .field("admin_client_id", &self.admin_client_id)
            .finish_non_exhaustive()
    }
}

impl AdminCredentials {
    /// Reads the credentials from `data_dir`, creating them (readable by the owner only) if
    /// this is the first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(FILE_NAME);
        match std::fs::metadata(&path) {
            Ok(_) => Self::read(data_dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let credentials = Self::generate();
                write_private(&path, &serde_json::to_string_pretty(&credentials)?)?;
                Ok(credentials)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads existing credentials; an error if there are none.
    pub fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid; fix or remove it", path.display()))
    }

    fn generate() -> Self {
        Self {
            admin_username: "admin".into(),
            admin_password: random_secret(),
            admin_client_id: "admin".into(),
            admin_client_secret: random_secret(),
        }
    }
}

/// The Cloud Controller's key for signing the internal URLs it hands to Diego (downloads,
/// uploads, callbacks): generated on first start and kept, so URLs survive a restart.
pub fn internal_secret(data_dir: &Path) -> anyhow::Result<String> {
    kept_secret(&data_dir.join(INTERNAL_SECRET_FILE))
}

/// What components in other processes (`ingot cell`, `ingot router`) present to send their
/// envelopes to the log-cache that runs with `ingot cc`: generated on its first start.
pub fn log_ingress_secret(data_dir: &Path) -> anyhow::Result<String> {
    kept_secret(&data_dir.join(LOG_INGRESS_SECRET_FILE))
}

/// The secret kept in `path`, generated (readable by the owner only) if there is none yet.
fn kept_secret(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => Ok(secret.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} is empty; remove it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_secret();
            write_private(path, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub const INTERNAL_SECRET_FILE: &str = "cc-internal-secret";
pub const LOG_INGRESS_SECRET_FILE: &str = "log-ingress-secret";

/// Creates `path` readable by the owner only; fails if it exists.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn random_secret() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn first_start_generates_private_credentials_and_later_starts_reuse_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = AdminCredentials::load_or_create(dir.path()).unwrap();
        assert_eq!(first.admin_username, "admin");
        assert_eq!(first.admin_password.len(), 24);
        assert_ne!(first.admin_password, first.admin_client_secret);
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(AdminCredentials::load_or_create(dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            AdminCredentials::load_or_create(other.path()).unwrap(),
            first
        );
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_silent_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not json").unwrap();
        let err = AdminCredentials::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not valid"));
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let credentials = AdminCredentials::generate();
        let shown = format!("{credentials:?}");
        assert!(!shown.contains(&credentials.admin_password));
        assert!(!shown.contains(&credentials.admin_client_secret));
    }
}
