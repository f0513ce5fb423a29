//! Role assignments. They are read far more than written (every authorized request reads
//! the caller's), so lookups by principal have their own index.

use crate::changes::Topic;
use crate::codec::{self, key};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::RoleAssignment;

const COLUMNS: &str = "name, tenant_id, scope, role_definition_id, principal_id, principal_type, \
     description, created_by, created_at, modified_by, modified_at";

/// The role definition's GUID: the last segment of whatever id form was sent.
fn role_key(role_definition_id: &str) -> String {
    key(role_definition_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(role_definition_id))
}

fn scope_key(scope: &str) -> String {
    key(scope.trim_end_matches('/'))
}

impl Store {
    /// Creates the assignment. The same principal, role and scope under another name is
    /// [`StoreError::RoleAssignmentExists`]; a taken name is a conflict.
    pub async fn insert_role_assignment(&self, a: &RoleAssignment) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let twin = sqlx::query(
            "SELECT name FROM role_assignments WHERE scope_key = $1 AND role_key = $2 \
             AND principal_key = $3",
        )
        .bind(scope_key(&a.scope))
        .bind(role_key(&a.role_definition_id))
        .bind(key(&a.principal_id))
        .fetch_optional(tx.conn())
        .await?;
        if twin.is_some() {
            return Err(StoreError::RoleAssignmentExists);
        }
        sqlx::query(&format!(
            "INSERT INTO role_assignments (name_key, scope_key, role_key, principal_key, {COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(key(&a.name))
        .bind(scope_key(&a.scope))
        .bind(role_key(&a.role_definition_id))
        .bind(key(&a.principal_id))
        .bind(&a.name)
        .bind(&a.tenant_id)
        .bind(a.scope.trim_end_matches('/'))
        .bind(&a.role_definition_id)
        .bind(&a.principal_id)
        .bind(&a.principal_type)
        .bind(&a.description)
        .bind(&a.audit.created_by)
        .bind(a.audit.created_at)
        .bind(&a.audit.modified_by)
        .bind(a.audit.modified_at)
        .execute(tx.conn())
        .await
        .map_err(|e| match &e {
            // A concurrent twin on PostgreSQL trips the unique index instead of the check.
            sqlx::Error::Database(db)
                if db.is_unique_violation()
                    && db.message().contains("principal") =>
            {
                StoreError::RoleAssignmentExists
            }
            _ => crate::error::conflict_if_taken("a role assignment with this name")(e),
        })?;
        tx.commit_changing(&[Topic::RoleAssignments]).await
    }

    pub async fn role_assignment(&self, name: &str) -> Result<Option<RoleAssignment>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM role_assignments WHERE name_key = $1"
        ))
        .bind(key(name))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(assignment).transpose()
    }

    /// Deletes the assignment `name` if it was made at `scope`, and returns it. An assignment
    /// of that name at another scope stays: a delete only removes what its path names.
    pub async fn delete_role_assignment(
        &self,
        name: &str,
        scope: &str,
    ) -> Result<Option<RoleAssignment>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "DELETE FROM role_assignments WHERE name_key = $1 AND scope_key = $2 \
             RETURNING {COLUMNS}"
        ))
        .bind(key(name))
        .bind(scope_key(scope))
        .fetch_optional(tx.conn())
        .await?;
        let deleted = row.as_ref().map(assignment).transpose()?;
        tx.commit_changing(&[Topic::RoleAssignments]).await?;
        Ok(deleted)
    }

    /// What a principal holds, at every scope: what authorizing its requests needs.
    pub async fn role_assignments_of(
        &self,
        principal_id: &str,
    ) -> Result<Vec<RoleAssignment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM role_assignments WHERE principal_key = $1 ORDER BY name_key"
        ))
        .bind(key(principal_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(assignment).collect()
    }

    /// Every assignment of a tenant, in name order; callers filter by scope.
    pub async fn role_assignments(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<RoleAssignment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM role_assignments WHERE tenant_id = $1 ORDER BY name_key"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(assignment).collect()
    }
}

fn assignment(row: &AnyRow) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        name: row.try_get("name")?,
        tenant_id: row.try_get("tenant_id")?,
        scope: row.try_get("scope")?,
        role_definition_id: row.try_get("role_definition_id")?,
        principal_id: row.try_get("principal_id")?,
        principal_type: row.try_get("principal_type")?,
        description: row.try_get("description")?,
        audit: codec::audit(row)?,
    })
}
