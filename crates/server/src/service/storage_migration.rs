//! Moving an org's envelopes into its current storage, in the background, after the storage
//! changed. One envelope at a time: read it from where its version row says, check it is an
//! envelope of that version, create it in the new store (or find the identical object already
//! there, from an interrupted earlier attempt), read the copy back and compare, then flip the
//! row with a check-and-set — and only after the flip delete the old copy. So at every instant
//! the row points at a verified copy; a crash anywhere leaves at worst an extra copy, which the
//! next pass or the sweeper removes. Reads keep working throughout (a reader that raced a flip
//! re-reads the row, see `secrets.rs`), and writes go straight to the new storage.
//!
//! The org's "migrating" flag lives in the catalog, so a restarted node resumes where any node
//! left off; every node runs passes, and the check-and-set makes concurrent movers safe.

use super::*;
use crate::blob::BlobError;
use crate::catalog::{StoredBlob, VersionRecord};
use crate::http::AppState;
use std::time::Duration;

/// Versions fetched per catalog query.
const BATCH: u32 = 100;

/// Starts the migration task on this node (unless `interval` is zero).
pub fn spawn(state: Arc<AppState>, interval: Duration, rate: u32) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = state.coffer.migrate_storage_once(rate).await {
                tracing::warn!(error = %e, "storage migration pass failed; retrying next interval");
            }
        }
    });
}

impl Coffer {
    /// One pass over every org flagged as migrating; returns how many envelopes moved.
    pub async fn migrate_storage_once(&self, rate: u32) -> Result<u64> {
        let orgs = self
            .catalog
            .orgs_migrating()
            .await
            .map_err(|e| Error::catalog(e, || "migrating orgs".into()))?;
        let mut moved = 0;
        for org in orgs {
            let outcome = self.migrate_org(&org, rate).await;
            let mut errors = self.stores.migration_errors.lock().expect("poisoned");
            match outcome {
                Ok(n) => {
                    moved += n;
                    errors.remove(&org.id);
                }
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "moving envelopes failed");
                    errors.insert(org.id, e);
                }
            }
        }
        Ok(moved)
    }

    async fn migrate_org(&self, org: &OrgRecord, rate: u32) -> std::result::Result<u64, String> {
        let target = org.storage;
        let dst = self
            .stores
            .get(self.catalog.as_ref(), target)
            .await
            .map_err(|e| e.to_string())?;
        let mut moved = 0;
        loop {
            let batch = self
                .catalog
                .versions_elsewhere(org.id, target, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                break;
            }
            let mut progressed = false;
            let mut last_error = None;
            for v in &batch {
                match self.move_envelope(v, target, dst.as_ref()).await {
                    Ok(n) => {
                        progressed = true;
                        moved += n;
                    }
                    Err(e) => last_error = Some(e),
                }
                if rate > 0 {
                    tokio::time::sleep(Duration::from_secs_f64(1.0 / f64::from(rate))).await;
                }
            }
            if let Some(e) = last_error.filter(|_| !progressed) {
                return Err(e);
            }
        }
        let audit = AuditDraft::new(
            org.id,
            None,
            "coffer",
            "storage.migrated",
            "storage",
            serde_json::json!({"moved_by_this_node": moved}),
        );
        let finished = self
            .catalog
            .finish_migration(org.id, target, audit)
            .await
            .map_err(|e| e.to_string())?;
        if finished {
            tracing::info!(org = %org.slug, moved, "storage migration finished");
        }
        Ok(moved)
    }

    /// Moves one version's envelope into `target`. `Ok(1)` if this call moved it, `Ok(0)` if
    /// there was nothing to do (moved by another node, or destroyed meanwhile).
    async fn move_envelope(
        &self,
        v: &VersionRecord,
        target: Option<StorageId>,
        dst: &dyn BlobStore,
    ) -> std::result::Result<u64, String> {
        let what = format!("version {} of secret {}", v.version, v.secret);
        let src = self
            .stores
            .get(self.catalog.as_ref(), v.storage)
            .await
            .map_err(|e| e.to_string())?;
        let bytes = match src.get(&v.blob_key).await {
            Ok(b) => b,
            Err(BlobError::NotFound) => {
                return match self.catalog.version(v.secret, v.version).await {
                    Ok(now) if now.storage != v.storage => Ok(0),
                    Err(crate::catalog::CatalogError::NotFound) => Ok(0),
                    _ => Err(format!("the envelope of {what} is missing from its store")),
                };
            }
            Err(e) => return Err(format!("reading {what}: {e}")),
        };
        let max = self.settings.max_secret_bytes + coffer_envelope::OVERHEAD;
        let parsed = coffer_envelope::parse(&bytes, max)
            .map_err(|_| format!("the stored envelope of {what} is not a valid envelope"))?;
        if parsed.wrapped_key.to_bytes()[..] != v.wrapped_key[..] {
            return Err(format!(
                "the stored envelope of {what} does not match its row"
            ));
        }
        match dst.put_if_absent(&v.blob_key, bytes.clone()).await {
            Ok(()) | Err(BlobError::AlreadyExists) => {}
            Err(e) => return Err(format!("copying {what}: {e}")),
        }
        let copy = dst
            .get(&v.blob_key)
            .await
            .map_err(|e| format!("reading back the copy of {what}: {e}"))?;
        if copy != bytes {
            return Err(format!(
                "the new store holds a different object under the key of {what}; left in place"
            ));
        }
        let flipped = self
            .catalog
            .move_version(v.secret, v.version, v.storage, target)
            .await
            .map_err(|e| e.to_string())?;
        if flipped {
            let old = StoredBlob {
                storage: v.storage,
                key: v.blob_key.clone(),
            };
            self.discard_blob(&old).await;
            return Ok(1);
        }
        // Someone else moved it (fine), or it was destroyed meanwhile: then the copy is ours to
        // remove (the sweeper would too).
        if let Err(crate::catalog::CatalogError::NotFound) =
            self.catalog.version(v.secret, v.version).await
        {
            let copy = StoredBlob {
                storage: target,
                key: v.blob_key.clone(),
            };
            self.discard_blob(&copy).await;
        }
        Ok(0)
    }
}
