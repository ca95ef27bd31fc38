//! The orphan sweeper. Writes put the blob before the catalog row, so a crash (or a lost race)
//! can leave a blob that no row points at. Every `interval`, the sweeper lists blobs and deletes
//! those older than `grace` that the catalog does not reference; the grace period keeps it away
//! from writes still in flight.

use crate::blob::BlobPrefix;
use crate::config::SweeperConfig;
use crate::domain::Timestamp;
use crate::http::AppState;
use crate::service::Coffer;
use std::sync::Arc;

/// Starts the sweeper task (unless the interval is zero).
pub fn spawn(state: Arc<AppState>, config: SweeperConfig) {
    if config.interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.interval);
        tick.tick().await; // the first tick is immediate; start one interval after startup
        loop {
            tick.tick().await;
            match sweep_once(&state.coffer, config.grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "swept orphan blobs"),
                Err(e) => {
                    tracing::warn!(error = %e, "orphan sweep failed; will retry next interval")
                }
            }
        }
    });
}

/// One pass: removes unreferenced blobs older than `grace`. Returns how many were removed.
pub async fn sweep_once(coffer: &Coffer, grace: std::time::Duration) -> Result<usize, String> {
    let prefix = BlobPrefix::parse("orgs/").expect("static prefix is valid");
    let blobs = coffer
        .blobs()
        .list(&prefix)
        .await
        .map_err(|e| e.to_string())?;
    let cutoff = Timestamp::now().millis() - grace.as_millis() as i64;
    let mut removed = 0;
    for blob in blobs.into_iter().filter(|b| b.modified_ms <= cutoff) {
        if !coffer
            .catalog()
            .blob_referenced(&blob.key)
            .await
            .map_err(|e| e.to_string())?
        {
            coffer
                .blobs()
                .delete(&blob.key)
                .await
                .map_err(|e| e.to_string())?;
            removed += 1;
        }
    }
    Ok(removed)
}
