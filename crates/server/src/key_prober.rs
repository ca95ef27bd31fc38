//! The BYOK health prober: every `keys.probe_interval` (default 30 s; 0 disables it) it probes
//! every BYOK org's keys — DescribeKey in each region and a decrypt of the org's stored probe
//! ciphertext — and suspends or restores orgs accordingly
//! ([`Coffer::probe_byok_orgs`](crate::service::Coffer::probe_byok_orgs)). It runs on every node;
//! that is safe because each transition is a check-and-set in the catalog, and it is what bounds
//! how long a revoked key goes unnoticed where KMS keeps decrypting (`key_cache_ttl +
//! probe_interval` in all). A pass that overruns the interval delays the next tick, never stacks.

use crate::http::AppState;
use std::sync::Arc;
use std::time::Duration;

/// Starts the prober task (unless `interval` is zero). It stops when the app is dropped.
pub fn spawn(state: Arc<AppState>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    let weak = Arc::downgrade(&state);
    drop(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate: start one interval after startup
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            match state.coffer.probe_byok_orgs().await {
                Ok(s) if s.suspended + s.restored > 0 => tracing::info!(
                    probed = s.probed,
                    suspended = s.suspended,
                    restored = s.restored,
                    "BYOK key probe changed org status"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "BYOK key probe failed; will retry"),
            }
        }
    });
}
