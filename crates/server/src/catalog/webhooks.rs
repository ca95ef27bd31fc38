//! The catalog's webhook part: an org's webhooks (URL, events, the signing secret sealed under the
//! org key), the durable queue of their deliveries, and the expiry reminders already sent
//! (docs/webhooks.md).
//!
//! The audit chain is the outbox: every change already appends its event in its own transaction,
//! so deliveries are derived from the chain afterwards — a webhook keeps a cursor (the `seq` of
//! the last event it has looked at), and [`WebhookCatalog::enqueue_deliveries`] moves it and
//! stores the deliveries of the events it passed in one transaction. Nothing a request does
//! waits for a webhook, and no event can be enqueued twice or skipped.
//!
//! A supertrait of [`Catalog`](super::Catalog) like the SCIM part, each backend in a file of its
//! own (`sqlite/webhooks.rs`, `postgres/webhooks.rs`), one suite (`conformance::webhooks`) for
//! both. The rules every sequence of calls keeps:
//! - a webhook belongs to one org, and every lookup by id names the org (another org's webhook
//!   or delivery is `NotFound`); a new webhook's cursor is its org's chain head *after* its own
//!   `webhook.create` event, so it is sent only what happens after it exists;
//! - enqueueing is a check-and-set on the cursor: only the caller that read the cursor the
//!   webhook still has moves it (several nodes may pump at once; one wins, the others change
//!   nothing), and a delivery is unique per webhook and event `seq`;
//! - a pending delivery is held by at most one claimer at a time: a claim leases it until a
//!   time and counts the attempt, only an expired lease is claimed again, and only the holder of
//!   the current lease records the attempt's outcome (a node that overran its lease records
//!   nothing);
//! - only a delivery that is not pending is redelivered (back to pending, attempts from zero);
//! - an expiry is reminded of once per secret and expiry time, its event appended only by the
//!   call that records it;
//! - removing a webhook removes its deliveries; every management change (create, delete, new
//!   secret, redeliver) writes its audit event in the same transaction. The pipeline's own writes
//!   (enqueue, claim, outcome) are not audit events: they describe the chain, not the org.

use super::{Result, SealedValue, SecretRecord};
use crate::audit::AuditDraft;
use crate::domain::{
    DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookEvent, WebhookId,
};
use async_trait::async_trait;

/// An org's webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRecord {
    /// Id.
    pub id: WebhookId,
    /// Its org.
    pub org: OrgId,
    /// Where deliveries are POSTed (checked against the SSRF rules when set and when sent).
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The events it is sent, in [`WebhookEvent`] order, no duplicates.
    pub events: Vec<WebhookEvent>,
    /// The signing secret, sealed under the org key (never returned after creation).
    pub secret: SealedValue,
    /// The `seq` of the last audit event of its org it has looked at.
    pub cursor: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Who created it (audit name).
    pub created_by: String,
    /// When its secret was last replaced.
    pub secret_rotated_at: Option<Timestamp>,
}

/// A delivery to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// Id.
    pub id: DeliveryId,
    /// The audit event's `seq` in the webhook's org.
    pub seq: u64,
    /// The public event.
    pub event: WebhookEvent,
    /// The exact JSON body every attempt sends (and signs).
    pub body: String,
}

/// One delivery of one event to one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Id.
    pub id: DeliveryId,
    /// The webhook.
    pub webhook: WebhookId,
    /// Its org.
    pub org: OrgId,
    /// The audit event's `seq`.
    pub seq: u64,
    /// The public event.
    pub event: WebhookEvent,
    /// The JSON body.
    pub body: String,
    /// Pending, delivered or failed.
    pub state: DeliveryState,
    /// Attempts so far (claims included).
    pub attempts: u32,
    /// When it is due (meaningful while pending).
    pub next_attempt_at: Timestamp,
    /// When it was last tried.
    pub last_attempt_at: Option<Timestamp>,
    /// The HTTP status of the last answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When a 2xx answered it.
    pub delivered_at: Option<Timestamp>,
}

/// A claim on due deliveries: who holds them (a fresh token per claim) and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryLease {
    /// The claim's token; only it records an outcome.
    pub token: uuid::Uuid,
    /// When the claim lapses and another claimer may take the delivery.
    pub until: Timestamp,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answered it.
    Delivered {
        /// The status.
        status: u16,
    },
    /// It failed and is tried again at `next_at`.
    Retry {
        /// The status, if the receiver answered.
        status: Option<u16>,
        /// Why it failed.
        error: String,
        /// When to try again.
        next_at: Timestamp,
    },
    /// It failed for the last time: dead-lettered (`failed`) until redelivered.
    Failed {
        /// The status, if the receiver answered.
        status: Option<u16>,
        /// Why it failed.
        error: String,
    },
}

/// Webhooks, their deliveries and expiry reminders. See the module docs for the rules.
#[async_trait]
pub trait WebhookCatalog: Send + Sync {
    /// Stores `webhook` with its cursor at its org's chain head after `audit` (whatever cursor it
    /// carries), and returns it as stored. `NotFound` if the org does not exist.
    async fn create_webhook(
        &self,
        webhook: WebhookRecord,
        audit: AuditDraft,
    ) -> Result<WebhookRecord>;

    /// The org's webhooks, oldest first.
    async fn webhooks(&self, org: OrgId) -> Result<Vec<WebhookRecord>>;

    /// Every webhook of every org (the delivery job's list).
    async fn all_webhooks(&self) -> Result<Vec<WebhookRecord>>;

    /// The org's webhook `id`. `NotFound` if the org has none such.
    async fn webhook(&self, org: OrgId, id: WebhookId) -> Result<WebhookRecord>;

    /// Removes the org's webhook `id` and its deliveries. `NotFound` if the org has none such.
    async fn delete_webhook(&self, org: OrgId, id: WebhookId, audit: AuditDraft) -> Result<()>;

    /// Replaces the signing secret of the org's webhook `id`, noting the time. `NotFound` if the
    /// org has none such.
    async fn set_webhook_secret(
        &self,
        org: OrgId,
        id: WebhookId,
        secret: SealedValue,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<WebhookRecord>;

    /// If webhook `id`'s cursor is still `from`: moves it to `to` and stores `deliveries` (due at
    /// `at`; one already stored for its `seq` is left as it is), returning true. Returns false
    /// and changes nothing if the cursor moved on (another node enqueued first); `NotFound` if
    /// the webhook is gone.
    async fn enqueue_deliveries(
        &self,
        id: WebhookId,
        from: u64,
        to: u64,
        deliveries: Vec<NewDelivery>,
        at: Timestamp,
    ) -> Result<bool>;

    /// Claims up to `limit` pending deliveries due at `now` whose lease (if any) has lapsed,
    /// soonest due first: leases them with `lease` and counts an attempt on each. The records
    /// returned carry the new attempt count.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>>;

    /// Records how the attempt of delivery `id` under `lease` ended, at `at`, and releases the
    /// lease. `NotFound` if the delivery is gone or no longer held under that lease.
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        lease: uuid::Uuid,
        at: Timestamp,
        outcome: AttemptOutcome,
    ) -> Result<()>;

    /// Deliveries of the org's webhook `id`, newest event first, at most `limit`; only failed
    /// (dead-lettered) ones when `failed_only`. `NotFound` if the org has no such webhook.
    async fn deliveries(
        &self,
        org: OrgId,
        id: WebhookId,
        failed_only: bool,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>>;

    /// Puts the org's delivery `id` back in the queue, due at `at`, attempts from zero (the last
    /// outcome stays until the next attempt). `NotFound` if the org has none such; `Refused` if
    /// it is still pending.
    async fn redeliver(
        &self,
        org: OrgId,
        id: DeliveryId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<DeliveryRecord>;

    /// Removes deliveries that are no longer pending and were enqueued before `before`; returns
    /// how many.
    async fn prune_deliveries(&self, before: Timestamp) -> Result<u64>;

    /// Live, not deleted secrets (of every org) whose expiry is in `from..=to` and has not been
    /// reminded of yet, soonest first, at most `limit`.
    async fn expiring_secrets(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<SecretRecord>>;

    /// Records that `secret`'s expiry at `expires_at` was reminded of and appends `audit`; true
    /// if this call recorded it, false (and no event) if it was already. `NotFound` if the secret
    /// does not exist.
    async fn remind_expiry(
        &self,
        secret: SecretId,
        expires_at: Timestamp,
        audit: AuditDraft,
    ) -> Result<bool>;
}

/// The stored form of a webhook's events: their names, comma-separated.
pub(super) fn events_text(events: &[WebhookEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The events of their stored form (`None`: a name this Coffer does not know, a corrupt row).
pub(super) fn parse_events(s: &str) -> Option<Vec<WebhookEvent>> {
    s.split(',').map(|e| e.parse().ok()).collect()
}

/// What a finished attempt writes: state, next due time (pending only), status, error and
/// delivery time.
pub(super) struct OutcomeColumns {
    pub state: DeliveryState,
    pub next_at: Option<Timestamp>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

impl OutcomeColumns {
    /// The columns of `outcome`, an attempt that ended at `at`.
    pub(super) fn of(outcome: AttemptOutcome, at: Timestamp) -> Self {
        match outcome {
            AttemptOutcome::Delivered { status } => Self {
                state: DeliveryState::Delivered,
                next_at: None,
                status: Some(status),
                error: None,
                delivered_at: Some(at),
            },
            AttemptOutcome::Retry {
                status,
                error,
                next_at,
            } => Self {
                state: DeliveryState::Pending,
                next_at: Some(next_at),
                status,
                error: Some(error),
                delivered_at: None,
            },
            AttemptOutcome::Failed { status, error } => Self {
                state: DeliveryState::Failed,
                next_at: None,
                status,
                error: Some(error),
                delivered_at: None,
            },
        }
    }
}

/// The refusal of redelivering a delivery that is still pending.
pub(super) const STILL_PENDING: &str =
    "the delivery is still pending: it is retried on its own schedule";
