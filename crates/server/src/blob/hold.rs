//! A decorator that holds deletions back while a backup copies blobs out of the store it wraps.
//!
//! A backup snapshots the catalog, then copies every blob the snapshot references. Blobs are
//! immutable, but a blob can still be *deleted* after the snapshot was taken — by a destroy, by a
//! storage migration removing its old copy, or by the orphan sweeper — and the archive would then
//! lack an envelope its own catalog needs. While a [`DeleteHold`] exists, deletions are
//! remembered instead of done (and answered `Ok`, as the contract asks of a delete); the last hold
//! to go does them. A process that dies meanwhile leaves those blobs unreferenced, and the sweeper
//! removes them like any orphan. Reads, writes and listings pass straight through.

use super::{BlobError, BlobKey, BlobMeta, BlobPrefix, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Wraps a store so that deletions can be held back (see the module docs).
pub struct HoldingBlobStore {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Arc<dyn BlobStore>,
    state: Mutex<HoldState>,
}

#[derive(Default)]
struct HoldState {
    holds: usize,
    pending: BTreeSet<BlobKey>,
}

/// While it lives, the store's deletions wait; dropping the last one starts them (on the tokio
/// runtime it is dropped in, if any; else they are left to the sweeper).
pub struct DeleteHold {
    shared: Arc<Shared>,
}

impl HoldingBlobStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn BlobStore>) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner,
                state: Mutex::new(HoldState::default()),
            }),
        }
    }

    /// Holds deletions back until the returned hold (and every other) is dropped.
    pub fn hold(&self) -> DeleteHold {
        self.shared.state.lock().expect("hold state poisoned").holds += 1;
        DeleteHold {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for DeleteHold {
    fn drop(&mut self) {
        let pending = {
            let mut state = self.shared.state.lock().expect("hold state poisoned");
            state.holds -= 1;
            if state.holds > 0 {
                return;
            }
            std::mem::take(&mut state.pending)
        };
        if pending.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                blobs = pending.len(),
                "deletions held during a backup were not done; the sweeper will remove those blobs"
            );
            return;
        };
        let inner = self.shared.inner.clone();
        runtime.spawn(async move {
            for key in pending {
                if let Err(e) = inner.delete(&key).await {
                    tracing::warn!(blob = %key, error = %e, "could not remove a blob whose deletion waited for a backup; the sweeper will");
                }
            }
        });
    }
}

#[async_trait]
impl BlobStore for HoldingBlobStore {
    fn backend(&self) -> &'static str {
        self.shared.inner.backend()
    }
    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError> {
        self.shared.inner.put_if_absent(key, bytes).await
    }
    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError> {
        self.shared.inner.get(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        {
            let mut state = self.shared.state.lock().expect("hold state poisoned");
            if state.holds > 0 {
                state.pending.insert(key.clone());
                return Ok(());
            }
        }
        self.shared.inner.delete(key).await
    }
    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError> {
        self.shared.inner.list(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::MemoryBlobStore;

    #[tokio::test]
    async fn conforms_to_the_blob_contract() {
        let store = HoldingBlobStore::new(Arc::new(MemoryBlobStore::default()));
        crate::blob::conformance::run_all(&store).await;
    }

    #[tokio::test]
    async fn deletions_wait_for_the_last_hold() {
        let inner: Arc<dyn BlobStore> = Arc::new(MemoryBlobStore::default());
        let store = HoldingBlobStore::new(inner.clone());
        let key = BlobKey::parse("orgs/a/secrets/b/v1.cfr").unwrap();
        store
            .put_if_absent(&key, Bytes::from_static(b"x"))
            .await
            .unwrap();
        let first = store.hold();
        let second = store.hold();
        store.delete(&key).await.unwrap();
        assert!(inner.get(&key).await.is_ok(), "deleted while held");
        drop(first);
        tokio::task::yield_now().await;
        assert!(inner.get(&key).await.is_ok(), "deleted while still held");
        drop(second);
        for _ in 0..100 {
            if matches!(inner.get(&key).await, Err(BlobError::NotFound)) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(matches!(inner.get(&key).await, Err(BlobError::NotFound)));
        // A hold let go on a blocking thread (as a backup's stream does) still deletes.
        store
            .put_if_absent(&key, Bytes::from_static(b"z"))
            .await
            .unwrap();
        let hold = store.hold();
        store.delete(&key).await.unwrap();
        tokio::task::spawn_blocking(move || drop(hold))
            .await
            .unwrap();
        for _ in 0..100 {
            if matches!(inner.get(&key).await, Err(BlobError::NotFound)) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(matches!(inner.get(&key).await, Err(BlobError::NotFound)));
        // Without a hold, deletions happen at once.
        store
            .put_if_absent(&key, Bytes::from_static(b"y"))
            .await
            .unwrap();
        store.delete(&key).await.unwrap();
        assert!(matches!(inner.get(&key).await, Err(BlobError::NotFound)));
    }
}
