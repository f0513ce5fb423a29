//! Brings a database's schema up to date at connect. Each backend has its own list because
//! the DDL differs (BLOB vs BYTEA, collations, identity columns); the queries that use the
//! schema are shared.

use crate::{Backend, StoreError};
use sqlx::{AnyConnection, AnyPool, Executor, Row};

/// Versions are applied in order and recorded; an applied version is never run again, so
/// a migration, once released, must never change.
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_identity_row_lock.sql"),
    ),
    (3, include_str!("../migrations/sqlite/0003_clusters.sql")),
    (
        4,
        include_str!("../migrations/sqlite/0004_role_assignments.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_vaults.sql")),
    (6, include_str!("../migrations/sqlite/0006_leases.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_change_generations.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_cluster_specs_and_operations.sql"),
    ),
    (9, include_str!("../migrations/sqlite/0009_users.sql")),
    (10, include_str!("../migrations/sqlite/0010_sessions.sql")),
    (
        11,
        include_str!("../migrations/sqlite/0011_applications.sql"),
    ),
    (12, include_str!("../migrations/sqlite/0012_vault_keys.sql")),
    (
        13,
        include_str!("../migrations/sqlite/0013_certificates.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_certificate_operation_claims.sql"),
    ),
    (15, include_str!("../migrations/sqlite/0015_sign_ins.sql")),
    (
        16,
        include_str!("../migrations/sqlite/0016_vault_events.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_identity_row_lock.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_clusters.sql")),
    (
        4,
        include_str!("../migrations/postgres/0004_role_assignments.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_vaults.sql")),
    (6, include_str!("../migrations/postgres/0006_leases.sql")),
    (
        7,
        include_str!("../migrations/postgres/0007_change_generations.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_cluster_specs_and_operations.sql"),
    ),
    (9, include_str!("../migrations/postgres/0009_users.sql")),
    (10, include_str!("../migrations/postgres/0010_sessions.sql")),
    (
        11,
        include_str!("../migrations/postgres/0011_applications.sql"),
    ),
    (
        12,
        include_str!("../migrations/postgres/0012_vault_keys.sql"),
    ),
    (
        13,
        include_str!("../migrations/postgres/0013_certificates.sql"),
    ),
    (
        14,
        include_str!("../migrations/postgres/0014_certificate_operation_claims.sql"),
    ),
    (15, include_str!("../migrations/postgres/0015_sign_ins.sql")),
    (
        16,
        include_str!("../migrations/postgres/0016_vault_events.sql"),
    ),
];

/// The schema version this build creates and expects.
pub(crate) fn current_version(backend: Backend) -> i64 {
    let migrations = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    migrations.last().map_or(0, |&(version, _)| version)
}

/// Any constant works, as long as nothing else in the database uses it ("wid_migr").
const POSTGRES_LOCK_KEY: i64 = 0x7769_645f_6d69_6772;

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS wid_schema_migrations \
     (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let migrations = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    for &(version, sql) in migrations {
        apply(pool, backend, version, sql).await?;
    }
    let newest = migrations.last().map_or(0, |&(version, _)| version);
    let recorded: Option<i64> = pool
        .fetch_one("SELECT MAX(version) FROM wid_schema_migrations")
        .await?
        .try_get(0)?;
    match recorded {
        Some(v) if v > newest => Err(StoreError::Corrupt(format!(
            "the database schema is at version {v}, newer than this wid knows ({newest}); \
             run a newer wid"
        ))),
        _ => Ok(()),
    }
}

/// Applies one migration in its own transaction, unless it is already recorded. The
/// transaction first takes a database-wide lock (SQLite's write lock, or an advisory lock on
/// PostgreSQL), so of two processes starting at once one migrates and the other then finds
/// the work done.
async fn apply(
    pool: &AnyPool,
    backend: Backend,
    version: i64,
    sql: &str,
) -> Result<(), StoreError> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(POSTGRES_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            tx
        }
    };
    tx.execute(CREATE_LEDGER).await?;
    if !is_applied(&mut tx, version).await? {
        tracing::info!(version, "applying database migration");
        tx.execute(sqlx::raw_sql(sql)).await?;
        let now = match backend {
            Backend::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
        };
        let record =
            format!("INSERT INTO wid_schema_migrations (version, applied_at) VALUES ($1, {now})");
        sqlx::query(&record).bind(version).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn is_applied(conn: &mut AnyConnection, version: i64) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT version FROM wid_schema_migrations WHERE version = $1")
        .bind(version)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}
