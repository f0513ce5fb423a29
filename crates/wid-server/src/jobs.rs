//! Periodic work that must run once across all replicas, not once per replica: purging the
//! secrets and vaults soft delete has kept past their scheduled purge date. A replica runs a
//! round only while it holds the round's lease in the database.

use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

const PURGE_LEASE: &str = "purge-soft-deleted";

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    let holder = uuid::Uuid::new_v4().to_string();
    // A lease outlives a missed round or two, so a slow holder is not displaced mid-round.
    let ttl = (interval.as_secs() as i64 * 3).max(3);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let now = state.now();
        match state.store.try_lease(PURGE_LEASE, &holder, now, ttl).await {
            Ok(true) => match state.store.purge_expired(now).await {
                Ok((0, 0)) => {}
                Ok((secrets, vaults)) => tracing::info!(
                    secrets,
                    vaults,
                    "purged soft-deleted items past their purge date"
                ),
                Err(e) => tracing::warn!(error = %e, "purging soft-deleted items failed"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "taking the purge lease failed"),
        }
    }
}
