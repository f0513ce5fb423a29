//! The sign-in log (migration 0015): written in batches by the server's recorder, listed
//! newest first with typed conditions, pruned by age and count.

use crate::codec::key;
use crate::{Store, StoreError};
use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlQuery;
use sqlx::{Any, Row};
use wid_core::graph_filter::Comparison;
use wid_core::sign_in::{Condition, Field, Query, SignIn};

/// Where a page of a listing starts: after the record created at `created_at_ms` with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCursor {
    pub created_at_ms: i64,
    pub id: String,
}

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

fn column(f: Field) -> &'static str {
    match f {
        Field::Id => "id",
        Field::AppId => "app_id",
        Field::PrincipalId => "principal_id",
        Field::UserPrincipalName => "user_principal_name",
        Field::CorrelationId => "correlation_id",
        Field::IpAddress => "ip_address",
    }
}

/// A value bound to a placeholder of the listing's query.
enum Bound {
    Int(i64),
    Text(String),
}

/// The listing's SQL and what it binds, in order. Every column and operator comes from the
/// typed condition, every value is a placeholder.
fn listing(
    tenant_id: &str,
    query: &Query,
    after: Option<&SignInCursor>,
    limit: usize,
) -> (String, Vec<Bound>) {
    let mut sql = String::from("SELECT record FROM sign_ins WHERE tenant_id = $1");
    let mut bound = vec![Bound::Text(key(tenant_id))];
    let placeholder = |bound: &mut Vec<Bound>, value: Bound| {
        bound.push(value);
        format!("${}", bound.len())
    };
    for condition in &query.all_of {
        let clause = match condition {
            Condition::Created(c, ms) => format!(
                "created_at_ms {} {}",
                operator(*c),
                placeholder(&mut bound, Bound::Int(*ms))
            ),
            Condition::ErrorCode(c, code) => format!(
                "error_code {} {}",
                operator(*c),
                placeholder(&mut bound, Bound::Int(*code))
            ),
            Condition::Is(field, value) => format!(
                "{} = {}",
                column(*field),
                placeholder(&mut bound, Bound::Text(key(value)))
            ),
            Condition::Kind(kind) => format!(
                "kind = {}",
                placeholder(&mut bound, Bound::Text(kind.as_str().to_owned()))
            ),
            Condition::Never => "1 = 0".to_owned(),
        };
        sql.push_str(" AND ");
        sql.push_str(&clause);
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

fn record(row: &sqlx::any::AnyRow) -> Result<SignIn, StoreError> {
    let text: String = row.try_get("record")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("sign-in record: {e}")))
}

impl Store {
    /// Stores a batch in one transaction: all of it or none.
    pub async fn insert_sign_ins(&self, batch: &[SignIn]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for s in batch {
            let json = serde_json::to_string(s)
                .map_err(|e| StoreError::Corrupt(format!("sign-in record: {e}")))?;
            sqlx::query(
                "INSERT INTO sign_ins (id, tenant_id, created_at_ms, app_id, principal_id, \
                 user_principal_name, correlation_id, ip_address, kind, error_code, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(key(&s.id))
            .bind(key(&s.tenant_id))
            .bind(s.created_at_ms)
            .bind(key(&s.app_id))
            .bind(key(s.principal_id.as_deref().unwrap_or("")))
            .bind(key(s.user_principal_name.as_deref().unwrap_or("")))
            .bind(key(&s.correlation_id))
            .bind(key(&s.ip_address))
            .bind(s.kind.as_str())
            .bind(i64::from(s.error_code))
            .bind(json)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    /// The tenant's sign-ins that meet `query`, newest first, at most `limit` of them,
    /// starting after `after`.
    pub async fn sign_ins(
        &self,
        tenant_id: &str,
        query: &Query,
        after: Option<&SignInCursor>,
        limit: usize,
    ) -> Result<Vec<SignIn>, StoreError> {
        let (sql, values) = listing(tenant_id, query, after, limit);
        let rows = bind(sqlx::query(&sql), values)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(record).collect()
    }

    pub async fn sign_in(&self, tenant_id: &str, id: &str) -> Result<Option<SignIn>, StoreError> {
        let row = sqlx::query("SELECT record FROM sign_ins WHERE tenant_id = $1 AND id = $2")
            .bind(key(tenant_id))
            .bind(key(id))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// Deletes what was created before `cutoff_ms`, then all but the newest `keep`; returns
    /// how many went.
    pub async fn prune_sign_ins(&self, cutoff_ms: i64, keep: u64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut pruned = sqlx::query("DELETE FROM sign_ins WHERE created_at_ms < $1")
            .bind(cutoff_ms)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let newest_dropped = sqlx::query(
            "SELECT created_at_ms, id FROM sign_ins \
             ORDER BY created_at_ms DESC, id DESC LIMIT 1 OFFSET $1",
        )
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = newest_dropped {
            let at: i64 = row.try_get("created_at_ms")?;
            let id: String = row.try_get("id")?;
            pruned += sqlx::query(
                "DELETE FROM sign_ins WHERE created_at_ms < $1 OR (created_at_ms = $2 AND id <= $3)",
            )
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
