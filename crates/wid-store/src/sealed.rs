//! Every value the store keeps sealed under the key-encryption key, listed and replaced one
//! by one, so a KEK rotation can re-seal them while the server keeps serving.

use crate::codec::key;
use crate::{Store, StoreError};
use sqlx::Row;

/// Where a sealed value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedValue {
    SigningKey { kid: String },
    IssuerKey { issuer_id: String, kid: String },
    VaultDataKey { vault: String },
    ClusterKubeconfig { issuer_id: String },
}

impl Store {
    pub async fn sealed_values(&self) -> Result<Vec<(SealedValue, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for row in sqlx::query("SELECT kid, sealed_private_key FROM signing_keys")
            .fetch_all(self.pool())
            .await?
        {
            out.push((
                SealedValue::SigningKey {
                    kid: row.try_get("kid")?,
                },
                row.try_get("sealed_private_key")?,
            ));
        }
        for row in sqlx::query(
            "SELECT issuer_id, kid, sealed_private_key FROM cluster_issuer_keys \
             WHERE sealed_private_key IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?
        {
            out.push((
                SealedValue::IssuerKey {
                    issuer_id: row.try_get("issuer_id")?,
                    kid: row.try_get("kid")?,
                },
                row.try_get("sealed_private_key")?,
            ));
        }
        for row in sqlx::query(
            "SELECT issuer_id, sealed_kubeconfig FROM clusters WHERE sealed_kubeconfig IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?
        {
            out.push((
                SealedValue::ClusterKubeconfig {
                    issuer_id: row.try_get("issuer_id")?,
                },
                row.try_get("sealed_kubeconfig")?,
            ));
        }
        for row in sqlx::query("SELECT name, sealed_data_key FROM vaults")
            .fetch_all(self.pool())
            .await?
        {
            out.push((
                SealedValue::VaultDataKey {
                    vault: row.try_get("name")?,
                },
                row.try_get("sealed_data_key")?,
            ));
        }
        Ok(out)
    }

    /// Replaces a sealed value if it is still `old` (another replica may have re-sealed it
    /// first); returns whether it did.
    pub async fn replace_sealed(
        &self,
        which: &SealedValue,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let query = match which {
            SealedValue::SigningKey { kid } => sqlx::query(
                "UPDATE signing_keys SET sealed_private_key = $1 WHERE kid = $3 AND sealed_private_key = $2",
            )
            .bind(new)
            .bind(old)
            .bind(kid),
            SealedValue::IssuerKey { issuer_id, kid } => sqlx::query(
                "UPDATE cluster_issuer_keys SET sealed_private_key = $1 \
                 WHERE issuer_id = $3 AND kid = $4 AND sealed_private_key = $2",
            )
            .bind(new)
            .bind(old)
            .bind(issuer_id)
            .bind(kid),
            SealedValue::ClusterKubeconfig { issuer_id } => sqlx::query(
                "UPDATE clusters SET sealed_kubeconfig = $1 \
                 WHERE issuer_id = $3 AND sealed_kubeconfig = $2",
            )
            .bind(new)
            .bind(old)
            .bind(issuer_id),
            SealedValue::VaultDataKey { vault } => sqlx::query(
                "UPDATE vaults SET sealed_data_key = $1 WHERE name_key = $3 AND sealed_data_key = $2",
            )
            .bind(new)
            .bind(old)
            .bind(key(vault)),
        };
        let n = query.execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
