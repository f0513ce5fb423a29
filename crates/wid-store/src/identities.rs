//! User-assigned managed identities. An identity lives in a resource group, and is found
//! either by its ARM coordinates or, for the token exchange, by its client id.

use crate::changes::Topic;
use crate::codec::{self, key, IdentityKeys};
use crate::error::{conflict_if_taken, is_missing_parent};
use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};
use wid_core::model::{IdentityKey, ManagedIdentity};

macro_rules! identity_columns {
    () => {
        "subscription_id, name, location, tags, tenant_id, client_id, principal_id, \
         isolation_scope, created_by, created_at, modified_by, modified_at"
    };
}

/// Reads identities with the stored casing of their group's name, which ARM ids echo back.
macro_rules! select_identities {
    ($where:literal) => {
        concat!(
            "SELECT (SELECT g.name FROM resource_groups g WHERE g.subscription_key = \
             i.subscription_key AND g.name_key = i.group_key) AS group_name, ",
            identity_columns!(),
            " FROM managed_identities i WHERE ",
            $where
        )
    };
}

impl Store {
    /// Creates the identity, or updates the one with the same case-insensitive name. An
    /// update keeps what identifies the identity to the outside world (name casing, tenant,
    /// client and principal ids) and its creation; it replaces what a PUT may change.
    /// Returns the stored identity and whether it was created.
    pub async fn put_identity(
        &self,
        id: &ManagedIdentity,
    ) -> Result<(ManagedIdentity, bool), StoreError> {
        let keys = IdentityKeys::new(&id.subscription_id, &id.resource_group, &id.name);
        let tags = codec::tags_json(&id.tags)?;
        let mut tx = self.begin_write().await?;
        let group_name = group_name(tx.conn(), &id.subscription_id, &id.resource_group)
            .await?
            .ok_or(StoreError::ResourceGroupNotFound)?;
        let created = keys
            .bind(sqlx::query(concat!(
                "INSERT INTO managed_identities (subscription_key, group_key, name_key, \
                 client_id_key, principal_id_key, ",
                identity_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17) \
                 ON CONFLICT (subscription_key, group_key, name_key) DO NOTHING RETURNING name"
            )))
            .bind(key(&id.client_id))
            .bind(key(&id.principal_id))
            .bind(&id.subscription_id)
            .bind(&id.name)
            .bind(&id.location)
            .bind(&tags)
            .bind(&id.tenant_id)
            .bind(&id.client_id)
            .bind(&id.principal_id)
            .bind(&id.isolation_scope)
            .bind(&id.audit.created_by)
            .bind(id.audit.created_at)
            .bind(&id.audit.modified_by)
            .bind(id.audit.modified_at)
            .fetch_optional(tx.conn())
            .await
            .map_err(|e| {
                if is_missing_parent(&e) {
                    StoreError::ResourceGroupNotFound
                } else {
                    conflict_if_taken("a managed identity with this client id or principal id")(e)
                }
            })?;
        if created.is_some() {
            tx.commit().await?;
            return Ok((
                ManagedIdentity {
                    resource_group: group_name,
                    ..id.clone()
                },
                true,
            ));
        }
        let updated = keys
            .bind(sqlx::query(concat!(
                "UPDATE managed_identities SET location = $4, tags = $5, isolation_scope = $6, \
                 modified_by = $7, modified_at = $8 \
                 WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3 RETURNING ",
                identity_columns!()
            )))
            .bind(&id.location)
            .bind(&tags)
            .bind(&id.isolation_scope)
            .bind(&id.audit.modified_by)
            .bind(id.audit.modified_at)
            .fetch_optional(tx.conn())
            .await?;
        // Only a concurrent delete, between our insert and update, can leave nothing to update.
        let row = updated.ok_or_else(|| {
            StoreError::Conflict("the managed identity was deleted concurrently".into())
        })?;
        let stored = identity(&row, group_name)?;
        tx.commit().await?;
        Ok((stored, false))
    }

    pub async fn identity(&self, key: &IdentityKey) -> Result<Option<ManagedIdentity>, StoreError> {
        let keys = IdentityKeys::of(key);
        let row = keys
            .bind(sqlx::query(select_identities!(
                "subscription_key = $1 AND group_key = $2 AND name_key = $3"
            )))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(joined_identity).transpose()
    }

    pub async fn identity_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ManagedIdentity>, StoreError> {
        let row = sqlx::query(select_identities!("client_id_key = $1"))
            .bind(key(client_id))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(joined_identity).transpose()
    }

    /// The identity whose service principal has this object id (what role assignments name).
    pub async fn identity_by_principal_id(
        &self,
        principal_id: &str,
    ) -> Result<Option<ManagedIdentity>, StoreError> {
        let row = sqlx::query(select_identities!("principal_id_key = $1"))
            .bind(key(principal_id))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(joined_identity).transpose()
    }

    /// Ordered by name key. An empty list is told apart from a missing group, which is an
    /// error, as it is for ARM.
    pub async fn identities_in_group(
        &self,
        sub: &str,
        rg: &str,
    ) -> Result<Vec<ManagedIdentity>, StoreError> {
        let rows = sqlx::query(select_identities!(
            "subscription_key = $1 AND group_key = $2 ORDER BY name_key"
        ))
        .bind(key(sub))
        .bind(key(rg))
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() && group_name(self.pool(), sub, rg).await?.is_none() {
            return Err(StoreError::ResourceGroupNotFound);
        }
        rows.iter().map(joined_identity).collect()
    }

    /// Ordered by group key, then name key.
    pub async fn identities_in_subscription(
        &self,
        sub: &str,
    ) -> Result<Vec<ManagedIdentity>, StoreError> {
        let rows = sqlx::query(select_identities!(
            "subscription_key = $1 ORDER BY group_key, name_key"
        ))
        .bind(key(sub))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(joined_identity).collect()
    }

    /// Returns whether there was an identity to delete; a missing resource group is an error.
    /// The identity's credentials go with it.
    pub async fn delete_identity(&self, key: &IdentityKey) -> Result<bool, StoreError> {
        let keys = IdentityKeys::of(key);
        let mut tx = self.begin_write().await?;
        let deleted = keys
            .bind(sqlx::query(
                "DELETE FROM managed_identities \
                 WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3",
            ))
            .execute(tx.conn())
            .await?
            .rows_affected();
        if deleted == 0
            && group_name(tx.conn(), &key.subscription_id, &key.resource_group)
                .await?
                .is_none()
        {
            return Err(StoreError::ResourceGroupNotFound);
        }
        tx.commit_changing(&[Topic::Credentials, Topic::RoleAssignments])
            .await?;
        Ok(deleted > 0)
    }
}

/// The stored casing of a resource group's name, if the group exists.
pub(crate) async fn group_name<'c, E>(
    conn: E,
    sub: &str,
    rg: &str,
) -> Result<Option<String>, StoreError>
where
    E: Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT name FROM resource_groups WHERE subscription_key = $1 AND name_key = $2",
    )
    .bind(key(sub))
    .bind(key(rg))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

/// Takes the identity's row lock for the rest of the transaction, so that writers which
/// check its credentials before changing them run one after another on PostgreSQL, without
/// writing the row. (SQLite has no row locks and needs none: [`Store::begin_write`]
/// serializes its writers.) Fails if the identity does not exist.
pub(crate) async fn lock_identity(
    conn: &mut AnyConnection,
    backend: Backend,
    keys: &IdentityKeys,
) -> Result<(), StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT name FROM managed_identities \
             WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT name FROM managed_identities \
             WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3"
        }
    };
    match keys.bind(sqlx::query(sql)).fetch_optional(conn).await? {
        None => Err(StoreError::IdentityNotFound),
        Some(_) => Ok(()),
    }
}

pub(crate) async fn identity_exists(
    store: &Store,
    keys: &IdentityKeys,
) -> Result<bool, StoreError> {
    let row = keys
        .bind(sqlx::query(
            "SELECT name FROM managed_identities \
             WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3",
        ))
        .fetch_optional(store.pool())
        .await?;
    Ok(row.is_some())
}

fn joined_identity(row: &AnyRow) -> Result<ManagedIdentity, StoreError> {
    let group_name = row.try_get("group_name")?;
    identity(row, group_name)
}

fn identity(row: &AnyRow, resource_group: String) -> Result<ManagedIdentity, StoreError> {
    Ok(ManagedIdentity {
        subscription_id: row.try_get("subscription_id")?,
        resource_group,
        name: row.try_get("name")?,
        location: row.try_get("location")?,
        tags: codec::tags(row)?,
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        principal_id: row.try_get("principal_id")?,
        isolation_scope: row.try_get("isolation_scope")?,
        audit: codec::audit(row)?,
    })
}
