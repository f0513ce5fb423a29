//! Records of long-running ARM operations. wid finishes every operation within its request,
//! so a record is written once, complete, and only read back by pollers until it expires;
//! expired records are removed whenever a new one is written, which bounds the table by the
//! operations of one retention period.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::ArmOperation;

const COLUMNS: &str = "id, subscription_id, resource_id, status, started_at, ended_at, expires_at";

impl Store {
    /// Stores a finished operation; drops the records that expired before `now`.
    pub async fn put_operation(&self, op: &ArmOperation, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM arm_operations WHERE expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(&format!(
            "INSERT INTO arm_operations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&op.id)
        .bind(&op.subscription_id)
        .bind(&op.resource_id)
        .bind(&op.status)
        .bind(op.started_at)
        .bind(op.ended_at)
        .bind(op.expires_at)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The operation with this id, unless it has expired.
    pub async fn operation(&self, id: &str, now: i64) -> Result<Option<ArmOperation>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM arm_operations WHERE id = $1 AND expires_at > $2"
        ))
        .bind(id.to_ascii_lowercase())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(operation).transpose()
    }
}

fn operation(row: &AnyRow) -> Result<ArmOperation, StoreError> {
    Ok(ArmOperation {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        resource_id: row.try_get("resource_id")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
