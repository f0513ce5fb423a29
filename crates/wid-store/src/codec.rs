//! How record fields map to columns, shared by the query modules.

use crate::StoreError;
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::{Audit, IdentityKey, Tags};

/// The lookup key of a case-insensitive ARM name or GUID. Lower-casing happens here, never in
/// SQL, because SQLite's LOWER() folds only ASCII while PostgreSQL's follows the locale.
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) fn tags_json(tags: &Tags) -> Result<String, StoreError> {
    serde_json::to_string(tags).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))
}

pub(crate) fn tags(row: &AnyRow) -> Result<Tags, StoreError> {
    let text: String = row.try_get("tags")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("tags {text:?}: {e}")))
}

pub(crate) fn audiences_json(audiences: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(audiences).map_err(|e| StoreError::Corrupt(format!("audiences: {e}")))
}

pub(crate) fn audiences(row: &AnyRow) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get("audiences")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("audiences {text:?}: {e}")))
}

/// Reads the `created_by, created_at, modified_by, modified_at` columns every resource has.
pub(crate) fn audit(row: &AnyRow) -> Result<Audit, StoreError> {
    Ok(Audit {
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        modified_by: row.try_get("modified_by")?,
        modified_at: row.try_get("modified_at")?,
    })
}

/// The lookup keys of a managed identity, bound as `$1, $2, $3` by [`IdentityKeys::bind`].
pub(crate) struct IdentityKeys {
    subscription: String,
    group: String,
    name: String,
}

impl IdentityKeys {
    pub(crate) fn of(k: &IdentityKey) -> Self {
        Self::new(&k.subscription_id, &k.resource_group, &k.name)
    }

    pub(crate) fn new(subscription: &str, group: &str, name: &str) -> Self {
        IdentityKeys {
            subscription: key(subscription),
            group: key(group),
            name: key(name),
        }
    }

    pub(crate) fn bind<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        q.bind(&self.subscription)
            .bind(&self.group)
            .bind(&self.name)
    }
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
