//! Where components write envelopes. In `ingot up` every writer holds the one [`LogCache`];
//! a component elsewhere would hold a client that forwards them.

use crate::{Envelope, LogCache};

pub trait EnvelopeSink: Send + Sync + 'static {
    fn ingest(&self, envelope: Envelope);
}

impl EnvelopeSink for LogCache {
    fn ingest(&self, envelope: Envelope) {
        LogCache::ingest(self, envelope);
    }
}
