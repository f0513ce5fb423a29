//! Key vaults. A vault's row outlives its deletion (soft delete) until it is purged, and
//! its name stays reserved meanwhile, as Azure's does.

use crate::changes::Topic;
use crate::codec::{self, key};
use crate::identities::group_name;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Vault, VaultSettings};

const COLUMNS: &str = "name, subscription_id, resource_group, location, tags, tenant_id, settings, \
     sealed_data_key, deleted_at, scheduled_purge_at, created_by, created_at, modified_by, modified_at";

fn settings_json(s: &VaultSettings) -> Result<String, StoreError> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt(format!("vault settings: {e}")))
}

impl Store {
    /// Creates the vault, or updates the live one of that name in the same group (keeping
    /// its name casing, data key and creation). Returns the stored vault and whether it was
    /// created.
    pub async fn put_vault(&self, v: &Vault) -> Result<(Vault, bool), StoreError> {
        let tags = codec::tags_json(&v.tags)?;
        let settings = settings_json(&v.settings)?;
        let mut tx = self.begin_write().await?;
        let group = group_name(tx.conn(), &v.subscription_id, &v.resource_group)
            .await?
            .ok_or(StoreError::ResourceGroupNotFound)?;
        let existing = sqlx::query(&format!("SELECT {COLUMNS} FROM vaults WHERE name_key = $1"))
            .bind(key(&v.name))
            .fetch_optional(tx.conn())
            .await?
            .as_ref()
            .map(vault)
            .transpose()?;
        let stored = match existing {
            None => {
                sqlx::query(&format!(
                    "INSERT INTO vaults (name_key, subscription_key, group_key, {COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                ))
                .bind(key(&v.name))
                .bind(key(&v.subscription_id))
                .bind(key(&v.resource_group))
                .bind(&v.name)
                .bind(&v.subscription_id)
                .bind(&group)
                .bind(&v.location)
                .bind(&tags)
                .bind(&v.tenant_id)
                .bind(&settings)
                .bind(&v.sealed_data_key)
                .bind(None::<i64>)
                .bind(None::<i64>)
                .bind(&v.audit.created_by)
                .bind(v.audit.created_at)
                .bind(&v.audit.modified_by)
                .bind(v.audit.modified_at)
                .execute(tx.conn())
                .await
                .map_err(crate::error::conflict_if_taken("a vault with this name"))?;
                (
                    Vault {
                        resource_group: group,
                        deleted_at: None,
                        scheduled_purge_at: None,
                        ..v.clone()
                    },
                    true,
                )
            }
            Some(found) if found.deleted_at.is_some() => return Err(StoreError::VaultDeleted),
            Some(found)
                if key(&found.subscription_id) != key(&v.subscription_id)
                    || key(&found.resource_group) != key(&v.resource_group) =>
            {
                return Err(StoreError::VaultNameTaken)
            }
            Some(found) => {
                sqlx::query(
                    "UPDATE vaults SET tags = $2, settings = $3, modified_by = $4, modified_at = $5 \
                     WHERE name_key = $1",
                )
                .bind(key(&v.name))
                .bind(&tags)
                .bind(&settings)
                .bind(&v.audit.modified_by)
                .bind(v.audit.modified_at)
                .execute(tx.conn())
                .await?;
                let mut audit = found.audit.clone();
                audit.modified_by = v.audit.modified_by.clone();
                audit.modified_at = v.audit.modified_at;
                (
                    Vault {
                        tags: v.tags.clone(),
                        settings: v.settings.clone(),
                        audit,
                        ..found
                    },
                    false,
                )
            }
        };
        tx.commit_changing(&[Topic::Vaults]).await?;
        Ok(stored)
    }

    /// The vault of that name, live or soft-deleted.
    pub async fn vault(&self, name: &str) -> Result<Option<Vault>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM vaults WHERE name_key = $1"))
            .bind(key(name))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(vault).transpose()
    }

    /// Live vaults of a subscription, or of one of its groups, by name.
    pub async fn vaults(&self, sub: &str, rg: Option<&str>) -> Result<Vec<Vault>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vaults WHERE subscription_key = $1 \
             AND ($2 = '' OR group_key = $2) AND deleted_at IS NULL ORDER BY name_key"
        ))
        .bind(key(sub))
        .bind(rg.map(key).unwrap_or_default())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vault).collect()
    }

    pub async fn deleted_vaults(&self, sub: &str) -> Result<Vec<Vault>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vaults WHERE subscription_key = $1 \
             AND deleted_at IS NOT NULL ORDER BY name_key"
        ))
        .bind(key(sub))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vault).collect()
    }

    /// Marks a live vault deleted until `purge_at`; returns whether there was one.
    pub async fn soft_delete_vault(
        &self,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE vaults SET deleted_at = $2, scheduled_purge_at = $3 \
             WHERE name_key = $1 AND deleted_at IS NULL",
        )
        .bind(key(name))
        .bind(now)
        .bind(purge_at)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(&[Topic::Vaults]).await?;
        Ok(n > 0)
    }

    /// Brings a soft-deleted vault back; returns whether there was one.
    pub async fn recover_vault(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE vaults SET deleted_at = NULL, scheduled_purge_at = NULL \
             WHERE name_key = $1 AND deleted_at IS NOT NULL",
        )
        .bind(key(name))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(&[Topic::Vaults]).await?;
        Ok(n > 0)
    }

    /// Removes a soft-deleted vault and all its secrets for good.
    pub async fn purge_vault(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM vaults WHERE name_key = $1 AND deleted_at IS NOT NULL")
            .bind(key(name))
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_changing(&[Topic::Vaults]).await?;
        Ok(n > 0)
    }
}

fn vault(row: &AnyRow) -> Result<Vault, StoreError> {
    let settings: String = row.try_get("settings")?;
    Ok(Vault {
        name: row.try_get("name")?,
        subscription_id: row.try_get("subscription_id")?,
        resource_group: row.try_get("resource_group")?,
        location: row.try_get("location")?,
        tags: codec::tags(row)?,
        tenant_id: row.try_get("tenant_id")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(format!("vault settings: {e}")))?,
        sealed_data_key: row.try_get("sealed_data_key")?,
        deleted_at: row.try_get("deleted_at")?,
        scheduled_purge_at: row.try_get("scheduled_purge_at")?,
        audit: codec::audit(row)?,
    })
}
