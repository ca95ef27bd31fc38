//! The [`WebhookCatalog`](crate::catalog::WebhookCatalog) conformance suite: webhooks of one org
//! only, created with their cursor at the chain head after their own event, and no more per org
//! than the limit even when creators race; enqueueing as a check-and-set that exactly one of
//! several racing callers wins, one delivery per event, and no more pending ones per webhook
//! than the cap; claims that lease each due delivery to one claimer (concurrent claimers never
//! share one), a lapsed lease taken again, outcomes recorded and claims given back only under
//! the current lease; fair claims (a few per webhook, round the webhooks, none of a webhook with
//! an attempt in flight), the circuit breaker, and nothing of a suspended org; the dead letter
//! and redelivery; removal taking the deliveries along; pruning by finish time; and expiry
//! reminders once per secret and expiry time, even when several callers race, and pruned once
//! long past.

use super::byok::{count, event, org};
use super::version;
use crate::catalog::{
    AttemptOutcome, Catalog, CatalogError, ClaimRules, DeliveryLease, DeliveryRecord, Enqueued,
    NewDelivery, WebhookRecord, WebhookSecret,
};
use crate::domain::{
    DeliveryId, DeliveryState, OrgId, OrgStatus, SecretId, Timestamp, WebhookEvent, WebhookId,
};
use std::collections::HashMap;
use std::time::Duration;

fn now() -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis())
}

fn wrapped(byte: u8) -> WebhookSecret {
    WebhookSecret {
        key_version: 1,
        wrap: vec![byte; 61],
    }
}

/// Claim rules that take up to `limit`, many per webhook.
fn all(limit: u32) -> ClaimRules {
    ClaimRules {
        limit,
        per_webhook: 1000,
        breaker_after: 5,
        breaker_base: Duration::from_secs(60),
        breaker_max: Duration::from_secs(3600),
    }
}

/// The webhook limit the suite creates under.
const MAX: u32 = 25;

fn hook(org: OrgId, url: &str) -> WebhookRecord {
    WebhookRecord {
        id: WebhookId::new(),
        org,
        url: url.into(),
        description: Some("pager".into()),
        events: vec![WebhookEvent::SecretRevealed, WebhookEvent::OrgSuspended],
        secret: wrapped(1),
        cursor: 12345,
        created_at: now(),
        created_by: "tester".into(),
        secret_rotated_at: None,
        failures: 7,
        failed_at: Some(now()),
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
    // From here on every test removes what it enqueued: claims take due deliveries of any org.
    the_webhook_limit_holds_against_racing_creators(c).await;
    pending_deliveries_are_capped_per_webhook(c).await;
    claims_are_fair_across_webhooks(c).await;
    the_breaker_spares_a_failing_webhook(c).await;
    a_suspended_orgs_deliveries_are_held(c).await;
    finished_deliveries_are_pruned_by_finish_time(c).await;
    expiry_reminders_once(c, a).await;
}

/// A webhook of `org` with `n` deliveries due at `at` (seq 1..=n); its id.
async fn hook_with(c: &dyn Catalog, org: OrgId, n: u64, at: Timestamp) -> WebhookId {
    let w = c
        .create_webhook(
            hook(org, "https://hooks.example.com/f"),
            event(org, "webhook.create"),
            MAX,
        )
        .await
        .unwrap();
    let done = c
        .enqueue_deliveries(
            w.id,
            w.cursor,
            w.cursor + n,
            (1..=n).map(|i| delivery(w.cursor + i)).collect(),
            at,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        Some(Enqueued {
            stored: n,
            dropped: 0
        })
    );
    w.id
}

fn per_webhook(claimed: &[DeliveryRecord]) -> HashMap<WebhookId, usize> {
    let mut n = HashMap::new();
    for d in claimed {
        *n.entry(d.webhook).or_default() += 1;
    }
    n
}

fn ms(t: Timestamp, plus: i64) -> Timestamp {
    Timestamp::from_millis(t.millis() + plus)
}

async fn webhooks_of_one_org(c: &dyn Catalog, a: OrgId, b: OrgId) -> WebhookRecord {
    c.append_audit(event(a, "test.before")).await.unwrap();
    let created = c
        .create_webhook(
            hook(a, "https://hooks.example.com/a"),
            event(a, "webhook.create"),
            MAX,
        )
        .await
        .unwrap();
    let head = c.audit_head(a).await.unwrap().unwrap().0;
    assert_eq!(
        created.cursor, head,
        "a new webhook starts after its own event, whatever cursor it was given"
    );
    assert_eq!(created.events, hook(a, "").events);
    assert_eq!(created.secret, wrapped(1));
    assert_eq!(
        (created.failures, created.failed_at),
        (0, None),
        "a new webhook has no failures, whatever it was given"
    );
    let second = c
        .create_webhook(
            hook(a, "https://hooks.example.com/a2"),
            event(a, "webhook.create"),
            MAX,
        )
        .await
        .unwrap();
    assert_eq!(
        c.create_webhook(hook(OrgId::new(), "https://x.example"), event(a, "x"), MAX)
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
    let every = c.all_webhooks().await.unwrap();
    assert!(every.contains(&Ok(created.clone())) && every.contains(&Ok(second.clone())));
    assert_eq!(c.webhook(a, created.id).await.unwrap(), created);
    // Another org's webhook is not found there, for every operation.
    assert_eq!(c.webhook(b, created.id).await, Err(CatalogError::NotFound));
    assert_eq!(
        c.delete_webhook(b, created.id, event(b, "webhook.delete"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.set_webhook_secret(b, created.id, wrapped(2), now(), event(b, "webhook.rotate"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.deliveries(b, created.id, false, 10).await,
        Err(CatalogError::NotFound)
    );
    let at = now();
    let rotated = c
        .set_webhook_secret(a, created.id, wrapped(3), at, event(a, "webhook.rotate"))
        .await
        .unwrap();
    assert_eq!(rotated.secret, wrapped(3));
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
            1000,
        )
    });
    let won = futures::future::join_all(racers).await;
    assert_eq!(
        won.iter().filter(|r| matches!(r, Ok(Some(_)))).count(),
        1,
        "{won:?}"
    );
    assert!(won.contains(&Ok(Some(Enqueued {
        stored: 2,
        dropped: 0
    }))));
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
        c.enqueue_deliveries(w.id, from, from + 9, vec![delivery(from + 9)], at, 1000)
            .await,
        Ok(None)
    );
    assert_eq!(
        c.enqueue_deliveries(w.id, from + 3, from + 4, vec![delivery(from + 3)], at, 1000)
            .await,
        Ok(Some(Enqueued::default())),
        "an event already enqueued is not stored again"
    );
    let again = c.deliveries(a, w.id, false, 100).await.unwrap();
    assert_eq!(again, listed);
    assert_eq!(
        c.enqueue_deliveries(WebhookId::new(), 0, 1, vec![], at, 1000)
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
            due,
            1000
        )
        .await
        .unwrap()
        .is_some()
    );
    // Concurrent claimers never share a delivery, and the first claim of a webhook keeps the
    // others off it while its attempts are in flight.
    let until = Timestamp::from_millis(due.millis() + 60_000);
    let leases: Vec<DeliveryLease> = (0..4).map(|_| lease(until)).collect();
    let claims = leases.iter().map(|l| c.claim_deliveries(due, *l, all(3)));
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
    assert_eq!(total, 3, "the limit, once: {claimed:?}");
    assert!(claimed.iter().flatten().all(|d| d.attempts == 1));
    // Leased: nobody else gets them, nor the webhook's others, until the lease lapses.
    assert!(
        c.claim_deliveries(due, lease(until), all(100))
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
    let retaken = c.claim_deliveries(later, second, all(100)).await.unwrap();
    assert_eq!(retaken.len(), 8, "every due delivery (2 earlier, 6 now)");
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
    assert_eq!(
        c.release_delivery(d.id, holder.token).await,
        Err(CatalogError::NotFound),
        "an overrun lease gives nothing back"
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
    let streak = c.webhook(a, w.id).await.unwrap();
    assert_eq!(
        (streak.failures, streak.failed_at),
        (2, Some(at)),
        "two failures in a row"
    );
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
    // Given back: the lease goes and the claim's attempt no longer counts; once only.
    let back = &retaken[3];
    c.release_delivery(back.id, second.token).await.unwrap();
    assert_eq!(
        c.release_delivery(back.id, second.token).await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.finish_delivery(
            back.id,
            second.token,
            at,
            AttemptOutcome::Delivered { status: 200 }
        )
        .await,
        Err(CatalogError::NotFound),
        "a delivery given back records nothing"
    );
    for d in &retaken[4..] {
        c.finish_delivery(
            d.id,
            second.token,
            at,
            AttemptOutcome::Delivered { status: 200 },
        )
        .await
        .unwrap();
    }
    assert_eq!(
        c.webhook(a, w.id).await.unwrap().failures,
        0,
        "a 2xx ends the streak"
    );
    let all_now = c.deliveries(a, w.id, false, 100).await.unwrap();
    let get = |id: DeliveryId| all_now.iter().find(|d| d.id == id).unwrap().clone();
    let given = get(back.id);
    assert_eq!(
        (given.state, given.attempts, given.last_attempt_at),
        (DeliveryState::Pending, back.attempts - 1, None)
    );
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
    // Released but not yet due again: not claimed before its time; the one given back is.
    let third = lease(next_at);
    let others = c.claim_deliveries(at, third, all(100)).await.unwrap();
    assert_eq!(
        others.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![back.id],
        "claimed before it was due"
    );
    assert_eq!(others[0].attempts, back.attempts);
    c.finish_delivery(
        back.id,
        third.token,
        at,
        AttemptOutcome::Delivered { status: 200 },
    )
    .await
    .unwrap();
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
    let redelivered = c
        .claim_deliveries(at, lease(next_at), all(100))
        .await
        .unwrap();
    assert_eq!(
        redelivered.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![dead.id]
    );
    assert_eq!(redelivered[0].attempts, 1);
    // Pruning removes old finished deliveries only.
    let removed = c
        .prune_deliveries(Timestamp::from_millis(at.millis() + 1), 1000)
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
    let claimed = c.claim_deliveries(far, lease(far), all(100)).await.unwrap();
    assert!(
        claimed.iter().all(|d| d.webhook != w.id),
        "a removed webhook's delivery was claimed"
    );
}

async fn the_webhook_limit_holds_against_racing_creators(c: &dyn Catalog) {
    let o = org(c, "hooks-limit").await;
    for _ in 0..2 {
        c.create_webhook(
            hook(o, "https://hooks.example.com/l"),
            event(o, "webhook.create"),
            2,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        c.create_webhook(
            hook(o, "https://hooks.example.com/l"),
            event(o, "webhook.create"),
            2
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    // Racing creators, each of whom would pass a count taken outside the insert: two win.
    let r = org(c, "hooks-race").await;
    let racers = (0..6).map(|_| {
        c.create_webhook(
            hook(r, "https://hooks.example.com/r"),
            event(r, "webhook.create"),
            2,
        )
    });
    let results = futures::future::join_all(racers).await;
    assert_eq!(
        results.iter().filter(|x| x.is_ok()).count(),
        2,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|x| x.is_ok() || matches!(x, Err(CatalogError::Refused(_)))),
        "{results:?}"
    );
    assert_eq!(c.webhooks(r).await.unwrap().len(), 2);
    assert_eq!(
        count(c, r, "webhook.create").await,
        2,
        "a refused add leaves no event"
    );
    for org in [o, r] {
        for w in c.webhooks(org).await.unwrap() {
            c.delete_webhook(org, w.id, event(org, "webhook.delete"))
                .await
                .unwrap();
        }
    }
}

async fn pending_deliveries_are_capped_per_webhook(c: &dyn Catalog) {
    let o = org(c, "hooks-cap").await;
    let w = c
        .create_webhook(
            hook(o, "https://hooks.example.com/c"),
            event(o, "webhook.create"),
            MAX,
        )
        .await
        .unwrap();
    let at = Timestamp::from_millis(1_000_000_000_000);
    let base = w.cursor;
    let step = |from: u64, to: u64| {
        c.enqueue_deliveries(
            w.id,
            from,
            to,
            (from + 1..=to).map(delivery).collect(),
            at,
            3,
        )
    };
    assert_eq!(
        step(base, base + 5).await,
        Ok(Some(Enqueued {
            stored: 3,
            dropped: 2
        })),
        "the earliest three are kept"
    );
    let kept: Vec<u64> = c
        .deliveries(o, w.id, false, 100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.seq)
        .collect();
    assert_eq!(kept, vec![base + 3, base + 2, base + 1]);
    assert_eq!(
        step(base + 5, base + 7).await,
        Ok(Some(Enqueued {
            stored: 0,
            dropped: 2
        }))
    );
    assert_eq!(
        c.webhook(o, w.id).await.unwrap().cursor,
        base + 7,
        "the cursor moves on past what was dropped"
    );
    // A finished delivery makes room again.
    let l = lease(ms(at, 60_000));
    let claimed = c.claim_deliveries(at, l, all(1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    c.finish_delivery(
        claimed[0].id,
        l.token,
        at,
        AttemptOutcome::Delivered { status: 200 },
    )
    .await
    .unwrap();
    assert_eq!(
        step(base + 7, base + 9).await,
        Ok(Some(Enqueued {
            stored: 1,
            dropped: 1
        }))
    );
    c.delete_webhook(o, w.id, event(o, "webhook.delete"))
        .await
        .unwrap();
}

async fn claims_are_fair_across_webhooks(c: &dyn Catalog) {
    let o = org(c, "hooks-fair").await;
    let t0 = Timestamp::from_millis(1_000_000_000_000);
    // The first webhook's backlog is the oldest: oldest-first alone would give it every slot.
    let busy = hook_with(c, o, 6, ms(t0, -1000)).await;
    let one = hook_with(c, o, 1, t0).await;
    let three = hook_with(c, o, 3, t0).await;
    let rules = ClaimRules {
        limit: 4,
        per_webhook: 2,
        ..all(0)
    };
    let first = lease(ms(t0, 60_000));
    let claimed = c.claim_deliveries(t0, first, rules).await.unwrap();
    assert_eq!(claimed.len(), 4, "{claimed:?}");
    let firsts: Vec<WebhookId> = claimed[..3].iter().map(|d| d.webhook).collect();
    assert!(
        firsts.contains(&busy) && firsts.contains(&one) && firsts.contains(&three),
        "every webhook's first before anyone's second: {claimed:?}"
    );
    let n = per_webhook(&claimed);
    assert_eq!(
        (n[&busy], n[&one], n[&three]),
        (2, 1, 1),
        "the oldest second goes next"
    );
    // While they are in flight, their webhooks get nothing more.
    assert!(
        c.claim_deliveries(t0, lease(ms(t0, 60_000)), all(100))
            .await
            .unwrap()
            .is_empty()
    );
    for d in &claimed {
        c.finish_delivery(
            d.id,
            first.token,
            t0,
            AttemptOutcome::Delivered { status: 200 },
        )
        .await
        .unwrap();
    }
    let second = lease(ms(t0, 60_000));
    let claimed = c
        .claim_deliveries(
            t0,
            second,
            ClaimRules {
                limit: 100,
                ..rules
            },
        )
        .await
        .unwrap();
    let n = per_webhook(&claimed);
    assert_eq!(
        (n.get(&busy), n.get(&one), n.get(&three)),
        (Some(&2), None, Some(&2)),
        "{claimed:?}"
    );
    for w in [busy, one, three] {
        c.delete_webhook(o, w, event(o, "webhook.delete"))
            .await
            .unwrap();
    }
}

async fn the_breaker_spares_a_failing_webhook(c: &dyn Catalog) {
    let o = org(c, "hooks-breaker").await;
    let t0 = Timestamp::from_millis(1_000_000_000_000);
    let down = hook_with(c, o, 10, t0).await;
    let fine = hook_with(c, o, 1, t0).await;
    let rules = ClaimRules {
        limit: 100,
        per_webhook: 2,
        breaker_after: 5,
        breaker_base: Duration::from_millis(1000),
        breaker_max: Duration::from_millis(3000),
    };
    // Fail the down webhook's attempts, each due again at once, until its breaker opens.
    let mut t = t0;
    let mut failures = 0;
    while failures < 5 {
        let l = lease(ms(t, 60_000));
        let claimed = c.claim_deliveries(t, l, rules).await.unwrap();
        for d in claimed.iter().filter(|d| d.webhook == down) {
            let retry = AttemptOutcome::Retry {
                status: Some(503),
                error: "answered HTTP 503".into(),
                next_at: t,
            };
            c.finish_delivery(d.id, l.token, t, retry).await.unwrap();
        }
        for d in claimed.iter().filter(|d| d.webhook != down) {
            c.release_delivery(d.id, l.token).await.unwrap();
        }
        failures = c.webhook(o, down).await.unwrap().failures;
        t = ms(t, 1);
    }
    let record = c.webhook(o, down).await.unwrap();
    let failed_at = record.failed_at.unwrap();
    let wait = (1000i64 << (record.failures - 5)).min(3000);
    // Open: nothing of it until the wait has passed; the other webhook is not held up.
    let l = lease(ms(failed_at, wait - 1 + 60_000));
    let claimed = c
        .claim_deliveries(ms(failed_at, wait - 1), l, rules)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|d| d.webhook).collect::<Vec<_>>(),
        vec![fine],
        "{claimed:?}"
    );
    c.finish_delivery(
        claimed[0].id,
        l.token,
        ms(failed_at, wait - 1),
        AttemptOutcome::Delivered { status: 200 },
    )
    .await
    .unwrap();
    // Then one attempt at a time; a 2xx closes it.
    let at = ms(failed_at, wait);
    let l = lease(ms(at, 60_000));
    let probe = c.claim_deliveries(at, l, rules).await.unwrap();
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(probe[0].webhook, down);
    c.finish_delivery(
        probe[0].id,
        l.token,
        at,
        AttemptOutcome::Delivered { status: 200 },
    )
    .await
    .unwrap();
    assert_eq!(c.webhook(o, down).await.unwrap().failures, 0);
    let l = lease(ms(at, 60_000));
    let claimed = c.claim_deliveries(at, l, rules).await.unwrap();
    assert_eq!(claimed.len(), 2, "closed: {claimed:?}");
    for d in &claimed {
        c.finish_delivery(
            d.id,
            l.token,
            at,
            AttemptOutcome::Failed {
                status: None,
                error: "down".into(),
            },
        )
        .await
        .unwrap();
    }
    for d in [down, fine] {
        c.delete_webhook(o, d, event(o, "webhook.delete"))
            .await
            .unwrap();
    }
}

async fn a_suspended_orgs_deliveries_are_held(c: &dyn Catalog) {
    let o = org(c, "hooks-suspended").await;
    let t0 = Timestamp::from_millis(1_000_000_000_000);
    let w = hook_with(c, o, 1, t0).await;
    c.set_org_status(
        o,
        OrgStatus::Suspended,
        Some("key revoked".into()),
        event(o, "org.suspend"),
    )
    .await
    .unwrap();
    assert!(
        c.claim_deliveries(t0, lease(ms(t0, 60_000)), all(100))
            .await
            .unwrap()
            .is_empty(),
        "a suspended org's delivery was claimed"
    );
    c.set_org_status(o, OrgStatus::Active, None, event(o, "org.restore"))
        .await
        .unwrap();
    let claimed = c
        .claim_deliveries(t0, lease(ms(t0, 60_000)), all(100))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|d| d.webhook).collect::<Vec<_>>(),
        vec![w]
    );
    assert_eq!(claimed[0].attempts, 1, "held, never counted");
    c.delete_webhook(o, w, event(o, "webhook.delete"))
        .await
        .unwrap();
}

async fn finished_deliveries_are_pruned_by_finish_time(c: &dyn Catalog) {
    let o = org(c, "hooks-prune").await;
    let t0 = Timestamp::from_millis(1_000_000_000_000);
    let day = 86_400_000;
    let w = hook_with(c, o, 4, t0).await;
    let l = lease(ms(t0, 60_000));
    let claimed = c.claim_deliveries(t0, l, all(3)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // Enqueued at t0 alike: one finished at once, one after ten days of retries, one pending.
    let (early, late) = (&claimed[0], &claimed[1]);
    c.finish_delivery(
        early.id,
        l.token,
        ms(t0, 1),
        AttemptOutcome::Failed {
            status: None,
            error: "down".into(),
        },
    )
    .await
    .unwrap();
    c.finish_delivery(
        late.id,
        l.token,
        ms(t0, 10 * day),
        AttemptOutcome::Delivered { status: 200 },
    )
    .await
    .unwrap();
    c.release_delivery(claimed[2].id, l.token).await.unwrap();
    let ids = |list: Vec<DeliveryRecord>| list.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(c.prune_deliveries(ms(t0, 5 * day), 1000).await, Ok(1));
    let left = ids(c.deliveries(o, w, false, 100).await.unwrap());
    assert!(!left.contains(&early.id), "finished long ago");
    assert!(
        left.contains(&late.id),
        "enqueued long ago but finished recently: kept"
    );
    assert_eq!(left.len(), 3);
    assert_eq!(
        c.prune_deliveries(ms(t0, 100 * day), 1000).await,
        Ok(1),
        "pending ones are never pruned"
    );
    assert_eq!(c.deliveries(o, w, false, 100).await.unwrap().len(), 2);
    c.delete_webhook(o, w, event(o, "webhook.delete"))
        .await
        .unwrap();
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
    // Reminders of expiries before a time are pruned, at most `limit` at once; later ones stay.
    assert_eq!(c.prune_reminders(t(3), 1).await, Ok(1));
    assert_eq!(c.prune_reminders(t(3), 1000).await, Ok(0));
    assert!(
        c.remind_expiry(soon.secret, t(2), event(a, "secret.expiring"))
            .await
            .unwrap(),
        "its record is gone"
    );
    assert!(
        !c.remind_expiry(soon.secret, t(5), event(a, "secret.expiring"))
            .await
            .unwrap(),
        "a later one is kept"
    );
}
