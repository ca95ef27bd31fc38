//! The [`WebhookCatalog`](crate::catalog::WebhookCatalog) conformance suite: webhooks of one org
//! only, created with their cursor at the chain head after their own event; enqueueing as a
//! check-and-set that exactly one of several racing callers wins, one delivery per event;
//! claims that lease each due delivery to one claimer (concurrent claimers never share one), a
//! lapsed lease taken again, outcomes recorded only under the current lease; the dead letter and
//! redelivery; removal taking the deliveries along; pruning; and expiry reminders once per
//! secret and expiry time, even when several callers race.

use super::byok::{count, event, org};
use super::version;
use crate::catalog::{
    AttemptOutcome, Catalog, CatalogError, DeliveryLease, NewDelivery, SealedValue, WebhookRecord,
};
use crate::domain::{
    DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookEvent, WebhookId,
};

fn now() -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis())
}

fn sealed(byte: u8) -> SealedValue {
    SealedValue {
        id: SecretId::new(),
        key_version: 1,
        envelope: vec![byte; 80],
    }
}

fn hook(org: OrgId, url: &str) -> WebhookRecord {
    WebhookRecord {
        id: WebhookId::new(),
        org,
        url: url.into(),
        description: Some("pager".into()),
        events: vec![WebhookEvent::SecretRevealed, WebhookEvent::OrgSuspended],
        secret: sealed(1),
        cursor: 12345,
        created_at: now(),
        created_by: "tester".into(),
        secret_rotated_at: None,
    }
}

fn delivery(seq: u64) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new(),
        seq,
        event: WebhookEvent::SecretRevealed,
        body: format!("{{\"seq\":{seq}}}"),
    }
}

fn lease(until: Timestamp) -> DeliveryLease {
    DeliveryLease {
        token: uuid::Uuid::new_v4(),
        until,
    }
}

/// Runs every check; creates its own orgs.
pub async fn run_all(c: &dyn Catalog) {
    let a = org(c, "hooks-a").await;
    let b = org(c, "hooks-b").await;
    let w = webhooks_of_one_org(c, a, b).await;
    enqueue_is_a_check_and_set(c, a, &w).await;
    claims_lease_each_delivery_once(c, a, b, &w).await;
    removal_takes_deliveries_along(c, a, w).await;
    expiry_reminders_once(c, a).await;
}

async fn webhooks_of_one_org(c: &dyn Catalog, a: OrgId, b: OrgId) -> WebhookRecord {
    c.append_audit(event(a, "test.before")).await.unwrap();
    let created = c
        .create_webhook(
            hook(a, "https://hooks.example.com/a"),
            event(a, "webhook.create"),
        )
        .await
        .unwrap();
    let head = c.audit_head(a).await.unwrap().unwrap().0;
    assert_eq!(
        created.cursor, head,
        "a new webhook starts after its own event, whatever cursor it was given"
    );
    assert_eq!(created.events, hook(a, "").events);
    assert_eq!(created.secret.envelope, vec![1; 80]);
    let second = c
        .create_webhook(
            hook(a, "https://hooks.example.com/a2"),
            event(a, "webhook.create"),
        )
        .await
        .unwrap();
    assert_eq!(
        c.create_webhook(hook(OrgId::new(), "https://x.example"), event(a, "x"))
            .await,
        Err(CatalogError::NotFound)
    );
    let listed = c.webhooks(a).await.unwrap();
    assert_eq!(
        listed,
        vec![created.clone(), second.clone()],
        "oldest first"
    );
    assert!(c.webhooks(b).await.unwrap().is_empty());
    let all = c.all_webhooks().await.unwrap();
    assert!(all.contains(&created) && all.contains(&second));
    assert_eq!(c.webhook(a, created.id).await.unwrap(), created);
    // Another org's webhook is not found there, for every operation.
    assert_eq!(c.webhook(b, created.id).await, Err(CatalogError::NotFound));
    assert_eq!(
        c.delete_webhook(b, created.id, event(b, "webhook.delete"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.set_webhook_secret(b, created.id, sealed(2), now(), event(b, "webhook.rotate"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.deliveries(b, created.id, false, 10).await,
        Err(CatalogError::NotFound)
    );
    let at = now();
    let rotated = c
        .set_webhook_secret(a, created.id, sealed(3), at, event(a, "webhook.rotate"))
        .await
        .unwrap();
    assert_eq!(rotated.secret.envelope, vec![3; 80]);
    assert_eq!(rotated.secret_rotated_at, Some(at));
    c.delete_webhook(a, second.id, event(a, "webhook.delete"))
        .await
        .unwrap();
    assert_eq!(c.webhook(a, second.id).await, Err(CatalogError::NotFound));
    assert_eq!(count(c, a, "webhook.create").await, 2);
    assert_eq!(count(c, a, "webhook.rotate").await, 1);
    assert_eq!(count(c, a, "webhook.delete").await, 1);
    assert_eq!(count(c, b, "webhook.delete").await, 0);
    rotated
}

async fn enqueue_is_a_check_and_set(c: &dyn Catalog, a: OrgId, w: &WebhookRecord) {
    let from = c.webhook(a, w.id).await.unwrap().cursor;
    let at = now();
    // Several nodes pump at once: one moves the cursor, the others change nothing.
    let racers = (0..4).map(|_| {
        c.enqueue_deliveries(
            w.id,
            from,
            from + 3,
            vec![delivery(from + 1), delivery(from + 3)],
            at,
        )
    });
    let won = futures::future::join_all(racers).await;
    assert_eq!(
        won.iter().filter(|r| matches!(r, Ok(true))).count(),
        1,
        "{won:?}"
    );
    assert!(won.iter().all(Result::is_ok), "{won:?}");
    assert_eq!(c.webhook(a, w.id).await.unwrap().cursor, from + 3);
    let listed = c.deliveries(a, w.id, false, 100).await.unwrap();
    let seqs: Vec<u64> = listed.iter().map(|d| d.seq).collect();
    assert_eq!(
        seqs,
        vec![from + 3, from + 1],
        "one per event, newest first"
    );
    let first = &listed[1];
    assert_eq!(
        (first.state, first.attempts, first.org, first.webhook),
        (DeliveryState::Pending, 0, a, w.id)
    );
    assert_eq!(first.next_attempt_at, at);
    assert_eq!(first.body, format!("{{\"seq\":{}}}", from + 1));
    // A stale cursor changes nothing; an event already enqueued keeps its delivery.
    assert_eq!(
        c.enqueue_deliveries(w.id, from, from + 9, vec![delivery(from + 9)], at)
            .await,
        Ok(false)
    );
    assert!(
        c.enqueue_deliveries(w.id, from + 3, from + 4, vec![delivery(from + 3)], at)
            .await
            .unwrap()
    );
    let again = c.deliveries(a, w.id, false, 100).await.unwrap();
    assert_eq!(again, listed);
    assert_eq!(
        c.enqueue_deliveries(WebhookId::new(), 0, 1, vec![], at)
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.deliveries(a, w.id, false, 1).await.unwrap().len(),
        1,
        "limit"
    );
}

async fn claims_lease_each_delivery_once(c: &dyn Catalog, a: OrgId, b: OrgId, w: &WebhookRecord) {
    let cursor = c.webhook(a, w.id).await.unwrap().cursor;
    let due = now();
    let seqs: Vec<u64> = (1..=6).map(|i| cursor + i).collect();
    assert!(
        c.enqueue_deliveries(
            w.id,
            cursor,
            cursor + 6,
            seqs.iter().map(|s| delivery(*s)).collect(),
            due
        )
        .await
        .unwrap()
    );
    // Concurrent claimers never share a delivery.
    let until = Timestamp::from_millis(due.millis() + 60_000);
    let leases: Vec<DeliveryLease> = (0..4).map(|_| lease(until)).collect();
    let claims = leases.iter().map(|l| c.claim_deliveries(due, *l, 3));
    let claimed: Vec<Vec<_>> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut ids: Vec<DeliveryId> = claimed.iter().flatten().map(|d| d.id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        total,
        "a delivery was claimed twice: {claimed:?}"
    );
    assert_eq!(
        total, 8,
        "every due delivery (2 earlier, 6 now) is claimed once"
    );
    assert!(claimed.iter().flatten().all(|d| d.attempts == 1));
    // Leased: nobody else gets them until the lease lapses.
    assert!(
        c.claim_deliveries(due, lease(until), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let (holder, held) = leases
        .iter()
        .zip(&claimed)
        .find(|(_, got)| !got.is_empty())
        .unwrap();
    let d = held[0].clone();
    // The lease lapses: another claimer takes it, and the first holder records nothing.
    let later = Timestamp::from_millis(until.millis() + 1);
    let second = lease(Timestamp::from_millis(later.millis() + 60_000));
    let retaken = c.claim_deliveries(later, second, 100).await.unwrap();
    assert_eq!(retaken.len(), 8);
    let again = retaken.iter().find(|x| x.id == d.id).unwrap();
    assert_eq!(again.attempts, 2, "a claim counts an attempt");
    assert_eq!(
        c.finish_delivery(
            d.id,
            holder.token,
            later,
            AttemptOutcome::Delivered { status: 200 }
        )
        .await,
        Err(CatalogError::NotFound),
        "an overrun lease records nothing"
    );
    // Outcomes: delivered, retried later, dead-lettered.
    let at = Timestamp::from_millis(later.millis() + 5);
    c.finish_delivery(
        retaken[0].id,
        second.token,
        at,
        AttemptOutcome::Delivered { status: 204 },
    )
    .await
    .unwrap();
    let next_at = Timestamp::from_millis(at.millis() + 3_600_000);
    c.finish_delivery(
        retaken[1].id,
        second.token,
        at,
        AttemptOutcome::Retry {
            status: Some(503),
            error: "answered HTTP 503".into(),
            next_at,
        },
    )
    .await
    .unwrap();
    c.finish_delivery(
        retaken[2].id,
        second.token,
        at,
        AttemptOutcome::Failed {
            status: None,
            error: "the request failed".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        c.finish_delivery(
            retaken[0].id,
            second.token,
            at,
            AttemptOutcome::Delivered { status: 200 }
        )
        .await,
        Err(CatalogError::NotFound),
        "an outcome is recorded once"
    );
    let all = c.deliveries(a, w.id, false, 100).await.unwrap();
    let get = |id: DeliveryId| all.iter().find(|d| d.id == id).unwrap().clone();
    let delivered = get(retaken[0].id);
    assert_eq!(
        (
            delivered.state,
            delivered.last_status,
            delivered.delivered_at
        ),
        (DeliveryState::Delivered, Some(204), Some(at))
    );
    assert_eq!(delivered.last_error, None);
    let retried = get(retaken[1].id);
    assert_eq!(
        (retried.state, retried.next_attempt_at, retried.last_status),
        (DeliveryState::Pending, next_at, Some(503))
    );
    assert_eq!(retried.last_error.as_deref(), Some("answered HTTP 503"));
    assert_eq!(retried.last_attempt_at, Some(at));
    let dead = get(retaken[2].id);
    assert_eq!(
        (dead.state, dead.last_status, dead.attempts),
        (DeliveryState::Failed, None, 2)
    );
    // Released but not yet due again: not claimed before its time, claimed after.
    let others = c.claim_deliveries(at, lease(next_at), 100).await.unwrap();
    assert!(
        others.iter().all(|d| d.id != retried.id),
        "claimed before it was due"
    );
    assert!(others.is_empty(), "the rest are still leased: {others:?}");
    // The dead letter, and redelivery.
    let failed = c.deliveries(a, w.id, true, 100).await.unwrap();
    assert_eq!(failed, vec![dead.clone()]);
    assert_eq!(
        c.redeliver(b, dead.id, at, event(b, "webhook.redeliver"))
            .await,
        Err(CatalogError::NotFound),
        "another org's delivery"
    );
    assert!(matches!(
        c.redeliver(a, retried.id, at, event(a, "webhook.redeliver"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    let back = c
        .redeliver(a, dead.id, at, event(a, "webhook.redeliver"))
        .await
        .unwrap();
    assert_eq!(
        (back.state, back.attempts, back.next_attempt_at),
        (DeliveryState::Pending, 0, at)
    );
    assert_eq!(back.last_error, dead.last_error, "the last outcome stays");
    assert_eq!(count(c, a, "webhook.redeliver").await, 1);
    let redelivered = c.claim_deliveries(at, lease(next_at), 100).await.unwrap();
    assert_eq!(
        redelivered.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![dead.id]
    );
    assert_eq!(redelivered[0].attempts, 1);
    // Pruning removes old finished deliveries only.
    let removed = c
        .prune_deliveries(Timestamp::from_millis(at.millis() + 1))
        .await
        .unwrap();
    assert!(removed >= 1, "the delivered one");
    let left = c.deliveries(a, w.id, false, 100).await.unwrap();
    assert!(left.iter().all(|d| d.id != delivered.id));
    assert!(
        left.iter()
            .any(|d| d.id == retried.id && d.state == DeliveryState::Pending)
    );
}

async fn removal_takes_deliveries_along(c: &dyn Catalog, a: OrgId, w: WebhookRecord) {
    assert!(!c.deliveries(a, w.id, false, 100).await.unwrap().is_empty());
    c.delete_webhook(a, w.id, event(a, "webhook.delete"))
        .await
        .unwrap();
    assert_eq!(
        c.deliveries(a, w.id, false, 100).await,
        Err(CatalogError::NotFound)
    );
    let far = Timestamp::from_millis(Timestamp::now().millis() + 10 * 86_400_000);
    let claimed = c.claim_deliveries(far, lease(far), 100).await.unwrap();
    assert!(
        claimed.iter().all(|d| d.webhook != w.id),
        "a removed webhook's delivery was claimed"
    );
}

async fn expiry_reminders_once(c: &dyn Catalog, a: OrgId) {
    // A window no other suite writes expiries in (the catalog is shared).
    let base = 4_102_444_800_000; // 2100-01-01
    let t = |days: i64| Timestamp::from_millis(base + days * 86_400_000);
    let put = |name: &str, expires: Timestamp| {
        let mut v = version(a, SecretId::new(), "EXP-1", name, 1);
        v.expires_at = Some(expires);
        v
    };
    let soon = put("soon", t(2));
    let later = put("later", t(30));
    let deleted = put("deleted", t(3));
    for v in [&soon, &later, &deleted] {
        c.put_version(v.clone(), event(a, "secret.write"))
            .await
            .unwrap();
    }
    c.set_deleted(deleted.secret, Some(now()), event(a, "secret.delete"))
        .await
        .unwrap();
    let found = c.expiring_secrets(t(0), t(7), 100).await.unwrap();
    assert_eq!(
        found.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![soon.secret],
        "within the window, live and not deleted"
    );
    // Several nodes remind at once: one records it and appends its event.
    let racers = (0..4).map(|_| c.remind_expiry(soon.secret, t(2), event(a, "secret.expiring")));
    let results = futures::future::join_all(racers).await;
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(true))).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(count(c, a, "secret.expiring").await, 1);
    assert!(
        c.expiring_secrets(t(0), t(7), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A new expiry is a new reminder; the old one is never sent again.
    let mut moved = version(a, soon.secret, "EXP-1", "soon", 2);
    moved.expires_at = Some(t(5));
    c.put_version(moved, event(a, "secret.write"))
        .await
        .unwrap();
    let found = c.expiring_secrets(t(0), t(7), 100).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].expires_at, Some(t(5)));
    assert!(
        !c.remind_expiry(soon.secret, t(2), event(a, "secret.expiring"))
            .await
            .unwrap()
    );
    assert!(
        c.remind_expiry(soon.secret, t(5), event(a, "secret.expiring"))
            .await
            .unwrap()
    );
    assert_eq!(count(c, a, "secret.expiring").await, 2);
    assert_eq!(
        c.remind_expiry(SecretId::new(), t(5), event(a, "secret.expiring"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.expiring_secrets(t(0), t(40), 1)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![later.secret]
    );
}
