//! An org's webhooks (docs/webhooks.md): HTTPS endpoints Coffer notifies of what happens in the
//! org — a secret revealed, written or about to expire, a member added, the org suspended — with
//! a JSON body signed by the webhook's own secret. Managing them and reading their deliveries is
//! for the org's admins and owners (people: a service account is refused at any role).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a webhook can be told about: the public names of the org's audit events it delivers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum WebhookEvent {
    /// A secret got a new version (written, or committed from a client-side upload).
    #[serde(rename = "secret.written")]
    SecretWritten,
    /// A secret's value was revealed (a read, an export, `coffer run`).
    #[serde(rename = "secret.revealed")]
    SecretRevealed,
    /// A secret was soft-deleted.
    #[serde(rename = "secret.deleted")]
    SecretDeleted,
    /// A soft-deleted secret was restored.
    #[serde(rename = "secret.restored")]
    SecretRestored,
    /// A secret was destroyed for good.
    #[serde(rename = "secret.destroyed")]
    SecretDestroyed,
    /// A secret expires within the deployment's reminder window (or has just expired); sent once
    /// per secret and expiry time.
    #[serde(rename = "secret.expiring")]
    SecretExpiring,
    /// Someone became a member of the org (invited and accepted, seated, provisioned).
    #[serde(rename = "member.added")]
    MemberAdded,
    /// A member left or was removed (or deactivated by SCIM).
    #[serde(rename = "member.removed")]
    MemberRemoved,
    /// A member's role changed.
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    /// The org was suspended (its BYOK keys refused access).
    #[serde(rename = "org.suspended")]
    OrgSuspended,
    /// The org was restored after a suspension.
    #[serde(rename = "org.restored")]
    OrgRestored,
    /// The org key was rotated.
    #[serde(rename = "org.key_rotated")]
    OrgKeyRotated,
    /// Someone outside Coffer opened a one-time link (docs/links-and-requests.md); the details
    /// carry the link id, source address and user agent.
    #[serde(rename = "link.opened")]
    LinkOpened,
    /// Someone outside Coffer answered a "send me a secret" request: the requester's secret has
    /// a new version.
    #[serde(rename = "request.fulfilled")]
    RequestFulfilled,
}

text_enum!(WebhookEvent {
    SecretWritten => "secret.written",
    SecretRevealed => "secret.revealed",
    SecretDeleted => "secret.deleted",
    SecretRestored => "secret.restored",
    SecretDestroyed => "secret.destroyed",
    SecretExpiring => "secret.expiring",
    MemberAdded => "member.added",
    MemberRemoved => "member.removed",
    MemberRoleChanged => "member.role_changed",
    OrgSuspended => "org.suspended",
    OrgRestored => "org.restored",
    OrgKeyRotated => "org.key_rotated",
    LinkOpened => "link.opened",
    RequestFulfilled => "request.fulfilled",
});

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet answered with a 2xx; tried again at `next_attempt_at`.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Every attempt failed: dead-lettered until someone redelivers it.
    Failed,
}

text_enum!(DeliveryState {
    Pending => "pending",
    Delivered => "delivered",
    Failed => "failed",
});

/// `POST /api/v1/orgs/{org}/webhooks` (admins and owners).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: `https://…` (plain `http://` only to this machine, when the
    /// deployment allows it for tests). Never a link-local, metadata or private address.
    pub url: String,
    /// The events it is sent (at least one).
    pub events: Vec<WebhookEvent>,
    /// What it is for: at most 200 printable characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// One webhook (never its signing secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookInfo {
    /// Webhook id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The events it is sent.
    pub events: Vec<WebhookEvent>,
    /// What it is for.
    pub description: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
    /// When its signing secret was last replaced, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub secret_rotated_at: Option<OffsetDateTime>,
}

/// Answer to creating a webhook: the only time its signing secret is shown.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: WebhookInfo,
    /// The signing secret (`whsec_…`): the HMAC-SHA256 key of `Coffer-Signature`. Store it in
    /// the receiver now; Coffer never shows it again.
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("webhook", &self.webhook)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Answer to `POST …/webhooks/{id}/rotate-secret`: the new signing secret, shown once. Every
/// delivery from now on (retries of older events too) is signed with it.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RotatedWebhookSecret {
    /// The webhook.
    pub webhook: WebhookInfo,
    /// The new signing secret (`whsec_…`).
    pub secret: String,
}

impl std::fmt::Debug for RotatedWebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedWebhookSecret")
            .field("webhook", &self.webhook)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// `GET /api/v1/orgs/{org}/webhooks`, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    /// The org's webhooks.
    pub webhooks: Vec<WebhookInfo>,
}

/// One delivery of one event to one webhook, with how its attempts went.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryInfo {
    /// Delivery id (what `redeliver` takes; sent as `Coffer-Delivery-Id`).
    pub id: Uuid,
    /// The webhook.
    pub webhook_id: Uuid,
    /// The event's id, `<org id>:<seq>` (sent as `Coffer-Event-Id` and as `id` in the body): the
    /// same on every attempt and redelivery, so a receiver can drop duplicates.
    pub event_id: String,
    /// The event.
    pub event: WebhookEvent,
    /// Pending, delivered or failed (dead-lettered).
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it is tried next (pending deliveries only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When it was last tried.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When a 2xx answered it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/orgs/{org}/webhooks/{id}/deliveries`, newest event first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// The webhook's deliveries.
    pub deliveries: Vec<DeliveryInfo>,
}
