//! `/servicePrincipals`: managed identities (as Entra lists them), the bootstrap principal,
//! and applications' service principals (`az ad sp show|list|create|delete`, and the
//! name resolution of `az role assignment create --assignee` and `az keyvault set-policy`).

use super::error::GraphError;
use super::odata::{entity_context, select, GraphJson, ListQuery};
use super::render;
use super::Authorized;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use wid_core::graph_filter::Shape;
use wid_core::model::AppServicePrincipal;

const FILTERABLE: &[(&str, Shape)] = &[
    ("id", Shape::Single),
    ("appId", Shape::Single),
    ("displayName", Shape::Single),
    ("servicePrincipalType", Shape::Single),
    ("servicePrincipalNames", Shape::Collection),
    ("alternativeNames", Shape::Collection),
];

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let items = render::all_service_principals(&state, &auth.caller.tenant_id).await?;
    Ok(Json(q.page(
        &state,
        "servicePrincipals",
        FILTERABLE,
        items,
    )?))
}

/// By object id only, as Graph: a client id finds nothing here (az resolves client ids
/// with `$filter=servicePrincipalNames/any(…)`).
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let sp = render::service_principal(&state, &auth.caller.tenant_id, &id)
        .await?
        .ok_or_else(|| GraphError::not_found(&id))?;
    let mut body = select(sp, q.select_of());
    body["@odata.context"] = entity_context(&state, "servicePrincipals").into();
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewServicePrincipal {
    app_id: Option<String>,
}

/// `az ad sp create --id APPID`: the service principal of an application of the tenant.
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    GraphJson(body): GraphJson<NewServicePrincipal>,
) -> Result<Response, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let app_id = body
        .app_id
        .ok_or_else(|| GraphError::bad_request("Property 'appId' is required."))?;
    let app = state
        .store
        .application_by_app_id(&app_id)
        .await?
        .filter(|a| &a.tenant_id == tenant)
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "The appId '{app_id}' of the service principal does not reference a valid application object."
            ))
        })?;
    let sp = AppServicePrincipal {
        object_id: wid_core::ids::random_uuid().to_string(),
        tenant_id: tenant.clone(),
        app_id: app.app_id.clone(),
        display_name: app.display_name.clone(),
        created_at: state.now(),
    };
    state
        .store
        .insert_app_service_principal(&sp)
        .await
        .map_err(|e| match e {
            wid_store::StoreError::Conflict(_) => GraphError::same_key(format!(
                "The service principal cannot be created, updated, or restored because the service principal name {} is already in use.",
                app.app_id
            )),
            other => other.into(),
        })?;
    let mut body = render::app_sp(&sp, Some(&app));
    body["@odata.context"] = entity_context(&state, "servicePrincipals").into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Deletes an application's service principal. Managed identities' principals go with
/// their identity, and the bootstrap principal with the installation.
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    let tenant = &auth.caller.tenant_id;
    if state
        .store
        .delete_app_service_principal(tenant, &id)
        .await?
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    match render::service_principal(&state, tenant, &id).await? {
        Some(_) => Err(GraphError::bad_request(
            "This service principal is managed by its managed identity or by the installation and cannot be deleted here.",
        )),
        None => Err(GraphError::not_found(&id)),
    }
}
