//! The log-cache store: every source's recent envelopes, bounded by a count per source and by
//! an approximate memory cap over all of them.
//!
//! Ingest is called for every app log line, so it takes only a shared lock on the source map
//! and the one source's own lock. The map's exclusive lock is taken only to add a source or to
//! drop sources that pruning emptied.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use ingot_core::Clock;
use ingot_core::metrics::Counter;
use serde::Deserialize;

use crate::envelope::Envelope;
use crate::query::{MAX_LIMIT, ReadQuery};
use crate::source::{SourceLog, SourceMeta};

/// How much the cache keeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogCacheConfig {
    /// Envelopes kept per source; the oldest go first. log-cache's default is 100,000.
    pub max_per_source: usize,
    /// Approximate bytes kept over all sources. Over it, the largest sources lose their oldest
    /// envelopes until the total is 10% below it. log-cache caps at a share of the machine's
    /// RAM (50%); Ingot runs beside the apps, so the default is a fixed 256 MiB.
    pub max_bytes: usize,
}

impl Default for LogCacheConfig {
    fn default() -> Self {
        Self {
            max_per_source: 100_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The shared, bounded envelope store. Cloning is cheap and every clone is the same cache.
#[derive(Clone)]
pub struct LogCache {
    inner: Arc<Inner>,
}

struct Inner {
    config: LogCacheConfig,
    clock: Arc<dyn Clock>,
    started_at: DateTime<Utc>,
    sources: RwLock<HashMap<String, Source>>,
    /// Sum of every source's bytes.
    bytes: AtomicUsize,
    /// Held by the one thread pruning; others carry on ingesting.
    pruning: Mutex<()>,
    /// Envelopes stored, and envelopes evicted (by the per-source count or the memory cap).
    ingested: Counter,
    evicted: Counter,
}

struct Source {
    log: Mutex<SourceLog>,
    /// A copy of `log.bytes()`, so pruning can rank sources without locking each one.
    bytes: AtomicUsize,
}

impl LogCache {
    /// An empty cache. `clock` supplies "now" for reads without an end time.
    pub fn new(config: LogCacheConfig, clock: Arc<dyn Clock>) -> Self {
        let started_at = clock.now();
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                started_at,
                sources: RwLock::default(),
                bytes: AtomicUsize::new(0),
                pruning: Mutex::new(()),
                ingested: Counter::default(),
                evicted: Counter::default(),
            }),
        }
    }

    /// Stores an envelope under its `source_id`. A timestamp already taken in that source is
    /// moved to the next free nanosecond, so every envelope stays readable by a forward walk.
    pub fn ingest(&self, envelope: Envelope) {
        let (max_len, total) = (self.inner.config.max_per_source, &self.inner.bytes);
        let evicted = &self.inner.evicted;
        self.inner.ingested.inc();
        let bytes = {
            let sources = read(&self.inner.sources);
            if let Some(source) = sources.get(&envelope.source_id) {
                source.insert(envelope, max_len, total, evicted)
            } else {
                drop(sources);
                let mut sources = write(&self.inner.sources);
                let source = sources
                    .entry(envelope.source_id.clone())
                    .or_insert_with_key(|id| Source::new(id.clone()));
                source.insert(envelope, max_len, total, evicted)
            }
        };
        if bytes > self.inner.config.max_bytes {
            self.prune();
        }
    }

    /// Envelopes of one source matching `query`, sorted by timestamp (newest first when
    /// `descending`). An unknown source reads as empty. The limit is capped at 1000.
    pub fn read(&self, source_id: &str, query: &ReadQuery) -> Vec<Envelope> {
        let end = query.end_time.unwrap_or_else(|| self.now_ns());
        let sources = read(&self.inner.sources);
        let Some(source) = sources.get(source_id) else {
            return Vec::new();
        };
        lock(&source.log).read(
            query.start_time,
            end,
            &query.envelope_types,
            query.limit.min(MAX_LIMIT),
            query.descending,
        )
    }

    /// Every source's counters, by source id.
    pub fn meta(&self) -> BTreeMap<String, SourceMeta> {
        read(&self.inner.sources)
            .iter()
            .map(|(id, source)| (id.clone(), lock(&source.log).meta()))
            .collect()
    }

    /// The approximate bytes held over all sources.
    pub fn bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Whole seconds since the cache was created (log-cache's `vm_uptime`).
    pub(crate) fn uptime_secs(&self) -> i64 {
        (self.inner.clock.now() - self.inner.started_at).num_seconds()
    }

    fn now_ns(&self) -> i64 {
        let now = self.inner.clock.now();
        now.timestamp_nanos_opt().unwrap_or(i64::MAX)
    }

    /// Brings the total under the memory cap. One thread prunes at a time; the others carry
    /// on ingesting, and the pruner checks again after letting go, so bytes added meanwhile
    /// are never left over the cap.
    fn prune(&self) {
        while self.bytes() > self.inner.config.max_bytes {
            let Ok(_pruning) = self.inner.pruning.try_lock() else {
                return; // the thread holding it will check again
            };
            let max = self.inner.config.max_bytes;
            if self.trim_largest(self.bytes().saturating_sub(max - max / 10)) == 0 {
                return; // nothing left to evict
            }
        }
    }

    /// Frees at least `excess` bytes from the largest sources, so one noisy app cannot push a
    /// quiet app's logs out, and drops sources left empty. (log-cache itself drops the oldest
    /// envelopes of any source; trimming the largest keeps small sources, such as staging
    /// logs, intact.) Returns the bytes freed.
    fn trim_largest(&self, excess: usize) -> usize {
        let mut freed = 0;
        let mut emptied = Vec::new();
        {
            let sources = read(&self.inner.sources);
            let mut sizes: Vec<usize> = sources
                .values()
                .map(|s| s.bytes.load(Ordering::Relaxed))
                .collect();
            sizes.sort_unstable_by(|a, b| b.cmp(a));
            let level = water_level(&sizes, excess);
            for (id, source) in sources.iter() {
                if source.bytes.load(Ordering::Relaxed) <= level {
                    continue;
                }
                let (trimmed, empty) =
                    source.trim_to(level, &self.inner.bytes, &self.inner.evicted);
                freed += trimmed;
                if empty {
                    emptied.push(id.clone());
                }
            }
        }
        if !emptied.is_empty() {
            let mut sources = write(&self.inner.sources);
            // A source that received an envelope meanwhile stays.
            for id in emptied {
                if sources.get(&id).is_some_and(|s| lock(&s.log).len() == 0) {
                    sources.remove(&id);
                }
            }
        }
        freed
    }
}

impl Source {
    fn new(source_id: String) -> Self {
        Self {
            log: Mutex::new(SourceLog::new(source_id)),
            bytes: AtomicUsize::new(0),
        }
    }

    // The total is changed while the source's lock is held, so an eviction can never be
    // subtracted before the insert it undoes was added (which would wrap the total around).

    /// Inserts, then evicts down to `max_len`; returns the new total over all sources.
    fn insert(
        &self,
        envelope: Envelope,
        max_len: usize,
        total: &AtomicUsize,
        evicted: &Counter,
    ) -> usize {
        let mut log = lock(&self.log);
        let added = log.insert(envelope);
        let mut freed = 0;
        while log.len() > max_len {
            freed += log.evict_oldest().unwrap_or(0);
            evicted.inc();
        }
        self.bytes.store(log.bytes(), Ordering::Relaxed);
        let grown = total.fetch_add(added, Ordering::Relaxed) + added;
        total.fetch_sub(freed, Ordering::Relaxed);
        grown - freed
    }

    /// Evicts the oldest envelopes until at most `level` bytes remain; returns the bytes
    /// freed and whether the source is now empty.
    fn trim_to(&self, level: usize, total: &AtomicUsize, evicted: &Counter) -> (usize, bool) {
        let mut log = lock(&self.log);
        let mut freed = 0;
        while log.bytes() > level {
            freed += log.evict_oldest().unwrap_or(0);
            evicted.inc();
        }
        self.bytes.store(log.bytes(), Ordering::Relaxed);
        total.fetch_sub(freed, Ordering::Relaxed);
        (freed, log.len() == 0)
    }
}

/// The level to cut the largest sources down to so that at least `excess` bytes are freed,
/// cutting as few sources as possible ("water filling"). `sizes` must be sorted, largest first.
fn water_level(sizes: &[usize], excess: usize) -> usize {
    let mut above = 0; // bytes in the k largest sources
    for (k, &size) in sizes.iter().enumerate() {
        above += size;
        let next = sizes.get(k + 1).copied().unwrap_or(0);
        let count = k + 1;
        if above - count * next >= excess {
            return (above - excess) / count;
        }
    }
    0
}

// Poisoning is ignored: every critical section leaves the maps consistent, so a panic in one
// caller is no reason to stop storing logs for all the others.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

mod prometheus;
#[cfg(test)]
mod tests;
