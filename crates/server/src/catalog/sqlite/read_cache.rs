//! An in-memory cache in front of the two reads every authenticated request and every reveal
//! make: a token hash's principal and a reveal's target (org, secret, version).
//!
//! Why: on SQLite each of those reads is its own read transaction, and every commit (a reveal
//! commits its view count) makes each reader drop its page cache, so a warm reveal spent more CPU
//! on these two reads — shared-memory locks, re-reading pages, decoding rows — than on anything
//! else of its own (docs/performance.md, session 5).
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

use crate::catalog::{Principal, RevealTarget};
use crate::domain::{OrgSlug, Scope, SecretName};
use crate::metrics::{CacheLabels, Metrics};
use prometheus_client::metrics::counter::Counter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a reveal names: the org, scope, secret and version (none: the current one).
pub(super) type TargetKey = (OrgSlug, Scope, SecretName, Option<u32>);

/// A cached value and the generation it was read at.
struct Stamped<T> {
    generation: u64,
    value: T,
}

/// The cache: bounded by entries (`catalog.cache_entries`, 0 turns it off), evicting the least
/// useful ones.
pub(super) struct ReadCache {
    generation: AtomicU64,
    principals: Option<moka::sync::Cache<[u8; 32], Arc<Stamped<Principal>>>>,
    targets: Option<moka::sync::Cache<TargetKey, Arc<Stamped<RevealTarget>>>>,
    hits: Counter,
    misses: Counter,
}

impl ReadCache {
    /// A cache of at most `entries` principals and as many reveal targets (0: no caching).
    pub fn new(entries: u64, metrics: &Metrics) -> Self {
        let counter = |result| {
            metrics
                .catalog_cache
                .get_or_create(&CacheLabels { result })
                .clone()
        };
        Self {
            generation: AtomicU64::new(0),
            principals: (entries > 0).then(|| moka::sync::Cache::new(entries)),
            targets: (entries > 0).then(|| moka::sync::Cache::new(entries)),
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
    pub fn target(&self, key: &TargetKey) -> Option<RevealTarget> {
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
