//! What the exchange reads per request about a client (its managed identity and federated
//! credentials), cached so that the hot path does not wait on the database.
//!
//! Entries live for [`TTL`]; this replica drops them all whenever the management plane
//! changes anything, and other replicas see a change within the TTL. Deleting a credential
//! therefore stops its exchanges at once here and within a second everywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use wid_core::model::{FederatedCredential, ManagedIdentity};
use wid_store::{Store, StoreError};

const TTL: Duration = Duration::from_secs(1);
/// Beyond this many clients the cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

/// A managed identity with its credentials, or `None` for a client id that is not one.
pub type Client = Option<(ManagedIdentity, Vec<FederatedCredential>)>;

#[derive(Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, (Instant, Arc<Client>)>>,
}

impl ClientCache {
    pub async fn get(&self, store: &Store, client_id: &str) -> Result<Arc<Client>, StoreError> {
        let key = client_id.to_lowercase();
        if let Some((at, found)) = self.read().get(&key) {
            if at.elapsed() < TTL {
                return Ok(found.clone());
            }
        }
        let loaded_at = Instant::now();
        let client = match store.identity_by_client_id(client_id).await? {
            None => None,
            Some(mi) => match store.federated_credentials_by_client_id(client_id).await {
                Ok(credentials) => Some((mi, credentials)),
                Err(StoreError::IdentityNotFound) => None,
                Err(e) => return Err(e),
            },
        };
        let client = Arc::new(client);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (loaded_at, client.clone()));
        Ok(client)
    }

    /// Forgets everything: called after every change the management plane makes.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, (Instant, Arc<Client>)>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }
}
