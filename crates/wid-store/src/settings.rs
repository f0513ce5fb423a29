//! Installation-wide settings, such as the tenant id chosen at first start. Replicas that
//! start together must agree on one value, so the first write wins and later ones read it.

use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM installation_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Returns the value now stored: `value` if this call stored it, else the earlier one.
    pub async fn put_setting_if_absent(
        &self,
        key: &str,
        value: &str,
    ) -> Result<String, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO installation_settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(tx.conn())
        .await?;
        let stored = sqlx::query("SELECT value FROM installation_settings WHERE key = $1")
            .bind(key)
            .fetch_one(tx.conn())
            .await?
            .try_get("value")?;
        tx.commit().await?;
        Ok(stored)
    }
}
