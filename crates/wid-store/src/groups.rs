//! Resource groups. Deleting one takes its identities and their credentials with it (foreign
//! keys with ON DELETE CASCADE), as deleting a resource group does in Azure.

use crate::changes::Topic;
use crate::codec::{self, key};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::ResourceGroup;

macro_rules! group_columns {
    () => {
        "subscription_id, name, location, tags, managed_by, \
         created_by, created_at, modified_by, modified_at"
    };
}

impl Store {
    /// Creates the group, or updates the one with the same case-insensitive name. An update
    /// changes only what a PUT may change in Azure (tags, and who modified it when); name
    /// casing, location and creation stay as first written. Returns the stored group and
    /// whether it was created.
    pub async fn put_resource_group(
        &self,
        rg: &ResourceGroup,
    ) -> Result<(ResourceGroup, bool), StoreError> {
        let (sub_key, name_key) = (key(&rg.subscription_id), key(&rg.name));
        let tags = codec::tags_json(&rg.tags)?;
        let mut tx = self.begin_write().await?;
        let created = sqlx::query(concat!(
            "INSERT INTO resource_groups (subscription_key, name_key, ",
            group_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (subscription_key, name_key) DO NOTHING RETURNING name"
        ))
        .bind(&sub_key)
        .bind(&name_key)
        .bind(&rg.subscription_id)
        .bind(&rg.name)
        .bind(&rg.location)
        .bind(&tags)
        .bind(&rg.managed_by)
        .bind(&rg.audit.created_by)
        .bind(rg.audit.created_at)
        .bind(&rg.audit.modified_by)
        .bind(rg.audit.modified_at)
        .fetch_optional(tx.conn())
        .await?;
        if created.is_some() {
            tx.commit().await?;
            return Ok((rg.clone(), true));
        }
        let updated = sqlx::query(concat!(
            "UPDATE resource_groups SET tags = $3, modified_by = $4, modified_at = $5 \
             WHERE subscription_key = $1 AND name_key = $2 RETURNING ",
            group_columns!()
        ))
        .bind(&sub_key)
        .bind(&name_key)
        .bind(&tags)
        .bind(&rg.audit.modified_by)
        .bind(rg.audit.modified_at)
        .fetch_optional(tx.conn())
        .await?;
        // Only a concurrent delete, between our insert and update, can leave nothing to update.
        let stored = updated.as_ref().map(group).transpose()?.ok_or_else(|| {
            StoreError::Conflict("the resource group was deleted concurrently".into())
        })?;
        tx.commit().await?;
        Ok((stored, false))
    }

    pub async fn resource_group(
        &self,
        sub: &str,
        name: &str,
    ) -> Result<Option<ResourceGroup>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            group_columns!(),
            " FROM resource_groups WHERE subscription_key = $1 AND name_key = $2"
        ))
        .bind(key(sub))
        .bind(key(name))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(group).transpose()
    }

    pub async fn resource_groups(&self, sub: &str) -> Result<Vec<ResourceGroup>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            group_columns!(),
            " FROM resource_groups WHERE subscription_key = $1 ORDER BY name_key"
        ))
        .bind(key(sub))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(group).collect()
    }

    /// Returns whether there was a group to delete.
    pub async fn delete_resource_group(&self, sub: &str, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(
            "DELETE FROM resource_groups WHERE subscription_key = $1 AND name_key = $2",
        )
        .bind(key(sub))
        .bind(key(name))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_changing(&Topic::ALL).await?;
        Ok(deleted > 0)
    }
}

fn group(row: &AnyRow) -> Result<ResourceGroup, StoreError> {
    Ok(ResourceGroup {
        subscription_id: row.try_get("subscription_id")?,
        name: row.try_get("name")?,
        location: row.try_get("location")?,
        tags: codec::tags(row)?,
        managed_by: row.try_get("managed_by")?,
        audit: codec::audit(row)?,
    })
}
