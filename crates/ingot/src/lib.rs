//! The `ingot` binary's wiring: configuration, the admin credentials, and the components that
//! `ingot up` (everything in one process) or `ingot <component>` runs.
//!
//! It holds no domain logic: it reads config (the only crate that reads files and environment),
//! opens each component with its dependencies, and runs them as one ordered group.
#![forbid(unsafe_code)]

/// The built-in buildpacks, zipped into the binary by build.rs, in detection order.
mod buildpacks {
    include!(concat!(env!("OUT_DIR"), "/buildpacks.rs"));
}
mod cell_garden;
pub mod config;
pub mod credentials;
mod group;
mod logs;
mod routing;
pub mod up;

pub use config::Config;
pub use up::{Endpoints, Ingot};
