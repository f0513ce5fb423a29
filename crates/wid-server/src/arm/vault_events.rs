//! `GET …/vaults/{vault}/auditEvents`: the vault's data-plane audit log, each record in the
//! shape Key Vault's `AuditEvent` diagnostic category writes (what Azure sends to a storage
//! account or Log Analytics). A wid extension: Azure has no ARM read for resource logs, so
//! this answers from the vault itself, to callers who may read its logs
//! (`Microsoft.Insights/logs/AZKVAuditLogs/read`, in Reader, Contributor and Owner).
//! `$filter` on `time`, `httpStatusCode`, `operationName`, `appId`, `objectId`,
//! `correlationId` and `callerIpAddress`; `$top` and an opaque `$skiptoken`.

use super::auth::Caller;
use super::error::ArmError;
use super::request::ArmQuery;
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use wid_core::vault_audit::{AuditEvent, Decision, Query};
use wid_store::LogCursor;

const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 1000;

/// One event as Key Vault's diagnostics write it.
fn render(state: &AppState, vault: &str, e: &AuditEvent) -> Value {
    let signature: String = StatusCode::from_u16(e.http_status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
        .split_whitespace()
        .collect();
    let mut properties = json!({
        "id": e.item_id,
        "clientInfo": e.client_info,
        "requestUri": format!("{}{}", crate::vault::base_url(state, vault), e.request_uri),
        "httpStatusCode": e.http_status,
    });
    match e.decision {
        Some(Decision::Rbac(allowed)) => properties["isRbacAuthorized"] = json!(allowed),
        Some(Decision::AccessPolicy(allowed)) => properties["isAccessPolicyMatch"] = json!(allowed),
        None => {}
    }
    let mut claim = serde_json::Map::new();
    if let Some(oid) = &e.object_id {
        claim.insert(
            "http://schemas.microsoft.com/identity/claims/objectidentifier".into(),
            json!(oid),
        );
    }
    if let Some(app) = &e.app_id {
        claim.insert("appid".into(), json!(app));
    }
    json!({
        "time": wid_core::timefmt::rfc3339_millis(e.created_at_ms),
        "resourceId": e.vault_id.to_ascii_uppercase(),
        "operationName": e.operation_name,
        "operationVersion": e.operation_version,
        "category": "AuditEvent",
        "resultType": e.result_type(),
        "resultSignature": signature,
        "resultDescription": e.result_description.clone().unwrap_or_default(),
        "durationMs": e.duration_ms.to_string(),
        "callerIpAddress": e.caller_ip,
        "correlationId": e.correlation_id,
        "identity": {"claim": claim},
        "properties": properties,
        "wid": {"recordId": e.id, "replica": e.replica},
    })
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    OriginalUri(uri): OriginalUri,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    let vault = super::vaults::live(&state, &caller, &sub, &rg, &name).await?;
    let conditions = match query.get("$filter") {
        Some(f) => Query::from_filter(f).map_err(|e| ArmError::invalid_parameter(e.to_string()))?,
        None => Query::default(),
    };
    let top = query.top()?.unwrap_or(DEFAULT_TOP).min(MAX_TOP);
    let after = query
        .get("$skiptoken")
        .map(|t| {
            LogCursor::from_token(t)
                .ok_or_else(|| ArmError::invalid_parameter("The $skiptoken is invalid."))
        })
        .transpose()?;
    let vault_id =
        wid_core::resource_id::vault(&vault.subscription_id, &vault.resource_group, &vault.name);
    let mut found = state
        .store
        .vault_events(&vault_id, &conditions, after.as_ref(), top + 1)
        .await?;
    let more = found.len() > top;
    found.truncate(top);
    let next_link = match (more, found.last()) {
        (true, Some(last)) => Some(super::next_link(
            &state,
            uri.path(),
            &query,
            top,
            &LogCursor::token(last.created_at_ms, &last.id),
            &["$filter"],
        )?),
        _ => None,
    };
    let value: Vec<Value> = found
        .iter()
        .map(|e| render(&state, &vault.name, e))
        .collect();
    Ok(Json(json!({"value": value, "nextLink": next_link})))
}
