//! Periodic work that must run once across all replicas, not once per replica: purging the
//! secrets and vaults soft delete has kept past their scheduled purge date and the sign-in
//! sessions nobody can redeem any more, and rotating the
//! tenant's token-signing keys. A replica runs a job's round only while it holds that job's
//! lease in the database; when the holder dies, its lease expires and another replica takes
//! the job over.

use crate::error::ServerError;
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;
use wid_core::key_rotation;

const PURGE_LEASE: &str = "purge-soft-deleted";
const ROTATION_LEASE: &str = "rotate-signing-keys";
const ACTIVITY_LEASE: &str = "prune-activity-logs";

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    let holder = wid_core::ids::random_uuid().to_string();
    // A lease outlives a missed round or two, so a slow holder is not displaced mid-round.
    let ttl = (interval.as_secs() as i64 * 3).max(3);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let now = state.now();
        if holds(&state, PURGE_LEASE, &holder, now, ttl).await {
            match state.store.purge_expired(now).await {
                Ok(p) if p == wid_store::Purged::default() => {}
                Ok(p) => tracing::info!(
                    secrets = p.secrets,
                    keys = p.keys,
                    certificates = p.certificates,
                    vaults = p.vaults,
                    "purged soft-deleted items past their purge date"
                ),
                Err(e) => tracing::warn!(error = %e, "purging soft-deleted items failed"),
            }
            match purge_sessions(&state, now).await {
                Ok((0, 0)) => {}
                Ok((refresh_tokens, device_codes)) => tracing::info!(
                    refresh_tokens,
                    device_codes,
                    "purged sign-in sessions that can no longer be redeemed"
                ),
                Err(e) => tracing::warn!(error = %e, "purging sign-in sessions failed"),
            }
        }
        if (state.sign_ins.enabled() || state.vault_events.enabled())
            && holds(&state, ACTIVITY_LEASE, &holder, now, ttl).await
        {
            match crate::activity::prune(&state, now).await {
                Ok(0) => {}
                Ok(pruned) => {
                    tracing::info!(pruned, "pruned activity records past their retention")
                }
                Err(e) => tracing::warn!(error = %e, "pruning the activity logs failed"),
            }
        }
        if holds(&state, ROTATION_LEASE, &holder, now, ttl).await {
            if let Err(e) = rotate_signing_keys(&state, now).await {
                tracing::warn!(error = %e, "rotating the tenant's signing keys failed");
            }
        }
    }
}

/// Keeps the sessions tables bounded: what no request can redeem any more goes.
async fn purge_sessions(state: &AppState, now: i64) -> Result<(u64, u64), wid_store::StoreError> {
    Ok((
        state.store.purge_refresh_tokens(now).await?,
        state
            .store
            .purge_device_codes(now - wid_core::session::DEVICE_CODE_KEPT_AFTER_EXPIRY_SECS)
            .await?,
    ))
}

async fn holds(state: &AppState, lease: &str, holder: &str, now: i64, ttl: i64) -> bool {
    match state.store.try_lease(lease, holder, now, ttl).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(lease, error = %e, "taking a job lease failed");
            false
        }
    }
}

/// Adds a key when the newest is a rotation period old and retires keys whose tokens have
/// all expired (see [`key_rotation::plan`]). Every replica picks the change up through the
/// change generations, well before the new key starts signing.
async fn rotate_signing_keys(state: &AppState, now: i64) -> Result<(), ServerError> {
    let tenant = &state.tenant.id;
    let records = state.store.signing_keys(tenant).await?;
    let created: Vec<i64> = records.iter().map(|r| r.created_at).collect();
    let plan = key_rotation::plan(&created, now, &state.config.signing_key_rotation);
    if plan.add_key {
        let record = crate::tenant_keys::generate(&state.kek.get(), tenant, now)?;
        state.store.insert_signing_key(&record).await?;
        tracing::info!(kid = %record.kid, "published a new token-signing key");
    }
    for index in plan.retire {
        let kid = &records[index].kid;
        state.store.delete_signing_key(tenant, kid).await?;
        tracing::info!(kid = %kid, "retired a superseded token-signing key");
    }
    Ok(())
}
