//! In-memory blob store: a sorted map behind a mutex. For tests and benchmarks that want to
//! measure everything but the disk; it meets the same contract as `fs` except durability.

use super::{BlobError, BlobKey, BlobMeta, BlobPrefix, BlobStore};
use crate::domain::Timestamp;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Blobs in process memory.
#[derive(Default)]
pub struct MemoryBlobStore {
    objects: Mutex<BTreeMap<BlobKey, (Bytes, i64)>>,
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError> {
        let mut objects = self.objects.lock().expect("blob map poisoned");
        if objects.contains_key(key) {
            return Err(BlobError::AlreadyExists);
        }
        objects.insert(key.clone(), (bytes, Timestamp::now().millis()));
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError> {
        let objects = self.objects.lock().expect("blob map poisoned");
        objects
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or(BlobError::NotFound)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.objects.lock().expect("blob map poisoned").remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError> {
        let objects = self.objects.lock().expect("blob map poisoned");
        Ok(objects
            .iter()
            .filter(|(k, _)| prefix.matches(k))
            .map(|(k, (b, m))| BlobMeta {
                key: k.clone(),
                size: b.len() as u64,
                modified_ms: *m,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run_all(&super::MemoryBlobStore::default()).await;
    }
}
