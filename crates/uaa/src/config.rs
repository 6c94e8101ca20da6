//! The UAA's configuration: plain data, filled in by `crates/ingot`.

use std::time::Duration;

use ingot_core::DatabaseUrl;

/// How to run this UAA.
#[derive(Clone)]
pub struct UaaConfig {
    /// Where users, clients, groups, keys and revocations are kept.
    pub database: DatabaseUrl,
    /// External base URL of this UAA, e.g. "http://127.0.0.1:9023" (no trailing slash).
    /// Token issuer is "{url}/oauth/token".
    pub url: String,
    /// Lifetime of access tokens (cf-deployment gives the cf client 1200 s).
    pub access_token_validity: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_validity: Duration,
    /// The admin user and admin client created on first start.
    pub admin: AdminBootstrap,
}

/// The operator's admin user and admin client, created on first start.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminBootstrap {
    pub username: String,
    pub password: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Default for UaaConfig {
    fn default() -> Self {
        Self {
            database: DatabaseUrl::sqlite("uaa.db"),
            url: "http://127.0.0.1:9023".into(),
            access_token_validity: Duration::from_secs(1200),
            refresh_token_validity: Duration::from_secs(30 * 24 * 60 * 60),
            admin: AdminBootstrap::default(),
        }
    }
}

impl Default for AdminBootstrap {
    fn default() -> Self {
        Self {
            username: "admin".into(),
            password: String::new(),
            client_id: "admin".into(),
            client_secret: String::new(),
        }
    }
}

impl UaaConfig {
    /// The `iss` of every token: "{url}/oauth/token".
    pub fn issuer(&self) -> String {
        format!("{}/oauth/token", self.url.trim_end_matches('/'))
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

impl std::fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .finish()
    }
}

impl std::fmt::Debug for UaaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UaaConfig")
            .field("database", &self.database)
            .field("url", &self.url)
            .field("access_token_validity", &self.access_token_validity)
            .field("refresh_token_validity", &self.refresh_token_validity)
            .field("admin", &self.admin)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let config = UaaConfig {
            admin: AdminBootstrap {
                password: "hunter2".into(),
                client_secret: "s3cret".into(),
                ..AdminBootstrap::default()
            },
            ..UaaConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn issuer_is_the_token_endpoint() {
        let config = UaaConfig {
            url: "http://uaa.example/".into(),
            ..UaaConfig::default()
        };
        assert_eq!(config.issuer(), "http://uaa.example/oauth/token");
    }
}
