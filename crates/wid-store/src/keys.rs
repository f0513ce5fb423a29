//! Token-signing keys of tenants. The private half arrives sealed; the store never sees it
//! in the clear.

use crate::changes::Topic;
use crate::codec::key;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::SigningKeyRecord;

impl Store {
    pub async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, tenant_key, tenant_id, alg, public_spki_der, \
             sealed_private_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.kid)
        .bind(key(&k.tenant_id))
        .bind(&k.tenant_id)
        .bind(&k.alg)
        .bind(&k.public_spki_der)
        .bind(&k.sealed_private_key)
        .bind(k.created_at)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken("a signing key with this kid"))?;
        tx.commit_changing(&[Topic::SigningKeys]).await
    }

    /// Removes a retired key from the tenant's published keys; whether it was there.
    pub async fn delete_signing_key(&self, tenant_id: &str, kid: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM signing_keys WHERE tenant_key = $1 AND kid = $2")
            .bind(key(tenant_id))
            .bind(kid)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_changing(&[Topic::SigningKeys]).await?;
        Ok(deleted > 0)
    }

    /// Oldest first, so the newest key, the one to sign with, is last.
    pub async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, tenant_id, alg, public_spki_der, sealed_private_key, created_at \
             FROM signing_keys WHERE tenant_key = $1 ORDER BY created_at, seq",
        )
        .bind(key(tenant_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(signing_key).collect()
    }
}

fn signing_key(row: &AnyRow) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        tenant_id: row.try_get("tenant_id")?,
        alg: row.try_get("alg")?,
        public_spki_der: row.try_get("public_spki_der")?,
        sealed_private_key: row.try_get("sealed_private_key")?,
        created_at: row.try_get("created_at")?,
    })
}
