//! The [`StorageCatalog`] contract as executable checks, run by [`super::conformance::run_all`]
//! on every backend: saving a location points the org at it and flags the migration; versions
//! remember their store; moving a version is a check-and-set with one winner among racers; the
//! flag clears only when nothing is left elsewhere, and a write that lands in the old store after
//! the switch keeps it set; the sweeper's reference check is per store.

use super::byok::{event, region};
use super::{new_org, version};
use crate::blob::BlobKey;
use crate::catalog::{AuditFilter, Catalog, CatalogError, StorageLocation, StoredBlob};
use crate::domain::{BucketName, KeyPrefix, OrgId, SecretId, StorageId, Timestamp};

/// Version `v` of `secret`'s envelope, copied to `to` under a fresh key.
fn copy_of(secret: SecretId, v: u32, to: Option<StorageId>) -> StoredBlob {
    StoredBlob {
        storage: to,
        key: BlobKey::parse(&format!(
            "orgs/x/secrets/{secret}/v{v}-{}.cfr",
            StorageId::new()
        ))
        .unwrap(),
    }
}

async fn at(c: &dyn Catalog, secret: SecretId, v: u32) -> StoredBlob {
    c.version(secret, v).await.unwrap().stored_blob()
}

fn location(org: OrgId, bucket: &str) -> StorageLocation {
    StorageLocation {
        id: StorageId::new(),
        org,
        bucket: BucketName::parse(bucket).unwrap(),
        region: region("eu-central-1"),
        endpoint: Some("http://127.0.0.1:9".into()),
        prefix: KeyPrefix::parse_optional("coffer/x").unwrap(),
        created_at: Timestamp::from_millis(1_700_000_000_000),
        created_by: "tester".into(),
    }
}

/// Runs every storage check against `c` (other checks may have left rows behind).
pub async fn run_all(c: &dyn Catalog) {
    let create = async |slug: &str| {
        let o = new_org(slug);
        let id = o.id;
        c.create_org(o, event(id, "org.create")).await.unwrap().id
    };
    let org = create("storage-org").await;
    let other = create("storage-other").await;
    assert_eq!(c.org_by_id(org).await.unwrap().storage, None);
    // An org without secrets has nothing to move, and nothing done.
    let p = c.storage_progress(org).await.unwrap();
    assert_eq!((p.total, p.done, p.migrating), (0, 0, false));
    // Two versions in the default store, one secret in another org.
    let secret = SecretId::new();
    for v in 1..=2 {
        c.put_version(version(org, secret, "ST-1", "db", v), event(org, "w"))
            .await
            .unwrap();
    }
    c.put_version(
        version(other, SecretId::new(), "ST-1", "db", 1),
        event(other, "w"),
    )
    .await
    .unwrap();
    let p = c.storage_progress(org).await.unwrap();
    assert_eq!((p.total, p.done, p.migrating), (2, 2, false));

    // Save a bucket: the org points at it and is flagged.
    let loc = location(org, "acme-secrets");
    let after = c
        .set_org_storage(org, Some(loc.clone()), event(org, "storage.set"))
        .await
        .unwrap();
    assert_eq!(after.storage, Some(loc.id));
    assert_eq!(c.storage_location(loc.id).await.unwrap(), loc);
    assert!(c.storage_locations().await.unwrap().contains(&loc));
    assert_eq!(
        c.storage_location(StorageId::new()).await.unwrap_err(),
        CatalogError::NotFound
    );
    let migrating = c.orgs_migrating().await.unwrap();
    assert_eq!(
        migrating.iter().map(|o| o.id).collect::<Vec<_>>(),
        [org],
        "only the org that changed storage migrates"
    );
    let p = c.storage_progress(org).await.unwrap();
    assert_eq!((p.total, p.done, p.migrating), (2, 0, true));

    // Not finished while versions are elsewhere.
    assert!(
        !c.finish_migration(org, Some(loc.id), event(org, "storage.migrated"))
            .await
            .unwrap()
    );
    let pending = c.versions_elsewhere(org, Some(loc.id), 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        c.versions_elsewhere(org, Some(loc.id), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // Racing movers of one version: exactly one wins.
    let v1 = &pending.iter().find(|v| v.version == 1).unwrap();
    let from = v1.stored_blob();
    let copies: Vec<StoredBlob> = (0..4).map(|_| copy_of(secret, 1, Some(loc.id))).collect();
    let racers = copies
        .iter()
        .map(|to| c.move_version(v1.secret, 1, &from, to));
    let won = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1, "one check-and-set wins");
    let moved = c.version(secret, 1).await.unwrap();
    assert_eq!(moved.storage, Some(loc.id));
    assert!(
        copies.contains(&moved.stored_blob()),
        "the winner's copy is recorded"
    );
    assert!(c.blob_referenced(&moved.stored_blob()).await.unwrap());
    assert!(
        !c.blob_referenced(&from).await.unwrap(),
        "the copy left in the old store is an orphan"
    );
    let v2 = at(c, secret, 2).await;
    // A copy into a store that is not the org's current one is refused (a stale mover).
    assert!(
        !c.move_version(secret, 2, &v2, &copy_of(secret, 2, None))
            .await
            .unwrap()
    );
    assert!(
        !c.move_version(secret, 2, &v2, &copy_of(secret, 2, Some(StorageId::new())))
            .await
            .unwrap()
    );
    assert!(
        c.move_version(secret, 2, &v2, &copy_of(secret, 2, Some(loc.id)))
            .await
            .unwrap()
    );
    assert!(
        !c.move_version(secret, 9, &v2, &copy_of(secret, 9, Some(loc.id)))
            .await
            .unwrap(),
        "a missing version does not move"
    );

    // A write that raced the switch lands in the old store: the flag must survive it.
    c.put_version(version(org, secret, "ST-1", "db", 3), event(org, "w"))
        .await
        .unwrap();
    assert!(
        !c.finish_migration(org, Some(loc.id), event(org, "storage.migrated"))
            .await
            .unwrap()
    );
    let v3 = at(c, secret, 3).await;
    assert!(
        c.move_version(secret, 3, &v3, &copy_of(secret, 3, Some(loc.id)))
            .await
            .unwrap()
    );
    let p = c.storage_progress(org).await.unwrap();
    assert_eq!((p.total, p.done), (3, 3));
    // Finishing for a storage the org no longer has is refused.
    assert!(
        !c.finish_migration(org, None, event(org, "storage.migrated"))
            .await
            .unwrap()
    );
    assert!(
        c.finish_migration(org, Some(loc.id), event(org, "storage.migrated"))
            .await
            .unwrap()
    );
    assert!(c.orgs_migrating().await.unwrap().is_empty());
    assert!(!c.storage_progress(org).await.unwrap().migrating);
    // A write into the current storage does not flag the org.
    let mut v4 = version(org, secret, "ST-1", "db", 4);
    v4.storage = Some(loc.id);
    c.put_version(v4, event(org, "w")).await.unwrap();
    assert!(c.orgs_migrating().await.unwrap().is_empty());
    // A late write into the store the org left flags it again: the migration must move it.
    c.put_version(version(org, secret, "ST-1", "db", 5), event(org, "w"))
        .await
        .unwrap();
    assert!(c.storage_progress(org).await.unwrap().migrating);
    let v5 = at(c, secret, 5).await;
    assert!(
        c.move_version(secret, 5, &v5, &copy_of(secret, 5, Some(loc.id)))
            .await
            .unwrap()
    );
    assert!(
        c.finish_migration(org, Some(loc.id), event(org, "storage.migrated"))
            .await
            .unwrap()
    );

    // Back to the default store: flagged again, every version elsewhere.
    let back = c
        .set_org_storage(org, None, event(org, "storage.reset"))
        .await
        .unwrap();
    assert_eq!(back.storage, None);
    assert_eq!(c.versions_elsewhere(org, None, 100).await.unwrap().len(), 5);
    // Destroy reports each version's own store.
    let blobs = c
        .destroy(secret, event(org, "secret.destroy"))
        .await
        .unwrap();
    assert_eq!(blobs.len(), 5);
    assert!(blobs.iter().all(|b| b.storage == Some(loc.id)));
    assert!(
        c.finish_migration(org, None, event(org, "m"))
            .await
            .unwrap()
    );
    // The other org never moved.
    let p = c.storage_progress(other).await.unwrap();
    assert_eq!((p.total, p.done, p.migrating), (1, 1, false));
    // Every change was audited: the chain still verifies with the storage events in it.
    let events = c
        .audit_events(
            org,
            &AuditFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for a in ["storage.set", "storage.migrated", "storage.reset"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
