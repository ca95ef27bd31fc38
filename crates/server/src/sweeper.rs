//! The orphan sweeper. Writes put the blob before the catalog row, so a crash (or a lost race)
//! can leave a blob that no row points at; so can a storage migration interrupted between
//! recording a version's new place and deleting its old copy. Every `interval`, the sweeper
//! lists each store — the default store and every org bucket ever saved — and deletes blobs
//! older than `grace` that no version references *in that store* (a version's manifest counts
//! as referenced with its envelope); the grace period keeps it away from writes and copies still
//! in flight. `crate::jobs` runs it.

use crate::blob::{BlobPrefix, BlobStore};
use crate::catalog::StoredBlob;
use crate::domain::{StorageId, Timestamp};
use crate::service::Coffer;

/// One pass over every store: removes unreferenced blobs older than `grace`. Returns how many
/// were removed. A bucket that cannot be listed (its org revoked access) is skipped and reported
/// after the others were swept.
pub async fn sweep_once(coffer: &Coffer, grace: std::time::Duration) -> Result<usize, String> {
    let all = BlobPrefix::parse("orgs/").expect("static prefix is valid");
    let mut removed = sweep_store(coffer, coffer.blobs().as_ref(), None, &all, grace).await?;
    let locations = coffer
        .catalog()
        .storage_locations()
        .await
        .map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for loc in locations {
        let prefix = BlobPrefix::parse(&format!("orgs/{}/", loc.org)).expect("ids are safe");
        let swept = match coffer
            .stores()
            .bucket(coffer.catalog().as_ref(), loc.id)
            .await
        {
            Ok(store) => sweep_store(coffer, store.as_ref(), Some(loc.id), &prefix, grace).await,
            Err(e) => Err(e.to_string()),
        };
        match swept {
            Ok(n) => removed += n,
            Err(e) => failures.push(format!("bucket {}: {e}", loc.bucket)),
        }
    }
    if failures.is_empty() {
        Ok(removed)
    } else {
        Err(format!(
            "removed {removed}; could not sweep {}",
            failures.join("; ")
        ))
    }
}

async fn sweep_store(
    coffer: &Coffer,
    store: &dyn BlobStore,
    storage: Option<StorageId>,
    prefix: &BlobPrefix,
    grace: std::time::Duration,
) -> Result<usize, String> {
    let blobs = store.list(prefix).await.map_err(|e| e.to_string())?;
    let cutoff = Timestamp::now().millis() - grace.as_millis() as i64;
    let mut removed = 0;
    for blob in blobs.into_iter().filter(|b| b.modified_ms <= cutoff) {
        // Only envelopes and their manifests are the sweeper's: other objects under an org's
        // prefix (its audit copies) are kept by their own rules.
        if blob.key.manifest_key().is_none() && blob.key.envelope_of_manifest().is_none() {
            continue;
        }
        // A manifest lives as long as the envelope it names is referenced.
        let envelope = blob.key.envelope_of_manifest();
        let referenced = coffer
            .catalog()
            .blob_referenced(&StoredBlob {
                storage,
                key: envelope.unwrap_or_else(|| blob.key.clone()),
            })
            .await
            .map_err(|e| e.to_string())?;
        if !referenced {
            store.delete(&blob.key).await.map_err(|e| e.to_string())?;
            removed += 1;
        }
    }
    Ok(removed)
}
