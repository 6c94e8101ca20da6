//! Stacks: the root file systems app containers run on.
//!
//! What it knows: how to build a Debian root file system with debootstrap and make it fit to be
//! a container's read-only lower layer (the `vcap` user, empty bind-mount targets, no apt caches);
//! where built stacks live (`<data dir>/stacks/<name>/{rootfs,stack.json}`, the downloaded
//! packages in `<data dir>/stacks/.cache/debs`); and which stack answers to `cflinuxfs4`
//! ([`default_stack`]: a built `bookworm` stack, else the host's own file system).
//!
//! What it must NOT know: containers, overlay mounts or OCI runtimes (garden stacks a writable
//! layer on a stack's rootfs), and nothing of apps, droplets or buildpacks beyond the package list
//! the built-in buildpacks need.
//!
//! A stack is only ever seen complete: a build happens in a staging directory, its `stack.json` is
//! written last, and the directory is renamed into place. [`find`] and [`list`] ignore anything
//! without a readable `stack.json` next to its `rootfs`.

#![forbid(unsafe_code)]

mod builder;
mod choice;
mod command;
mod error;
mod mirror;
mod mounts;
mod rootfs;
mod store;

pub use builder::{
    BuildOptions, BuildOutcome, DEFAULT_NAME, DESCRIPTION, Progress, STACK_PACKAGES, SUITE,
    VCAP_GID, VCAP_UID, build,
};
pub use choice::{HOST_DESCRIPTION, HOST_NAME, StackChoice, default_stack};
pub use error::Error;
pub use mirror::host_mirror;
pub use store::{BuiltStack, find, list};
