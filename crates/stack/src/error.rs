//! Every way building a stack can fail.

use std::process::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Names become directory names and are shown to users.
    #[error(
        "invalid stack name {0:?}: use lowercase letters, digits, '.', '-' and '_', starting with a \
         letter or digit ('host' is taken by the host's own file system)"
    )]
    InvalidName(String),
    /// debootstrap, chroot and mounting /proc all need root.
    #[error("building a stack needs root (debootstrap, chroot and mounts do): run it as root")]
    NotRoot,
    #[error("debootstrap is not installed: install it with `apt-get install -y debootstrap`")]
    DebootstrapMissing,
    /// No mirror was given and the host's apt configuration names none for its Debian suite.
    #[error("no Debian mirror to build from: {0}; give one with --mirror URL")]
    NoMirror(String),
    /// Another process holds this stack's build lock.
    #[error("stack {0} is being built by another process")]
    Busy(String),
    /// A build step's program exited unsuccessfully; `tail` is the end of its output.
    #[error("{command} failed ({status}); the end of its output:\n{tail}")]
    CommandFailed {
        command: String,
        status: ExitStatus,
        tail: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Says which file or step an I/O error came from.
pub(crate) trait IoContext<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T, E: Into<std::io::Error>> IoContext<T> for Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            context: context(),
            source: source.into(),
        })
    }
}
