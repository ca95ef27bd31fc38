//! The [`AuditCopyCatalog`](crate::catalog::AuditCopyCatalog) contract as executable checks, run
//! by [`super::run_all`] on every backend: nothing copied reads as 0; the number is per org and
//! per location; it only grows, also when racing recorders report out of order; a location or
//! org that does not exist is `NotFound`.

use super::byok::{event, region};
use super::new_org;
use crate::catalog::{Catalog, CatalogError, StorageLocation};
use crate::domain::{BucketName, OrgId, StorageId, Timestamp};

fn location(org: OrgId, bucket: &str) -> StorageLocation {
    StorageLocation {
        id: StorageId::new(),
        org,
        bucket: BucketName::parse(bucket).unwrap(),
        region: region("eu-central-1"),
        endpoint: None,
        prefix: None,
        created_at: Timestamp::from_millis(1_700_000_000_000),
        created_by: "tester".into(),
    }
}

/// Runs every audit-copy check against `c` (other checks may have left rows behind).
pub async fn run_all(c: &dyn Catalog) {
    let o = new_org("audit-copy-org");
    let org = o.id;
    c.create_org(o, event(org, "org.create")).await.unwrap();
    let first = location(org, "audit-copy-a");
    let second = location(org, "audit-copy-b");
    for l in [&first, &second] {
        c.set_org_storage(org, Some(l.clone()), event(org, "storage.set"))
            .await
            .unwrap();
    }
    assert_eq!(c.audit_copied(org, first.id).await.unwrap(), 0);
    c.record_audit_copied(org, first.id, 3).await.unwrap();
    assert_eq!(c.audit_copied(org, first.id).await.unwrap(), 3);
    assert_eq!(
        c.audit_copied(org, second.id).await.unwrap(),
        0,
        "per location"
    );
    // A smaller number recorded late never moves it back.
    c.record_audit_copied(org, first.id, 2).await.unwrap();
    assert_eq!(c.audit_copied(org, first.id).await.unwrap(), 3);
    // Racing recorders: the largest wins.
    let racers = (1..=8u64).map(|n| c.record_audit_copied(org, second.id, n));
    for r in futures::future::join_all(racers).await {
        r.unwrap();
    }
    assert_eq!(c.audit_copied(org, second.id).await.unwrap(), 8);
    assert_eq!(
        c.record_audit_copied(org, StorageId::new(), 1).await,
        Err(CatalogError::NotFound),
        "an unknown location"
    );
    assert_eq!(
        c.record_audit_copied(OrgId::new(), first.id, 1).await,
        Err(CatalogError::NotFound),
        "an unknown org"
    );
}
