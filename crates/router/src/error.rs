//! The router's one error type.

/// What can go wrong in the router and the route emitter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener failed to accept connections.
    #[error("router listener: {0}")]
    Listener(#[from] std::io::Error),
    /// The BBS could not be read or subscribed to.
    #[error("bbs: {0}")]
    Bbs(#[from] ingot_bbs::Error),
    /// The TLS certificate could not be loaded or generated.
    #[error("router TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}
