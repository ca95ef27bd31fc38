//! Org webhooks (docs/webhooks.md): admins add, list, remove and re-key an org's webhooks and
//! see and redeliver their deliveries (here); the delivery job turns the org's audit events into
//! signed deliveries and sends them ([`pipeline`]); the reminder job announces expiring secrets
//! ([`expiry`]).
//!
//! Shaped around the audit chain, which is already an outbox: every change appends its event in
//! the transaction that makes it, so a webhook only needs a cursor into the chain, and no request
//! ever waits for a receiver or fails because one is down. Deliveries are at least once (a
//! receiver drops duplicates by the event id, `<org id>:<seq>`), retried with backoff and then
//! dead-lettered until someone redelivers them.
//!
//! A webhook's signing secret (`whsec_` + 43 base64url characters, 256 bits from the OS RNG) is
//! shown once, when it is made, and stored sealed under the org key (envelope format v1, bound
//! to its own id) like the SSO client secret; it is opened only to sign an attempt, and never
//! logged or returned again. Its URL passes the SSRF rules of [`sender`] when it is set and
//! before every attempt. Audit events of webhook management name the URL's host only: a
//! webhook URL's path is often a credential of the receiver.

pub mod events;
mod expiry;
mod pipeline;
pub mod sender;

use crate::catalog::{CatalogError, DeliveryRecord, OrgRecord, SealedValue, WebhookRecord};
use crate::domain::policy::{Action, Actor};
use crate::domain::{DeliveryId, OrgSlug, SecretId, Timestamp, WebhookEvent, WebhookId};
use crate::service::{Coffer, Error, Result, event, secrets, tokens};
use sender::{Sender, UrlRules};
use std::time::Duration;
use zeroize::Zeroizing;

pub use pipeline::DeliveryPass;

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Most webhooks one org may have: each costs every node a look at the org's chain per pass.
pub const MAX_PER_ORG: usize = 25;
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

/// The settings and the HTTP client.
pub struct WebhookParts {
    settings: WebhookSettings,
    sender: Sender,
}

impl WebhookParts {
    /// Parts for `settings`.
    pub fn new(settings: WebhookSettings) -> Self {
        Self {
            sender: Sender::new(settings.rules, settings.timeout),
            settings,
        }
    }
}

/// A webhook's signing secret: the HMAC key of `Coffer-Signature`. Redacted in `Debug`, wiped on
/// drop.
pub struct SigningSecret(Zeroizing<String>);

impl SigningSecret {
    /// A fresh secret from the OS RNG.
    fn generate() -> Self {
        Self(tokens::generate_with(SECRET_PREFIX))
    }

    /// The secret as shown to its owner (and used as the HMAC key, as bytes).
    pub fn expose(&self) -> &str {
        &self.0
    }
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

    /// Seals a new signing secret under the org's current key.
    async fn seal_signing_secret(&self, org: &OrgRecord) -> Result<(SigningSecret, SealedValue)> {
        let secret = SigningSecret::generate();
        let id = SecretId::new();
        let key = self.org_key(org.id, org.key_version).await?;
        let sealed = coffer_envelope::seal(
            &key,
            &secrets::binding(org.id, id, 1, org.key_version),
            secret.expose().as_bytes(),
        )
        .map_err(|e| Error::Internal(format!("sealing a webhook secret: {e}")))?;
        Ok((
            secret,
            SealedValue {
                id,
                key_version: org.key_version,
                envelope: sealed.bytes,
            },
        ))
    }

    /// Opens a webhook's signing secret (to sign an attempt).
    async fn open_signing_secret(&self, w: &WebhookRecord) -> Result<SigningSecret> {
        let sealed = &w.secret;
        let key = self.org_key(w.org, sealed.key_version).await?;
        let plain = coffer_envelope::open(
            &key,
            &secrets::binding(w.org, sealed.id, 1, sealed.key_version),
            &sealed.envelope,
            4 * 1024,
        )
        .map_err(|e| {
            Error::Integrity(format!("a webhook's signing secret cannot be opened: {e}"))
        })?;
        let text = String::from_utf8(plain.as_bytes().to_vec())
            .map_err(|_| Error::Integrity("a webhook's signing secret is not text".into()))?;
        Ok(SigningSecret(Zeroizing::new(text)))
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
        sender::check_url(&req.url, self.webhooks.settings.rules)
            .map_err(|m| Error::InvalidInput(format!("url: {m}")))?;
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
        let existing = self
            .catalog
            .webhooks(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "webhooks".into()))?;
        if existing.len() >= MAX_PER_ORG {
            return Err(Error::Conflict {
                code: "webhook_limit",
                message: format!(
                    "org `{slug}` already has {MAX_PER_ORG} webhooks, the most an org may have; remove one first"
                ),
            });
        }
        let (secret, sealed) = self.seal_signing_secret(&org).await?;
        let record = WebhookRecord {
            id: WebhookId::new(),
            org: org.id,
            url: req.url,
            description,
            events,
            secret: sealed,
            cursor: 0,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
            secret_rotated_at: None,
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
            .create_webhook(record, audit)
            .await
            .map_err(|e| Error::catalog(e, || "webhook".into()))?;
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

    /// Gives one of the org's webhooks a new signing secret (admins and owners), returned once.
    /// Every attempt from then on — retries of older events too — is signed with it.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: WebhookId,
    ) -> Result<KeyedWebhook> {
        let org = self.org_for(actor, slug, Action::ManageWebhooks).await?;
        let (secret, sealed) = self.seal_signing_secret(&org).await?;
        let audit = event(
            actor,
            org.id,
            "webhook.rotate_secret",
            format!("webhook:{id}"),
            serde_json::json!({}),
        );
        let record = self
            .catalog
            .set_webhook_secret(org.id, id, sealed, Timestamp::now(), audit)
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
