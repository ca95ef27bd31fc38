//! `[webhooks]`: how this node delivers org webhooks and reminds of expiring secrets
//! (docs/webhooks.md) — how often it looks for work, how long one attempt may take, how retries
//! back off and when a delivery is given up, which addresses a webhook may point at, and how far
//! ahead an expiry is announced.
//!
//! Every node of a deployment should use the same values: any node may make any attempt of a
//! delivery, so the retry schedule a receiver sees is the one of whichever node happens to hold
//! it.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[webhooks]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// How often this node turns new audit events into deliveries and starts attempts of the
    /// ones that are due (`0s`: this node delivers nothing; others still do).
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Deadline of one delivery attempt, connection included.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts of one delivery before it is dead-lettered (`failed`).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait after the first failed attempt; each further failure doubles it (up to
    /// `backoff_max`), and each wait is jittered to between half and all of it. Also the first
    /// wait of a webhook's circuit breaker (docs/webhooks.md).
    #[serde(default = "default_backoff_base", with = "humantime_serde")]
    pub backoff_base: Duration,
    /// The longest wait between two attempts.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Admit webhook URLs on this machine (`http://127.0.0.1:…`, `localhost`, plain http
    /// allowed): tests and local development only.
    #[serde(default)]
    pub allow_loopback: bool,
    /// Admit webhook URLs whose host is (or resolves to) a private or otherwise not publicly
    /// routable address (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, documentation,
    /// benchmarking, multicast and reserved ranges, in any IPv6 spelling that carries an IPv4
    /// address): receivers inside the operator's own network. Off, an org admin cannot make
    /// Coffer POST into the network it runs in.
    #[serde(default)]
    pub allow_private_networks: bool,
    /// How often this node looks for secrets whose expiry enters the reminder window (`0s`:
    /// never on this node).
    #[serde(default = "default_expiry_interval", with = "humantime_serde")]
    pub expiry_interval: Duration,
    /// The reminder window in days: a secret expiring within it gets one `secret.expiring` audit
    /// event (and webhook delivery), and the web UI warns about it.
    #[serde(default = "default_expiry_days")]
    pub expiry_reminder_days: u32,
    /// How long delivered and dead-lettered deliveries are kept for `deliveries` listings,
    /// counted from when they finished.
    #[serde(default = "default_retention", with = "humantime_serde")]
    pub retention: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(2)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_attempts() -> u32 {
    10
}
fn default_backoff_base() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(8 * 3600)
}
fn default_expiry_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_expiry_days() -> u32 {
    7
}
fn default_retention() -> Duration {
    Duration::from_secs(30 * 86_400)
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            backoff_base: default_backoff_base(),
            backoff_max: default_backoff_max(),
            allow_loopback: false,
            allow_private_networks: false,
            expiry_interval: default_expiry_interval(),
            expiry_reminder_days: default_expiry_days(),
            retention: default_retention(),
        }
    }
}

impl WebhooksConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        let secs = |d: Duration| d.as_secs_f64();
        if secs(self.interval) > 3600.0 {
            return Err(
                "webhooks.interval must be at most 1h (0s: no deliveries on this node)".into(),
            );
        }
        if !(0.1..=300.0).contains(&secs(self.timeout)) {
            return Err("webhooks.timeout must be between 100ms and 5m".into());
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err("webhooks.max_attempts must be between 1 and 100".into());
        }
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return Err(
                "webhooks.backoff_base must be above 0s and at most webhooks.backoff_max".into(),
            );
        }
        if secs(self.backoff_max) > 7.0 * 86_400.0 {
            return Err("webhooks.backoff_max must be at most 7 days".into());
        }
        if !(1..=365).contains(&self.expiry_reminder_days) {
            return Err("webhooks.expiry_reminder_days must be between 1 and 365".into());
        }
        if secs(self.retention) < 3600.0 {
            return Err("webhooks.retention must be at least 1h".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_and_bad_values_are_named() {
        assert_eq!(WebhooksConfig::default().check(), Ok(()));
        let with = |f: fn(&mut WebhooksConfig)| {
            let mut c = WebhooksConfig::default();
            f(&mut c);
            c.check().unwrap_err()
        };
        assert!(with(|c| c.max_attempts = 0).contains("webhooks.max_attempts"));
        assert!(with(|c| c.timeout = Duration::ZERO).contains("webhooks.timeout"));
        assert!(with(|c| c.backoff_max = Duration::from_secs(1)).contains("backoff_base"));
        assert!(with(|c| c.expiry_reminder_days = 0).contains("expiry_reminder_days"));
        assert!(with(|c| c.retention = Duration::from_secs(60)).contains("webhooks.retention"));
        let off = WebhooksConfig {
            interval: Duration::ZERO,
            expiry_interval: Duration::ZERO,
            ..WebhooksConfig::default()
        };
        assert_eq!(off.check(), Ok(()), "0s turns a job off on this node");
    }
}
