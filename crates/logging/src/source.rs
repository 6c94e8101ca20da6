//! One source's envelopes, ordered by timestamp. Single-threaded; the cache puts each one
//! behind its own lock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::envelope::{Envelope, EnvelopeType, GaugeValue, Message};
use crate::intern::Interner;

/// A source's counters, as log-cache's `meta` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceMeta {
    /// Envelopes held now.
    pub count: u64,
    /// Envelopes evicted so far.
    pub expired: u64,
    /// The oldest timestamp held (0 when empty).
    pub oldest_timestamp: i64,
    /// The newest timestamp ever stored (kept after eviction).
    pub newest_timestamp: i64,
}

/// Envelopes keyed by a timestamp that is unique within the source.
///
/// Keys are unique because the cf CLI walks forward from "last timestamp + 1": two envelopes
/// sharing a timestamp across a batch boundary would lose the second. A colliding envelope is
/// moved to the next free nanosecond (log-cache nudges its keys the same way).
#[derive(Debug)]
pub(crate) struct SourceLog {
    source_id: String,
    envelopes: BTreeMap<i64, Stored>,
    bytes: usize,
    expired: u64,
    newest: Option<i64>,
    /// The last collision: (timestamp asked for, timestamp given). A burst of envelopes with
    /// one timestamp then costs one step each, not a walk over the whole burst.
    last_nudge: Option<(i64, i64)>,
    instance_ids: Interner<str>,
    tag_sets: Interner<BTreeMap<String, String>>,
}

/// An envelope as its source keeps it: the source id is the source's own, and the instance id
/// and tags are shared with the source's other envelopes (they rarely differ).
#[derive(Debug)]
struct Stored {
    instance_id: Arc<str>,
    tags: Arc<BTreeMap<String, String>>,
    message: Message,
}

impl SourceLog {
    pub(crate) fn new(source_id: String) -> Self {
        Self {
            source_id,
            envelopes: BTreeMap::new(),
            bytes: 0,
            expired: 0,
            newest: None,
            last_nudge: None,
            instance_ids: Interner::default(),
            tag_sets: Interner::default(),
        }
    }

    /// Stores an envelope and returns the bytes it added.
    pub(crate) fn insert(&mut self, envelope: Envelope) -> usize {
        let Envelope {
            timestamp,
            instance_id,
            tags,
            mut message,
            ..
        } = envelope;
        let timestamp = self.free_timestamp(timestamp);
        if let Message::Log(log) = &mut message {
            log.payload.shrink_to_fit();
        }
        let stored = Stored {
            instance_id: self.instance_ids.share(instance_id),
            tags: self.tag_sets.share(tags),
            message,
        };
        let size = stored.size();
        self.newest = self.newest.max(Some(timestamp));
        let replaced = self.envelopes.insert(timestamp, stored);
        // Only reachable when every timestamp up to i64::MAX is taken.
        let freed = replaced.map_or(0, |old| old.size());
        self.bytes = self.bytes + size - freed;
        size
    }

    fn free_timestamp(&mut self, wanted: i64) -> i64 {
        if !self.envelopes.contains_key(&wanted) {
            return wanted;
        }
        let mut free = match self.last_nudge {
            Some((asked, given)) if asked == wanted => given,
            _ => wanted,
        };
        while self.envelopes.contains_key(&free) && free < i64::MAX {
            free += 1;
        }
        self.last_nudge = Some((wanted, free));
        free
    }

    /// Evicts the oldest envelope and returns the bytes it freed.
    pub(crate) fn evict_oldest(&mut self) -> Option<usize> {
        let (_, oldest) = self.envelopes.pop_first()?;
        let size = oldest.size();
        self.bytes -= size;
        self.expired += 1;
        Some(size)
    }

    pub(crate) fn len(&self) -> usize {
        self.envelopes.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Up to `limit` envelopes in `[start, end)` of the given kinds (all kinds when empty),
    /// oldest first, or newest first when `descending`.
    pub(crate) fn read(
        &self,
        start: i64,
        end: i64,
        kinds: &[EnvelopeType],
        limit: usize,
        descending: bool,
    ) -> Vec<Envelope> {
        if start >= end {
            return Vec::new();
        }
        let range = self
            .envelopes
            .range((Bound::Included(start), Bound::Excluded(end)));
        let wanted = |(_, s): &(&i64, &Stored)| {
            kinds.is_empty() || kinds.contains(&s.message.envelope_type())
        };
        let envelope = |(&timestamp, s): (&i64, &Stored)| Envelope {
            timestamp,
            source_id: self.source_id.clone(),
            instance_id: String::from(&*s.instance_id),
            tags: BTreeMap::clone(&s.tags),
            message: s.message.clone(),
        };
        if descending {
            range
                .rev()
                .filter(wanted)
                .take(limit)
                .map(envelope)
                .collect()
        } else {
            range.filter(wanted).take(limit).map(envelope).collect()
        }
    }

    pub(crate) fn meta(&self) -> SourceMeta {
        SourceMeta {
            count: self.envelopes.len() as u64,
            expired: self.expired,
            oldest_timestamp: self.envelopes.first_key_value().map_or(0, |(&t, _)| t),
            newest_timestamp: self.newest.unwrap_or(0),
        }
    }
}

impl Stored {
    /// Roughly the memory this envelope holds: its share of a tree node plus the message's
    /// own allocations. The shared instance id and tags are not counted per envelope; each
    /// source holds at most a few dozen of them.
    fn size(&self) -> usize {
        // Tree nodes hold up to 11 entries and are about two-thirds full on average.
        let entry = (size_of::<i64>() + size_of::<Self>()) * 3 / 2;
        let message = match &self.message {
            Message::Log(log) => allocation(log.payload.capacity()),
            Message::Counter(c) => allocation(c.name.capacity()),
            Message::Gauge(g) => {
                let names: usize = g
                    .metrics
                    .iter()
                    .map(|(name, value)| {
                        allocation(name.capacity()) + allocation(value.unit.capacity())
                    })
                    .sum();
                let per_node = 11 * (size_of::<String>() + size_of::<GaugeValue>());
                names + g.metrics.len().div_ceil(11) * allocation(per_node)
            }
            Message::Timer(t) => allocation(t.name.capacity()),
            Message::Event(e) => allocation(e.title.capacity()) + allocation(e.body.capacity()),
        };
        entry + message
    }
}

/// What a heap allocation of `len` bytes costs: nothing when empty, else rounded up to the
/// allocator's 16-byte granule plus its bookkeeping.
fn allocation(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len.next_multiple_of(16) + 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::LogType;

    fn line(text: &str, at: i64) -> Envelope {
        Envelope::log("app", "0", "APP/PROC/WEB", LogType::Out, text, at)
    }

    fn payloads(envelopes: &[Envelope]) -> Vec<String> {
        envelopes
            .iter()
            .map(|e| match &e.message {
                Message::Log(log) => String::from_utf8_lossy(&log.payload).into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn reads_in_timestamp_order_whatever_the_arrival_order() {
        let mut log = SourceLog::new("app".into());
        for (text, at) in [("c", 30), ("a", 10), ("d", 40), ("b", 20)] {
            log.insert(line(text, at));
        }
        assert_eq!(
            payloads(&log.read(0, 100, &[], 10, false)),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            payloads(&log.read(0, 100, &[], 10, true)),
            ["d", "c", "b", "a"]
        );
    }

    #[test]
    fn start_is_inclusive_and_end_exclusive() {
        let mut log = SourceLog::new("app".into());
        for at in [10, 20, 30] {
            log.insert(line(&at.to_string(), at));
        }
        assert_eq!(payloads(&log.read(10, 30, &[], 10, false)), ["10", "20"]);
        assert!(log.read(30, 30, &[], 10, false).is_empty());
        assert!(log.read(40, 10, &[], 10, false).is_empty());
    }

    #[test]
    fn limit_keeps_the_oldest_ascending_and_the_newest_descending() {
        let mut log = SourceLog::new("app".into());
        for at in 1..=5 {
            log.insert(line(&at.to_string(), at));
        }
        assert_eq!(payloads(&log.read(0, 10, &[], 2, false)), ["1", "2"]);
        assert_eq!(payloads(&log.read(0, 10, &[], 2, true)), ["5", "4"]);
    }

    #[test]
    fn filters_by_kind() {
        let mut log = SourceLog::new("app".into());
        log.insert(line("x", 1));
        log.insert(Envelope::counter("app", "0", "requests", 1, 1, 2));
        let logs = log.read(0, 10, &[EnvelopeType::Log], 10, false);
        assert_eq!(payloads(&logs), ["x"]);
        let counters = log.read(
            0,
            10,
            &[EnvelopeType::Counter, EnvelopeType::Gauge],
            10,
            false,
        );
        assert_eq!(counters.len(), 1);
        assert_eq!(counters[0].timestamp, 2);
    }

    #[test]
    fn equal_timestamps_get_distinct_consecutive_ones_in_arrival_order() {
        let mut log = SourceLog::new("app".into());
        for text in ["a", "b", "c"] {
            log.insert(line(text, 100));
        }
        log.insert(line("d", 101));
        let all = log.read(0, 1000, &[], 10, false);
        assert_eq!(payloads(&all), ["a", "b", "c", "d"]);
        let stamps: Vec<i64> = all.iter().map(|e| e.timestamp).collect();
        assert_eq!(stamps, [100, 101, 102, 103]);
    }

    #[test]
    fn a_burst_of_one_timestamp_stays_cheap() {
        let mut log = SourceLog::new("app".into());
        for _ in 0..50_000 {
            log.insert(line("same", 7));
        }
        assert_eq!(log.len(), 50_000);
        assert_eq!(log.meta().newest_timestamp, 7 + 49_999);
    }

    #[test]
    fn eviction_removes_the_oldest_and_counts_it() {
        let mut log = SourceLog::new("app".into());
        let sizes: usize = [3, 1, 2].iter().map(|&at| log.insert(line("x", at))).sum();
        assert_eq!(log.bytes(), sizes);
        let freed = log.evict_oldest().unwrap();
        assert_eq!(log.bytes(), sizes - freed);
        assert_eq!(
            log.meta(),
            SourceMeta {
                count: 2,
                expired: 1,
                oldest_timestamp: 2,
                newest_timestamp: 3
            }
        );
        log.evict_oldest();
        log.evict_oldest();
        assert_eq!(log.evict_oldest(), None);
        assert_eq!(log.bytes(), 0);
        assert_eq!(log.meta().newest_timestamp, 3);
    }
}
