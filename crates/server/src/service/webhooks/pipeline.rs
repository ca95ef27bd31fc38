//! The delivery job. Each pass ([`Coffer::deliver_webhooks_once`]) turns the audit events every
//! webhook has not looked at yet into deliveries ([`Coffer::enqueue_webhook_events`]) and, side by
//! side, starts attempts of the due ones ([`Coffer::start_due_deliveries`]), which run in the
//! background. Neither half waits for a receiver, so a slow or dead receiver delays neither
//! enqueueing, nor the next pass, nor anybody else's deliveries.
//!
//! Fairness. A node has at most [`CONCURRENCY`] attempts in flight and never claims more
//! deliveries than it has free slots for, so every claimed delivery is attempted at once. A claim
//! takes at most [`PER_WEBHOOK`] due deliveries of one webhook, going round the webhooks (every
//! webhook's first before anyone's second), and none of a webhook that already has an attempt in
//! flight: one webhook holds at most that many of a node's slots. A circuit breaker spares
//! everyone a receiver that is down: once a webhook's last [`BREAKER_AFTER`] attempts all failed,
//! it gets one attempt at a time, and none until `webhooks.backoff_base · 2^(failures − 5)` (at
//! most `webhooks.backoff_max`) has passed since its last failure; a 2xx closes the breaker.
//! Deliveries of a suspended org are held: not claimed, and one claimed just before the org was
//! suspended is given back without counting an attempt, so its org key is never asked (the
//! signing secret is wrapped under it) and its attempts are not used up while the org cannot
//! sign. An attempt holds the app only while it reads and records, never while a receiver keeps
//! it waiting.
//!
//! Both halves are safe on every node at once. Enqueueing is a check-and-set on the webhook's
//! cursor, so of two nodes reading the same events one stores them and the other changes
//! nothing; one bad webhook row or one org that cannot be read is logged and skipped, never the
//! pass. A webhook with [`MAX_PENDING_PER_WEBHOOK`] pending deliveries gets no more: further
//! events for it are dropped (a warning, and `coffer_webhook_events_dropped_total`). Sending
//! claims due deliveries with a lease (the catalog's `claim_deliveries`: on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`) that covers one attempt — `webhooks.timeout` plus a margin — from
//! the moment of the claim. An attempt is started only while what is left of its lease covers a
//! whole `webhooks.timeout`, and is cut off at that deadline, so it always ends before its lease
//! lapses; one whose lease ran short before it could start is given back unsent. So no two nodes
//! attempt one delivery at the same time, a node that dies mid-attempt leaves a lease that
//! lapses, and an outcome is recorded only under the lease that claimed it. An attempt counts
//! when it is claimed; after `webhooks.max_attempts` the delivery is dead-lettered (`failed`).
//! Waits double from `webhooks.backoff_base` up to `webhooks.backoff_max`, each drawn between half
//! and all of its length (jitter, so receivers coming back are not hit by every retry at once).

use super::events;
use super::sender::Attempt;
use super::{SigningSecret, host_of};
use crate::catalog::{
    AttemptOutcome, AuditFilter, CatalogError, ClaimRules, DeliveryLease, DeliveryRecord,
    NewDelivery, OrgRecord, WebhookRecord,
};
use crate::domain::{DeliveryId, OrgId, OrgStatus, Timestamp};
use crate::service::{Coffer, Error, Result};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Audit events read per step of one webhook's cursor.
const EVENTS_PER_STEP: u32 = 200;
/// Steps of one webhook's cursor per pass (the rest waits for the next pass).
const STEPS_PER_PASS: usize = 10;
/// Attempts one node has in flight at most.
pub(super) const CONCURRENCY: usize = 16;
/// Due deliveries of one webhook one claim takes at most (one while its breaker is open).
const PER_WEBHOOK: u32 = 2;
/// Failed attempts in a row after which a webhook's breaker opens.
const BREAKER_AFTER: u32 = 5;
/// How much longer than an attempt's deadline a claim is held: reading the webhook and its org,
/// opening the signing secret (perhaps a key provider call), and recording the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Pending deliveries one webhook may have; events beyond are dropped for it.
pub const MAX_PENDING_PER_WEBHOOK: u64 = 10_000;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Deliveries enqueued.
    pub enqueued: usize,
    /// Attempts started (they finish in the background).
    pub started: usize,
}

/// A uniformly random fraction in `[0, 1)` from the OS RNG.
fn random_fraction() -> f64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("OS random generator failed");
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait after failed attempt number `attempt` (from 1): `base · 2^(attempt-1)`, at most
/// `max`, drawn between half and all of that.
pub(super) fn backoff(base: Duration, max: Duration, attempt: u32, fraction: f64) -> Duration {
    let full = base
        .checked_mul(1u32 << attempt.saturating_sub(1).min(20))
        .unwrap_or(max)
        .min(max);
    full.mul_f64(0.5 + 0.5 * fraction.clamp(0.0, 1.0))
}

/// Whether an attempt of `timeout` started at `now` ends before `lease` lapses.
fn lease_covers(lease: &DeliveryLease, now: Timestamp, timeout: Duration) -> bool {
    now.plus(timeout) <= lease.until
}

/// What an attempt needs, or why it cannot be made.
enum Prepared {
    /// The webhook and its opened signing secret.
    Ready(Box<WebhookRecord>, SigningSecret),
    /// Not now, and not counted: given back (the reason is for the log).
    Hold(&'static str),
    /// A failed attempt, for this reason (which the org sees).
    Fail(String),
}

impl Coffer {
    /// One pass of the delivery job (`webhooks.interval`): enqueues and starts attempts side by
    /// side, waiting for neither a receiver nor the other half.
    pub async fn deliver_webhooks_once(self: &Arc<Self>) -> Result<DeliveryPass> {
        let (enqueued, started) =
            tokio::join!(self.enqueue_webhook_events(), self.start_due_deliveries());
        Ok(DeliveryPass {
            enqueued: enqueued?,
            started: started?,
        })
    }

    /// Moves every webhook's cursor over the events appended since, storing a delivery for each
    /// event it subscribes to. A webhook row this Coffer cannot read, or an org whose chain or
    /// record cannot be read, is logged and skipped (it is looked at again next pass). Returns
    /// how many deliveries were stored.
    pub async fn enqueue_webhook_events(&self) -> Result<usize> {
        let rows = self
            .catalog
            .all_webhooks()
            .await
            .map_err(|e| Error::catalog(e, || "webhooks".into()))?;
        // Read once per org and pass; `None`: reading failed, its webhooks wait for the next pass.
        let mut heads: HashMap<OrgId, Option<u64>> = HashMap::new();
        let mut orgs: HashMap<OrgId, Option<OrgRecord>> = HashMap::new();
        let mut enqueued = 0;
        for row in rows {
            if self.is_stopping() {
                break;
            }
            let w = match row {
                Ok(w) => w,
                Err(bad) => {
                    tracing::warn!(webhook = %bad.id, org = %bad.org, error = %bad.reason, "a webhook's row cannot be read by this Coffer; skipped");
                    continue;
                }
            };
            let head = match heads.entry(w.org) {
                Entry::Occupied(known) => *known.get(),
                Entry::Vacant(slot) => *slot.insert(match self.catalog.audit_head(w.org).await {
                    Ok(h) => Some(h.map_or(0, |(seq, _)| seq)),
                    Err(e) => {
                        tracing::warn!(org = %w.org, error = %e, "reading an org's audit head failed; its webhooks wait for the next pass");
                        None
                    }
                }),
            };
            let Some(head) = head else {
                continue;
            };
            if head <= w.cursor {
                continue;
            }
            let org = match orgs.entry(w.org) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(match self.catalog.org_by_id(w.org).await {
                    Ok(o) => Some(o),
                    Err(e) => {
                        tracing::warn!(org = %w.org, error = %e, "reading an org failed; its webhooks wait for the next pass");
                        None
                    }
                }),
            };
            let Some(org) = org.as_ref() else {
                continue;
            };
            match self.advance(&w, org).await {
                Ok(n) => enqueued += n,
                Err(e) => {
                    tracing::warn!(webhook = %w.id, error = %e, "enqueueing webhook deliveries failed; retrying next pass")
                }
            }
        }
        Ok(enqueued)
    }

    /// Moves one webhook's cursor forward, a step at a time.
    async fn advance(&self, w: &WebhookRecord, org: &OrgRecord) -> Result<usize> {
        let mut cursor = w.cursor;
        let (mut enqueued, mut dropped) = (0, 0);
        for _ in 0..STEPS_PER_PASS {
            let filter = AuditFilter {
                after_seq: cursor,
                limit: EVENTS_PER_STEP,
                ..Default::default()
            };
            let page = self
                .catalog
                .audit_events(w.org, &filter)
                .await
                .map_err(|e| Error::catalog(e, || "audit events".into()))?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            let deliveries: Vec<NewDelivery> = page
                .iter()
                .filter_map(|e| {
                    let event = events::public_event(&e.action)?;
                    w.events.contains(&event).then(|| NewDelivery {
                        id: DeliveryId::new(),
                        seq: e.seq,
                        event,
                        body: events::body(org, e, event),
                    })
                })
                .collect();
            let moved = self
                .catalog
                .enqueue_deliveries(
                    w.id,
                    cursor,
                    last,
                    deliveries,
                    Timestamp::now(),
                    MAX_PENDING_PER_WEBHOOK,
                )
                .await;
            match moved {
                Ok(Some(done)) => {
                    enqueued += done.stored as usize;
                    dropped += done.dropped;
                }
                // Another node moved it, or the webhook was removed meanwhile.
                Ok(None) | Err(CatalogError::NotFound) => break,
                Err(e) => return Err(Error::catalog(e, || "webhook deliveries".into())),
            }
            cursor = last;
            if page.len() < EVENTS_PER_STEP as usize {
                break;
            }
        }
        if dropped > 0 {
            tracing::warn!(webhook = %w.id, org = %w.org, dropped, max_pending = MAX_PENDING_PER_WEBHOOK, "a webhook has the most pending deliveries it may have; new events for it were dropped");
            self.metrics.webhook_events_dropped.inc_by(dropped);
        }
        Ok(enqueued)
    }

    /// Claims as many due deliveries as this node has free attempt slots, fairly (see the module
    /// docs), and starts an attempt of each in the background. Returns how many it started.
    pub async fn start_due_deliveries(self: &Arc<Self>) -> Result<usize> {
        if self.is_stopping() {
            return Ok(0);
        }
        let mut slots = Vec::new();
        while slots.len() < CONCURRENCY {
            match self.webhooks.slots.clone().try_acquire_owned() {
                Ok(slot) => slots.push(slot),
                Err(_) => break,
            }
        }
        if slots.is_empty() {
            return Ok(0);
        }
        let s = &self.webhooks.settings;
        let now = Timestamp::now();
        let lease = DeliveryLease {
            token: uuid::Uuid::new_v4(),
            until: now.plus(s.timeout + LEASE_MARGIN),
        };
        let rules = ClaimRules {
            limit: slots.len() as u32,
            per_webhook: PER_WEBHOOK,
            breaker_after: BREAKER_AFTER,
            breaker_base: s.backoff_base,
            breaker_max: s.backoff_max,
        };
        let claimed = self
            .catalog
            .claim_deliveries(now, lease, rules)
            .await
            .map_err(|e| Error::catalog(e, || "webhook deliveries".into()))?;
        let started = claimed.len();
        // Never more claimed than slots (the limit), so each starts now; unused slots go back.
        for (d, slot) in claimed.into_iter().zip(slots) {
            let app = Arc::downgrade(self);
            tokio::spawn(async move {
                Self::attempt(app, d, lease).await;
                drop(slot);
            });
        }
        Ok(started)
    }

    /// Attempts one claimed delivery and records the outcome, or gives it back unattempted. It
    /// holds the app only while it reads and records, never while a receiver keeps it waiting,
    /// so a stopped app is not kept alive by an attempt (like by the jobs); if the app is gone by
    /// then, nothing is recorded and the lease lapses.
    async fn attempt(app: Weak<Coffer>, d: DeliveryRecord, lease: DeliveryLease) {
        let (sender, s, prepared) = {
            let Some(coffer) = app.upgrade() else {
                return;
            };
            let prepared = coffer.prepare(&d).await;
            if let Prepared::Hold(why) = prepared {
                return coffer.give_back(&d, lease, why).await;
            }
            let w = &coffer.webhooks;
            (w.sender.clone(), w.settings.clone(), prepared)
        };
        let result = match prepared {
            Prepared::Hold(_) => unreachable!("given back above"),
            Prepared::Fail(error) => Err(error),
            Prepared::Ready(w, secret) => {
                if !lease_covers(&lease, Timestamp::now(), s.timeout) {
                    if let Some(coffer) = app.upgrade() {
                        coffer
                            .give_back(&d, lease, "its lease no longer covers an attempt")
                            .await;
                    }
                    return;
                }
                let event_id = events::event_id(d.org, d.seq);
                let attempt = Attempt {
                    event_id: &event_id,
                    event: d.event.as_str(),
                    delivery: d.id.to_string(),
                    webhook: w.id.to_string(),
                    number: d.attempts,
                };
                let post = sender.post(&w.url, secret.expose(), attempt, d.body.clone());
                // The client has the same deadline; this one also bounds what it may not time
                // (name resolution), so the attempt surely ends inside its lease.
                match tokio::time::timeout(s.timeout, post).await {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "calling {} took longer than webhooks.timeout",
                        host_of(&w.url)
                    )),
                }
            }
        };
        let now = Timestamp::now();
        let outcome = match result {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome::Delivered { status },
            other => {
                let (status, error) = match other {
                    Ok(status) if (300..400).contains(&status) => (
                        Some(status),
                        format!("answered HTTP {status}; redirects are not followed"),
                    ),
                    Ok(status) => (Some(status), format!("answered HTTP {status}")),
                    Err(error) => (None, error),
                };
                if d.attempts >= s.max_attempts {
                    AttemptOutcome::Failed { status, error }
                } else {
                    let wait =
                        backoff(s.backoff_base, s.backoff_max, d.attempts, random_fraction());
                    AttemptOutcome::Retry {
                        status,
                        error,
                        next_at: now.plus(wait),
                    }
                }
            }
        };
        let Some(coffer) = app.upgrade() else {
            return;
        };
        coffer.record(&d, lease, now, outcome).await;
    }

    /// Records how the attempt of `d` ended (and counts it in the metrics).
    async fn record(
        &self,
        d: &DeliveryRecord,
        lease: DeliveryLease,
        at: Timestamp,
        outcome: AttemptOutcome,
    ) {
        let label = match outcome {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Retry { .. } => "retried",
            AttemptOutcome::Failed { .. } => "failed",
        };
        self.metrics
            .webhook_attempts
            .get_or_create(&crate::metrics::WebhookLabels { outcome: label })
            .inc();
        match self
            .catalog
            .finish_delivery(d.id, lease.token, at, outcome)
            .await
        {
            Ok(()) => {}
            // The webhook was removed meanwhile, or the lease was lost: another node may hold the
            // delivery now, and its outcome is that node's to record.
            Err(CatalogError::NotFound) => {
                tracing::debug!(delivery = %d.id, "a webhook delivery's outcome was not recorded: it is no longer held")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "recording a webhook delivery's outcome failed; it is attempted again when its lease lapses")
            }
        }
    }

    /// Reads what an attempt of `d` needs: its webhook, then its org's status (a suspended org's
    /// key is never asked), then the signing secret.
    async fn prepare(&self, d: &DeliveryRecord) -> Prepared {
        let w = match self.catalog.webhook(d.org, d.webhook).await {
            Ok(w) => w,
            Err(CatalogError::NotFound) => return Prepared::Fail("the webhook was removed".into()),
            Err(e) => {
                tracing::warn!(error = %e, "reading a webhook failed");
                return Prepared::Fail("Coffer could not read the webhook; retried later".into());
            }
        };
        match self.catalog.org_by_id(d.org).await {
            Ok(org) if org.status == OrgStatus::Suspended => {
                return Prepared::Hold("its org is suspended");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading a webhook's org failed");
                return Prepared::Fail("Coffer could not read the org; retried later".into());
            }
        }
        match self.open_signing_secret(&w).await {
            Ok(secret) => Prepared::Ready(Box::new(w), secret),
            // Its key refused access just now (the org is being suspended).
            Err(Error::Suspended(_)) => Prepared::Hold("its org's keys refused access"),
            Err(Error::Unavailable(_)) => Prepared::Fail(
                "the org's keys are unavailable, so the delivery cannot be signed; it is retried"
                    .into(),
            ),
            Err(e) => {
                tracing::error!(webhook = %w.id, error = %e, "a webhook's signing secret cannot be used");
                Prepared::Fail(
                    "the webhook's signing secret cannot be opened (the server log has the detail)"
                        .into(),
                )
            }
        }
    }

    /// Gives a claimed delivery back without an attempt (`why` is for the log).
    async fn give_back(&self, d: &DeliveryRecord, lease: DeliveryLease, why: &'static str) {
        match self.catalog.release_delivery(d.id, lease.token).await {
            Ok(()) | Err(CatalogError::NotFound) => {
                tracing::debug!(delivery = %d.id, why, "a webhook delivery was held back unattempted")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "giving back a webhook delivery failed; it is claimed again when its lease lapses")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_with_jitter_below_them() {
        let (base, max) = (Duration::from_secs(300), Duration::from_secs(8 * 3600));
        assert_eq!(backoff(base, max, 1, 1.0), base);
        assert_eq!(backoff(base, max, 1, 0.0), base / 2);
        assert_eq!(backoff(base, max, 3, 1.0), base * 4);
        assert_eq!(backoff(base, max, 9, 1.0), max);
        assert_eq!(backoff(base, max, 90, 1.0), max, "no overflow");
        let total: Duration = (1..10).map(|a| backoff(base, max, a, 1.0)).sum();
        assert!(
            (20..=28).contains(&(total.as_secs() / 3600)),
            "the default schedule spans about a day: {total:?}"
        );
        for _ in 0..100 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn an_attempt_starts_only_while_its_lease_covers_its_whole_deadline() {
        let timeout = Duration::from_secs(10);
        let claimed = Timestamp::from_millis(1_000_000);
        let lease = DeliveryLease {
            token: uuid::Uuid::new_v4(),
            until: claimed.plus(timeout + LEASE_MARGIN),
        };
        assert!(lease_covers(&lease, claimed, timeout));
        assert!(lease_covers(&lease, claimed.plus(LEASE_MARGIN), timeout));
        assert!(!lease_covers(
            &lease,
            claimed.plus(LEASE_MARGIN + Duration::from_millis(1)),
            timeout
        ));
        assert!(!lease_covers(&lease, lease.until, timeout));
    }
}
