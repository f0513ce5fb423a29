//! The sign-in log (migration 0015): written in batches by the server's recorder, listed
//! newest first with typed conditions, pruned by age and count (see [`crate::activity`]).

use crate::activity::{encode, Bound, Cond, LogCursor};
use crate::codec::key;
use crate::{Store, StoreError};
use wid_core::graph_filter::Comparison;
use wid_core::sign_in::{Condition, Field, Query, SignIn};

const TABLE: &str = "sign_ins";
const COLUMNS: [&str; 11] = [
    "id",
    "tenant_id",
    "created_at_ms",
    "app_id",
    "principal_id",
    "user_principal_name",
    "correlation_id",
    "ip_address",
    "kind",
    "error_code",
    "record",
];

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

fn condition(c: &Condition) -> Cond {
    Cond(match c {
        Condition::Created(c, ms) => Some(("created_at_ms", *c, Bound::Int(*ms))),
        Condition::ErrorCode(c, code) => Some(("error_code", *c, Bound::Int(*code))),
        Condition::Is(field, value) => {
            Some((column(*field), Comparison::Eq, Bound::Text(key(value))))
        }
        Condition::Kind(kind) => Some((
            "kind",
            Comparison::Eq,
            Bound::Text(kind.as_str().to_owned()),
        )),
        Condition::Never => None,
    })
}

impl Store {
    /// Stores a batch in one transaction: all of it or none.
    pub async fn insert_sign_ins(&self, batch: &[SignIn]) -> Result<(), StoreError> {
        let rows = batch
            .iter()
            .map(|s| {
                Ok(vec![
                    Bound::Text(key(&s.id)),
                    Bound::Text(key(&s.tenant_id)),
                    Bound::Int(s.created_at_ms),
                    Bound::Text(key(&s.app_id)),
                    Bound::Text(key(s.principal_id.as_deref().unwrap_or(""))),
                    Bound::Text(key(s.user_principal_name.as_deref().unwrap_or(""))),
                    Bound::Text(key(&s.correlation_id)),
                    Bound::Text(key(&s.ip_address)),
                    Bound::Text(s.kind.as_str().to_owned()),
                    Bound::Int(i64::from(s.error_code)),
                    Bound::Text(encode(s, "sign-in")?),
                ])
            })
            .collect::<Result<_, StoreError>>()?;
        self.insert_records(TABLE, &COLUMNS, rows).await
    }

    /// The tenant's sign-ins that meet `query`, newest first, at most `limit` of them,
    /// starting after `after`.
    pub async fn sign_ins(
        &self,
        tenant_id: &str,
        query: &Query,
        after: Option<&LogCursor>,
        limit: usize,
    ) -> Result<Vec<SignIn>, StoreError> {
        let conditions = query.all_of.iter().map(condition).collect();
        self.list_records(
            TABLE,
            &[("tenant_id", key(tenant_id))],
            conditions,
            after,
            limit,
        )
        .await
    }

    pub async fn sign_in(&self, tenant_id: &str, id: &str) -> Result<Option<SignIn>, StoreError> {
        let found = self
            .list_records(
                TABLE,
                &[("tenant_id", key(tenant_id)), ("id", key(id))],
                Vec::new(),
                None,
                1,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// Deletes what was created before `cutoff_ms`, then all but the newest `keep`; returns
    /// how many went.
    pub async fn prune_sign_ins(&self, cutoff_ms: i64, keep: u64) -> Result<u64, StoreError> {
        self.prune_records(TABLE, cutoff_ms, keep).await
    }
}
