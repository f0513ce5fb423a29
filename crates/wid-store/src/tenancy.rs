//! Tenants and subscriptions: created once by `wid up` and read on nearly every request.

use crate::codec::key;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Subscription, Tenant};

impl Store {
    pub async fn insert_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tenants (id_key, id, display_name, default_domain) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key(&t.id))
        .bind(&t.id)
        .bind(&t.display_name)
        .bind(&t.default_domain)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken("a tenant with this id"))?;
        tx.commit().await
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows =
            sqlx::query("SELECT id, display_name, default_domain FROM tenants ORDER BY id_key")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(tenant).collect()
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let row =
            sqlx::query("SELECT id, display_name, default_domain FROM tenants WHERE id_key = $1")
                .bind(key(id))
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn insert_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO subscriptions (id_key, id, tenant_id, display_name) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key(&s.id))
        .bind(&s.id)
        .bind(&s.tenant_id)
        .bind(&s.display_name)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken("a subscription with this id"))?;
        tx.commit().await
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows =
            sqlx::query("SELECT id, tenant_id, display_name FROM subscriptions ORDER BY id_key")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(subscription).collect()
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let row =
            sqlx::query("SELECT id, tenant_id, display_name FROM subscriptions WHERE id_key = $1")
                .bind(key(id))
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(subscription).transpose()
    }
}

fn tenant(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        default_domain: row.try_get("default_domain")?,
    })
}

fn subscription(row: &AnyRow) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        display_name: row.try_get("display_name")?,
    })
}
