//! Keys of key vaults: versions, soft delete, recovery, purge and rotation policies. Private
//! keys arrive sealed and leave sealed; the store never sees them in the clear.

use crate::changes::Topic;
use crate::codec::{self, key};
use crate::soft_delete::Collection;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{KeyVersion, PublicJwk, VaultKey};

/// Versions joined with their key; `k.deleted_at` and friends come along.
macro_rules! select_versions {
    ($where:literal) => {
        concat!(
            "SELECT k.name, k.deleted_at, k.scheduled_purge_at, v.version, v.kty, v.crv, \
             v.size, v.key_ops, v.public_jwk, v.sealed_private_key, v.tags, v.enabled, v.nbf, \
             v.exp, v.created, v.updated, v.exportable, v.managed \
             FROM keys k JOIN key_versions v ON v.vault_key = k.vault_key \
             AND v.name_key = k.name_key WHERE ",
            $where
        )
    };
}

/// The newest version of each key of a vault.
const LATEST: &str = "v.sequence = (SELECT MAX(w.sequence) FROM key_versions w \
     WHERE w.vault_key = v.vault_key AND w.name_key = v.name_key)";

impl Store {
    /// Adds a version (creating the key on first use). A soft-deleted key's name cannot take
    /// new versions: [`StoreError::KeyDeleted`].
    pub async fn add_key_version(
        &self,
        vault: &str,
        name: &str,
        v: &KeyVersion,
    ) -> Result<VaultKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing =
            sqlx::query("SELECT name, deleted_at FROM keys WHERE vault_key = $1 AND name_key = $2")
                .bind(key(vault))
                .bind(key(name))
                .fetch_optional(tx.conn())
                .await?;
        let stored_name = match existing {
            Some(row) => {
                if row.try_get::<Option<i64>, _>("deleted_at")?.is_some() {
                    return Err(StoreError::KeyDeleted);
                }
                row.try_get::<String, _>("name")?
            }
            None => {
                sqlx::query("INSERT INTO keys (vault_key, name_key, name) VALUES ($1, $2, $3)")
                    .bind(key(vault))
                    .bind(key(name))
                    .bind(name)
                    .execute(tx.conn())
                    .await
                    .map_err(|e| {
                        if crate::error::is_missing_parent(&e) {
                            StoreError::VaultNotFound
                        } else {
                            StoreError::Database(e)
                        }
                    })?;
                name.to_owned()
            }
        };
        sqlx::query(
            "INSERT INTO key_versions (vault_key, name_key, version, sequence, kty, crv, size, \
             key_ops, public_jwk, sealed_private_key, tags, enabled, nbf, exp, created, updated, \
             exportable, managed) VALUES ($1, $2, $3, (SELECT COALESCE(MAX(sequence), 0) + 1 \
             FROM key_versions WHERE vault_key = $1 AND name_key = $2), $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&v.version)
        .bind(&v.kty)
        .bind(&v.crv)
        .bind(v.size.map(i64::from))
        .bind(key_ops_json(&v.key_ops)?)
        .bind(jwk_json(&v.public_jwk)?)
        .bind(&v.sealed_private_key)
        .bind(codec::tags_json(&v.tags)?)
        .bind(i64::from(v.enabled))
        .bind(v.nbf)
        .bind(v.exp)
        .bind(v.created)
        .bind(v.updated)
        .bind(i64::from(v.exportable))
        .bind(i64::from(v.managed))
        .execute(tx.conn())
        .await?;
        tx.commit_changing(&[Topic::VaultKeys]).await?;
        Ok(VaultKey {
            name: stored_name,
            deleted_at: None,
            scheduled_purge_at: None,
            version: v.clone(),
        })
    }

    /// A version of a key (the newest when `version` is `None`), deleted or not.
    pub async fn key(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<VaultKey>, StoreError> {
        let row = match version {
            Some(version) => {
                sqlx::query(select_versions!(
                    "k.vault_key = $1 AND k.name_key = $2 AND v.version = $3"
                ))
                .bind(key(vault))
                .bind(key(name))
                .bind(version.to_ascii_lowercase())
                .fetch_optional(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "{} AND {LATEST}",
                    select_versions!("k.vault_key = $1 AND k.name_key = $2")
                ))
                .bind(key(vault))
                .bind(key(name))
                .fetch_optional(self.pool())
                .await?
            }
        };
        row.as_ref().map(vault_key).transpose()
    }

    /// The newest version of every key, live (`deleted` false) or soft-deleted, by name.
    pub async fn keys(&self, vault: &str, deleted: bool) -> Result<Vec<VaultKey>, StoreError> {
        let state = if deleted {
            "k.deleted_at IS NOT NULL"
        } else {
            "k.deleted_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "{} AND {state} AND {LATEST} ORDER BY k.name_key",
            select_versions!("k.vault_key = $1")
        ))
        .bind(key(vault))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vault_key).collect()
    }

    /// Every version of a live key, oldest first; empty if there is no such key.
    pub async fn key_versions(&self, vault: &str, name: &str) -> Result<Vec<VaultKey>, StoreError> {
        let rows = sqlx::query(concat!(
            select_versions!("k.vault_key = $1 AND k.name_key = $2 AND k.deleted_at IS NULL"),
            " ORDER BY v.sequence"
        ))
        .bind(key(vault))
        .bind(key(name))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vault_key).collect()
    }

    /// Changes a version's attributes, tags and key_ops (never its key material, type or
    /// `managed` mark).
    pub async fn update_key_version(
        &self,
        vault: &str,
        name: &str,
        v: &KeyVersion,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE key_versions SET key_ops = $4, tags = $5, enabled = $6, nbf = $7, exp = $8, \
             updated = $9 WHERE vault_key = $1 AND name_key = $2 AND version = $3",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&v.version)
        .bind(key_ops_json(&v.key_ops)?)
        .bind(codec::tags_json(&v.tags)?)
        .bind(i64::from(v.enabled))
        .bind(v.nbf)
        .bind(v.exp)
        .bind(v.updated)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(&[Topic::VaultKeys]).await?;
        Ok(n > 0)
    }

    /// Soft-deletes a live key (all versions) until `purge_at`.
    pub async fn delete_key(
        &self,
        vault: &str,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> Result<bool, StoreError> {
        self.soft_delete(Collection::Keys, vault, name, now, purge_at)
            .await
    }

    pub async fn recover_key(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.undelete(Collection::Keys, vault, name).await
    }

    /// Removes a soft-deleted key and its versions for good.
    pub async fn purge_key(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.purge(Collection::Keys, vault, name).await
    }

    /// The JSON of a key's rotation policy: `Ok(None)` if there is no such key (deleted or
    /// not), `Ok(Some(None))` if it has none set.
    pub async fn key_rotation_policy(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let row = sqlx::query(
            "SELECT rotation_policy FROM keys WHERE vault_key = $1 AND name_key = $2 \
             AND deleted_at IS NULL",
        )
        .bind(key(vault))
        .bind(key(name))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("rotation_policy"))
            .transpose()
            .map_err(StoreError::from)
    }

    /// Sets a live key's rotation policy (JSON); false if there is no such live key.
    pub async fn set_key_rotation_policy(
        &self,
        vault: &str,
        name: &str,
        policy: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE keys SET rotation_policy = $3 WHERE vault_key = $1 AND name_key = $2 \
             AND deleted_at IS NULL",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(policy)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(&[Topic::VaultKeys]).await?;
        Ok(n > 0)
    }
}

fn key_ops_json(ops: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(ops).map_err(|e| StoreError::Corrupt(format!("key_ops: {e}")))
}

fn jwk_json(jwk: &PublicJwk) -> Result<String, StoreError> {
    serde_json::to_string(jwk).map_err(|e| StoreError::Corrupt(format!("public_jwk: {e}")))
}

fn key_ops(row: &AnyRow) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get("key_ops")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("key_ops {text:?}: {e}")))
}

fn public_jwk(row: &AnyRow) -> Result<PublicJwk, StoreError> {
    let text: String = row.try_get("public_jwk")?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("public_jwk {text:?}: {e}")))
}

fn vault_key(row: &AnyRow) -> Result<VaultKey, StoreError> {
    let size = row
        .try_get::<Option<i64>, _>("size")?
        .map(|s| u32::try_from(s).map_err(|_| StoreError::Corrupt(format!("key size {s}"))))
        .transpose()?;
    Ok(VaultKey {
        name: row.try_get("name")?,
        deleted_at: row.try_get("deleted_at")?,
        scheduled_purge_at: row.try_get("scheduled_purge_at")?,
        version: KeyVersion {
            version: row.try_get("version")?,
            kty: row.try_get("kty")?,
            crv: row.try_get("crv")?,
            size,
            key_ops: key_ops(row)?,
            public_jwk: public_jwk(row)?,
            sealed_private_key: row.try_get("sealed_private_key")?,
            tags: codec::tags(row)?,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            nbf: row.try_get("nbf")?,
            exp: row.try_get("exp")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
            exportable: row.try_get::<i64, _>("exportable")? != 0,
            managed: row.try_get::<i64, _>("managed")? != 0,
        },
    })
}
