//! The reminder job: one `secret.expiring` audit event per secret and expiry time, once that
//! expiry is within the window (`webhooks.expiry_reminder_days`), which the webhook pipeline then
//! delivers like any other event. (Old reminders and finished deliveries are the pruning job's:
//! [`super::prune`].)
//!
//! The event is appended by the catalog in the transaction that records the reminder, so several
//! nodes running the job at once append it once. A secret whose reminder cannot be recorded is
//! logged and skipped; the others are still announced, and it is tried again next run. A secret whose expiry is changed is announced
//! again for its new expiry. Expiries up to one window in the past are still announced (flagged
//! `"expired": true`), so a deployment that was down when one came due still tells; older ones
//! are not, so upgrading never floods receivers with long-expired secrets. Deleted and destroyed
//! secrets are never announced.

use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::service::{Coffer, Error, Result, secrets};

/// Secrets read per step.
const PAGE: u32 = 200;
/// Steps per run (the rest waits for the next run).
const STEPS: usize = 50;

impl Coffer {
    /// One run of the reminder job (`webhooks.expiry_interval`): returns how many reminders were
    /// recorded.
    pub async fn remind_expiring_secrets(&self) -> Result<usize> {
        let s = &self.webhooks.settings;
        let now = Timestamp::now();
        let window = i64::try_from(s.expiry_window.as_millis()).unwrap_or(i64::MAX);
        let from = Timestamp::from_millis(now.millis().saturating_sub(window));
        let to = Timestamp::from_millis(now.millis().saturating_add(window));
        let mut reminded = 0;
        for _ in 0..STEPS {
            let page = self
                .catalog
                .expiring_secrets(from, to, PAGE)
                .await
                .map_err(|e| Error::catalog(e, || "expiring secrets".into()))?;
            let full = page.len() == PAGE as usize;
            for secret in page {
                let Some(expires_at) = secret.expires_at else {
                    continue;
                };
                let details = serde_json::json!({
                    "expires_at": expires_at.to_string(),
                    "expired": expires_at <= now,
                    "version": secret.version,
                    "kind": secret.kind,
                });
                let audit = AuditDraft::new(
                    secret.org,
                    None,
                    "coffer",
                    "secret.expiring",
                    secrets::label(&secret.scope, &secret.name),
                    details,
                );
                match self
                    .catalog
                    .remind_expiry(secret.id, expires_at, audit)
                    .await
                {
                    Ok(true) => reminded += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(secret = %secret.id, org = %secret.org, error = %e, "recording an expiry reminder failed; retrying next run")
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(reminded)
    }
}
