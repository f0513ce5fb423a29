//! `/auditLogs/signIns`: the sign-in log (`crate::sign_ins`) in Graph's `signIn` shape,
//! newest first, with `$filter` (`wid_core::sign_in::FILTERABLE`), `$top` and paging by an
//! opaque `$skiptoken`. Beta's properties (`signInEventTypes`, `servicePrincipalId`,
//! `clientCredentialType`, `managedServiceIdentity`) are answered on `/beta` only; what
//! Graph has no property for (the federated credential matched or closest, the assertion's
//! issuer and subject, the replica) is under `wid`.
//!
//! Entra lists only interactive user sign-ins unless `signInEventTypes` is filtered on;
//! wid lists every kind, since workloads are what it signs in.

use super::error::GraphError;
use super::odata::{entity_context, select, ListQuery};
use super::Authorized;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use serde_json::{json, Value};
use wid_core::sign_in::{FederatedOutcome, Query, SignIn, SignInKind};
use wid_store::LogCursor;

const PATH: &str = "auditLogs/signIns";
/// Graph's default and largest page of sign-ins.
const DEFAULT_TOP: usize = 1000;
const MAX_TOP: usize = 1000;

fn is_beta(uri: &Uri) -> bool {
    uri.path().starts_with("/beta/")
}

fn explanation(outcome: &FederatedOutcome) -> String {
    match outcome {
        FederatedOutcome::Matched { credential } => {
            format!("Federated identity credential '{credential}' matched the assertion.")
        }
        FederatedOutcome::Closest {
            credential,
            field,
            expected,
            difference,
        } => format!(
            "No federated identity credential matched. Closest: '{credential}', whose {field} is '{expected}' ({difference})."
        ),
        FederatedOutcome::NoCredentials => {
            "The identity has no federated identity credentials.".to_owned()
        }
    }
}

pub fn render(s: &SignIn, beta: bool) -> Value {
    let user = s.kind.is_user();
    let mut v = json!({
        "id": s.id,
        "createdDateTime": wid_core::timefmt::rfc3339_millis(s.created_at_ms),
        "userDisplayName": if user { s.principal_name.clone() } else { None },
        "userPrincipalName": s.user_principal_name,
        "userId": if user { s.principal_id.clone() } else { None },
        "appId": s.app_id,
        "appDisplayName": s.app_display_name,
        "ipAddress": s.ip_address,
        "clientAppUsed": null,
        "correlationId": s.correlation_id,
        "conditionalAccessStatus": "notApplied",
        "isInteractive": s.kind == SignInKind::InteractiveUser,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": s.resource,
        "resourceId": s.resource,
        "status": {
            "errorCode": s.error_code,
            "failureReason": s.failure_reason.as_deref().unwrap_or("Other."),
            "additionalDetails": s.federated.as_ref().map(explanation),
        },
        "appliedConditionalAccessPolicies": [],
        "wid": {
            "federatedCredential": s.federated,
            "assertionIssuer": s.assertion_issuer,
            "assertionSubject": s.assertion_subject,
            "requestId": s.request_id,
            "replica": s.replica,
        },
    });
    if s.succeeded() {
        v["status"]["failureReason"] = json!(null);
    }
    if beta {
        let object = v.as_object_mut().expect("an object");
        object.insert("signInEventTypes".into(), json!([s.kind.as_str()]));
        object.insert(
            "servicePrincipalId".into(),
            json!(if user { None } else { s.principal_id.clone() }),
        );
        object.insert(
            "servicePrincipalName".into(),
            json!(if user { None } else { s.principal_name.clone() }),
        );
        object.insert("clientCredentialType".into(), json!(s.credential.as_str()));
        object.insert(
            "federatedCredentialId".into(),
            json!(s.federated.as_ref().and_then(|f| match f {
                FederatedOutcome::Matched { credential } => Some(credential.clone()),
                _ => None,
            })),
        );
        object.insert("resourceTenantId".into(), json!(s.tenant_id));
        object.insert("homeTenantId".into(), json!(s.tenant_id));
        object.insert("originalRequestId".into(), json!(s.request_id));
        object.insert(
            "managedServiceIdentity".into(),
            match (&s.managed_identity_resource_id, s.kind) {
                (Some(id), SignInKind::ManagedIdentity) => json!({
                    "msiType": "userAssigned",
                    "associatedResourceId": id,
                    "federatedTokenIssuer": s.assertion_issuer,
                    "federatedTokenId": null,
                }),
                _ => json!({"msiType": "none"}),
            },
        );
    }
    v
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    uri: Uri,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let query = match q.filter_of() {
        Some(f) => Query::from_filter(f).map_err(|e| GraphError::bad_request(e.to_string()))?,
        None => Query::default(),
    };
    let top = q.top_within(DEFAULT_TOP, MAX_TOP)?;
    let after = q
        .skip_token_of()
        .map(|t| {
            LogCursor::from_token(t).ok_or_else(|| GraphError::bad_request("Invalid $skiptoken."))
        })
        .transpose()?;
    let mut found = state
        .store
        .sign_ins(&auth.caller.tenant_id, &query, after.as_ref(), top + 1)
        .await?;
    let more = found.len() > top;
    found.truncate(top);
    let beta = is_beta(&uri);
    let version = if beta { "beta" } else { "v1.0" };
    let base = state.cloud.graph_resource();
    let mut page = json!({
        "@odata.context": format!("{base}{version}/$metadata#{PATH}"),
        "value": found
            .iter()
            .map(|s| select(render(s, beta), q.select_of()))
            .collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, found.last()) {
        let token = LogCursor::token(last.created_at_ms, &last.id);
        page["@odata.nextLink"] =
            json!(q.next_link(&format!("{base}{version}/{PATH}"), top, &token)?);
    }
    Ok(Json(page))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let found = state
        .store
        .sign_in(&auth.caller.tenant_id, &id)
        .await?
        .ok_or_else(|| GraphError::not_found(&id))?;
    let mut v = render(&found, is_beta(&uri));
    v["@odata.context"] = json!(entity_context(&state, PATH));
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wid_core::sign_in::CredentialKind;

    fn refused() -> SignIn {
        SignIn {
            id: "id-1".into(),
            created_at_ms: 1_795_516_140_007,
            tenant_id: "t".into(),
            app_id: "client".into(),
            app_display_name: Some("workload".into()),
            principal_id: Some("principal".into()),
            principal_name: Some("workload".into()),
            user_principal_name: None,
            kind: SignInKind::ManagedIdentity,
            credential: CredentialKind::FederatedIdentityCredential,
            resource: Some("https://vault.azure.net".into()),
            error_code: 700213,
            failure_reason: Some("AADSTS700213: No matching federated identity record found.".into()),
            federated: Some(FederatedOutcome::Closest {
                credential: "kube".into(),
                field: "subject".into(),
                expected: "system:serviceaccount:team-a:app".into(),
                difference: "a different service account or namespace".into(),
            }),
            assertion_issuer: Some("https://issuer/".into()),
            assertion_subject: Some("system:serviceaccount:team-b:app".into()),
            managed_identity_resource_id: Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/workload".into()),
            ip_address: "10.0.0.1".into(),
            correlation_id: "corr".into(),
            request_id: "req".into(),
            replica: "host/1".into(),
        }
    }

    #[test]
    fn a_refusal_reads_as_graph_writes_it_with_the_fix_explained() {
        let v = render(&refused(), true);
        assert_eq!(v["createdDateTime"], "2026-11-24T10:29:00.007Z");
        assert_eq!(v["status"]["errorCode"], 700213);
        assert_eq!(
            v["status"]["additionalDetails"],
            "No federated identity credential matched. Closest: 'kube', whose subject is 'system:serviceaccount:team-a:app' (a different service account or namespace)."
        );
        assert_eq!(v["signInEventTypes"], json!(["managedIdentity"]));
        assert_eq!(v["servicePrincipalId"], "principal");
        assert_eq!(v["userId"], Value::Null);
        assert_eq!(v["managedServiceIdentity"]["msiType"], "userAssigned");
        assert_eq!(v["federatedCredentialId"], Value::Null);
        assert_eq!(
            v["wid"]["assertionSubject"],
            "system:serviceaccount:team-b:app"
        );
        let v1 = render(&refused(), false);
        assert!(v1.get("signInEventTypes").is_none());
        assert!(v1.get("managedServiceIdentity").is_none());
    }

    #[test]
    fn a_success_has_no_failure_reason() {
        let mut s = refused();
        s.error_code = 0;
        s.failure_reason = None;
        s.federated = Some(FederatedOutcome::Matched {
            credential: "kube".into(),
        });
        let v = render(&s, true);
        assert_eq!(v["status"]["failureReason"], Value::Null);
        assert_eq!(v["federatedCredentialId"], "kube");
    }
}
