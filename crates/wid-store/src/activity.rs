//! What the activity logs (sign-ins, vault access events) share: each is a table of JSON
//! records with a few typed columns to filter on, listed newest first by keyset paging on
//! `(created_at_ms, id)` and pruned by age and count. The SQL is assembled here from typed
//! conditions only; every value a caller gave is a bound placeholder.

use crate::db::Backend;
use crate::{Store, StoreError};
use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlQuery;
use sqlx::{Any, Row};
use wid_core::graph_filter::Comparison;

/// Where a page of a listing starts: after the record created at `created_at_ms` with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCursor {
    pub created_at_ms: i64,
    pub id: String,
}

impl LogCursor {
    /// The position after `created_at_ms`/`id` as an opaque page token (`$skiptoken`).
    pub fn token(created_at_ms: i64, id: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at_ms}:{id}"))
    }

    /// The position a [`LogCursor::token`] names; `None` for anything else.
    pub fn from_token(token: &str) -> Option<Self> {
        use base64::Engine;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        let (at, id) = std::str::from_utf8(&text).ok()?.split_once(':')?;
        Some(Self {
            created_at_ms: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// A value bound to a placeholder.
pub(crate) enum Bound {
    Int(i64),
    Text(String),
}

/// One condition on a typed column; `None` matches nothing.
pub(crate) struct Cond(pub Option<(&'static str, Comparison, Bound)>);

fn operator(c: Comparison) -> &'static str {
    match c {
        Comparison::Eq => "=",
        Comparison::Ne => "<>",
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
    }
}

/// The listing's SQL over `table` and what it binds, in order: rows whose `scope` columns
/// equal their values and that meet every condition.
fn listing(
    table: &'static str,
    scope: &[(&'static str, String)],
    conditions: Vec<Cond>,
    after: Option<&LogCursor>,
    limit: usize,
) -> (String, Vec<Bound>) {
    let mut sql = format!("SELECT record FROM {table} WHERE 1 = 1");
    let mut bound = Vec::new();
    let placeholder = |bound: &mut Vec<Bound>, value: Bound| {
        bound.push(value);
        format!("${}", bound.len())
    };
    for (column, value) in scope {
        let p = placeholder(&mut bound, Bound::Text(value.clone()));
        sql.push_str(&format!(" AND {column} = {p}"));
    }
    for Cond(condition) in conditions {
        match condition {
            Some((column, comparison, value)) => {
                let p = placeholder(&mut bound, value);
                sql.push_str(&format!(" AND {column} {} {p}", operator(comparison)));
            }
            None => sql.push_str(" AND 1 = 0"),
        }
    }
    if let Some(after) = after {
        let at = placeholder(&mut bound, Bound::Int(after.created_at_ms));
        let at_again = placeholder(&mut bound, Bound::Int(after.created_at_ms));
        let id = placeholder(&mut bound, Bound::Text(after.id.clone()));
        sql.push_str(&format!(
            " AND (created_at_ms < {at} OR (created_at_ms = {at_again} AND id < {id}))"
        ));
    }
    let limit = placeholder(&mut bound, Bound::Int(limit as i64));
    sql.push_str(&format!(
        " ORDER BY created_at_ms DESC, id DESC LIMIT {limit}"
    ));
    (sql, bound)
}

fn bind<'q>(
    mut q: SqlQuery<'q, Any, AnyArguments<'q>>,
    values: Vec<Bound>,
) -> SqlQuery<'q, Any, AnyArguments<'q>> {
    for value in values {
        q = match value {
            Bound::Int(n) => q.bind(n),
            Bound::Text(t) => q.bind(t),
        };
    }
    q
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    what: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get("record")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{what} record: {e}")))
}

pub(crate) fn encode<T: serde::Serialize>(record: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Corrupt(format!("{what} record: {e}")))
}

/// Rows one INSERT statement carries at most: a statement per row would cost a round trip
/// to the database each, which at Key Vault's request rates is most of what logging costs.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO table (columns) VALUES (...), ...` with `rows` rows of placeholders in the
/// backend's spelling. SQLite is given anonymous `?`s: binding a numbered parameter looks its
/// name up in a list as long as the statement's, which made a batch's cost grow with the
/// square of its size.
fn insertion(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns.len() {
            n += 1;
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${n}")),
            }
        }
        sql.push(')');
    }
    sql
}

impl Store {
    /// Stores `rows` (each its values in `columns`' order) in one transaction: all or none.
    pub(crate) async fn insert_records(
        &self,
        table: &'static str,
        columns: &[&str],
        rows: Vec<Vec<Bound>>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Bound>> = rows.by_ref().take(ROWS_PER_INSERT).collect();
            let sql = insertion(self.backend(), table, columns, chunk.len());
            bind(sqlx::query(&sql), chunk.into_iter().flatten().collect())
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await
    }

    /// One page of `table`'s records, newest first.
    pub(crate) async fn list_records<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        scope: &[(&'static str, String)],
        conditions: Vec<Cond>,
        after: Option<&LogCursor>,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        let (sql, values) = listing(table, scope, conditions, after, limit);
        let rows = bind(sqlx::query(&sql), values)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| decode(row, table)).collect()
    }

    /// Deletes what `table` holds from before `cutoff_ms`, then all but the newest `keep`;
    /// returns how many went.
    pub(crate) async fn prune_records(
        &self,
        table: &'static str,
        cutoff_ms: i64,
        keep: u64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut pruned = sqlx::query(&format!("DELETE FROM {table} WHERE created_at_ms < $1"))
            .bind(cutoff_ms)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let newest_dropped = sqlx::query(&format!(
            "SELECT created_at_ms, id FROM {table} \
             ORDER BY created_at_ms DESC, id DESC LIMIT 1 OFFSET $1"
        ))
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = newest_dropped {
            let at: i64 = row.try_get("created_at_ms")?;
            let id: String = row.try_get("id")?;
            pruned += sqlx::query(&format!(
                "DELETE FROM {table} WHERE created_at_ms < $1 OR (created_at_ms = $2 AND id <= $3)"
            ))
            .bind(at)
            .bind(at)
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertions_number_every_placeholder() {
        assert_eq!(
            insertion(Backend::Postgres, "t", &["a", "b"], 1),
            "INSERT INTO t (a, b) VALUES ($1, $2)"
        );
        assert_eq!(
            insertion(Backend::Postgres, "t", &["a", "b"], 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        assert_eq!(
            insertion(Backend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let cursor = LogCursor::from_token(&LogCursor::token(1_795_516_140_007, "id:1")).unwrap();
        assert_eq!(
            cursor,
            LogCursor {
                created_at_ms: 1_795_516_140_007,
                id: "id:1".into()
            }
        );
        for bad in ["", "!!", "bm9jb2xvbg", "eDp5"] {
            assert_eq!(LogCursor::from_token(bad), None, "{bad}");
        }
    }
}
