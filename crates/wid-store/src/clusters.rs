//! Clusters and their issuer keys. A cluster is found by its ARM coordinates or, when its
//! issuer documents are fetched, by the issuer id in the URL.

use crate::changes::Topic;
use crate::codec::{self, key, IdentityKeys};
use crate::error::{conflict_if_taken, is_missing_parent};
use crate::identities::group_name;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Cluster, ClusterKey, IssuerKey};

macro_rules! cluster_columns {
    () => {
        "subscription_id, name, location, tags, tenant_id, issuer_id, oidc_issuer_enabled, \
         workload_identity_enabled, spec, sealed_kubeconfig, created_by, created_at, \
         modified_by, modified_at"
    };
}

macro_rules! select_clusters {
    ($where:literal) => {
        concat!(
            "SELECT (SELECT g.name FROM resource_groups g WHERE g.subscription_key = \
             c.subscription_key AND g.name_key = c.group_key) AS group_name, ",
            cluster_columns!(),
            " FROM clusters c WHERE ",
            $where
        )
    };
}

const KEY_COLUMNS: &str =
    "kid, alg, public_spki_der, sealed_private_key, signing, exported_at, created_at";

fn keys_of(k: &ClusterKey) -> IdentityKeys {
    IdentityKeys::new(&k.subscription_id, &k.resource_group, &k.name)
}

impl Store {
    /// Creates the cluster with its first issuer keys, or updates the one with the same
    /// case-insensitive name. An update keeps the cluster's identity (name casing, tenant,
    /// issuer id) and creation, and ignores `initial_keys`. Returns the stored cluster and
    /// whether it was created.
    pub async fn put_cluster(
        &self,
        c: &Cluster,
        initial_keys: &[IssuerKey],
    ) -> Result<(Cluster, bool), StoreError> {
        let keys = IdentityKeys::new(&c.subscription_id, &c.resource_group, &c.name);
        let tags = codec::tags_json(&c.tags)?;
        let spec =
            serde_json::to_string(&c.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let group = group_name(tx.conn(), &c.subscription_id, &c.resource_group)
            .await?
            .ok_or(StoreError::ResourceGroupNotFound)?;
        let created = keys
            .bind(sqlx::query(concat!(
                "INSERT INTO clusters (subscription_key, group_key, name_key, ",
                cluster_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17) \
                 ON CONFLICT (subscription_key, group_key, name_key) DO NOTHING RETURNING name"
            )))
            .bind(&c.subscription_id)
            .bind(&c.name)
            .bind(&c.location)
            .bind(&tags)
            .bind(&c.tenant_id)
            .bind(&c.issuer_id)
            .bind(i64::from(c.oidc_issuer_enabled))
            .bind(i64::from(c.workload_identity_enabled))
            .bind(&spec)
            .bind(&c.sealed_kubeconfig)
            .bind(&c.audit.created_by)
            .bind(c.audit.created_at)
            .bind(&c.audit.modified_by)
            .bind(c.audit.modified_at)
            .fetch_optional(tx.conn())
            .await
            .map_err(|e| {
                if is_missing_parent(&e) {
                    StoreError::ResourceGroupNotFound
                } else {
                    conflict_if_taken("a cluster with this issuer id")(e)
                }
            })?;
        if created.is_some() {
            for k in initial_keys {
                insert_key(&mut tx, &c.issuer_id, k).await?;
            }
            tx.commit_changing(&[Topic::IssuerKeys]).await?;
            return Ok((
                Cluster {
                    resource_group: group,
                    ..c.clone()
                },
                true,
            ));
        }
        let row = keys
            .bind(sqlx::query(concat!(
                "UPDATE clusters SET location = $4, tags = $5, oidc_issuer_enabled = $6, \
                 workload_identity_enabled = $7, spec = $8, sealed_kubeconfig = $9, \
                 modified_by = $10, modified_at = $11 WHERE subscription_key = $1 AND group_key = $2 AND name_key = $3 RETURNING ",
                cluster_columns!()
            )))
            .bind(&c.location)
            .bind(&tags)
            .bind(i64::from(c.oidc_issuer_enabled))
            .bind(i64::from(c.workload_identity_enabled))
            .bind(&spec)
            .bind(&c.sealed_kubeconfig)
            .bind(&c.audit.modified_by)
            .bind(c.audit.modified_at)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| StoreError::Conflict("the cluster was deleted concurrently".into()))?;
        let stored = cluster(&row, group)?;
        tx.commit_changing(&[Topic::IssuerKeys]).await?;
        Ok((stored, false))
    }

    pub async fn cluster(&self, k: &ClusterKey) -> Result<Option<Cluster>, StoreError> {
        let keys = keys_of(k);
        let row = keys
            .bind(sqlx::query(select_clusters!(
                "subscription_key = $1 AND group_key = $2 AND name_key = $3"
            )))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(joined_cluster).transpose()
    }

    pub async fn cluster_by_issuer_id(
        &self,
        issuer_id: &str,
    ) -> Result<Option<Cluster>, StoreError> {
        let row = sqlx::query(select_clusters!("issuer_id = $1"))
            .bind(issuer_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(joined_cluster).transpose()
    }

    /// Ordered by name key; a missing group is an error, as it is for ARM.
    pub async fn clusters_in_group(&self, sub: &str, rg: &str) -> Result<Vec<Cluster>, StoreError> {
        let rows = sqlx::query(select_clusters!(
            "subscription_key = $1 AND group_key = $2 ORDER BY name_key"
        ))
        .bind(key(sub))
        .bind(key(rg))
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() && group_name(self.pool(), sub, rg).await?.is_none() {
            return Err(StoreError::ResourceGroupNotFound);
        }
        rows.iter().map(joined_cluster).collect()
    }

    pub async fn clusters_in_subscription(&self, sub: &str) -> Result<Vec<Cluster>, StoreError> {
        let rows = sqlx::query(select_clusters!(
            "subscription_key = $1 ORDER BY group_key, name_key"
        ))
        .bind(key(sub))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(joined_cluster).collect()
    }

    /// Deletes the cluster and its issuer keys; returns whether there was one.
    pub async fn delete_cluster(&self, k: &ClusterKey) -> Result<bool, StoreError> {
        let keys = keys_of(k);
        let mut tx = self.begin_write().await?;
        if group_name(tx.conn(), &k.subscription_id, &k.resource_group)
            .await?
            .is_none()
        {
            return Err(StoreError::ResourceGroupNotFound);
        }
        let deleted = keys
            .bind(sqlx::query(
                "DELETE FROM clusters WHERE subscription_key = $1 AND group_key = $2 \
                 AND name_key = $3",
            ))
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_changing(&[Topic::IssuerKeys]).await?;
        Ok(deleted > 0)
    }

    /// The issuer's keys, oldest first.
    pub async fn issuer_keys(&self, issuer_id: &str) -> Result<Vec<IssuerKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM cluster_issuer_keys WHERE issuer_id = $1 \
             ORDER BY created_at, seq"
        ))
        .bind(issuer_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(issuer_key).collect()
    }

    /// Publishes a key. A signing key takes over from the previous one, which stays
    /// published, in the same transaction: the new key is in the JWKS before any token is
    /// signed with it.
    pub async fn add_issuer_key(&self, issuer_id: &str, k: &IssuerKey) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if k.signing {
            sqlx::query("UPDATE cluster_issuer_keys SET signing = 0 WHERE issuer_id = $1")
                .bind(issuer_id)
                .execute(tx.conn())
                .await?;
        }
        insert_key(&mut tx, issuer_id, k).await?;
        tx.commit_changing(&[Topic::IssuerKeys]).await
    }

    /// Unpublishes a key. The signing key cannot be removed: rotate first.
    pub async fn remove_issuer_key(&self, issuer_id: &str, kid: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let signing: Option<i64> = sqlx::query(
            "SELECT signing FROM cluster_issuer_keys WHERE issuer_id = $1 AND kid = $2",
        )
        .bind(issuer_id)
        .bind(kid)
        .fetch_optional(tx.conn())
        .await?
        .map(|r| r.try_get("signing"))
        .transpose()?;
        match signing {
            None => return Ok(false),
            Some(1) => {
                return Err(StoreError::Conflict(
                    "the key signs the cluster's tokens; rotate the signing key before removing it"
                        .into(),
                ))
            }
            Some(_) => {}
        }
        sqlx::query("DELETE FROM cluster_issuer_keys WHERE issuer_id = $1 AND kid = $2")
            .bind(issuer_id)
            .bind(kid)
            .execute(tx.conn())
            .await?;
        tx.commit_changing(&[Topic::IssuerKeys]).await?;
        Ok(true)
    }

    /// Records that the key's private half was handed out. Only the first caller wins, so
    /// a private key leaves wid at most once.
    pub async fn mark_issuer_key_exported(
        &self,
        issuer_id: &str,
        kid: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE cluster_issuer_keys SET exported_at = $3 WHERE issuer_id = $1 AND kid = $2 \
             AND exported_at IS NULL AND sealed_private_key IS NOT NULL",
        )
        .bind(issuer_id)
        .bind(kid)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(marked > 0)
    }
}

async fn insert_key(
    tx: &mut crate::db::WriteTx<'_>,
    issuer_id: &str,
    k: &IssuerKey,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO cluster_issuer_keys (issuer_id, {KEY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(issuer_id)
    .bind(&k.kid)
    .bind(&k.alg)
    .bind(&k.public_spki_der)
    .bind(&k.sealed_private_key)
    .bind(i64::from(k.signing))
    .bind(k.exported_at)
    .bind(k.created_at)
    .execute(tx.conn())
    .await
    .map_err(conflict_if_taken("an issuer key with this kid"))?;
    Ok(())
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn joined_cluster(row: &AnyRow) -> Result<Cluster, StoreError> {
    let group = row.try_get("group_name")?;
    cluster(row, group)
}

fn cluster(row: &AnyRow, resource_group: String) -> Result<Cluster, StoreError> {
    let subscription_id: String = row.try_get("subscription_id")?;
    let name: String = row.try_get("name")?;
    let location: String = row.try_get("location")?;
    let issuer_id: String = row.try_get("issuer_id")?;
    let spec_json: String = row.try_get("spec")?;
    // Clusters stored before wid kept specs read as AKS's defaults, which are a function
    // of the cluster's coordinates and so the same on every read.
    let spec = if spec_json.is_empty() {
        wid_core::cluster_spec::initial(&wid_core::cluster_spec::Placement {
            subscription_id: &subscription_id,
            resource_group: &resource_group,
            name: &name,
            location: &location,
            issuer_id: &issuer_id,
        })
    } else {
        serde_json::from_str(&spec_json).map_err(|e| StoreError::Corrupt(e.to_string()))?
    };
    Ok(Cluster {
        subscription_id,
        resource_group,
        name,
        location,
        tags: codec::tags(row)?,
        tenant_id: row.try_get("tenant_id")?,
        issuer_id,
        oidc_issuer_enabled: flag(row, "oidc_issuer_enabled")?,
        workload_identity_enabled: flag(row, "workload_identity_enabled")?,
        spec,
        sealed_kubeconfig: row.try_get("sealed_kubeconfig")?,
        audit: codec::audit(row)?,
    })
}

fn issuer_key(row: &AnyRow) -> Result<IssuerKey, StoreError> {
    Ok(IssuerKey {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        public_spki_der: row.try_get("public_spki_der")?,
        sealed_private_key: row.try_get("sealed_private_key")?,
        signing: flag(row, "signing")?,
        exported_at: row.try_get("exported_at")?,
        created_at: row.try_get("created_at")?,
    })
}
