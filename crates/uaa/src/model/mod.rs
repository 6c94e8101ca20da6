//! Pure UAA types and rules: users, clients, groups, scopes, SCIM filters and the lockout
//! policy. No I/O here, so every rule is cheap to test.

pub(crate) mod client;
pub(crate) mod filter;
pub(crate) mod group;
pub(crate) mod lockout;
pub(crate) mod scope;
pub(crate) mod user;

pub(crate) use client::Client;
pub(crate) use group::{Group, GroupRef};
pub(crate) use user::{User, UserDraft, UserFields};

/// UAA's limit on names, user names, e-mail addresses and passwords.
pub(crate) const MAX_LEN: usize = 255;

/// The only identity zone Ingot runs.
pub(crate) const ZONE: &str = "uaa";

/// The origin of users this UAA stores itself.
pub(crate) const UAA_ORIGIN: &str = "uaa";
