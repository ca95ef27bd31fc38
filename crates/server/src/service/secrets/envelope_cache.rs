//! Envelopes recently revealed, in memory, so a warm reveal does not go back to the blob store
//! (a file open + read + close, or an S3 `GetObject`). Only an envelope that has just opened
//! cleanly is kept, so a store that returns tampered bytes is still caught on its first read.
//!
//! Why this is safe without any invalidation: an envelope's blob key is written once and never
//! rewritten (`v{n}-{random}.cfr`, stored with `put_if_absent`; a storage migration copies to a
//! fresh key), and a reveal only asks for the (store, key) its version row names. Once a row
//! stops naming a key (destroy, migration) nothing asks for it again, so an entry can never be
//! stale for the row that asks. The cache holds ciphertext only — every reveal still parses and
//! opens the envelope, checking integrity, binding and key commitment — and it is bounded by
//! bytes (`limits.envelope_cache_bytes`, 0 turns it off), evicting the least useful entries.

use crate::catalog::StoredBlob;
use crate::metrics::{CacheLabels, Metrics};
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Bookkeeping charged per entry on top of the envelope's bytes (key, map slot).
const ENTRY_OVERHEAD: usize = 96;

/// An entry's weight: the envelope's bytes, its key and [`ENTRY_OVERHEAD`].
#[derive(Clone)]
struct ByBytes;

impl Weighter<StoredBlob, Bytes> for ByBytes {
    fn weight(&self, key: &StoredBlob, val: &Bytes) -> u64 {
        (val.len() + key.key.as_str().len() + ENTRY_OVERHEAD) as u64
    }
}

/// A size-bounded map from where an envelope is stored to its bytes.
pub struct EnvelopeCache {
    entries: Option<Cache<StoredBlob, Bytes, ByBytes>>,
    hits: Counter,
    misses: Counter,
}

impl EnvelopeCache {
    /// A cache of at most `max_bytes` (0: no caching).
    pub fn new(max_bytes: u64, metrics: &Metrics) -> Self {
        // The item estimate only sizes the map up front: envelopes of 1 KiB secrets.
        let estimated_items = usize::try_from(max_bytes / 1_500)
            .unwrap_or(usize::MAX)
            .max(16);
        let entries =
            (max_bytes > 0).then(|| Cache::with_weighter(estimated_items, max_bytes, ByBytes));
        let counter = |result| {
            metrics
                .envelope_cache
                .get_or_create(&CacheLabels { result })
                .clone()
        };
        Self {
            entries,
            hits: counter("hit"),
            misses: counter("miss"),
        }
    }

    /// The cached envelope at `at`, if any.
    pub fn get(&self, at: &StoredBlob) -> Option<Bytes> {
        let entries = self.entries.as_ref()?;
        let found = entries.get(at);
        if found.is_some() {
            &self.hits
        } else {
            &self.misses
        }
        .inc();
        found
    }

    /// Remembers the envelope stored at `at` (just read from its store and opened cleanly).
    pub fn insert(&self, at: StoredBlob, bytes: Bytes) {
        if let Some(entries) = &self.entries {
            entries.insert(at, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::BlobKey;

    fn at(key: &str) -> StoredBlob {
        StoredBlob {
            storage: None,
            key: BlobKey::parse(key).unwrap(),
        }
    }

    #[test]
    fn remembers_what_it_was_given_and_counts_hits_and_misses() {
        let metrics = Metrics::default();
        let cache = EnvelopeCache::new(1 << 20, &metrics);
        let a = at("orgs/a/secrets/s/v1-x.cfr");
        assert_eq!(cache.get(&a), None);
        cache.insert(a.clone(), Bytes::from_static(b"sealed"));
        assert_eq!(cache.get(&a).as_deref(), Some(&b"sealed"[..]));
        assert_eq!(cache.get(&at("orgs/a/secrets/s/v2-y.cfr")), None);
        let text = metrics.render();
        assert!(
            text.contains("coffer_envelope_cache_lookups_total{result=\"hit\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("coffer_envelope_cache_lookups_total{result=\"miss\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn stores_in_different_places_are_different_entries() {
        let cache = EnvelopeCache::new(1 << 20, &Metrics::default());
        let mut elsewhere = at("orgs/a/secrets/s/v1-x.cfr");
        elsewhere.storage = Some(crate::domain::StorageId::new());
        cache.insert(at("orgs/a/secrets/s/v1-x.cfr"), Bytes::from_static(b"here"));
        assert_eq!(cache.get(&elsewhere), None);
    }

    #[test]
    fn stays_within_its_byte_budget_and_zero_turns_it_off() {
        let cache = EnvelopeCache::new(64 * 1024, &Metrics::default());
        for i in 0..1000 {
            cache.insert(
                at(&format!("orgs/a/secrets/s/v{i}-x.cfr")),
                Bytes::from(vec![0u8; 1024]),
            );
        }
        let entries = cache.entries.as_ref().unwrap();
        assert!(entries.weight() <= 64 * 1024, "{}", entries.weight());
        assert!(!entries.is_empty());

        let off = EnvelopeCache::new(0, &Metrics::default());
        off.insert(at("orgs/a/secrets/s/v1-x.cfr"), Bytes::from_static(b"x"));
        assert_eq!(off.get(&at("orgs/a/secrets/s/v1-x.cfr")), None);
    }
}
