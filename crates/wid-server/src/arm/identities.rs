//! User-assigned managed identities (`az identity …`).

use super::auth::Caller;
use super::error::ArmError;
use super::render::{self, normalize_location};
use super::request::ArmJson;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::model::{Audit, IdentityKey, ManagedIdentity};
use wid_core::resource_id::IDENTITY_TYPE;
use wid_types::arm::Page;
use wid_types::resources as wire;

fn isolation_scope(
    input: Option<&wire::IdentityPropertiesInput>,
    current: &str,
) -> Result<String, ArmError> {
    match input.and_then(|p| p.isolation_scope.as_deref()) {
        None => Ok(current.to_owned()),
        Some(v) if v.eq_ignore_ascii_case("none") => Ok("None".to_owned()),
        Some(v) if v.eq_ignore_ascii_case("regional") => Ok("Regional".to_owned()),
        Some(v) => Err(ArmError::bad_request(format!(
            "The isolation scope '{v}' is invalid. Allowed values are 'None' and 'Regional'."
        ))),
    }
}

/// The 404 for a missing identity: ARM names the missing group when that is what's missing.
pub(super) async fn not_found(state: &AppState, sub: &str, rg: &str, name: &str) -> ArmError {
    match state.store.resource_group(sub, rg).await {
        Ok(None) => ArmError::resource_group_not_found(rg),
        Ok(Some(_)) => ArmError::resource_not_found(IDENTITY_TYPE, name, rg),
        Err(e) => e.into(),
    }
}

fn key(sub: &str, rg: String, name: String) -> IdentityKey {
    IdentityKey {
        subscription_id: sub.to_owned(),
        resource_group: rg,
        name,
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmJson(body): ArmJson<wire::IdentityCreate>,
) -> Result<Response, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    wid_core::names::identity(&name)?;
    let location = normalize_location(&body.location);
    if location.is_empty() {
        return Err(ArmError::location_required());
    }
    let now = state.now();
    let record = ManagedIdentity {
        subscription_id: sub.to_owned(),
        resource_group: rg.clone(),
        name,
        location,
        tags: body.tags.unwrap_or_default(),
        tenant_id: caller.tenant_id.clone(),
        client_id: wid_core::ids::random_uuid().to_string(),
        principal_id: wid_core::ids::random_uuid().to_string(),
        isolation_scope: isolation_scope(body.properties.as_ref(), "None")?,
        audit: Audit {
            created_by: caller.app_id.clone(),
            created_at: now,
            modified_by: caller.app_id,
            modified_at: now,
        },
    };
    let (stored, created) = match state.store.put_identity(&record).await {
        Err(wid_store::StoreError::ResourceGroupNotFound) => {
            return Err(ArmError::resource_group_not_found(&rg))
        }
        other => other?,
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(render::identity(&stored))).into_response())
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmJson(body): ArmJson<wire::IdentityPatch>,
) -> Result<Json<wire::Identity>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let key = key(sub, rg, name);
    let Some(mut current) = state.store.identity(&key).await? else {
        return Err(not_found(&state, sub, &key.resource_group, &key.name).await);
    };
    if let Some(tags) = body.tags {
        current.tags = tags;
    }
    current.isolation_scope = isolation_scope(body.properties.as_ref(), &current.isolation_scope)?;
    current.audit.modified_by = caller.app_id;
    current.audit.modified_at = state.now();
    let (stored, _) = state.store.put_identity(&current).await?;
    Ok(Json(render::identity(&stored)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<Json<wire::Identity>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let key = key(sub, rg, name);
    match state.store.identity(&key).await? {
        Some(found) => Ok(Json(render::identity(&found))),
        None => Err(not_found(&state, sub, &key.resource_group, &key.name).await),
    }
}

/// 200 when deleted, 204 when there was nothing to delete (as the MSI RP answers).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let deleted = match state
        .store
        .delete_identity(&key(sub, rg.clone(), name))
        .await
    {
        Err(wid_store::StoreError::ResourceGroupNotFound) => {
            return Err(ArmError::resource_group_not_found(&rg))
        }
        other => other?,
    };
    Ok(super::delete_status(deleted))
}

pub async fn list_in_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<Page<wire::Identity>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    if state.store.resource_group(sub, &rg).await?.is_none() {
        return Err(ArmError::resource_group_not_found(&rg));
    }
    let value = state
        .store
        .identities_in_group(sub, &rg)
        .await?
        .iter()
        .map(render::identity)
        .collect();
    Ok(Json(Page::complete(value)))
}

pub async fn list_in_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::Identity>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let value = state
        .store
        .identities_in_subscription(sub)
        .await?
        .iter()
        .map(render::identity)
        .collect();
    Ok(Json(Page::complete(value)))
}
