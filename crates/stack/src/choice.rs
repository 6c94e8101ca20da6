//! Which stack a container gets: a built one, or the host's own file system.

use std::path::Path;

use crate::{BuiltStack, DEFAULT_NAME, find};

/// The stack that needs no setup and is always there.
pub const HOST_NAME: &str = "host";
pub const HOST_DESCRIPTION: &str =
    "the host's own /usr, /lib, /bin and /etc, read-only; needs no setup";

/// A stack a container's root file system can come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackChoice {
    /// A stack built with `ingot stack build`.
    Built(BuiltStack),
    /// The host's own directories, mounted read-only.
    Host,
}

impl StackChoice {
    pub fn name(&self) -> &str {
        match self {
            Self::Built(stack) => &stack.name,
            Self::Host => HOST_NAME,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            Self::Built(stack) => &stack.description,
            Self::Host => HOST_DESCRIPTION,
        }
    }
}

/// What answers to `cflinuxfs4`, the stack Cloud Foundry apps ask for: the built `bookworm`
/// stack when there is one, otherwise the host.
pub fn default_stack(data_dir: &Path) -> StackChoice {
    find(data_dir, DEFAULT_NAME).map_or(StackChoice::Host, StackChoice::Built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_bookworm_stack_answers_for_cflinuxfs4_and_the_host_otherwise() {
        let data = tempfile::tempdir().unwrap();
        assert_eq!(default_stack(data.path()), StackChoice::Host);
        assert_eq!(default_stack(data.path()).name(), "host");

        let dir = data.path().join("stacks/bookworm");
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        assert_eq!(default_stack(data.path()), StackChoice::Host, "half built");
        let manifest = serde_json::json!({
            "name": "bookworm", "description": crate::DESCRIPTION, "suite": "bookworm",
            "mirror": "http://mirror.example/debian", "packages": [],
            "built_at": "2025-01-01T00:00:00Z", "size_bytes": 1,
        });
        std::fs::write(dir.join("stack.json"), manifest.to_string()).unwrap();
        let choice = default_stack(data.path());
        assert!(
            matches!(&choice, StackChoice::Built(stack) if stack.rootfs == dir.join("rootfs")),
            "{choice:?}"
        );
        assert_eq!(choice.description(), crate::DESCRIPTION);
    }
}
