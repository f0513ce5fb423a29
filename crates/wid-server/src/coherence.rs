//! Keeps this replica's caches coherent with the database that all replicas share. Writes
//! bump a per-topic generation in their own transaction (`wid_store::Topic`); this task reads
//! the generations every [`POLL`] and drops what a moved topic made stale. A change made on
//! any replica therefore takes effect on every other within [`PROPAGATION_BOUND`] (the poll
//! interval plus one query), and at once on the replica that made it
//! ([`follow_local_writes`]).
//!
//! If the database cannot be read, everything cached is dropped at each failed poll: the
//! hot paths then go to the database themselves and fail closed rather than serve access
//! that may have been revoked meanwhile.

use crate::state::AppState;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use wid_store::Topic;

pub const POLL: Duration = Duration::from_millis(250);
/// What the documentation promises: a change is seen everywhere within this.
pub const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

pub async fn follow(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut seen: Option<HashMap<Topic, i64>> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
        match state.store.change_generations().await {
            Ok(now) => {
                let moved: Vec<Topic> = match &seen {
                    // Caches filled before the first poll may predate a change made meanwhile.
                    None => Topic::ALL.to_vec(),
                    Some(before) => Topic::ALL
                        .into_iter()
                        .filter(|t| before.get(t) != now.get(t))
                        .collect(),
                };
                for topic in moved {
                    forget(&state, topic);
                }
                seen = Some(now);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading change generations failed; dropping caches");
                state.metrics.change_poll_failed();
                for topic in Topic::ALL {
                    forget(&state, topic);
                }
                seen = None;
            }
        }
    }
}

/// Drops this replica's caches of whatever its own writes change, as each write commits,
/// whichever code path wrote (the management plane, the data plane, a job): a caller that
/// wrote and then reads sees its write, and the bound above only concerns other replicas.
pub fn follow_local_writes(state: &AppState) {
    let weak = state.downgrade();
    state.store.on_change(move |topic| {
        if let Some(state) = AppState::upgrade(&weak) {
            forget(&state, topic);
        }
    });
}

/// Drops what this replica cached of `topic`. Signing keys are re-read in the background,
/// well within the activation delay a new key waits before it signs.
pub fn forget(state: &AppState, topic: Topic) {
    state.metrics.invalidated(topic.as_str());
    match topic {
        Topic::Credentials => state.clients.clear(),
        Topic::RoleAssignments => state.role_assignments.clear(),
        Topic::Vaults => {
            state.vaults.clear();
            state.key_versions.clear();
        }
        Topic::VaultKeys => state.key_versions.clear(),
        Topic::IssuerKeys => state.issuer_keys.invalidate_all(),
        Topic::SigningKeys => {
            let state = state.clone();
            tokio::spawn(async move {
                let ring = state.kek.get();
                let reloaded = state
                    .keys
                    .reload(
                        &state.store,
                        &ring,
                        &state.tenant.id,
                        &state.config.signing_key_rotation,
                    )
                    .await;
                if let Err(e) = reloaded {
                    tracing::warn!(error = %e, "reloading the tenant's signing keys failed");
                }
            });
        }
    }
}
