//! Application service principals that sign in with a client secret (the bootstrap admin).

use crate::codec::key;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::ServicePrincipal;

impl Store {
    pub async fn insert_service_principal(&self, sp: &ServicePrincipal) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO service_principals (object_id_key, object_id, tenant_key, tenant_id, \
             app_id_key, app_id, display_name, secret_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key(&sp.object_id))
        .bind(&sp.object_id)
        .bind(key(&sp.tenant_id))
        .bind(&sp.tenant_id)
        .bind(key(&sp.app_id))
        .bind(&sp.app_id)
        .bind(&sp.display_name)
        .bind(&sp.secret_hash)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "a service principal with this object id or app id",
        ))?;
        tx.commit().await
    }

    pub async fn service_principal_by_app_id(
        &self,
        tenant_id: &str,
        app_id: &str,
    ) -> Result<Option<ServicePrincipal>, StoreError> {
        let row = sqlx::query(
            "SELECT object_id, app_id, tenant_id, display_name, secret_hash \
             FROM service_principals WHERE tenant_key = $1 AND app_id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(app_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(service_principal).transpose()
    }

    pub async fn service_principal_by_object_id(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<Option<ServicePrincipal>, StoreError> {
        let row = sqlx::query(
            "SELECT object_id, app_id, tenant_id, display_name, secret_hash \
             FROM service_principals WHERE tenant_key = $1 AND object_id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(object_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(service_principal).transpose()
    }
}

impl Store {
    /// A tenant's secret-authenticated service principals in app id order.
    pub async fn list_service_principals(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<ServicePrincipal>, StoreError> {
        let rows = sqlx::query(
            "SELECT object_id, app_id, tenant_id, display_name, secret_hash \
             FROM service_principals WHERE tenant_key = $1 ORDER BY app_id_key",
        )
        .bind(key(tenant_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(service_principal).collect()
    }
}

fn service_principal(row: &AnyRow) -> Result<ServicePrincipal, StoreError> {
    Ok(ServicePrincipal {
        object_id: row.try_get("object_id")?,
        app_id: row.try_get("app_id")?,
        tenant_id: row.try_get("tenant_id")?,
        display_name: row.try_get("display_name")?,
        secret_hash: row.try_get("secret_hash")?,
    })
}
