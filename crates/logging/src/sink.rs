//! Where components write envelopes. In `ingot up` every writer holds the one [`LogCache`];
//! a component elsewhere holds an [`crate::EnvelopeForwarder`].

use std::sync::Arc;

use crate::{Envelope, LogCache};

pub trait EnvelopeSink: Send + Sync + 'static {
    fn ingest(&self, envelope: Envelope);
}

impl EnvelopeSink for LogCache {
    fn ingest(&self, envelope: Envelope) {
        LogCache::ingest(self, envelope);
    }
}

impl<S: EnvelopeSink + ?Sized> EnvelopeSink for Arc<S> {
    fn ingest(&self, envelope: Envelope) {
        (**self).ingest(envelope);
    }
}
