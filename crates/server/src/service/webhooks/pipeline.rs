//! The delivery job: one pass turns the audit events every webhook has not looked at yet into
//! deliveries ([`Coffer::enqueue_webhook_events`]), then sends what is due
//! ([`Coffer::send_due_deliveries`]).
//!
//! Both halves are safe on every node at once. Enqueueing is a check-and-set on the webhook's
//! cursor, so of two nodes reading the same events one stores them and the other changes
//! nothing. Sending claims due deliveries with a lease (the catalog's `claim_deliveries`: on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`), so no two nodes attempt one delivery at the same time;
//! a node that dies mid-attempt leaves a lease that lapses, and another node tries again. The
//! lease outlasts an attempt's deadline by a margin, and an outcome is recorded only under the
//! lease that claimed it. An attempt counts when it is claimed; after `webhooks.max_attempts` the
//! delivery is dead-lettered (`failed`). Waits double from `webhooks.backoff_base` up to
//! `webhooks.backoff_max`, each drawn between half and all of its length (jitter, so receivers
//! coming back are not hit by every retry at once).

use super::events;
use super::sender::Attempt;
use crate::catalog::{
    AttemptOutcome, AuditFilter, CatalogError, DeliveryLease, DeliveryRecord, NewDelivery,
    OrgRecord, WebhookRecord,
};
use crate::domain::{DeliveryId, OrgId, Timestamp};
use crate::service::{Coffer, Error, Result};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Audit events read per step of one webhook's cursor.
const EVENTS_PER_STEP: u32 = 200;
/// Steps of one webhook's cursor per pass (the rest waits for the next pass).
const STEPS_PER_PASS: usize = 10;
/// Deliveries claimed at once.
const CLAIM_BATCH: u32 = 32;
/// Claims per pass.
const CLAIMS_PER_PASS: usize = 8;
/// Attempts sent at once.
const CONCURRENCY: usize = 16;
/// How much longer than an attempt's deadline a claim is held.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Deliveries enqueued.
    pub enqueued: usize,
    /// Attempts answered with a 2xx.
    pub delivered: usize,
    /// Attempts that failed (retried later or dead-lettered).
    pub failed: usize,
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

impl Coffer {
    /// One pass of the delivery job (`webhooks.interval`).
    pub async fn deliver_webhooks_once(&self) -> Result<DeliveryPass> {
        let enqueued = self.enqueue_webhook_events().await?;
        let (delivered, failed) = self.send_due_deliveries().await?;
        Ok(DeliveryPass {
            enqueued,
            delivered,
            failed,
        })
    }

    /// Moves every webhook's cursor over the events appended since, storing a delivery for each
    /// event it subscribes to. Returns how many deliveries were stored.
    pub async fn enqueue_webhook_events(&self) -> Result<usize> {
        let hooks = self
            .catalog
            .all_webhooks()
            .await
            .map_err(|e| Error::catalog(e, || "webhooks".into()))?;
        let mut heads: HashMap<OrgId, u64> = HashMap::new();
        let mut orgs: HashMap<OrgId, OrgRecord> = HashMap::new();
        let mut enqueued = 0;
        for w in hooks {
            if self.is_stopping() {
                break;
            }
            let head = match heads.get(&w.org) {
                Some(h) => *h,
                None => {
                    let h = self
                        .catalog
                        .audit_head(w.org)
                        .await
                        .map_err(|e| Error::catalog(e, || "audit head".into()))?
                        .map_or(0, |(seq, _)| seq);
                    heads.insert(w.org, h);
                    h
                }
            };
            if head <= w.cursor {
                continue;
            }
            let org = match orgs.get(&w.org) {
                Some(o) => o.clone(),
                None => {
                    let o = self
                        .catalog
                        .org_by_id(w.org)
                        .await
                        .map_err(|e| Error::catalog(e, || "org".into()))?;
                    orgs.insert(w.org, o.clone());
                    o
                }
            };
            match self.advance(&w, &org).await {
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
        let mut enqueued = 0;
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
            let n = deliveries.len();
            let moved = self
                .catalog
                .enqueue_deliveries(w.id, cursor, last, deliveries, Timestamp::now())
                .await;
            match moved {
                Ok(true) => enqueued += n,
                // Another node moved it, or the webhook was removed meanwhile.
                Ok(false) | Err(CatalogError::NotFound) => break,
                Err(e) => return Err(Error::catalog(e, || "webhook deliveries".into())),
            }
            cursor = last;
            if page.len() < EVENTS_PER_STEP as usize {
                break;
            }
        }
        Ok(enqueued)
    }

    /// Claims the deliveries that are due and attempts them. Returns (delivered, failed).
    pub async fn send_due_deliveries(&self) -> Result<(usize, usize)> {
        let (mut delivered, mut failed) = (0, 0);
        let lease_for = self.webhooks.settings.timeout + LEASE_MARGIN;
        for _ in 0..CLAIMS_PER_PASS {
            if self.is_stopping() {
                break;
            }
            let now = Timestamp::now();
            let lease = DeliveryLease {
                token: uuid::Uuid::new_v4(),
                until: now.plus(lease_for),
            };
            let claimed = self
                .catalog
                .claim_deliveries(now, lease, CLAIM_BATCH)
                .await
                .map_err(|e| Error::catalog(e, || "webhook deliveries".into()))?;
            let n = claimed.len();
            let outcomes: Vec<bool> = futures::stream::iter(claimed)
                .map(|d| self.attempt(d, lease.token))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            delivered += outcomes.iter().filter(|ok| **ok).count();
            failed += outcomes.iter().filter(|ok| !**ok).count();
            if n < CLAIM_BATCH as usize {
                break;
            }
        }
        Ok((delivered, failed))
    }

    /// Attempts one claimed delivery and records the outcome; true if a 2xx answered it.
    async fn attempt(&self, d: DeliveryRecord, lease: uuid::Uuid) -> bool {
        let s = &self.webhooks.settings;
        let result = self.sign_and_send(&d).await;
        let now = Timestamp::now();
        let (ok, outcome) = match result {
            Ok(status) if (200..300).contains(&status) => {
                (true, AttemptOutcome::Delivered { status })
            }
            other => {
                let (status, error) = match other {
                    Ok(status) if (300..400).contains(&status) => (
                        Some(status),
                        format!("answered HTTP {status}; redirects are not followed"),
                    ),
                    Ok(status) => (Some(status), format!("answered HTTP {status}")),
                    Err(error) => (None, error),
                };
                let outcome = if d.attempts >= s.max_attempts {
                    AttemptOutcome::Failed { status, error }
                } else {
                    let wait =
                        backoff(s.backoff_base, s.backoff_max, d.attempts, random_fraction());
                    AttemptOutcome::Retry {
                        status,
                        error,
                        next_at: now.plus(wait),
                    }
                };
                (false, outcome)
            }
        };
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
            .finish_delivery(d.id, lease, now, outcome)
            .await
        {
            Ok(()) => {}
            // The webhook was removed meanwhile, or the attempt overran its lease and another
            // node holds the delivery now: its outcome is that node's to record.
            Err(CatalogError::NotFound) => {
                tracing::debug!(delivery = %d.id, "a webhook delivery's outcome was not recorded: it is no longer held")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "recording a webhook delivery's outcome failed; it is attempted again when its lease lapses")
            }
        }
        ok
    }

    /// Signs and sends one delivery: the receiver's status, or why there was none.
    async fn sign_and_send(&self, d: &DeliveryRecord) -> std::result::Result<u16, String> {
        let w = match self.catalog.webhook(d.org, d.webhook).await {
            Ok(w) => w,
            Err(CatalogError::NotFound) => return Err("the webhook was removed".into()),
            Err(e) => {
                tracing::warn!(error = %e, "reading a webhook failed");
                return Err("Coffer could not read the webhook; retried later".into());
            }
        };
        let secret = match self.open_signing_secret(&w).await {
            Ok(s) => s,
            Err(Error::Suspended(_) | Error::Unavailable(_)) => {
                return Err(
                    "the org's keys are unavailable, so the delivery cannot be signed; it is retried"
                        .into(),
                );
            }
            Err(e) => {
                tracing::error!(webhook = %w.id, error = %e, "a webhook's signing secret cannot be used");
                return Err(
                    "the webhook's signing secret cannot be opened (the server log has the detail)"
                        .into(),
                );
            }
        };
        let event_id = events::event_id(d.org, d.seq);
        let attempt = Attempt {
            event_id: &event_id,
            event: d.event.as_str(),
            delivery: d.id.to_string(),
            webhook: w.id.to_string(),
            number: d.attempts,
        };
        self.webhooks
            .sender
            .post(&w.url, secret.expose(), attempt, d.body.clone())
            .await
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
}
