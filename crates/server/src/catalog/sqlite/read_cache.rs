//! An in-memory cache in front of the two reads every authenticated request and every reveal
//! make: a token hash's principal and a reveal's target (org, secret, version).
//!
//! Why: on SQLite each of those reads is its own read transaction, and every commit (a reveal
//! commits its view count) makes each reader drop its page cache, so a warm reveal spent more CPU
//! on these two reads — shared-memory locks, re-reading pages, decoding rows — than on anything
//! else of its own (docs/performance.md).
//!
//! Why it can never answer with something a write has changed: every write goes through this
//! process's one writer thread (the file is locked to one process, see [`super::process_lock`]),
//! and after the COMMIT of any group that may change what is cached, before answering anyone,
//! the writer calls [`ReadCache::invalidate`], which moves the generation on. A read takes the
//! generation *before* its read transaction begins and stamps what it caches with it; a lookup
//! only uses an entry stamped with the current generation. So an entry is used only if no
//! invalidating commit finished after its snapshot was taken: a write that was answered is seen
//! by every read that starts after the answer, as without the cache.
//!
//! The only writes that do not invalidate are reveals and lone audit events
//! ([`super::writer::Changes::ViewsAndAudit`]): they change a secret's view count and append
//! audit events. So a cached secret's `views` may be behind. That is harmless because a
//! reveal's target is only used to decide whether to try, the writer's own
//! `UPDATE … WHERE views < view_limit` decides, and a view-limited secret's target is never
//! cached, so its refusal reads as before. Principals hold no counters.
//! Unknown tokens and failed reads are not cached, so a caller without a token cannot fill the
//! cache; a target whose secret does not exist is (bounded like the rest, until the next write).
//!
//! The maps are `quick_cache` (S3-FIFO, sharded): a hit is one hash probe under a shard's read
//! lock, and a reveal's target is looked up by a [`TargetRef`] of borrowed names instead of
//! cloned ones. They are not `moka` caches: moka's reads also log each access for later
//! draining, which made the two lookups ~4% of a reveal's server CPU (docs/performance.md).

use crate::catalog::{Principal, RevealTarget};
use crate::domain::{OrgSlug, Scope, SecretName};
use crate::metrics::{CacheLabels, Metrics};
use prometheus_client::metrics::counter::Counter;
use quick_cache::Equivalent;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a reveal names: the org, scope, secret and version (none: the current one).
pub(super) type TargetKey = (OrgSlug, Scope, SecretName, Option<u32>);

/// A [`TargetKey`] of borrowed parts, to look one up without cloning the names. It hashes
/// exactly as the tuple does (each field in order), which the cache's probe relies on.
#[derive(Hash)]
pub(super) struct TargetRef<'a>(
    pub &'a OrgSlug,
    pub &'a Scope,
    pub &'a SecretName,
    pub Option<u32>,
);

impl Equivalent<TargetKey> for TargetRef<'_> {
    fn equivalent(&self, key: &TargetKey) -> bool {
        (self.0, self.1, self.2, self.3) == (&key.0, &key.1, &key.2, key.3)
    }
}

impl TargetRef<'_> {
    /// The owned key, to insert under.
    pub fn to_key(&self) -> TargetKey {
        (self.0.clone(), self.1.clone(), self.2.clone(), self.3)
    }
}

/// A cached value and the generation it was read at.
struct Stamped<T> {
    generation: u64,
    value: T,
}

/// The cache: bounded by entries (`catalog.cache_entries`, 0 turns it off), evicting the least
/// useful ones.
pub(super) struct ReadCache {
    generation: AtomicU64,
    principals: Option<Cache<[u8; 32], Arc<Stamped<Principal>>>>,
    targets: Option<Cache<TargetKey, Arc<Stamped<RevealTarget>>>>,
    hits: Counter,
    misses: Counter,
}

impl ReadCache {
    /// A cache of at most `entries` principals and as many reveal targets (0: no caching).
    pub fn new(entries: u64, metrics: &Metrics) -> Self {
        let capacity = usize::try_from(entries).unwrap_or(usize::MAX);
        let counter = |result| {
            metrics
                .catalog_cache
                .get_or_create(&CacheLabels { result })
                .clone()
        };
        Self {
            generation: AtomicU64::new(0),
            principals: (entries > 0).then(|| Cache::new(capacity)),
            targets: (entries > 0).then(|| Cache::new(capacity)),
            hits: counter("hit"),
            misses: counter("miss"),
        }
    }

    /// The generation to stamp a read with. Take it before the read's transaction begins.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes every entry stale. The writer calls it after the COMMIT of any group that may have
    /// changed a cached row, before answering that group.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The principal of a token hash, if cached at the current generation.
    pub fn principal(&self, hash: &[u8; 32]) -> Option<Principal> {
        let found = self.fresh(self.principals.as_ref()?.get(hash));
        self.count(found.is_some());
        found
    }

    /// Caches a principal read at `generation`.
    pub fn put_principal(&self, hash: [u8; 32], generation: u64, value: &Principal) {
        if let Some(cache) = &self.principals {
            cache.insert(
                hash,
                Arc::new(Stamped {
                    generation,
                    value: value.clone(),
                }),
            );
        }
    }

    /// A reveal target, if cached at the current generation.
    pub fn target(&self, key: &TargetRef<'_>) -> Option<RevealTarget> {
        let found = self.fresh(self.targets.as_ref()?.get(key));
        self.count(found.is_some());
        found
    }

    /// Caches a reveal target read at `generation`, unless its secret has a view limit.
    pub fn put_target(&self, key: TargetKey, generation: u64, value: &RevealTarget) {
        let limited = value
            .secret
            .as_ref()
            .is_some_and(|s| s.view_limit.is_some());
        if let (Some(cache), false) = (&self.targets, limited) {
            cache.insert(
                key,
                Arc::new(Stamped {
                    generation,
                    value: value.clone(),
                }),
            );
        }
    }

    fn fresh<T: Clone>(&self, entry: Option<Arc<Stamped<T>>>) -> Option<T> {
        entry
            .filter(|e| e.generation == self.generation())
            .map(|e| e.value.clone())
    }

    fn count(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(org: &str, scope: &str, name: &str, version: Option<u32>) -> TargetKey {
        (
            OrgSlug::parse(org).unwrap(),
            Scope::parse(scope).unwrap(),
            SecretName::parse(name).unwrap(),
            version,
        )
    }

    fn by_ref(cache: &Cache<TargetKey, u32>, k: &TargetKey) -> Option<u32> {
        cache.get(&TargetRef(&k.0, &k.1, &k.2, k.3))
    }

    /// A borrowed key finds exactly the entry its owned twin was inserted under: it hashes like
    /// the tuple, and every part takes part in the comparison.
    #[test]
    fn a_borrowed_key_finds_its_owned_twin_and_nothing_else() {
        let cache = Cache::new(100);
        let stored = key("acme", "OPS-1", "db", None);
        cache.insert(stored.clone(), 1);
        cache.insert(key("acme", "OPS-1", "db", Some(2)), 2);
        let r = TargetRef(&stored.0, &stored.1, &stored.2, stored.3);
        assert_eq!(r.to_key(), stored);
        assert_eq!(by_ref(&cache, &stored), Some(1));
        assert_eq!(
            by_ref(&cache, &key("acme", "OPS-1", "db", Some(2))),
            Some(2)
        );
        for other in [
            key("acme", "OPS-1", "db", Some(1)),
            key("acme", "OPS-1", "dc", None),
            key("acme", "OPS-2", "db", None),
            key("acme", "OPS", "db", None),
            key("acmf", "OPS-1", "db", None),
        ] {
            assert_eq!(by_ref(&cache, &other), None, "{other:?}");
        }
    }
}
