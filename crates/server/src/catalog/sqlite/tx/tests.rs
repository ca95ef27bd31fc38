//! The remembered chain heads never outlive a rollback: after every way the writer's work can
//! be undone, the next event still follows the last one in the file, and the chain verifies.

use super::super::{SqliteCatalog, writes};
use crate::audit::{AuditRecord, Verifier};
use crate::catalog::conformance::byok::event;
use crate::catalog::conformance::new_org;
use crate::catalog::{AuditFilter, Catalog, CatalogError};
use crate::domain::OrgId;
use std::sync::Arc;

/// A catalog in `dir` with one org (whose chain holds its `org.create` event).
async fn catalog_with_org(dir: &tempfile::TempDir) -> (Arc<SqliteCatalog>, OrgId) {
    let c = SqliteCatalog::open(&dir.path().join("c.db"), 1)
        .await
        .unwrap();
    let o = new_org("heads");
    let org = o.id;
    c.create_org(o, event(org, "org.create")).await.unwrap();
    (Arc::new(c), org)
}

/// Appends an event, then fails: its SAVEPOINT (or its transaction, alone) is rolled back.
async fn append_then_fail(c: &SqliteCatalog, org: OrgId) -> Result<(), CatalogError> {
    c.writer
        .write(move |tx| {
            writes::append_audit(tx, &event(org, "doomed"))?;
            Err(CatalogError::Conflict { current: 0 })
        })
        .await
}

async fn append(c: &SqliteCatalog, org: OrgId, action: &'static str) {
    c.append_audit(event(org, action)).await.unwrap();
}

/// The org's whole chain, checked: (events, actions).
async fn verified_chain(c: &SqliteCatalog, org: OrgId) -> Vec<String> {
    let filter = AuditFilter {
        limit: 10_000,
        ..AuditFilter::default()
    };
    let events: Vec<AuditRecord> = c.audit_events(org, &filter).await.unwrap();
    let mut v = Verifier::default();
    events.iter().for_each(|e| v.push(e));
    let verdict = v.finish();
    assert_eq!(verdict.failure, None, "the chain must verify");
    assert_eq!(verdict.events, events.len() as u64);
    events.into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn a_request_rolled_back_alone_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (c, org) = catalog_with_org(&dir).await;
    append(&c, org, "first").await;
    // A group of one: its whole transaction is rolled back.
    append_then_fail(&c, org).await.unwrap_err();
    append(&c, org, "second").await;
    assert_eq!(
        verified_chain(&c, org).await,
        ["org.create", "first", "second"]
    );
}

#[tokio::test]
async fn requests_rolled_back_inside_a_group_leave_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (c, org) = catalog_with_org(&dir).await;
    // Concurrent requests share groups; every other one is rolled back to its SAVEPOINT after
    // appending, between requests whose events stay.
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    c.append_audit(event(org, "kept")).await.map(|()| true)
                } else {
                    append_then_fail(&c, org).await.map(|()| false)
                }
            })
        })
        .collect();
    let mut kept = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(true) => kept += 1,
            Err(CatalogError::Conflict { .. }) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(kept, 30);
    append(&c, org, "last").await;
    let actions = verified_chain(&c, org).await;
    assert_eq!(actions.len(), 32, "org.create, 30 kept and the last");
    assert!(!actions.iter().any(|a| a == "doomed"));
}

#[tokio::test]
async fn a_failed_commit_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (c, org) = catalog_with_org(&dir).await;
    // A request that appends and then ends the transaction itself: it "succeeds", but the
    // COMMIT after it fails and nothing of the group is kept.
    let answer = c
        .writer
        .write(move |tx| {
            writes::append_audit(tx, &event(org, "lost"))?;
            tx.execute_batch("ROLLBACK").map_err(super::super::map_err)
        })
        .await;
    assert!(
        matches!(answer, Err(CatalogError::Unavailable(_))),
        "{answer:?}"
    );
    append(&c, org, "after").await;
    assert_eq!(verified_chain(&c, org).await, ["org.create", "after"]);
}

/// Heads are per org: two chains written in the same groups stay apart.
#[tokio::test]
async fn each_org_keeps_its_own_head() {
    let dir = tempfile::tempdir().unwrap();
    let (c, a) = catalog_with_org(&dir).await;
    let o = new_org("heads-b");
    let b = o.id;
    c.create_org(o, event(b, "org.create")).await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let c = c.clone();
            let org = if i % 3 == 0 { b } else { a };
            tokio::spawn(async move { c.append_audit(event(org, "e")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(verified_chain(&c, a).await.len(), 1 + 26);
    assert_eq!(verified_chain(&c, b).await.len(), 1 + 14);
}
