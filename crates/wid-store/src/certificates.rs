//! Certificates of key vaults: policy, versions (public DER), the create operation, soft
//! delete, recovery and purge. Private keys are not stored here: they are the values of the
//! backing secrets, sealed like every secret.

use crate::codec::{self, key};
use crate::soft_delete::Collection;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Certificate, CertificateOperation, CertificateVersion};

/// A certificate with one of its versions (or none: the LEFT JOIN keeps a certificate
/// whose issuance is pending).
macro_rules! select_certificates {
    ($on:expr, $where:expr) => {
        concat!(
            "SELECT c.name, c.policy, c.policy_created, c.policy_updated, c.deleted_at, \
             c.scheduled_purge_at, v.version, v.der, v.x5t, v.tags, v.enabled, v.nbf, v.exp, \
             v.created, v.updated FROM certificates c LEFT JOIN certificate_versions v \
             ON v.vault_key = c.vault_key AND v.name_key = c.name_key ",
            $on,
            " WHERE ",
            $where
        )
    };
}

/// Joins only the newest version of each certificate.
macro_rules! latest {
    () => {
        "AND v.sequence = (SELECT MAX(w.sequence) FROM certificate_versions w \
         WHERE w.vault_key = c.vault_key AND w.name_key = c.name_key)"
    };
}

impl Store {
    /// Creates the certificate (or replaces the policy of a live one) with `policy`, and
    /// adds `v` as its newest version when given. A soft-deleted certificate's name takes
    /// nothing: [`StoreError::SecretDeleted`].
    pub async fn put_certificate(
        &self,
        vault: &str,
        name: &str,
        policy: &str,
        now: i64,
        v: Option<&CertificateVersion>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT deleted_at FROM certificates WHERE vault_key = $1 AND name_key = $2",
        )
        .bind(key(vault))
        .bind(key(name))
        .fetch_optional(tx.conn())
        .await?;
        match existing {
            Some(row) if row.try_get::<Option<i64>, _>("deleted_at")?.is_some() => {
                return Err(StoreError::SecretDeleted)
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE certificates SET policy = $3, policy_updated = $4 \
                     WHERE vault_key = $1 AND name_key = $2",
                )
                .bind(key(vault))
                .bind(key(name))
                .bind(policy)
                .bind(now)
                .execute(tx.conn())
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO certificates (vault_key, name_key, name, policy, policy_created, \
                     policy_updated) VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(key(vault))
                .bind(key(name))
                .bind(name)
                .bind(policy)
                .bind(now)
                .execute(tx.conn())
                .await
                .map_err(|e| {
                    if crate::error::is_missing_parent(&e) {
                        StoreError::VaultNotFound
                    } else {
                        StoreError::Database(e)
                    }
                })?;
            }
        }
        if let Some(v) = v {
            sqlx::query(
                "INSERT INTO certificate_versions (vault_key, name_key, version, sequence, der, \
                 x5t, tags, enabled, nbf, exp, created, updated) VALUES ($1, $2, $3, \
                 (SELECT COALESCE(MAX(sequence), 0) + 1 FROM certificate_versions \
                 WHERE vault_key = $1 AND name_key = $2), $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(key(vault))
            .bind(key(name))
            .bind(&v.version)
            .bind(&v.der)
            .bind(&v.x5t)
            .bind(codec::tags_json(&v.tags)?)
            .bind(i64::from(v.enabled))
            .bind(v.nbf)
            .bind(v.exp)
            .bind(v.created)
            .bind(v.updated)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A certificate with a version (the newest when `version` is `None`), deleted or not.
    pub async fn certificate(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<Certificate>, StoreError> {
        let row = match version {
            Some(version) => {
                sqlx::query(select_certificates!(
                    "AND v.version = $3",
                    "c.vault_key = $1 AND c.name_key = $2"
                ))
                .bind(key(vault))
                .bind(key(name))
                .bind(version.to_ascii_lowercase())
                .fetch_optional(self.pool())
                .await?
            }
            None => {
                sqlx::query(select_certificates!(
                    latest!(),
                    "c.vault_key = $1 AND c.name_key = $2"
                ))
                .bind(key(vault))
                .bind(key(name))
                .fetch_optional(self.pool())
                .await?
            }
        };
        let found = row.as_ref().map(certificate).transpose()?;
        // A named version that does not exist is no certificate at all.
        Ok(found.filter(|c| version.is_none() || c.version.is_some()))
    }

    /// Every certificate with its newest version, live or soft-deleted, by name.
    pub async fn certificates(
        &self,
        vault: &str,
        deleted: bool,
    ) -> Result<Vec<Certificate>, StoreError> {
        let sql = if deleted {
            concat!(
                select_certificates!(latest!(), "c.vault_key = $1 AND c.deleted_at IS NOT NULL"),
                " ORDER BY c.name_key"
            )
        } else {
            concat!(
                select_certificates!(latest!(), "c.vault_key = $1 AND c.deleted_at IS NULL"),
                " ORDER BY c.name_key"
            )
        };
        let rows = sqlx::query(sql)
            .bind(key(vault))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(certificate).collect()
    }

    /// Every version of a live certificate, oldest first.
    pub async fn certificate_versions(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Vec<Certificate>, StoreError> {
        let rows = sqlx::query(concat!(
            select_certificates!(
                "",
                "c.vault_key = $1 AND c.name_key = $2 AND c.deleted_at IS NULL \
                 AND v.version IS NOT NULL"
            ),
            " ORDER BY v.sequence"
        ))
        .bind(key(vault))
        .bind(key(name))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(certificate).collect()
    }

    /// Changes a version's attributes and tags (never its certificate).
    pub async fn update_certificate_version(
        &self,
        vault: &str,
        name: &str,
        v: &CertificateVersion,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE certificate_versions SET tags = $4, enabled = $5, updated = $6 \
             WHERE vault_key = $1 AND name_key = $2 AND version = $3",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&v.version)
        .bind(codec::tags_json(&v.tags)?)
        .bind(i64::from(v.enabled))
        .bind(v.updated)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records the certificate's create operation, replacing the previous one.
    pub async fn put_certificate_operation(
        &self,
        vault: &str,
        name: &str,
        op: &CertificateOperation,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM certificate_operations WHERE vault_key = $1 AND name_key = $2")
            .bind(key(vault))
            .bind(key(name))
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO certificate_operations (vault_key, name_key, request_id, status, \
             status_details, error, csr, cancellation_requested, enabled, tags) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&op.request_id)
        .bind(&op.status)
        .bind(&op.status_details)
        .bind(&op.error)
        .bind(&op.csr)
        .bind(i64::from(op.cancellation_requested))
        .bind(i64::from(op.enabled))
        .bind(codec::tags_json(&op.tags)?)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn certificate_operation(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<CertificateOperation>, StoreError> {
        let row = sqlx::query(
            "SELECT o.request_id, o.status, o.status_details, o.error, o.csr, \
             o.cancellation_requested, o.enabled, o.tags FROM certificate_operations o JOIN certificates c \
             ON c.vault_key = o.vault_key AND c.name_key = o.name_key \
             WHERE o.vault_key = $1 AND o.name_key = $2 AND c.deleted_at IS NULL",
        )
        .bind(key(vault))
        .bind(key(name))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(CertificateOperation {
                request_id: r.try_get("request_id")?,
                status: r.try_get("status")?,
                status_details: r.try_get("status_details")?,
                error: r.try_get("error")?,
                csr: r.try_get("csr")?,
                cancellation_requested: r.try_get::<i64, _>("cancellation_requested")? != 0,
                enabled: r.try_get::<i64, _>("enabled")? != 0,
                tags: codec::tags(&r)?,
            })
        })
        .transpose()
    }

    /// Claims the certificate's pending operation `request_id` at `now`: true when it is in
    /// progress, and unclaimed or claimed before `stale_before`. Only the caller that claimed
    /// it issues the certificate (or records its cancellation).
    pub async fn claim_certificate_operation(
        &self,
        vault: &str,
        name: &str,
        request_id: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE certificate_operations SET claimed_at = $4 \
             WHERE vault_key = $1 AND name_key = $2 AND request_id = $3 \
             AND status = 'inProgress' AND (claimed_at IS NULL OR claimed_at < $5)",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(request_id)
        .bind(now)
        .bind(stale_before)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records how the in-progress operation `op.request_id` ended (its status, details and
    /// error): false when it is no longer in progress or was replaced by another create, which
    /// then keeps what it holds.
    pub async fn finish_certificate_operation(
        &self,
        vault: &str,
        name: &str,
        op: &CertificateOperation,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE certificate_operations SET status = $4, status_details = $5, error = $6 \
             WHERE vault_key = $1 AND name_key = $2 AND request_id = $3 AND status = 'inProgress'",
        )
        .bind(key(vault))
        .bind(key(name))
        .bind(&op.request_id)
        .bind(&op.status)
        .bind(&op.status_details)
        .bind(&op.error)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Asks the certificate's operation to stop: false when there is none. An operation that
    /// has ended keeps its status; one being issued may still complete.
    pub async fn cancel_certificate_operation(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE certificate_operations SET cancellation_requested = 1 \
             WHERE vault_key = $1 AND name_key = $2",
        )
        .bind(key(vault))
        .bind(key(name))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn delete_certificate_operation(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "DELETE FROM certificate_operations WHERE vault_key = $1 AND name_key = $2",
        )
        .bind(key(vault))
        .bind(key(name))
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Soft-deletes a live certificate until `purge_at`.
    pub async fn delete_certificate(
        &self,
        vault: &str,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> Result<bool, StoreError> {
        self.soft_delete(Collection::Certificates, vault, name, now, purge_at)
            .await
    }

    pub async fn recover_certificate(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.undelete(Collection::Certificates, vault, name).await
    }

    /// Removes a soft-deleted certificate, its versions and operation for good.
    pub async fn purge_certificate(&self, vault: &str, name: &str) -> Result<bool, StoreError> {
        self.purge(Collection::Certificates, vault, name).await
    }
}

fn certificate(row: &AnyRow) -> Result<Certificate, StoreError> {
    let version: Option<String> = row.try_get("version")?;
    let version = match version {
        None => None,
        Some(version) => Some(CertificateVersion {
            version,
            der: row.try_get("der")?,
            x5t: row.try_get("x5t")?,
            tags: codec::tags(row)?,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            nbf: row.try_get("nbf")?,
            exp: row.try_get("exp")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
        }),
    };
    Ok(Certificate {
        name: row.try_get("name")?,
        policy: row.try_get("policy")?,
        policy_created: row.try_get("policy_created")?,
        policy_updated: row.try_get("policy_updated")?,
        deleted_at: row.try_get("deleted_at")?,
        scheduled_purge_at: row.try_get("scheduled_purge_at")?,
        version,
    })
}
