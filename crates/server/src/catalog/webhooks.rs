//! The catalog's webhook part: an org's webhooks (URL, events, the signing secret wrapped under
//! the org key, the failure streak of the circuit breaker), the durable queue of their
//! deliveries, and the expiry reminders already sent (docs/webhooks.md).
//!
//! The audit chain is the outbox: every change already appends its event in its own transaction,
//! so deliveries are derived from the chain afterwards — a webhook keeps a cursor (the `seq` of
//! the last event it has looked at), and [`WebhookCatalog::enqueue_deliveries`] moves it and
//! stores the deliveries of the events it passed in one transaction. Nothing a request does
//! waits for a webhook, and no event can be enqueued twice or skipped (an event is dropped only
//! when its webhook already has the most pending deliveries it may have, and the caller is told).
//!
//! A supertrait of [`Catalog`](super::Catalog) like the SCIM part, each backend in a file of its
//! own (`sqlite/webhooks.rs`, `postgres/webhooks.rs`), one suite (`conformance::webhooks`) for
//! both. The rules every sequence of calls keeps:
//! - a webhook belongs to one org, and every lookup by id names the org (another org's webhook
//!   or delivery is `NotFound`); a new webhook's cursor is its org's chain head *after* its own
//!   `webhook.create` event, so it is sent only what happens after it exists; an org has at most
//!   the number of webhooks its creator says, counted in the creating transaction;
//! - enqueueing is a check-and-set on the cursor: only the caller that read the cursor the
//!   webhook still has moves it (several nodes may pump at once; one wins, the others change
//!   nothing), a delivery is unique per webhook and event `seq`, and a webhook never gets more
//!   pending deliveries than the caller's cap;
//! - a pending delivery is held by at most one claimer at a time: a claim leases it until a
//!   time and counts the attempt, only an expired lease is claimed again, and only the holder of
//!   the current lease records the attempt's outcome or releases it (a node that overran its
//!   lease records nothing);
//! - a claim is fair ([`ClaimRules`]): a few deliveries per webhook, none of a webhook that has
//!   an attempt in flight or whose breaker is open and waiting, none of a suspended org;
//! - only a delivery that is not pending is redelivered (back to pending, attempts from zero);
//! - an expiry is reminded of once per secret and expiry time, its event appended only by the
//!   call that records it;
//! - removing a webhook removes its deliveries; every management change (create, delete, new
//!   secret, redeliver) writes its audit event in the same transaction. The pipeline's own writes
//!   (enqueue, claim, outcome, release, pruning) are not audit events: they describe the chain,
//!   not the org.

use super::{Result, SecretRecord};
use crate::audit::AuditDraft;
use crate::domain::{
    DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookEvent, WebhookId,
};
use async_trait::async_trait;
use std::time::Duration;

/// A webhook's signing secret as stored: its 32 bytes wrapped under org key version
/// `key_version` (the layout and AAD are in docs/webhooks.md). `Debug` leaves the bytes out.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    /// The org key version it is wrapped under.
    pub key_version: u32,
    /// The wrapped secret.
    pub wrap: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// An org's webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRecord {
    /// Id.
    pub id: WebhookId,
    /// Its org.
    pub org: OrgId,
    /// Where deliveries are POSTed, as the URL parser normalised it (checked against the SSRF
    /// rules when set and when sent).
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// The events it is sent, in [`WebhookEvent`] order, no duplicates.
    pub events: Vec<WebhookEvent>,
    /// The signing secret, wrapped under the org key (never returned after creation).
    pub secret: WebhookSecret,
    /// The `seq` of the last audit event of its org it has looked at.
    pub cursor: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Who created it (audit name).
    pub created_by: String,
    /// When its secret was last replaced.
    pub secret_rotated_at: Option<Timestamp>,
    /// Its attempts that failed in a row (a 2xx sets it back to 0).
    pub failures: u32,
    /// When the last failed attempt ended.
    pub failed_at: Option<Timestamp>,
}

/// A webhook row this Coffer cannot read (e.g. an event name only a newer Coffer knows): the
/// delivery job skips it and says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableWebhook {
    /// Its id.
    pub id: WebhookId,
    /// Its org.
    pub org: OrgId,
    /// What is wrong with it.
    pub reason: String,
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

/// What one step of a webhook's cursor stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Deliveries stored.
    pub stored: u64,
    /// Deliveries not stored because the webhook already had the most pending ones it may have.
    pub dropped: u64,
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
    /// When it was last tried (for a delivery no longer pending: when it finished).
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

/// Which due deliveries one claim takes, so that no webhook (a slow or dead receiver) crowds out
/// the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimRules {
    /// At most this many deliveries in all.
    pub limit: u32,
    /// At most this many of one webhook, its soonest due first; the claim goes round the
    /// webhooks (every webhook's first before anyone's second).
    pub per_webhook: u32,
    /// A webhook whose last `breaker_after` attempts all failed has its breaker open: one of its
    /// deliveries per claim, and none until `breaker_base · 2^(failures − breaker_after)` (at
    /// most `breaker_max`) has passed since its last failure.
    pub breaker_after: u32,
    /// The breaker's first wait.
    pub breaker_base: Duration,
    /// The breaker's longest wait.
    pub breaker_max: Duration,
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
    /// carries) and no failures, and returns it as stored. `NotFound` if the org does not exist;
    /// `Refused` (and nothing stored) if the org already has `max_per_org` webhooks — counted in
    /// the transaction that inserts, so racing creators cannot pass the limit together.
    async fn create_webhook(
        &self,
        webhook: WebhookRecord,
        audit: AuditDraft,
        max_per_org: u32,
    ) -> Result<WebhookRecord>;

    /// The org's webhooks, oldest first.
    async fn webhooks(&self, org: OrgId) -> Result<Vec<WebhookRecord>>;

    /// Every webhook of every org (the delivery job's list), oldest first; a row this Coffer
    /// cannot read is an [`UnreadableWebhook`] in its place instead of failing the whole list.
    async fn all_webhooks(
        &self,
    ) -> Result<Vec<std::result::Result<WebhookRecord, UnreadableWebhook>>>;

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
        secret: WebhookSecret,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<WebhookRecord>;

    /// If webhook `id`'s cursor is still `from`: moves it to `to` and stores `deliveries` (due at
    /// `at`; one already stored for its `seq` is left as it is) as far as the webhook stays at
    /// or below `max_pending` pending deliveries, the earliest first; the rest are dropped and
    /// counted. `None` (and nothing changed) if the cursor moved on (another node enqueued
    /// first); `NotFound` if the webhook is gone.
    async fn enqueue_deliveries(
        &self,
        id: WebhookId,
        from: u64,
        to: u64,
        deliveries: Vec<NewDelivery>,
        at: Timestamp,
        max_pending: u64,
    ) -> Result<Option<Enqueued>>;

    /// Claims pending deliveries due at `now` whose lease (if any) has lapsed, of active orgs,
    /// as `rules` allow, soonest due first within a webhook: leases them with `lease` and counts
    /// an attempt on each. A webhook with a delivery under a live lease (an attempt in flight)
    /// gets none. The records returned carry the new attempt count; a row this Coffer cannot
    /// read is left out (its lease lapses, and a Coffer that can read it takes it).
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        rules: ClaimRules,
    ) -> Result<Vec<DeliveryRecord>>;

    /// Records how the attempt of delivery `id` under `lease` ended, at `at`, releases the
    /// lease, and keeps its webhook's failure streak (a 2xx sets it to 0, a failure adds 1 and
    /// notes `at`). `NotFound` if the delivery is gone or no longer held under that lease.
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        lease: uuid::Uuid,
        at: Timestamp,
        outcome: AttemptOutcome,
    ) -> Result<()>;

    /// Gives back delivery `id` held under `lease` without an attempt: the lease goes and the
    /// claim's attempt no longer counts (its org is suspended, or the lease ran too short to
    /// cover one). `NotFound` if it is gone or no longer held under that lease.
    async fn release_delivery(&self, id: DeliveryId, lease: uuid::Uuid) -> Result<()>;

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

    /// Removes at most `limit` deliveries that are no longer pending and finished (were
    /// delivered or dead-lettered) before `before`; returns how many.
    async fn prune_deliveries(&self, before: Timestamp, limit: u32) -> Result<u64>;

    /// Removes at most `limit` expiry reminders of expiries before `before`; returns how many.
    async fn prune_reminders(&self, before: Timestamp, limit: u32) -> Result<u64>;

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

/// The breaker's waits in milliseconds: (first, longest).
pub(super) fn breaker_millis(rules: &ClaimRules) -> (i64, i64) {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
    let base = ms(rules.breaker_base).min(1 << 40);
    (base, ms(rules.breaker_max).max(base).min(1 << 60))
}

/// The refusal of adding a webhook beyond the org's limit.
pub(super) fn too_many_webhooks(max: u32) -> String {
    format!("the org already has {max} webhooks, the most it may have")
}

/// The refusal of redelivering a delivery that is still pending.
pub(super) const STILL_PENDING: &str =
    "the delivery is still pending: it is retried on its own schedule";
