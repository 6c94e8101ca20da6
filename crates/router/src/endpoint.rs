//! An endpoint: one running instance's address behind a route, and its in-flight counter.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One backend a route sends requests to. Ordered so registrations compare deterministically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    pub instance_guid: String,
    pub index: u32,
    pub process_guid: String,
    /// The app whose logs get the requests' `RTR` lines: the DesiredLRP's log guid, as
    /// Diego's route emitter registers it (`app_id`).
    pub app_id: String,
}

impl Endpoint {
    /// `address:port`, the endpoint's identity within a route (as in gorouter).
    pub fn addr(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr())
    }
}

/// Counts a request against its endpoint for as long as it lives (least-connection balancing).
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn new(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
