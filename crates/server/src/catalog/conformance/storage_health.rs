//! The [`StorageHealthCatalog`](crate::catalog::StorageHealthCatalog) contract as executable
//! checks, run by [`super::run_all`] on every backend: a never-checked bucket has no health; a
//! failing check degrades it once (one `storage.degraded` event) and a passing one recovers it
//! once, however many callers race; a degraded bucket failing at another step keeps its `since`;
//! a stale report and a report for a location the org no longer uses change nothing; another
//! org's bucket is untouched; an unknown org is `NotFound`.

use super::byok::{count, event, region};
use super::new_org;
use crate::catalog::{
    Catalog, CatalogError, HealthFinding, StorageHealthReport, StorageLocation, StorageStatus,
    StorageTransition,
};
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

fn finding(step: &str) -> HealthFinding {
    HealthFinding {
        step: step.into(),
        detail: format!("the {step} step failed; fix the bucket policy"),
    }
}

fn report(org: OrgId, storage: StorageId, at: i64, failing: Option<&str>) -> StorageHealthReport {
    StorageHealthReport {
        org,
        storage,
        at: Timestamp::from_millis(at),
        failure: failing.map(finding),
        warnings: vec![finding("cors")],
    }
}

/// Concurrent reports of one outcome: how many made a transition, and which.
async fn race(
    c: &dyn Catalog,
    org: OrgId,
    storage: StorageId,
    at: i64,
    failing: Option<&str>,
    action: &'static str,
) -> Vec<StorageTransition> {
    let calls = (0..6).map(|i| {
        c.record_storage_health(report(org, storage, at + i, failing), event(org, action))
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect()
}

/// Runs every storage-health check; creates its own orgs.
pub async fn run_all(c: &dyn Catalog) {
    let create = async |slug: &str| {
        let o = new_org(slug);
        let id = o.id;
        c.create_org(o, event(id, "org.create")).await.unwrap().id
    };
    let org = create("health-org").await;
    let other = create("health-other").await;
    let loc = location(org, "health-bucket");
    let theirs = location(other, "health-theirs");
    c.set_org_storage(org, Some(loc.clone()), event(org, "storage.set"))
        .await
        .unwrap();
    c.set_org_storage(other, Some(theirs.clone()), event(other, "storage.set"))
        .await
        .unwrap();
    assert_eq!(c.storage_health(loc.id).await.unwrap(), None);

    // A passing first check: recorded, no transition.
    let t = c
        .record_storage_health(report(org, loc.id, 1_000, None), event(org, "x"))
        .await
        .unwrap();
    assert_eq!(t, None);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.since.millis(), h.checked_at.millis()),
        (StorageStatus::Ok, 1_000, 1_000)
    );
    assert_eq!((h.failure, h.warnings), (None, vec![finding("cors")]));
    assert_eq!(count(c, org, "x").await, 0, "no event without a transition");

    // Racing failing checks: one transition, one event.
    let won = race(c, org, loc.id, 2_000, Some("put"), "storage.degraded").await;
    assert_eq!(won, vec![StorageTransition::Degraded]);
    assert_eq!(count(c, org, "storage.degraded").await, 1);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!(h.status, StorageStatus::Degraded);
    assert_eq!(h.failure, Some(finding("put")));
    assert!((2_000..2_006).contains(&h.since.millis()));
    let since = h.since;

    // Failing at another step: still degraded since the first failure, the new step shown.
    let t = c
        .record_storage_health(
            report(org, loc.id, 3_000, Some("bucket_exists")),
            event(org, "storage.degraded"),
        )
        .await
        .unwrap();
    assert_eq!(t, None);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!(
        (h.failure, h.since),
        (Some(finding("bucket_exists")), since)
    );
    assert_eq!(count(c, org, "storage.degraded").await, 1);

    // A report older than the recorded one (a slow node) changes nothing.
    let t = c
        .record_storage_health(
            report(org, loc.id, 2_500, None),
            event(org, "storage.recovered"),
        )
        .await
        .unwrap();
    assert_eq!(t, None);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.checked_at.millis()),
        (StorageStatus::Degraded, 3_000)
    );
    assert_eq!(count(c, org, "storage.recovered").await, 0);

    // Racing passing checks: one recovery, one event.
    let won = race(c, org, loc.id, 4_000, None, "storage.recovered").await;
    assert_eq!(won, vec![StorageTransition::Recovered]);
    assert_eq!(count(c, org, "storage.recovered").await, 1);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!((h.status, h.failure), (StorageStatus::Ok, None));
    assert!((4_000..4_006).contains(&h.since.millis()));

    // The other org's bucket was never touched, and its chain has no health events.
    assert_eq!(c.storage_health(theirs.id).await.unwrap(), None);
    assert_eq!(count(c, other, "storage.degraded").await, 0);

    // A location the org no longer uses (or never did) records nothing.
    c.set_org_storage(org, None, event(org, "storage.reset"))
        .await
        .unwrap();
    let t = c
        .record_storage_health(
            report(org, loc.id, 5_000, Some("get")),
            event(org, "storage.degraded"),
        )
        .await
        .unwrap();
    assert_eq!(t, None);
    let h = c.storage_health(loc.id).await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.checked_at.millis()),
        (StorageStatus::Ok, 4_005)
    );
    let t = c
        .record_storage_health(
            report(org, theirs.id, 5_000, Some("get")),
            event(org, "storage.degraded"),
        )
        .await
        .unwrap();
    assert_eq!(t, None, "another org's location is not this org's storage");
    assert_eq!(c.storage_health(theirs.id).await.unwrap(), None);
    assert_eq!(count(c, org, "storage.degraded").await, 1);

    // No such org.
    let ghost = OrgId::new();
    let r = c
        .record_storage_health(report(ghost, loc.id, 6_000, None), event(ghost, "x"))
        .await;
    assert_eq!(r.unwrap_err(), CatalogError::NotFound);
}
