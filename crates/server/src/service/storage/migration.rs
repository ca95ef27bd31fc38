//! Moving an org's envelopes into its current storage, in the background, after the storage
//! changed. One envelope at a time: read it from where its version row says, check it is an
//! envelope of that version, create a copy in the new store under a fresh key, read the copy
//! back and compare, then flip the row to the copy with a check-and-set (which also requires the
//! new store to still be the org's) — and only after the flip delete the old copy. The version's
//! manifest (`crate::manifest`) moves with it unchanged; a version that has none gets one
//! naming the secret as the catalog has it now. So at every
//! instant the row points at a verified copy; a crash anywhere leaves at worst an extra copy,
//! which the sweeper removes; and since no two copies ever share a key, a mover deleting its
//! old copy can never remove one that another mover (or an A→B→A switch) relies on. Reads keep working throughout (a reader that raced a flip
//! re-reads the row, see `secrets.rs`), and writes go straight to the new storage.
//!
//! The org's "migrating" flag lives in the catalog, so a restarted node resumes where any node
//! left off; every node runs passes (`crate::jobs`), and the check-and-set makes concurrent
//! movers safe.

use crate::audit::AuditDraft;
use crate::blob::{BlobError, BlobKey, BlobStore};
use crate::catalog::{OrgRecord, SecretFilter, StoredBlob, VersionRecord};
use crate::domain::{OrgId, Scope, SecretId, SecretKind, SecretName, StorageId};
use crate::service::secrets::{Filing, put_with_manifest};
use crate::service::{Coffer, Error, Result};
use std::collections::HashMap;
use std::time::Duration;

/// The current scope, name and kind of an org's secrets, read once per pass when the first copy
/// needs them: a version written before manifests existed gets one as it moves, naming the
/// secret as it is now.
#[derive(Default)]
struct Names(Option<HashMap<SecretId, (Scope, SecretName, SecretKind)>>);

impl Names {
    async fn of(
        &mut self,
        coffer: &Coffer,
        org: OrgId,
        secret: SecretId,
    ) -> std::result::Result<Option<(Scope, SecretName, SecretKind)>, String> {
        if self.0.as_ref().is_none_or(|m| !m.contains_key(&secret)) {
            let filter = SecretFilter {
                include_deleted: true,
                limit: u32::MAX,
                ..SecretFilter::default()
            };
            let all = coffer
                .catalog
                .list_secrets(org, &filter)
                .await
                .map_err(|e| format!("reading the org's secret names: {e}"))?;
            self.0 = Some(
                all.into_iter()
                    .map(|s| (s.id, (s.scope, s.name, s.kind)))
                    .collect(),
            );
        }
        Ok(self.0.as_ref().and_then(|m| m.get(&secret).cloned()))
    }
}

/// Versions fetched per catalog query.
const BATCH: u32 = 100;

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
        let mut names = Names::default();
        loop {
            if self.storage_changed(org, target).await? {
                return Ok(moved);
            }
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
                if self.is_stopping() {
                    return Ok(moved);
                }
                match self
                    .move_envelope(org, v, target, dst.as_ref(), &mut names)
                    .await
                {
                    Ok(n) => {
                        progressed = true;
                        moved += n;
                        // A refused flip: moved by another node, or the org left `target`.
                        if n == 0 && self.storage_changed(org, target).await? {
                            return Ok(moved);
                        }
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
        if self.is_stopping() {
            return Ok(moved);
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

    /// Whether the org's storage is no longer `target`, the storage this pass moves into. Every
    /// flip into a store the org has left is refused (and its fresh copy discarded), so a pass
    /// that kept going would copy the same versions into it forever and never let the next
    /// pass move them where the org is now; it stops instead.
    async fn storage_changed(
        &self,
        org: &OrgRecord,
        target: Option<StorageId>,
    ) -> std::result::Result<bool, String> {
        let now = self
            .catalog
            .org_by_id(org.id)
            .await
            .map_err(|e| format!("reading org `{}`: {e}", org.slug))?;
        Ok(now.storage != target)
    }

    /// The manifest beside `v`'s envelope in `src`, to copy unchanged (its binding names the
    /// secret version, not the object key); `None` if it has none (written before manifests).
    async fn copied_manifest(
        &self,
        src: &dyn BlobStore,
        v: &VersionRecord,
    ) -> std::result::Result<Option<bytes::Bytes>, String> {
        let Some(key) = v.blob_key.manifest_key() else {
            return Ok(None);
        };
        match src.get(&key).await {
            Ok(b) if b.len() <= crate::manifest::MAX_SEALED => Ok(Some(b)),
            Ok(_) | Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(format!(
                "reading the manifest of version {} of secret {}: {e}",
                v.version, v.secret
            )),
        }
    }

    /// Moves one version's envelope into `target`. `Ok(1)` if this call moved it, `Ok(0)` if
    /// there was nothing to do (moved by another node, or destroyed meanwhile).
    async fn move_envelope(
        &self,
        org: &OrgRecord,
        v: &VersionRecord,
        target: Option<StorageId>,
        dst: &dyn BlobStore,
        names: &mut Names,
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
        let copy = StoredBlob {
            storage: target,
            key: BlobKey::for_write(org.id, v.secret, v.version),
        };
        let manifest = match self.copied_manifest(src.as_ref(), v).await? {
            Some(m) => m,
            None => {
                let Some((scope, name, kind)) = names.of(self, org.id, v.secret).await? else {
                    return Ok(0); // destroyed meanwhile
                };
                let filing = Filing {
                    org: org.id,
                    secret: v.secret,
                    version: v.version,
                    scope: &scope,
                    name: &name,
                    kind,
                    at: v.created_at,
                    by: &v.created_by,
                };
                self.seal_manifest(&filing, &copy.key, org.key_version)
                    .await
                    .map_err(|e| format!("the manifest of {what}: {e}"))?
            }
        };
        put_with_manifest(dst, &copy.key, bytes.clone(), manifest)
            .await
            .map_err(|e| format!("copying {what}: {e}"))?;
        let back = dst.get(&copy.key).await;
        if !back.as_ref().is_ok_and(|b| *b == bytes) {
            self.discard_blob(&copy).await;
            return Err(match back {
                Err(e) => format!("reading back the copy of {what}: {e}"),
                Ok(_) => format!("the copy of {what} read back different; not switched"),
            });
        }
        let flipped = self
            .catalog
            .move_version(v.secret, v.version, &v.stored_blob(), &copy)
            .await
            .map_err(|e| e.to_string())?;
        // Whichever copy no row points at now is ours to remove (the sweeper would too).
        if flipped {
            self.discard_blob(&v.stored_blob()).await;
            Ok(1)
        } else {
            self.discard_blob(&copy).await;
            Ok(0)
        }
    }
}
