//! Ingot's UAA: the OAuth2 token server (password, refresh_token and client_credentials grants),
//! users and groups (SCIM), clients, and the RSA keys that sign every JWT.
//!
//! It knows users, clients, groups (scopes) and tokens. It must not know orgs, spaces or any
//! other Cloud Controller concept: the Cloud Controller calls it (through [`UserDirectory`] and
//! [`TokenVerifier`]), never the other way round.
//!
//! Module map: `model` (pure types and rules), `store` (the storage trait and its SQLite
//! implementation), `keys` and `issue` (signing keys and token claims), `password` (argon2id),
//! `service` (the workflow), `http` (axum routes; `http/error.rs` maps [`Error`] to the wire),
//! `client` (the same directory and verifier over HTTP, for components that run apart).
#![forbid(unsafe_code)]

use std::sync::Arc;

use ingot_core::{Clock, IdGen, Shutdown};

mod client;
mod config;
mod directory;
mod error;
mod http;
mod issue;
mod keys;
mod model;
mod password;
mod service;
mod store;
mod token;

pub use client::UaaClient;
pub use config::{AdminBootstrap, UaaConfig};
pub use directory::{DirectoryError, UaaUser, UserDirectory};
pub use error::Error;
pub use token::{Claims, TokenError, TokenVerifier};

/// A running UAA: its HTTP API, its token verifier and its user directory. Cheap to clone.
#[derive(Clone)]
pub struct Uaa {
    service: Arc<service::Service>,
}

impl std::fmt::Debug for Uaa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uaa")
            .field("url", &self.service.url())
            .finish()
    }
}

impl Uaa {
    /// Opens/migrates the DB, loads the signing key (generating and persisting a 2048-bit RSA
    /// key pair on first start), ensures the built-in clients and groups exist, and ensures the
    /// admin user and admin client exist (created on first start; an existing admin keeps its
    /// stored password hash). `shutdown` stops the background pruning of expired revocations.
    pub async fn start(
        config: UaaConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        shutdown: Shutdown,
    ) -> Result<Uaa, Error> {
        let service = service::Service::start(config, clock, ids, shutdown).await?;
        Ok(Uaa { service })
    }

    /// All UAA HTTP endpoints, state baked in.
    pub fn router(&self) -> axum::Router {
        http::router(self.service.clone())
    }

    /// Verifies tokens this UAA signs (with every key it has ever signed with).
    pub fn verifier(&self) -> TokenVerifier {
        self.service.keys().verifier().clone()
    }

    /// In-process user lookups for the Cloud Controller.
    pub fn directory(&self) -> Arc<dyn UserDirectory> {
        self.service.clone()
    }

    /// Closes the database. Requests still in flight afterwards fail.
    pub async fn close(&self) {
        self.service.close().await;
    }
}
