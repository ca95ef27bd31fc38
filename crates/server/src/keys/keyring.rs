//! The keyring: unwrapped org keys in memory, for at most `key_cache_ttl`, loaded single-flight.
//!
//! Fifty concurrent cold reveals of one org make one provider call: the first caller runs the
//! load, the rest wait for its result (moka's `try_get_with`). Entries expire after the TTL so a
//! revoked BYOK key stops being usable within a bounded time, and [`Keyring::forget_org`] drops
//! an org's keys at once when it is suspended. Every provider call is counted per org.
//!
//! The provider is chosen per org by a [`ProviderRouter`], asked only on a miss (inside the
//! single-flight load) or when a key is created — never on a cache hit, so routing costs nothing
//! on the hot path. [`Keyring::new`] routes every org to one provider.

use super::{KeyContext, KeyError, KeyProvider, OrgKeyWrap};
use crate::domain::OrgId;
use crate::metrics::{CacheLabels, KeyCallLabels, Metrics};
use async_trait::async_trait;
use coffer_envelope::{Key32, OrgKey};
use moka::future::Cache;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Which provider holds an org's root key right now.
///
/// Contract: answers from the org's current settings (so a switch to BYOK is seen by the next
/// miss on every node); may cache built providers but must rebuild one whose settings changed;
/// fails with [`KeyringError::Load`] if the settings cannot be read and with
/// [`KeyringError::Key`] if the provider cannot be built.
#[async_trait]
pub trait ProviderRouter: Send + Sync + 'static {
    /// The provider for `org`.
    async fn provider_for(&self, org: OrgId) -> Result<Arc<dyn KeyProvider>, KeyringError>;
}

/// Every org on one provider.
struct Fixed(Arc<dyn KeyProvider>);

#[async_trait]
impl ProviderRouter for Fixed {
    async fn provider_for(&self, _: OrgId) -> Result<Arc<dyn KeyProvider>, KeyringError> {
        Ok(self.0.clone())
    }
}

/// Cached access to org keys through per-org [`KeyProvider`]s.
pub struct Keyring {
    router: Arc<dyn ProviderRouter>,
    cache: Cache<(OrgId, u32), Arc<OrgKey>>,
    metrics: Arc<Metrics>,
}

fn outcome(e: &KeyError) -> &'static str {
    match e {
        KeyError::Denied { .. } => "denied",
        KeyError::Unavailable(_) => "unavailable",
        KeyError::Integrity => "integrity",
        KeyError::NoUsableWrap(_) => "no_usable_wrap",
    }
}

impl Keyring {
    /// A keyring routing every org to `provider`, whose entries live for `ttl`.
    pub fn new(provider: Arc<dyn KeyProvider>, ttl: Duration, metrics: Arc<Metrics>) -> Self {
        Self::routed(Arc::new(Fixed(provider)), ttl, metrics)
    }

    /// A keyring asking `router` for each org's provider, whose entries live for `ttl`.
    pub fn routed(router: Arc<dyn ProviderRouter>, ttl: Duration, metrics: Arc<Metrics>) -> Self {
        let cache = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(100_000)
            .support_invalidation_closures()
            .build();
        Self {
            router,
            cache,
            metrics,
        }
    }

    fn count(&self, p: &dyn KeyProvider, ctx: KeyContext, op: &'static str, out: &'static str) {
        self.metrics
            .key_provider_calls
            .get_or_create(&KeyCallLabels {
                org: ctx.org.to_string(),
                provider: p.name(),
                operation: op,
                outcome: out,
            })
            .inc();
    }

    /// A fresh random org key and its wraps by the org's provider (one provider call). The key
    /// is cached, so the writes that follow a creation or rotation make no provider call.
    pub async fn create(&self, ctx: KeyContext) -> Result<Vec<OrgKeyWrap>, KeyringError> {
        let provider = self.router.provider_for(ctx.org).await?;
        let key = Key32::generate();
        let wraps = self
            .wrap_with(provider.as_ref(), ctx, &key)
            .await
            .map_err(KeyringError::Key)?;
        self.cache
            .insert((ctx.org, ctx.key_version), Arc::new(key))
            .await;
        Ok(wraps)
    }

    /// Wraps an existing org key with `provider` (enabling BYOK re-wraps every version), counted
    /// like every provider call.
    pub async fn wrap_with(
        &self,
        provider: &dyn KeyProvider,
        ctx: KeyContext,
        key: &OrgKey,
    ) -> Result<Vec<OrgKeyWrap>, KeyError> {
        let result = provider.wrap(ctx, key).await;
        let out = result.as_ref().map_or_else(outcome, |_| "ok");
        self.count(provider, ctx, "wrap", out);
        result
    }

    /// The org key for `ctx`, from cache or by unwrapping what `load_wraps` returns.
    /// Concurrent misses for the same key share one load.
    pub async fn get<F, Fut>(
        &self,
        ctx: KeyContext,
        load_wraps: F,
    ) -> Result<Arc<OrgKey>, KeyringError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<OrgKeyWrap>, String>>,
    {
        if let Some(key) = self.cache.get(&(ctx.org, ctx.key_version)).await {
            self.metrics
                .key_cache
                .get_or_create(&CacheLabels { result: "hit" })
                .inc();
            return Ok(key);
        }
        self.metrics
            .key_cache
            .get_or_create(&CacheLabels { result: "miss" })
            .inc();
        let load = async {
            let provider = self.router.provider_for(ctx.org).await?;
            let wraps = load_wraps().await.map_err(KeyringError::Load)?;
            let result = provider.unwrap(ctx, &wraps).await;
            let out = result.as_ref().map_or_else(outcome, |_| "ok");
            self.count(provider.as_ref(), ctx, "unwrap", out);
            result.map(Arc::new).map_err(KeyringError::Key)
        };
        self.cache
            .try_get_with((ctx.org, ctx.key_version), load)
            .await
            .map_err(|shared: Arc<KeyringError>| (*shared).clone())
    }

    /// Drops every cached key of `org` at once (suspension, key change).
    pub fn forget_org(&self, org: OrgId) {
        // The predicate only fails if closures were not enabled on the builder; they are.
        let _ = self.cache.invalidate_entries_if(move |(o, _), _| *o == org);
    }
}

/// A keyring lookup failure: loading the wraps failed, or the provider did.
#[derive(Clone, Debug, thiserror::Error)]
pub enum KeyringError {
    /// Loading the wrapped key (from the catalog) failed; the cause was logged where it happened.
    #[error("loading the wrapped org key failed: {0}")]
    Load(String),
    /// The provider failed.
    #[error(transparent)]
    Key(KeyError),
}
