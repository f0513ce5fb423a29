//! The slice of Microsoft Graph the CLI needs to resolve principals (`az ad sp show`,
//! `--assignee`, `--spn`): service principals by object id or application id. It accepts
//! the management plane's tokens, so wid needs no second audience for it.

use crate::arm::error::ArmError;
use crate::arm::Caller;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1.0/servicePrincipals/{id}", get(service_principal))
}

/// `{id}` is an object id or, as `az ad sp show --id` accepts, an application (client) id.
async fn service_principal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ArmError> {
    let tenant = &caller.tenant_id;
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
            axum::http::StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )),
    }
}
