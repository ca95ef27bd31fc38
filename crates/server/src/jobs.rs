//! Background work, in one place: every job of a node is a use case of [`Coffer`] run by
//! [`every`] on an interval. Each job holds the app only weakly, so a stopped app is not kept
//! alive by its jobs (its SQLite catalog stays locked until dropped), and a run that overruns its
//! interval delays the next one instead of stacking.
//!
//! | job | interval | what it does |
//! | --- | --- | --- |
//! | key probe | `keys.probe_interval` (30 s) | checks every BYOK org's keys; suspends or restores (`Coffer::probe_byok_orgs`) |
//! | storage migration | `storage.migration_interval` | moves envelopes of orgs whose storage changed (`Coffer::migrate_storage_once`) |
//! | bucket drift checks | `storage.probe_interval` (60 s) | checks every org's own bucket (HeadBucket, probe object, CORS) and records it `ok` or `degraded`; never suspends (`Coffer::probe_storage_once`) |
//! | orphan sweep | `sweeper.interval` (1 h) | deletes blobs no version references, older than `sweeper.grace` (`crate::sweeper`) |
//! | outside-shares purge | 5 min | empties expired one-time links' copies and used, revoked or expired requests' keys (`Coffer::purge_outside_shares`) |
//! | failed-auth summary | `audit.failure_summary_interval` (10 s) | writes the counted failed authentications to each org's chain (`Coffer::flush_failed_auth`) |
//! | audit checkpoints | `audit.checkpoint_interval` (10 s) | signs the head of every org's chain that grew (`Coffer::checkpoint_all`) |
//! | audit copy | `audit.bucket_copy_interval` (60 s) | copies new signed checkpoints and their events to each org's own bucket, locked where it has Object Lock (`Coffer::copy_audit_all`) |
//! | webhook delivery | `webhooks.interval` (2 s) | turns new audit events into deliveries and, side by side, starts attempts of the due ones in the background, fairly across webhooks (`Coffer::deliver_webhooks_once`) |
//! | expiry reminders | `webhooks.expiry_interval` (1 m) | one `secret.expiring` event per expiry entering the window (`Coffer::remind_expiring_secrets`) |
//! | webhook pruning | 10 min | drops deliveries finished longer than `webhooks.retention` ago and reminders of long-past expiries (`Coffer::prune_webhook_history`) |
//! | Jira retention | 10 min | destroys secrets a Jira event deleted once their org's `retention_days` has passed, unless restored (`Coffer::purge_jira_tombstones`) |

use crate::config::Config;
use crate::service::Coffer;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often expired one-time links lose their copies and used or expired requests their keys.
pub const OUTSIDE_SHARES_PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// How often secrets a Jira event deleted are destroyed once their org's retention has passed.
pub const JIRA_PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// When a job first runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// As soon as it is started (work left over from before a restart).
    Now,
    /// One interval after it is started.
    AfterInterval,
}

/// Runs `job` every `interval` (never, if it is zero) while the app lives.
pub fn every<F, Fut>(interval: Duration, start: Start, coffer: Weak<Coffer>, job: F)
where
    F: Fn(Arc<Coffer>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if start == Start::AfterInterval {
            tick.tick().await; // the first tick is immediate
        }
        loop {
            tick.tick().await;
            let Some(coffer) = coffer.upgrade() else {
                return;
            };
            job(coffer).await;
        }
    });
}

/// Starts every background job of a node.
pub fn start_all(coffer: &Arc<Coffer>, config: &Config) {
    let weak = || Arc::downgrade(coffer);
    every(
        config.keys.probe_interval,
        Start::AfterInterval,
        weak(),
        |c| async move {
            match c.probe_byok_orgs().await {
                Ok(s) if s.suspended + s.restored > 0 => tracing::info!(
                    probed = s.probed,
                    suspended = s.suspended,
                    restored = s.restored,
                    "BYOK key probe changed org status"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "BYOK key probe failed; will retry"),
            }
        },
    );
    let rate = config.storage.migration_rate;
    every(
        config.storage.migration_interval,
        Start::Now,
        weak(),
        move |c| async move {
            if let Err(e) = c.migrate_storage_once(rate).await {
                tracing::warn!(error = %e, "storage migration pass failed; retrying next interval");
            }
        },
    );
    every(
        config.storage.probe_interval,
        Start::AfterInterval,
        weak(),
        |c| async move {
            match c.probe_storage_once().await {
                Ok(s) if s.degraded + s.recovered > 0 => tracing::info!(
                    probed = s.probed,
                    degraded = s.degraded,
                    recovered = s.recovered,
                    "bucket drift checks changed storage health"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "bucket drift checks failed; will retry"),
            }
        },
    );
    let grace = config.sweeper.grace;
    every(
        config.sweeper.interval,
        Start::AfterInterval,
        weak(),
        move |c| async move {
            match crate::sweeper::sweep_once(&c, grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "swept orphan blobs"),
                Err(e) => {
                    tracing::warn!(error = %e, "orphan sweep failed; will retry next interval")
                }
            }
        },
    );
    every(
        OUTSIDE_SHARES_PURGE_INTERVAL,
        Start::Now,
        weak(),
        |c| async move {
            match c.purge_outside_shares().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(emptied = n, "dropped expired link copies and request keys")
                }
                Err(e) => tracing::warn!(error = %e, "purging expired links failed; will retry"),
            }
        },
    );
    every(
        config.audit.failure_summary_interval,
        Start::AfterInterval,
        weak(),
        |c| async move {
            c.flush_failed_auth().await;
        },
    );
    every(
        config.audit.checkpoint_interval,
        Start::AfterInterval,
        weak(),
        |c| async move {
            if let Err(e) = c.checkpoint_all().await {
                tracing::warn!(error = %e, "audit checkpoints failed; will retry");
            }
        },
    );
    every(
        config.audit.bucket_copy_interval,
        Start::Now,
        weak(),
        |c| async move {
            match c.copy_audit_all().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(objects = n, "copied audit checkpoints to org buckets"),
                Err(e) => tracing::warn!(error = %e, "the audit copy pass failed; will retry"),
            }
        },
    );
    every(
        config.webhooks.interval,
        Start::Now,
        weak(),
        |c| async move {
            if let Err(e) = c.deliver_webhooks_once().await {
                tracing::warn!(error = %e, "webhook delivery pass failed; will retry");
            }
        },
    );
    every(
        config.webhooks.expiry_interval,
        Start::Now,
        weak(),
        |c| async move {
            match c.remind_expiring_secrets().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminded = n, "announced expiring secrets"),
                Err(e) => tracing::warn!(error = %e, "expiry reminders failed; will retry"),
            }
        },
    );
    every(
        crate::service::webhooks::PRUNE_INTERVAL,
        Start::Now,
        weak(),
        |c| async move {
            match c.prune_webhook_history().await {
                Ok(p) if p.deliveries + p.reminders > 0 => tracing::info!(
                    deliveries = p.deliveries,
                    reminders = p.reminders,
                    "pruned webhook deliveries and expiry reminders"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning webhook history failed; will retry"),
            }
        },
    );
    every(JIRA_PURGE_INTERVAL, Start::Now, weak(), |c| async move {
        match c.purge_jira_tombstones().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                destroyed = n,
                "destroyed secrets Jira deleted, their retention over"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "destroying secrets Jira deleted failed; will retry")
            }
        }
    });
}
