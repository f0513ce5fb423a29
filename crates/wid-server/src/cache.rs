//! Caches of what hot paths read from the database (a client's credentials for the
//! exchange, a principal's role assignments for authorization, vaults).
//!
//! A cache is emptied when its data changes: at once on the replica that made the change,
//! and on the others when they see the change's generation move (see `crate::coherence`),
//! within [`crate::coherence::PROPAGATION_BOUND`]. Entries also expire after their TTL,
//! a safety net that bounds staleness should a change ever go unseen.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The safety-net resync of caches whose changes are announced.
pub const RESYNC: Duration = Duration::from_secs(30);
/// Beyond this many keys a cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

pub struct TtlCache<V> {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<V>)>>,
    /// Bumped by every clear: a load that began before a clear may have read what the
    /// clear was about, so its result is returned but not kept.
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V> TtlCache<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached value for `key`, or what `load` returns, which is then cached. Keys are
    /// compared exactly: callers fold case where the key is case-insensitive (GUIDs, names),
    /// never where it is not (tokens).
    pub async fn get_or_load<E, F, Fut>(&self, key: &str, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some((at, found)) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            if at.elapsed() < self.ttl {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(found.clone());
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let loaded_at = Instant::now();
        let epoch = self.epoch.load(Ordering::Acquire);
        let value = Arc::new(load().await?);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch {
            return Ok(value);
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_owned(), (loaded_at, value.clone()));
        Ok(value)
    }

    /// (hits, misses) so far, for the metrics.
    pub fn lookups(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_load_overtaken_by_a_clear_is_not_kept() {
        let cache: TtlCache<u32> = TtlCache::new(RESYNC);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        let load = cache.get_or_load("k", || async {
            let _ = started_tx.send(());
            let _ = finish_rx.await;
            Ok::<_, ()>(1)
        });
        let clear_midway = async {
            let _ = started_rx.await;
            cache.clear();
            let _ = finish_tx.send(());
        };
        let (loaded, ()) = tokio::join!(load, clear_midway);
        assert_eq!(*loaded.unwrap(), 1);
        let reloaded = cache.get_or_load("k", || async { Ok::<_, ()>(2) }).await;
        assert_eq!(
            *reloaded.unwrap(),
            2,
            "the stale load must not have been cached"
        );
        let cached = cache.get_or_load("k", || async { Ok::<_, ()>(3) }).await;
        assert_eq!(*cached.unwrap(), 2);
    }
}
