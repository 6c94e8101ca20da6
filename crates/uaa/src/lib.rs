//! Ingot's UAA: the OAuth2 token server (password, refresh_token and client_credentials grants),
//! users and groups (SCIM), clients, and the RSA keys that sign every JWT.
//!
//! It knows users, clients, groups (scopes) and tokens. It must not know orgs, spaces or any
//! other Cloud Controller concept: the Cloud Controller calls it (through [`UserDirectory`] and
//! [`TokenVerifier`]), never the other way round.
#![forbid(unsafe_code)]

mod directory;
mod token;

pub use directory::{DirectoryError, UaaUser, UserDirectory};
pub use token::{Claims, TokenError, TokenVerifier};
