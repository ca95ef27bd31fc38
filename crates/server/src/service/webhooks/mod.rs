//! Org webhooks (docs/webhooks.md): admins add, list, remove and re-key an org's webhooks and
//! see and redeliver their deliveries (here); the delivery job turns the org's audit events into
//! signed deliveries and sends them ([`pipeline`]); the reminder job announces expiring secrets
//! ([`expiry`]); the pruning job drops finished deliveries and spent reminders ([`prune`]).
//!
//! Shaped around the audit chain, which is already an outbox: every change appends its event in
//! the transaction that makes it, so a webhook only needs a cursor into the chain, and no request
//! ever waits for a receiver or fails because one is down. Deliveries are at least once (a
//! receiver drops duplicates by the event id, `<org id>:<seq>`), retried with backoff and then
//! dead-lettered until someone redelivers them.
//!
//! Who: people who are owners or admins of the org. Service accounts are refused (the policy's
//! `manages_people`): a webhook decides where the org's events go, and a leaked CI token must
//! not be able to open a quiet, lasting channel out.
//!
//! A webhook's signing secret is 32 bytes from the OS RNG, shown once as `whsec_` + their 43
//! base64url characters when it is made (or replaced), and stored wrapped under the org key
//! with coffer_envelope's key wrap and an AAD of its own: `coffer/v1/webhook-secret` ‖ org id ‖
//! webhook id ‖ org key version (docs/webhooks.md, "How the signing secret is stored"). So a
//! wrapped secret opens only as the secret of the webhook it was made for, and never as anything
//! else sealed under the org key. It is opened only to sign an attempt, and never logged or
//! returned again. Its URL must be free of control characters and pass the SSRF rules of
//! [`sender`] when it is set and before every attempt, and it is stored as the URL parser
//! normalised it. Audit events of webhook management name the URL's host only: a webhook URL's
//! path is often a credential of the receiver.

pub mod events;
mod expiry;
mod pipeline;
mod prune;
pub mod sender;

use crate::catalog::{CatalogError, DeliveryRecord, OrgRecord, WebhookRecord, WebhookSecret};
use crate::domain::policy::{Action, Actor};
use crate::domain::{DeliveryId, OrgId, OrgSlug, Timestamp, WebhookEvent, WebhookId};
use crate::service::{Coffer, Error, Result, event};
use base64::Engine;
use coffer_envelope::{Key32, OrgKey};
use sender::{Sender, UrlRules};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

pub use pipeline::{DeliveryPass, MAX_PENDING_PER_WEBHOOK};
pub use prune::{PRUNE_INTERVAL, Pruned};

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Most webhooks one org may have: each costs every node a look at the org's chain per pass.
pub const MAX_PER_ORG: u32 = 25;
/// The label that starts the AAD of a signing secret's wrap.
const SECRET_AAD: &[u8] = b"coffer/v1/webhook-secret";
/// Longest webhook URL accepted, in bytes.
const MAX_URL: usize = 2000;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 200;

/// The tunables of webhooks and expiry reminders (`[webhooks]` in `coffer.toml`).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Which addresses webhooks may point at beyond the public internet.
    pub rules: UrlRules,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failure (doubling after each further one).
    pub backoff_base: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// How far ahead an expiry is announced (and how far back a missed one still is).
    pub expiry_window: Duration,
    /// How long finished deliveries are kept.
    pub retention: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let c = crate::config::WebhooksConfig::default();
        Self::from_config(&c)
    }
}

impl WebhookSettings {
    /// The settings `[webhooks]` gives.
    pub fn from_config(c: &crate::config::WebhooksConfig) -> Self {
        Self {
            rules: UrlRules {
                allow_loopback: c.allow_loopback,
                allow_private: c.allow_private_networks,
            },
            timeout: c.timeout,
            max_attempts: c.max_attempts,
            backoff_base: c.backoff_base,
            backoff_max: c.backoff_max,
            expiry_window: Duration::from_secs(u64::from(c.expiry_reminder_days) * 86_400),
            retention: c.retention,
        }
    }
}

/// The settings, the HTTP client, and this node's attempt slots.
pub struct WebhookParts {
    settings: WebhookSettings,
    sender: Sender,
    /// One permit per attempt this node may have in flight ([`pipeline::CONCURRENCY`]).
    slots: Arc<tokio::sync::Semaphore>,
}

impl WebhookParts {
    /// Parts for `settings`.
    pub fn new(settings: WebhookSettings) -> Self {
        Self {
            sender: Sender::new(settings.rules, settings.timeout),
            settings,
            slots: Arc::new(tokio::sync::Semaphore::new(pipeline::CONCURRENCY)),
        }
    }
}

/// A webhook's signing secret: the HMAC key of `Coffer-Signature`, `whsec_` + the base64url of
/// its 32 bytes. Redacted in `Debug`, wiped on drop.
pub struct SigningSecret(Zeroizing<String>);

impl SigningSecret {
    /// The secret of these 32 bytes.
    fn of(bytes: &Key32) -> Self {
        Self(Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.expose())
        )))
    }

    /// The secret as shown to its owner (and used as the HMAC key, as bytes).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The AAD of webhook `id`'s signing secret wrapped under version `key_version` of `org`'s key:
/// `coffer/v1/webhook-secret` ‖ org id (16 bytes) ‖ webhook id (16 bytes) ‖ key version (4 bytes,
/// big-endian).
fn secret_aad(org: OrgId, id: WebhookId, key_version: u32) -> Vec<u8> {
    [
        SECRET_AAD,
        &org.to_bytes()[..],
        &id.to_bytes()[..],
        &key_version.to_be_bytes()[..],
    ]
    .concat()
}

/// Wraps `bytes`, the signing secret of webhook `id` of `org`, under `key` (version
/// `key_version` of the org key).
fn wrap_secret(
    key: &OrgKey,
    org: OrgId,
    id: WebhookId,
    key_version: u32,
    bytes: &Key32,
) -> Result<WebhookSecret> {
    let wrap = coffer_envelope::try_wrap_key(key, &secret_aad(org, id, key_version), bytes)
        .map_err(|e| Error::Internal(format!("wrapping a webhook's signing secret: {e}")))?;
    Ok(WebhookSecret { key_version, wrap })
}

/// Opens the signing secret of webhook `id` of `org` wrapped as `stored` under `key`.
fn unwrap_secret(
    key: &OrgKey,
    org: OrgId,
    id: WebhookId,
    stored: &WebhookSecret,
) -> Result<SigningSecret> {
    let aad = secret_aad(org, id, stored.key_version);
    let bytes = coffer_envelope::unwrap_key(key, &aad, &stored.wrap).map_err(|e| {
        Error::Integrity(format!(
            "webhook {id}'s signing secret failed its integrity check: {e}"
        ))
    })?;
    Ok(SigningSecret::of(&bytes))
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

/// A webhook with its new signing secret (shown once).
#[derive(Debug)]
pub struct KeyedWebhook {
    /// The webhook as stored.
    pub record: WebhookRecord,
    /// Its signing secret.
    pub secret: SigningSecret,
}

/// What an admin asks for.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// Where to POST.
    pub url: String,
    /// The events to send.
    pub events: Vec<WebhookEvent>,
    /// What it is for.
    pub description: Option<String>,
}

fn webhook_not_found(slug: &OrgSlug, id: WebhookId) -> Error {
    Error::NotFound(format!("org `{slug}` has no webhook {id}"))
}

fn delivery_not_found(slug: &OrgSlug, id: DeliveryId) -> Error {
    Error::NotFound(format!("org `{slug}` has no webhook delivery {id}"))
}

/// The host of a URL that passed the checks (what audit events and logs name).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Coffer {
    /// The expiry reminder window in days (the web UI warns about secrets expiring within it).
    pub fn expiry_warning_days(&self) -> u32 {
        (self.webhooks.settings.expiry_window.as_secs() / 86_400) as u32
    }

    /// A new signing secret for webhook `id` of `org`, wrapped under the org's current key.
    async fn new_signing_secret(
        &self,
        org: &OrgRecord,
        id: WebhookId,
    ) -> Result<(SigningSecret, WebhookSecret)> {
        let bytes = Key32::try_generate()
            .map_err(|e| Error::Internal(format!("drawing a webhook's signing secret: {e}")))?;
        let key = self.org_key(org.id, org.key_version).await?;
        let stored = wrap_secret(&key, org.id, id, org.key_version, &bytes)?;
        Ok((SigningSecret::of(&bytes), stored))
    }

    /// Opens a webhook's signing secret (to sign an attempt).
    async fn open_signing_secret(&self, w: &WebhookRecord) -> Result<SigningSecret> {
        let key = self.org_key(w.org, w.secret.key_version).await?;
        unwrap_secret(&key, w.org, w.id, &w.secret)
    }

    /// Adds a webhook to the org (admins and owners). The URL and events are checked first
    /// (nothing is stored when either is wrong); the signing secret is returned once.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: NewWebhook,
    ) -> Result<KeyedWebhook> {
        let org = self.org_for(actor, slug, Action::ManageWebhooks).await?;
        if req.url.len() > MAX_URL {
            return Err(Error::InvalidInput(format!(
                "url must be at most {MAX_URL} bytes"
            )));
        }
        // Stored as parsed: the normal form the checks and every attempt see.
        let url = sender::check_url(&req.url, self.webhooks.settings.rules)
            .map_err(|m| Error::InvalidInput(format!("url: {m}")))?
            .as_str()
            .to_owned();
        if url.len() > MAX_URL {
            return Err(Error::InvalidInput(format!(
                "url must be at most {MAX_URL} bytes once normalised"
            )));
        }
        let mut events = req.events;
        events.sort();
        events.dedup();
        if events.is_empty() {
            let all: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
            return Err(Error::InvalidInput(format!(
                "events must name at least one event: {}",
                all.join(", ")
            )));
        }
        let description = match req.description {
            Some(d) if d.is_empty() => None,
            Some(d) if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) => {
                return Err(Error::InvalidInput(format!(
                    "description must be at most {MAX_DESCRIPTION} printable characters"
                )));
            }
            other => other,
        };
        let too_many = || Error::Conflict {
            code: "webhook_limit",
            message: format!(
                "org `{slug}` already has {MAX_PER_ORG} webhooks, the most an org may have; remove one first"
            ),
        };
        // A first look spares the key a wrap that would be refused; the catalog counts again in
        // the transaction that inserts, which is what holds against racing adds.
        let existing = self
            .catalog
            .webhooks(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "webhooks".into()))?;
        if existing.len() >= MAX_PER_ORG as usize {
            return Err(too_many());
        }
        let id = WebhookId::new();
        let (secret, stored) = self.new_signing_secret(&org, id).await?;
        let record = WebhookRecord {
            id,
            org: org.id,
            url,
            description,
            events,
            secret: stored,
            cursor: 0,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
            secret_rotated_at: None,
            failures: 0,
            failed_at: None,
        };
        let names: Vec<&str> = record.events.iter().map(|e| e.as_str()).collect();
        let audit = event(
            actor,
            org.id,
            "webhook.create",
            format!("webhook:{}", record.id),
            serde_json::json!({"host": host_of(&record.url), "events": names}),
        );
        let record = self
            .catalog
            .create_webhook(record, audit, MAX_PER_ORG)
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) => too_many(),
                other => Error::catalog(other, || "webhook".into()),
            })?;
        Ok(KeyedWebhook { record, secret })
    }

    /// The org's webhooks, oldest first (admins and owners; never their secrets).
    pub async fn webhooks(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<WebhookRecord>> {
        let org = self.org_for(actor, slug, Action::ReadWebhooks).await?;
        self.catalog
            .webhooks(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "webhooks".into()))
    }

    /// One of the org's webhooks (admins and owners).
    pub async fn webhook(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: WebhookId,
    ) -> Result<WebhookRecord> {
        let org = self.org_for(actor, slug, Action::ReadWebhooks).await?;
        self.catalog
            .webhook(org.id, id)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{slug}` has no webhook {id}")))
    }

    /// Removes one of the org's webhooks and its deliveries (admins and owners).
    pub async fn delete_webhook(&self, actor: &Actor, slug: &OrgSlug, id: WebhookId) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ManageWebhooks).await?;
        let found = self
            .catalog
            .webhook(org.id, id)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => webhook_not_found(slug, id),
                other => Error::catalog(other, || "webhook".into()),
            })?;
        let audit = event(
            actor,
            org.id,
            "webhook.delete",
            format!("webhook:{id}"),
            serde_json::json!({"host": host_of(&found.url)}),
        );
        self.catalog
            .delete_webhook(org.id, id, audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => webhook_not_found(slug, id),
                other => Error::catalog(other, || "webhook".into()),
            })
    }

    /// Gives one of the org's webhooks a new signing secret (admins and owners), returned once;
    /// the webhook keeps its id, which the new secret's wrap is bound to. Every attempt from then
    /// on — retries of older events too — is signed with it.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: WebhookId,
    ) -> Result<KeyedWebhook> {
        let org = self.org_for(actor, slug, Action::ManageWebhooks).await?;
        let (secret, stored) = self.new_signing_secret(&org, id).await?;
        let audit = event(
            actor,
            org.id,
            "webhook.rotate_secret",
            format!("webhook:{id}"),
            serde_json::json!({}),
        );
        let record = self
            .catalog
            .set_webhook_secret(org.id, id, stored, Timestamp::now(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => webhook_not_found(slug, id),
                other => Error::catalog(other, || "webhook".into()),
            })?;
        Ok(KeyedWebhook { record, secret })
    }

    /// Deliveries of one of the org's webhooks, newest event first (admins and owners); only the
    /// dead-lettered ones when `failed_only`.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: WebhookId,
        failed_only: bool,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let org = self.org_for(actor, slug, Action::ReadWebhooks).await?;
        self.catalog
            .deliveries(org.id, id, failed_only, limit.clamp(1, 1000))
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => webhook_not_found(slug, id),
                other => Error::catalog(other, || "webhook deliveries".into()),
            })
    }

    /// Puts a delivered or dead-lettered delivery back in the queue, due now, with a fresh set
    /// of attempts (admins and owners). A pending one is refused: it is still being tried.
    pub async fn redeliver(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: DeliveryId,
    ) -> Result<DeliveryRecord> {
        let org = self.org_for(actor, slug, Action::ManageWebhooks).await?;
        let audit = event(
            actor,
            org.id,
            "webhook.redeliver",
            format!("webhook-delivery:{id}"),
            serde_json::json!({"delivery": id.to_string()}),
        );
        self.catalog
            .redeliver(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| match e {
                CatalogError::NotFound => delivery_not_found(slug, id),
                CatalogError::Refused(m) => Error::Conflict {
                    code: "delivery_pending",
                    message: format!("delivery {id}: {m}"),
                },
                other => Error::catalog(other, || "webhook delivery".into()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_secret_opens_only_as_the_secret_of_its_own_webhook() {
        let key = OrgKey::generate();
        let (org, id) = (OrgId::new(), WebhookId::new());
        let bytes = Key32::generate();
        let stored = wrap_secret(&key, org, id, 3, &bytes).unwrap();
        assert_eq!(stored.key_version, 3);
        assert_eq!(stored.wrap.len(), coffer_envelope::WRAPPED_KEY_LEN);
        let opened = unwrap_secret(&key, org, id, &stored).unwrap();
        assert_eq!(opened.expose(), SigningSecret::of(&bytes).expose());
        assert!(opened.expose().starts_with(SECRET_PREFIX));
        assert_eq!(opened.expose().len(), SECRET_PREFIX.len() + 43);
        assert!(crate::service::tokens::well_formed_with(
            SECRET_PREFIX,
            opened.expose()
        ));
        // Moved to another webhook, another org, or relabelled with another key version: refused.
        assert!(unwrap_secret(&key, org, WebhookId::new(), &stored).is_err());
        assert!(unwrap_secret(&key, OrgId::new(), id, &stored).is_err());
        let relabelled = WebhookSecret {
            key_version: 4,
            ..stored.clone()
        };
        assert!(unwrap_secret(&key, org, id, &relabelled).is_err());
        assert!(unwrap_secret(&OrgKey::generate(), org, id, &stored).is_err());
        // Not an envelope either: a secret value's envelope never opens as a signing secret.
        assert!(coffer_envelope::parse(&stored.wrap, 1 << 20).is_err());
        assert!(!format!("{stored:?}").contains(&hex::encode(&stored.wrap)));
        assert_eq!(format!("{opened:?}"), "SigningSecret([REDACTED])");
    }

    #[test]
    fn the_wrap_aad_is_the_documented_layout() {
        let org = OrgId::from_uuid(uuid::Uuid::from_bytes([0x11; 16]));
        let id = WebhookId::from_uuid(uuid::Uuid::from_bytes([0x22; 16]));
        let aad = secret_aad(org, id, 0x0102_0304);
        let mut want = b"coffer/v1/webhook-secret".to_vec();
        want.extend([0x11; 16]);
        want.extend([0x22; 16]);
        want.extend([1, 2, 3, 4]);
        assert_eq!(aad, want);
        assert_eq!(aad.len(), 60);
        assert!(!aad.starts_with(coffer_envelope::DEK_AAD_PREFIX));
    }
}
