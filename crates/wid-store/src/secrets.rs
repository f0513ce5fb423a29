//! Secrets of key vaults: versions, soft delete, recovery and purge. Values arrive sealed
//! and leave sealed; the store never sees them in the clear.

use crate::codec::{self, key};
use crate::soft_delete::Collection;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Secret, SecretVersion};

/// Versions joined with their secret; `s.deleted_at` and friends come along.
macro_rules! select_versions {
    ($where:literal) => {
        concat!(
            "SELECT s.name, s.deleted_at, s.scheduled_purge_at, v.version, v.sealed_value, \
             v.content_type, v.tags, v.enabled, v.nbf, v.exp, v.created, v.updated, \
             v.managed FROM secrets s JOIN secret_versions v ON v.vault_key = s.vault_key \
             AND v.name_key = s.name_key WHERE ",
            $where
        )
    };
}

/// The newest version of each secret of a vault.
const LATEST: &str = "v.sequence = (SELECT MAX(w.sequence) FROM secret_versions w \
     WHERE w.vault_key = v.vault_key AND w.name_key = v.name_key)";

impl Store {
    /// Adds a version (creating the secret on first use). A soft-deleted secret's name
    /// cannot take new versions: [`StoreError::SecretDeleted`].
    pub async fn add_secret_version(
        &self,
        vault: &str,
        name: &str,
        v: &SecretVersion,
    ) -> Result<Secret, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT name, deleted_at FROM secrets WHERE vault_key = $1 AND name_key = $2",
        )
        .bind(key(vault))
        .bind(key(name))
        .fetch_optional(tx.conn())
        .await?;
        let stored_name = match existing {
            Some(row) => {
                if row.try_get::<Option<i64>, _>("deleted_at")?.is_some() {
                    return Err(StoreError::SecretDeleted);
                }
                row.try_get::<String, _>("name")?
            }
            None => {
                sqlx::query("INSERT INTO secrets (vault_key, name_key, name) VALUES ($1, $2, $3)")
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
            "INSERT INTO secret_versions (vault_key, name_key, version, sequence, sealed_value, \
             content_type, tags, enabled, nbf, exp, created, updated, managed) VALUES ($1, $2, \
             $3, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM secret_versions WHERE vault_key = $1 \
             AND name_key = $2), $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&v.version)
        .bind(&v.sealed_value)
        .bind(&v.content_type)
        .bind(codec::tags_json(&v.tags)?)
        .bind(i64::from(v.enabled))
        .bind(v.nbf)
        .bind(v.exp)
        .bind(v.created)
        .bind(v.updated)
        .bind(i64::from(v.managed))
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(Secret {
            name: stored_name,
            deleted_at: None,
            scheduled_purge_at: None,
            version: v.clone(),
        })
    }

    /// A version of a secret (the newest when `version` is `None`), deleted or not.
    pub async fn secret(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<Secret>, StoreError> {
        let row = match version {
            Some(version) => {
                sqlx::query(select_versions!(
                    "s.vault_key = $1 AND s.name_key = $2 AND v.version = $3"
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
                    select_versions!("s.vault_key = $1 AND s.name_key = $2")
                ))
                .bind(key(vault))
                .bind(key(name))
                .fetch_optional(self.pool())
                .await?
            }
        };
        row.as_ref().map(secret).transpose()
    }

    /// The newest version of every secret, live (`deleted` false) or soft-deleted, by name.
    pub async fn secrets(&self, vault: &str, deleted: bool) -> Result<Vec<Secret>, StoreError> {
        let state = if deleted {
            "s.deleted_at IS NOT NULL"
        } else {
            "s.deleted_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "{} AND {state} AND {LATEST} ORDER BY s.name_key",
            select_versions!("s.vault_key = $1")
        ))
        .bind(key(vault))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(secret).collect()
    }

    /// Every version of a live secret, oldest first; empty if there is no such secret.
    pub async fn secret_versions(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Vec<Secret>, StoreError> {
        let rows = sqlx::query(concat!(
            select_versions!("s.vault_key = $1 AND s.name_key = $2 AND s.deleted_at IS NULL"),
            " ORDER BY v.sequence"
        ))
        .bind(key(vault))
        .bind(key(name))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(secret).collect()
    }

    /// Changes a version's attributes, tags and content type (never its value).
    pub async fn update_secret_version(
        &self,
        vault: &str,
        name: &str,
        v: &SecretVersion,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE secret_versions SET content_type = $4, tags = $5, enabled = $6, nbf = $7, \
             exp = $8, updated = $9 WHERE vault_key = $1 AND name_key = $2 AND version = $3",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&v.version)
        .bind(&v.content_type)
        .bind(codec::tags_json(&v.tags)?)
        .bind(i64::from(v.enabled))
        .bind(v.nbf)
        .bind(v.exp)
        .bind(v.updated)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Soft-deletes a live secret (all versions) until `purge_at`.
    pub async fn delete_secret(
        &self,
        vault: &str,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> Result<bool, StoreError> {
        self.soft_delete(Collection::Secrets, vault, name, now, purge_at)
            .await
    }

    pub async fn recover_secret(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.undelete(Collection::Secrets, vault, name).await
    }

    /// Removes a soft-deleted secret and its versions for good.
    pub async fn purge_secret(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.purge(Collection::Secrets, vault, name).await
    }
}

fn secret(row: &AnyRow) -> Result<Secret, StoreError> {
    Ok(Secret {
        name: row.try_get("name")?,
        deleted_at: row.try_get("deleted_at")?,
        scheduled_purge_at: row.try_get("scheduled_purge_at")?,
        version: SecretVersion {
            version: row.try_get("version")?,
            sealed_value: row.try_get("sealed_value")?,
            content_type: row.try_get("content_type")?,
            tags: codec::tags(row)?,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            nbf: row.try_get("nbf")?,
            exp: row.try_get("exp")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
            managed: row.try_get::<i64, _>("managed")? != 0,
        },
    })
}
