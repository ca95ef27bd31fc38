//! The pruning job ([`PRUNE_INTERVAL`]): drops deliveries that were delivered or dead-lettered
//! more than `webhooks.retention` ago — counted from when they finished, so a delivery that took
//! a day of retries is still listed for the whole retention after its last attempt — and the
//! expiry reminders of expiries the reminder job no longer looks at (older than its look-back
//! window, `webhooks.expiry_reminder_days`, plus a day for clocks that differ between nodes), so
//! neither table grows without end. Pending deliveries are never pruned; their number per webhook
//! is capped where they are enqueued instead ([`super::MAX_PENDING_PER_WEBHOOK`]).
//!
//! It deletes in batches, each its own short write, so a large backlog never holds the catalog's
//! writer for long; what one run leaves is taken by the next. Either half failing does not stop
//! the other. Every node may run it: deleting what another node already deleted changes nothing.

use crate::domain::Timestamp;
use crate::service::{Coffer, Error, Result};
use std::time::Duration;

/// How often a node prunes.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(600);
/// Rows deleted per write.
const BATCH: u32 = 1000;
/// Writes per table and run (the rest waits for the next run).
const BATCHES: usize = 100;
/// How much older than the reminder job's look-back an expiry must be before its reminder goes.
const REMINDER_MARGIN: Duration = Duration::from_secs(86_400);

/// What one run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished deliveries.
    pub deliveries: u64,
    /// Expiry reminders.
    pub reminders: u64,
}

/// Which table a batch prunes.
#[derive(Clone, Copy)]
enum Table {
    Deliveries,
    Reminders,
}

/// `now` less `d` (the earliest time, if `d` reaches past it).
fn before(now: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_millis(
        now.millis()
            .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    )
}

impl Coffer {
    /// One run of the pruning job. Both tables are pruned even if one fails; the first failure
    /// is returned after.
    pub async fn prune_webhook_history(&self) -> Result<Pruned> {
        let s = &self.webhooks.settings;
        let now = Timestamp::now();
        let deliveries = self
            .prune_table(Table::Deliveries, before(now, s.retention))
            .await;
        let reminders = self
            .prune_table(
                Table::Reminders,
                before(now, s.expiry_window.saturating_add(REMINDER_MARGIN)),
            )
            .await;
        Ok(Pruned {
            deliveries: deliveries?,
            reminders: reminders?,
        })
    }

    /// Deletes `table`'s rows older than `cutoff`, a batch at a time; returns how many.
    async fn prune_table(&self, table: Table, cutoff: Timestamp) -> Result<u64> {
        let mut removed = 0;
        for _ in 0..BATCHES {
            if self.is_stopping() {
                break;
            }
            let n = match table {
                Table::Deliveries => self.catalog.prune_deliveries(cutoff, BATCH).await,
                Table::Reminders => self.catalog.prune_reminders(cutoff, BATCH).await,
            }
            .map_err(|e| Error::catalog(e, || "webhook history".into()))?;
            removed += n;
            if n < u64::from(BATCH) {
                break;
            }
        }
        Ok(removed)
    }
}
