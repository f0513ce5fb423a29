//! Short-lived caches of what hot paths read from the database (a client's credentials for
//! the exchange, a principal's role assignments for authorization).
//!
//! Entries live for [`TTL`]; this replica drops them all whenever the management plane
//! changes anything, and other replicas see a change within the TTL. Deleting a credential
//! or a role assignment therefore takes effect at once here and within a second everywhere.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);
/// Beyond this many keys a cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

pub struct TtlCache<V> {
    entries: RwLock<HashMap<String, (Instant, Arc<V>)>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl<V> TtlCache<V> {
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
            if at.elapsed() < TTL {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(found.clone());
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let loaded_at = Instant::now();
        let value = Arc::new(load().await?);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
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
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
