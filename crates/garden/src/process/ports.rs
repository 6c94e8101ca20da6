//! Host ports for net in.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::Error;

/// Asks the kernel for a free loopback port. The listener closes at once, so another
/// program could take the port before the app binds it; the window is small and a caller can
/// map again.
pub(crate) fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("finding a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("finding a free port", e))?
        .port();
    Ok(port)
}
