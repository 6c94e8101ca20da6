//! The crate's one error type.

use crate::executor::container::InvalidTransition;

/// Every error the cell returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The allocation does not fit in what the cell has left.
    #[error("cannot allocate container {guid}: {shortfall}")]
    InsufficientResources { guid: String, shortfall: String },
    /// No container has this guid.
    #[error("container not found: {guid}")]
    ContainerNotFound { guid: String },
    /// A container with this guid is already allocated.
    #[error("container already exists: {guid}")]
    ContainerExists { guid: String },
    /// A container was asked for a life-cycle step its state does not allow.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("garden: {0}")]
    Garden(#[from] ingot_garden::Error),
    #[error("bbs: {0}")]
    Bbs(#[from] ingot_bbs::Error),
    /// A dependency (the network, a remote rep, the disk) failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The cell's configuration is unusable.
    #[error("invalid cell configuration: {0}")]
    Config(String),
}

impl Error {
    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        Self::Unavailable(reason.to_string())
    }
}
