//! A decorator that counts every blob-store call by backend, operation and outcome, so
//! `/metrics` shows storage traffic whatever the backend.

use super::{BlobError, BlobKey, BlobMeta, BlobPrefix, BlobStore};
use crate::metrics::{BlobLabels, Metrics};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

/// Counts calls to the wrapped store.
pub struct MeteredBlobStore {
    inner: Arc<dyn BlobStore>,
    metrics: Arc<Metrics>,
}

impl MeteredBlobStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn BlobStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(&self, operation: &'static str, r: &Result<T, BlobError>) {
        let outcome = match r {
            Ok(_) => "ok",
            Err(BlobError::NotFound) => "not_found",
            Err(BlobError::AlreadyExists) => "already_exists",
            Err(BlobError::Unavailable(_)) => "unavailable",
            Err(BlobError::Refused(_)) => "refused",
        };
        let labels = BlobLabels {
            backend: self.inner.backend(),
            operation,
            outcome,
        };
        self.metrics.blob_calls.get_or_create(&labels).inc();
    }
}

#[async_trait]
impl BlobStore for MeteredBlobStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError> {
        let r = self.inner.put_if_absent(key, bytes).await;
        self.count("put", &r);
        r
    }
    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError> {
        let r = self.inner.get(key).await;
        self.count("get", &r);
        r
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let r = self.inner.delete(key).await;
        self.count("delete", &r);
        r
    }
    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError> {
        let r = self.inner.list(prefix).await;
        self.count("list", &r);
        r
    }
}
