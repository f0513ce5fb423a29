//! The slice of Microsoft Graph the CLI needs to resolve principals (`az ad sp show`,
//! `--assignee`, `--spn`): service principals by object id or application id. It accepts
//! the management plane's tokens, so wid needs no second audience for it.
//!
//! Reading the directory takes a directory role, as in Entra, where managed identities get
//! none by default: without it, a workload could map any client id to the identity's ARM id.
//! The installation's service principals (the bootstrap admin) hold it; any principal may
//! read itself.

use crate::arm::error::ArmError;
use crate::arm::Caller;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// A Graph caller, and whether it holds a directory role that reads every object.
struct GraphCaller {
    caller: Caller,
    directory_reader: bool,
}

impl FromRequestParts<AppState> for GraphCaller {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ArmError> {
        let caller = crate::arm::auth::bearer_caller(state, &parts.headers)?;
        let directory_reader = state
            .store
            .service_principal_by_object_id(&caller.tenant_id, &caller.object_id)
            .await?
            .is_some();
        Ok(Self {
            caller,
            directory_reader,
        })
    }
}

/// Whether the caller may look `id` up: with a directory role, anything; without, only
/// itself, by object id or application id.
fn may_read(caller: &GraphCaller, id: &str) -> bool {
    caller.directory_reader
        || caller.caller.object_id.eq_ignore_ascii_case(id)
        || caller.caller.app_id.eq_ignore_ascii_case(id)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1.0/servicePrincipals/{id}", get(service_principal))
}

/// `{id}` is an object id or, as `az ad sp show --id` accepts, an application (client) id.
async fn service_principal(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ArmError> {
    // Refused before any lookup, so a refusal says nothing about whether `id` exists.
    if !may_read(&caller, &id) {
        return Err(ArmError::code(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    let tenant = &caller.caller.tenant_id;
    let identity = match state.store.identity_by_principal_id(&id).await? {
        Some(mi) => Some(mi),
        None => state.store.identity_by_client_id(&id).await?,
    };
    if let Some(mi) = identity.filter(|mi| &mi.tenant_id == tenant) {
        return Ok(Json(json!({
            "id": mi.principal_id,
            "appId": mi.client_id,
            "displayName": mi.name,
            "servicePrincipalType": "ManagedIdentity",
            "alternativeNames": [
                "isExplicit=True",
                wid_core::resource_id::identity(&mi.subscription_id, &mi.resource_group, &mi.name),
            ],
            "appOwnerOrganizationId": tenant,
        })));
    }
    let sp = match state
        .store
        .service_principal_by_object_id(tenant, &id)
        .await?
    {
        Some(sp) => Some(sp),
        None => state.store.service_principal_by_app_id(tenant, &id).await?,
    };
    match sp {
        Some(sp) => Ok(Json(json!({
            "id": sp.object_id,
            "appId": sp.app_id,
            "displayName": sp.display_name,
            "servicePrincipalType": "Application",
            "appOwnerOrganizationId": tenant,
        }))),
        None => Err(ArmError::code(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(directory_reader: bool) -> GraphCaller {
        GraphCaller {
            caller: Caller {
                tenant_id: "t".into(),
                object_id: "0B0B0B0B-0000-4000-8000-000000000001".into(),
                app_id: "a1a1a1a1-0000-4000-8000-000000000002".into(),
            },
            directory_reader,
        }
    }

    #[test]
    fn only_a_directory_role_reads_others() {
        let other = "c0c0c0c0-0000-4000-8000-000000000003";
        let cases = [
            (false, "0b0b0b0b-0000-4000-8000-000000000001", true),
            (false, "A1A1A1A1-0000-4000-8000-000000000002", true),
            (false, other, false),
            (false, "", false),
            (true, other, true),
        ];
        for (reader, id, allowed) in cases {
            assert_eq!(may_read(&caller(reader), id), allowed, "{reader} {id}");
        }
    }
}
