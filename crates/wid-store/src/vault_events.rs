//! Key Vault's audit events (migration 0016), kept like the sign-in log: batched inserts,
//! newest-first pages of one vault's events, pruning by age and count.

use crate::activity::{encode, Bound, Cond, LogCursor};
use crate::codec::key;
use crate::{Store, StoreError};
use wid_core::graph_filter::Comparison;
use wid_core::vault_audit::{AuditEvent, Condition, Field, Query};

const TABLE: &str = "vault_events";
const COLUMNS: [&str; 10] = [
    "id",
    "vault_id",
    "created_at_ms",
    "operation_name",
    "http_status",
    "app_id",
    "object_id",
    "correlation_id",
    "caller_ip",
    "record",
];

fn column(f: Field) -> &'static str {
    match f {
        Field::OperationName => "operation_name",
        Field::AppId => "app_id",
        Field::ObjectId => "object_id",
        Field::CorrelationId => "correlation_id",
        Field::CallerIp => "caller_ip",
    }
}

fn condition(c: &Condition) -> Cond {
    Cond(Some(match c {
        Condition::Created(c, ms) => ("created_at_ms", *c, Bound::Int(*ms)),
        Condition::HttpStatus(c, status) => ("http_status", *c, Bound::Int(*status)),
        Condition::Is(field, value) => (column(*field), Comparison::Eq, Bound::Text(key(value))),
    }))
}

impl Store {
    /// Stores a batch in one transaction: all of it or none.
    pub async fn insert_vault_events(&self, batch: &[AuditEvent]) -> Result<(), StoreError> {
        let rows = batch
            .iter()
            .map(|e| {
                Ok(vec![
                    Bound::Text(key(&e.id)),
                    Bound::Text(key(&e.vault_id)),
                    Bound::Int(e.created_at_ms),
                    Bound::Text(key(&e.operation_name)),
                    Bound::Int(i64::from(e.http_status)),
                    Bound::Text(key(e.app_id.as_deref().unwrap_or(""))),
                    Bound::Text(key(e.object_id.as_deref().unwrap_or(""))),
                    Bound::Text(key(&e.correlation_id)),
                    Bound::Text(key(&e.caller_ip)),
                    Bound::Text(encode(e, "vault event")?),
                ])
            })
            .collect::<Result<_, StoreError>>()?;
        self.insert_records(TABLE, &COLUMNS, rows).await
    }

    /// The events of the vault with ARM id `vault_id` that meet `query`, newest first.
    pub async fn vault_events(
        &self,
        vault_id: &str,
        query: &Query,
        after: Option<&LogCursor>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let conditions = query.all_of.iter().map(condition).collect();
        self.list_records(
            TABLE,
            &[("vault_id", key(vault_id))],
            conditions,
            after,
            limit,
        )
        .await
    }

    pub async fn prune_vault_events(&self, cutoff_ms: i64, keep: u64) -> Result<u64, StoreError> {
        self.prune_records(TABLE, cutoff_ms, keep).await
    }
}
