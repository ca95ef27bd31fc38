//! The [`UploadCatalog`] contract as executable checks, run by [`super::conformance::run_all`]
//! on every backend: a grant round-trips field for field (including the optional ones and a
//! storage location), is visible only in its own org, is unique by id, is audited with its
//! creation, deletes exactly once, and expired grants are forgotten when a later one is created.

use super::byok::{event, region};
use super::new_org;
use crate::blob::BlobKey;
use crate::catalog::{AuditFilter, Catalog, CatalogError, PendingUpload, StorageLocation};
use crate::domain::{
    BucketName, OrgId, Scope, SecretId, SecretKind, SecretName, StorageId, Timestamp, UploadId,
};

fn grant(org: OrgId, name: &str, created_at: i64, ttl_ms: i64) -> PendingUpload {
    let secret = SecretId::new();
    PendingUpload {
        id: UploadId::new(),
        org,
        secret,
        scope: Scope::parse("UP-7").unwrap(),
        name: SecretName::parse(name).unwrap(),
        kind: SecretKind::Note,
        version: 1,
        key_version: 1,
        wrapped_key: vec![9; 60],
        blob_key: BlobKey::for_write(org, secret, 1),
        storage: None,
        size: 42,
        expires_at: Timestamp::from_millis(created_at + ttl_ms),
        created_at: Timestamp::from_millis(created_at),
        created_by: "tester".into(),
        secret_expires_at: None,
        view_limit: None,
        restricted: false,
    }
}

/// Runs every upload check against `c` (other checks may have left rows behind).
pub async fn run_all(c: &dyn Catalog) {
    let create = async |slug: &str| {
        let o = new_org(slug);
        let id = o.id;
        c.create_org(o, event(id, "org.create")).await.unwrap().id
    };
    let org = create("uploads-org").await;
    let other = create("uploads-other").await;
    let now = Timestamp::now().millis();

    // Round trip with every optional field set, in an org bucket.
    let loc = StorageLocation {
        id: StorageId::new(),
        org,
        bucket: BucketName::parse("upload-bucket").unwrap(),
        region: region("us-east-1"),
        endpoint: None,
        prefix: None,
        created_at: Timestamp::from_millis(now),
        created_by: "tester".into(),
    };
    c.set_org_storage(org, Some(loc.clone()), event(org, "storage.set"))
        .await
        .unwrap();
    let full = PendingUpload {
        scope: Scope::parse("UP").unwrap(),
        kind: SecretKind::File,
        version: 3,
        key_version: 2,
        storage: Some(loc.id),
        size: u64::from(u32::MAX) + 7,
        secret_expires_at: Some(Timestamp::from_millis(now + 86_400_000)),
        view_limit: Some(4),
        ..grant(org, "full", now, 300_000)
    };
    c.create_upload(full.clone(), event(org, "secret.upload_create"))
        .await
        .unwrap();
    assert_eq!(c.upload(org, full.id).await.unwrap(), full);
    let audit = c
        .audit_events(
            org,
            &AuditFilter {
                limit: 1000,
                action: Some("secret.upload_create".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "the grant is audited with its creation");

    // Scoped to the org; unique by id.
    assert_eq!(
        c.upload(other, full.id).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(
        c.upload(org, UploadId::new()).await.unwrap_err(),
        CatalogError::NotFound
    );
    let dup = PendingUpload {
        name: SecretName::parse("dup").unwrap(),
        ..full.clone()
    };
    assert_eq!(
        c.create_upload(dup, event(org, "secret.upload_create"))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists
    );
    let minimal = grant(org, "minimal", now, 300_000);
    c.create_upload(minimal.clone(), event(org, "secret.upload_create"))
        .await
        .unwrap();
    assert_eq!(c.upload(org, minimal.id).await.unwrap(), minimal);

    // Deleting: not from another org, exactly once.
    assert!(!c.delete_upload(other, full.id).await.unwrap());
    assert!(c.delete_upload(org, full.id).await.unwrap());
    assert!(!c.delete_upload(org, full.id).await.unwrap());
    assert_eq!(
        c.upload(org, full.id).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(c.upload(org, minimal.id).await.unwrap(), minimal);

    // A grant that expired before a later one was created is forgotten; a live one is kept.
    let stale = grant(other, "stale", now - 600_000, 60_000);
    c.create_upload(stale.clone(), event(other, "secret.upload_create"))
        .await
        .unwrap();
    assert_eq!(c.upload(other, stale.id).await.unwrap(), stale);
    let fresh = grant(other, "fresh", now, 300_000);
    c.create_upload(fresh.clone(), event(other, "secret.upload_create"))
        .await
        .unwrap();
    assert_eq!(
        c.upload(other, stale.id).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(c.upload(other, fresh.id).await.unwrap(), fresh);
    assert_eq!(c.upload(org, minimal.id).await.unwrap(), minimal);
}
