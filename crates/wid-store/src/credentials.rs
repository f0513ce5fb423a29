//! Federated identity credentials. Entra's rules (unique issuer and subject, at most twenty
//! per identity) span all credentials of an identity, so every write checks and changes them
//! in one transaction holding the identity's lock.

use crate::changes::Topic;
use crate::codec::{self, IdentityKeys};
use crate::error::conflict_if_taken;
use crate::identities::{identity_exists, lock_identity};
use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::federation::check_against_existing;
use wid_core::model::{Audit, FederatedCredential, IdentityKey};

macro_rules! credential_columns {
    () => {
        "name, issuer, subject, audiences, created_by, created_at, modified_by, modified_at"
    };
}

impl Store {
    /// Creates the credential, or updates the one with the same case-insensitive name (keeping
    /// its name casing and creation), after checking it against the identity's other
    /// credentials. Returns the stored credential and whether it was created.
    pub async fn put_federated_credential(
        &self,
        key: &IdentityKey,
        c: &FederatedCredential,
    ) -> Result<(FederatedCredential, bool), StoreError> {
        let keys = IdentityKeys::of(key);
        let name_key = codec::key(&c.name);
        let audiences = codec::audiences_json(&c.audiences)?;
        let mut tx = self.begin_write().await?;
        // On PostgreSQL the lock is its own statement: a statement that waited for a lock
        // still reads the snapshot it started with, so only the next statement sees the
        // credentials the previous holder wrote. SQLite's writers are serialized already.
        if self.backend() == Backend::Postgres {
            lock_identity(tx.conn(), self.backend(), &keys).await?;
        }
        let rows = keys
            .bind(sqlx::query(
                "SELECT c.name_key, c.name, c.issuer, c.subject, c.audiences, c.created_by, \
                 c.created_at, c.modified_by, c.modified_at FROM managed_identities i \
                 LEFT JOIN federated_credentials c ON c.subscription_key = i.subscription_key \
                 AND c.group_key = i.group_key AND c.identity_key = i.name_key \
                 WHERE i.subscription_key = $1 AND i.group_key = $2 AND i.name_key = $3",
            ))
            .fetch_all(tx.conn())
            .await?;
        if rows.is_empty() {
            return Err(StoreError::IdentityNotFound);
        }
        let mut current = None;
        let mut others = Vec::with_capacity(rows.len());
        // An identity without credentials comes back as one row of NULLs.
        for row in rows
            .iter()
            .filter(|r| matches!(r.try_get::<Option<String>, _>("name"), Ok(Some(_))))
        {
            let stored = credential(row)?;
            if row.try_get::<String, _>("name_key")? == name_key {
                current = Some(stored);
            } else {
                others.push(stored);
            }
        }
        check_against_existing(&others, &c.issuer, &c.subject)?;
        let stored = match current {
            Some(current) => {
                keys.bind(sqlx::query(
                    "UPDATE federated_credentials SET issuer = $5, subject = $6, audiences = $7, \
                     modified_by = $8, modified_at = $9 WHERE subscription_key = $1 \
                     AND group_key = $2 AND identity_key = $3 AND name_key = $4",
                ))
                .bind(&name_key)
                .bind(&c.issuer)
                .bind(&c.subject)
                .bind(&audiences)
                .bind(&c.audit.modified_by)
                .bind(c.audit.modified_at)
                .execute(tx.conn())
                .await?;
                let audit = Audit {
                    modified_by: c.audit.modified_by.clone(),
                    modified_at: c.audit.modified_at,
                    ..current.audit
                };
                (
                    FederatedCredential {
                        name: current.name,
                        audit,
                        ..c.clone()
                    },
                    false,
                )
            }
            None => {
                keys.bind(sqlx::query(concat!(
                    "INSERT INTO federated_credentials (subscription_key, group_key, identity_key, \
                     name_key, ",
                    credential_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                )))
                .bind(&name_key)
                .bind(&c.name)
                .bind(&c.issuer)
                .bind(&c.subject)
                .bind(&audiences)
                .bind(&c.audit.created_by)
                .bind(c.audit.created_at)
                .bind(&c.audit.modified_by)
                .bind(c.audit.modified_at)
                .execute(tx.conn())
                .await
                .map_err(conflict_if_taken("a federated credential with this name"))?;
                (c.clone(), true)
            }
        };
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(stored)
    }

    /// `None` if either the credential or its identity is missing.
    pub async fn federated_credential(
        &self,
        key: &IdentityKey,
        name: &str,
    ) -> Result<Option<FederatedCredential>, StoreError> {
        let keys = IdentityKeys::of(key);
        let row = keys
            .bind(sqlx::query(concat!(
                "SELECT ",
                credential_columns!(),
                " FROM federated_credentials WHERE subscription_key = $1 AND group_key = $2 \
                 AND identity_key = $3 AND name_key = $4"
            )))
            .bind(codec::key(name))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(credential).transpose()
    }

    /// A keyset page: at most `limit` credentials whose name key sorts after `after`, in
    /// name-key order, so pages stay consistent while credentials come and go. A missing
    /// identity is an error, not an empty page.
    pub async fn federated_credentials(
        &self,
        key: &IdentityKey,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FederatedCredential>, StoreError> {
        let keys = IdentityKeys::of(key);
        // Every name key sorts after the empty string.
        let after = after.map(codec::key).unwrap_or_default();
        let rows = keys
            .bind(sqlx::query(concat!(
                "SELECT ",
                credential_columns!(),
                " FROM federated_credentials WHERE subscription_key = $1 AND group_key = $2 \
                 AND identity_key = $3 AND name_key > $4 ORDER BY name_key LIMIT $5"
            )))
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        if rows.is_empty() && !identity_exists(self, &keys).await? {
            return Err(StoreError::IdentityNotFound);
        }
        rows.iter().map(credential).collect()
    }

    /// Returns whether there was a credential to delete; a missing identity is an error.
    pub async fn delete_federated_credential(
        &self,
        key: &IdentityKey,
        name: &str,
    ) -> Result<bool, StoreError> {
        let keys = IdentityKeys::of(key);
        let mut tx = self.begin_write().await?;
        // Held so that a concurrent put cannot decide to update a credential deleted here.
        lock_identity(tx.conn(), self.backend(), &keys).await?;
        let deleted = keys
            .bind(sqlx::query(
                "DELETE FROM federated_credentials WHERE subscription_key = $1 AND group_key = $2 \
                 AND identity_key = $3 AND name_key = $4",
            ))
            .bind(codec::key(name))
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(deleted > 0)
    }

    /// All credentials of the identity with this client id, in name-key order: what the
    /// token exchange matches an assertion against, read in one round trip. An unknown
    /// client id is [`StoreError::IdentityNotFound`], which the exchange reports differently
    /// from an identity without a matching credential.
    pub async fn federated_credentials_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Vec<FederatedCredential>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.name, c.issuer, c.subject, c.audiences, c.created_by, c.created_at, \
             c.modified_by, c.modified_at FROM managed_identities i \
             LEFT JOIN federated_credentials c ON c.subscription_key = i.subscription_key \
             AND c.group_key = i.group_key AND c.identity_key = i.name_key \
             WHERE i.client_id_key = $1 ORDER BY c.name_key",
        )
        .bind(codec::key(client_id))
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Err(StoreError::IdentityNotFound);
        }
        // An identity without credentials comes back as one row of NULLs.
        let mut credentials = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<String>, _>("name")?.is_some() {
                credentials.push(credential(row)?);
            }
        }
        Ok(credentials)
    }
}

fn credential(row: &AnyRow) -> Result<FederatedCredential, StoreError> {
    Ok(FederatedCredential {
        name: row.try_get("name")?,
        issuer: row.try_get("issuer")?,
        subject: row.try_get("subject")?,
        audiences: codec::audiences(row)?,
        audit: codec::audit(row)?,
    })
}
