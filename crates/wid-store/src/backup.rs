//! Logical backups: every row of wid's tables, read in one consistent snapshot and written as
//! JSON lines, which restore into an empty database of either backend. Sealed columns are
//! copied as they are stored, so a backup holds no secret in the clear; restoring it is only
//! useful with the key-encryption key it was sealed under.
//!
//! Format: a header line, one line per row in dependency order (a row's parents come before
//! it), and an end line with the row count, so a truncated file is refused rather than
//! restored in part. Binary values are `{"base64": "…"}`.

use crate::db::Backend;
use crate::{migrate, Store, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sqlx::any::AnyTypeInfoKind;
use sqlx::{Row, TypeInfo, ValueRef};
use std::io::{BufRead, Write};

const FORMAT: i64 = 1;

/// The tables a backup holds, parents first. Leases and change generations describe running
/// replicas, not data, and are left out, as are the records of completed long-running
/// operations, which expire within hours; so is the migrations ledger, which the target has.
const TABLES: &[&str] = &[
    "installation_settings",
    "tenants",
    "subscriptions",
    "service_principals",
    "users",
    "applications",
    "application_passwords",
    "application_federated_credentials",
    "application_service_principals",
    "directory_role_assignments",
    "signing_keys",
    "resource_groups",
    "managed_identities",
    "federated_credentials",
    "clusters",
    "cluster_issuer_keys",
    "role_assignments",
    "vaults",
    "secrets",
    "secret_versions",
    "keys",
    "key_versions",
    "certificates",
    "certificate_versions",
    "certificate_operations",
    "refresh_tokens",
    "device_codes",
    "sign_ins",
    "vault_events",
];
const NOT_BACKED_UP: &[&str] = &[
    "leases",
    "change_generations",
    "arm_operations",
    "wid_schema_migrations",
];
/// Tables whose `seq` PostgreSQL generates; restore keeps the backed-up values.
const IDENTITY_TABLES: &[&str] = &["signing_keys", "cluster_issuer_keys"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub schema_version: i64,
    pub rows: u64,
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Backup(e.to_string())
}

impl Store {
    /// Writes a consistent snapshot of every table to `out`.
    pub async fn backup(&self, out: &mut (dyn Write + Send)) -> Result<BackupSummary, StoreError> {
        self.check_tables_known().await?;
        let mut tx = match self.backend() {
            // In WAL mode a read transaction sees one snapshot from its first read on.
            Backend::Sqlite => self.pool().begin().await?,
            Backend::Postgres => {
                self.pool()
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let schema_version = migrate::current_version(self.backend());
        let header = json!({
            "widBackup": FORMAT,
            "schemaVersion": schema_version,
            "backend": format!("{:?}", self.backend()).to_lowercase(),
        });
        writeln!(out, "{header}").map_err(io_error)?;
        let mut rows = 0u64;
        for table in TABLES {
            for row in sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(&mut *tx)
                .await?
            {
                let mut values = Map::new();
                for (i, column) in row.columns().iter().enumerate() {
                    values.insert(sqlx::Column::name(column).to_owned(), value_of(&row, i)?);
                }
                writeln!(out, "{}", json!({"table": table, "row": values})).map_err(io_error)?;
                rows += 1;
            }
        }
        tx.commit().await?;
        writeln!(out, "{}", json!({"end": {"rows": rows}})).map_err(io_error)?;
        out.flush().map_err(io_error)?;
        Ok(BackupSummary {
            schema_version,
            rows,
        })
    }

    /// Restores a backup into this database, which must hold no data yet, in one transaction:
    /// a damaged or truncated backup leaves the database as it was.
    pub async fn restore(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<BackupSummary, StoreError> {
        self.check_tables_known().await?;
        let mut lines = input.lines();
        let mut next = || -> Result<Option<Value>, StoreError> {
            match lines.next() {
                None => Ok(None),
                Some(line) => {
                    let line = line.map_err(io_error)?;
                    serde_json::from_str(&line)
                        .map(Some)
                        .map_err(|e| StoreError::Backup(format!("a line is not JSON: {e}")))
                }
            }
        };
        let header = next()?.ok_or_else(|| StoreError::Backup("the file is empty".into()))?;
        if header["widBackup"].as_i64() != Some(FORMAT) {
            return Err(StoreError::Backup("this is not a wid backup".into()));
        }
        let schema_version = migrate::current_version(self.backend());
        if header["schemaVersion"].as_i64() != Some(schema_version) {
            return Err(StoreError::Backup(format!(
                "the backup has schema version {}, this wid has {schema_version}: restore it with the wid that made it",
                header["schemaVersion"]
            )));
        }
        let mut tx = self.begin_write().await?;
        for table in TABLES {
            let found = sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
                .fetch_optional(tx.conn())
                .await?;
            if found.is_some() {
                return Err(StoreError::Backup(format!(
                    "the target database is not empty (table {table} has rows); restore into a new database"
                )));
            }
        }
        let mut rows = 0u64;
        let mut order = 0;
        loop {
            let line = next()?.ok_or_else(|| {
                StoreError::Backup("the backup is truncated: it has no end line".into())
            })?;
            if let Some(end) = line.get("end") {
                if end["rows"].as_u64() != Some(rows) {
                    return Err(StoreError::Backup(format!(
                        "the backup says it has {} rows, it has {rows}",
                        end["rows"]
                    )));
                }
                break;
            }
            let table = line["table"].as_str().unwrap_or_default();
            let position = TABLES
                .iter()
                .position(|t| *t == table)
                .ok_or_else(|| StoreError::Backup(format!("unknown table {table:?}")))?;
            if position < order {
                return Err(StoreError::Backup(format!("table {table} is out of order")));
            }
            order = position;
            let row = line["row"]
                .as_object()
                .ok_or_else(|| StoreError::Backup(format!("a row of {table} is not an object")))?;
            insert(tx.conn(), self.backend(), table, row).await?;
            rows += 1;
        }
        if next()?.is_some() {
            return Err(StoreError::Backup("lines follow the end line".into()));
        }
        if self.backend() == Backend::Postgres {
            for table in IDENTITY_TABLES {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'seq'), \
                     COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
                ))
                .execute(tx.conn())
                .await?;
            }
        }
        tx.commit_changing(&crate::Topic::ALL).await?;
        Ok(BackupSummary {
            schema_version,
            rows,
        })
    }

    /// Refuses to back up or restore a schema with tables this list does not name, so that a
    /// new table cannot be silently left out of backups.
    async fn check_tables_known(&self) -> Result<(), StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            }
        };
        for row in sqlx::query(sql).fetch_all(self.pool()).await? {
            let name: String = row.try_get("name")?;
            if !TABLES.contains(&name.as_str()) && !NOT_BACKED_UP.contains(&name.as_str()) {
                return Err(StoreError::Corrupt(format!(
                    "table {name} is unknown to backups"
                )));
            }
        }
        Ok(())
    }
}

fn value_of(row: &sqlx::any::AnyRow, i: usize) -> Result<Value, StoreError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Value::from(row.try_get::<i64, _>(i)?)
        }
        AnyTypeInfoKind::Text => Value::from(row.try_get::<String, _>(i)?),
        AnyTypeInfoKind::Blob => json!({"base64": STANDARD.encode(row.try_get::<Vec<u8>, _>(i)?)}),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "column {i} has a type backups do not handle: {}",
                raw.type_info().name()
            )))
        }
    })
}

/// Inserts one backed-up row. Names come from the file, so they must be plain identifiers;
/// values are bound, except NULL, written as a literal so that its type is the column's.
async fn insert(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
    row: &Map<String, Value>,
) -> Result<(), StoreError> {
    let mut columns = Vec::with_capacity(row.len());
    let mut placeholders = Vec::with_capacity(row.len());
    let mut binds = Vec::new();
    for (column, value) in row {
        if column.is_empty()
            || !column
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Backup(format!(
                "invalid column name {column:?} in {table}"
            )));
        }
        columns.push(column.as_str());
        if value.is_null() {
            placeholders.push("NULL".to_owned());
        } else {
            binds.push(value);
            placeholders.push(format!("${}", binds.len()));
        }
    }
    let overriding = if backend == Backend::Postgres && IDENTITY_TABLES.contains(&table) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO {table} ({}){overriding} VALUES ({})",
        columns.join(", "),
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for value in binds {
        query = match value {
            Value::Number(n) => query.bind(n.as_i64().ok_or_else(|| {
                StoreError::Backup(format!("a number in {table} is not an integer"))
            })?),
            Value::String(s) => query.bind(s.clone()),
            Value::Object(o) => {
                let encoded = o.get("base64").and_then(Value::as_str).ok_or_else(|| {
                    StoreError::Backup(format!("an object in {table} is not base64 bytes"))
                })?;
                query.bind(
                    STANDARD
                        .decode(encoded)
                        .map_err(|e| StoreError::Backup(format!("bad base64 in {table}: {e}")))?,
                )
            }
            _ => {
                return Err(StoreError::Backup(format!(
                    "a value in {table} has an unexpected type"
                )))
            }
        };
    }
    query.execute(conn).await?;
    Ok(())
}
