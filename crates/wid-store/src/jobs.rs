//! What periodic jobs need from the store: a lease so that one replica runs them, and the
//! purge of soft-deleted secrets and vaults whose retention has ended.

use crate::changes::Topic;
use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`; returns whether
    /// `holder` has it. A lease held by another is taken only once it has expired.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at < $4 OR leases.holder = excluded.holder RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .fetch_optional(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(match row {
            Some(r) => r.try_get::<String, _>("holder")? == holder,
            None => false,
        })
    }

    /// Purges the soft-deleted secrets, keys, certificates and vaults whose scheduled purge
    /// date has passed (a certificate's backing secret and key share its dates, so they go
    /// together).
    pub async fn purge_expired(&self, now: i64) -> Result<Purged, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut counts = [0; 3];
        for (count, table) in counts.iter_mut().zip(["secrets", "keys", "certificates"]) {
            *count = sqlx::query(&format!(
                "DELETE FROM {table} WHERE deleted_at IS NOT NULL AND scheduled_purge_at <= $1"
            ))
            .bind(now)
            .execute(tx.conn())
            .await?
            .rows_affected();
        }
        let [secrets, keys, certificates] = counts;
        let vaults = sqlx::query(
            "DELETE FROM vaults WHERE deleted_at IS NOT NULL AND scheduled_purge_at <= $1",
        )
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        let changed: &[Topic] = match (vaults > 0, keys > 0) {
            (true, true) => &[Topic::Vaults, Topic::VaultKeys],
            (true, false) => &[Topic::Vaults],
            (false, true) => &[Topic::VaultKeys],
            (false, false) => &[],
        };
        tx.commit_changing(changed).await?;
        Ok(Purged {
            secrets,
            keys,
            certificates,
            vaults,
        })
    }
}

/// What one round of [`Store::purge_expired`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub secrets: u64,
    pub keys: u64,
    pub certificates: u64,
    pub vaults: u64,
}
