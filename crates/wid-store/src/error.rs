use wid_core::federation::CredentialError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("resource group not found")]
    ResourceGroupNotFound,
    #[error("managed identity not found")]
    IdentityNotFound,
    #[error(transparent)]
    Rejected(#[from] CredentialError),
    /// The principal already holds this role at this scope, under another assignment name.
    #[error("the role assignment already exists")]
    RoleAssignmentExists,
    /// Another vault (in any subscription) has the name.
    #[error("the vault name is taken")]
    VaultNameTaken,
    /// A soft-deleted vault holds the name until it is recovered or purged.
    #[error("a deleted vault has the name")]
    VaultDeleted,
    #[error("vault not found")]
    VaultNotFound,
    /// The secret is soft-deleted: it can only be recovered or purged.
    #[error("the secret is deleted but recoverable")]
    SecretDeleted,
    /// The key is soft-deleted: it can only be recovered or purged.
    #[error("the key is deleted but recoverable")]
    KeyDeleted,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Creating the SQLite database file, or restricting its permissions, failed.
    #[error("database file {}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A backup that cannot be restored (damaged, truncated, another schema, a target that
    /// is not empty).
    #[error("backup: {0}")]
    Backup(String),
}

/// Turns a unique-constraint violation into [`StoreError::Conflict`]: the caller chose a key
/// that is taken, which is its mistake to report, not a database failure.
pub(crate) fn conflict_if_taken(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("{what} already exists"))
        }
        _ => StoreError::Database(err),
    }
}

/// A foreign-key violation means the parent row vanished between our check and our insert
/// (a concurrent delete on PostgreSQL); it is reported as the parent being missing.
pub(crate) fn is_missing_parent(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}
