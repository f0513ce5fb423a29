//! Soft delete, recovery and purge of a vault's secrets, keys and certificates: the same
//! statements on each collection's table. Versions (and a certificate's operation) belong to
//! their object's row and go with it on purge by foreign key.

use crate::changes::Topic;
use crate::codec::key;
use crate::{Store, StoreError};

/// A vault collection whose objects soft-delete.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Collection {
    Secrets,
    Keys,
    Certificates,
}

impl Collection {
    fn table(self) -> &'static str {
        match self {
            Collection::Secrets => "secrets",
            Collection::Keys => "keys",
            Collection::Certificates => "certificates",
        }
    }

    /// What replicas cache of the collection, dropped when it changes.
    fn cached(self) -> &'static [Topic] {
        match self {
            Collection::Keys => &[Topic::VaultKeys],
            Collection::Secrets | Collection::Certificates => &[],
        }
    }
}

impl Store {
    /// Marks a live object and all its versions deleted at `now`, to be purged at
    /// `purge_at`: false when there is no live object of that name.
    pub(crate) async fn soft_delete(
        &self,
        c: Collection,
        vault: &str,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> Result<bool, StoreError> {
        self.set_deletion(c, vault, name, "deleted_at IS NULL", Some((now, purge_at)))
            .await
    }

    /// Makes a soft-deleted object live again: false when none of that name is deleted.
    pub(crate) async fn undelete(
        &self,
        c: Collection,
        vault: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.set_deletion(c, vault, name, "deleted_at IS NOT NULL", None)
            .await
    }

    async fn set_deletion(
        &self,
        c: Collection,
        vault: &str,
        name: &str,
        condition: &'static str,
        deletion: Option<(i64, i64)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(&format!(
            "UPDATE {} SET deleted_at = $3, scheduled_purge_at = $4 \
             WHERE vault_key = $1 AND name_key = $2 AND {condition}",
            c.table()
        ))
        .bind(key(vault))
        .bind(key(name))
        .bind(deletion.map(|d| d.0))
        .bind(deletion.map(|d| d.1))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(c.cached()).await?;
        Ok(n > 0)
    }

    /// Removes a soft-deleted object with its versions for good: false when none of that name
    /// is deleted.
    pub(crate) async fn purge(
        &self,
        c: Collection,
        vault: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(&format!(
            "DELETE FROM {} WHERE vault_key = $1 AND name_key = $2 AND deleted_at IS NOT NULL",
            c.table()
        ))
        .bind(key(vault))
        .bind(key(name))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(c.cached()).await?;
        Ok(n > 0)
    }
}
