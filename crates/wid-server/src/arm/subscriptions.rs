//! `GET /subscriptions`, `/subscriptions/{id}`, `/tenants` (what `az login` and `az account` read).

use super::auth::Caller;
use super::error::ArmError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use wid_core::model;
use wid_types::arm::Page;
use wid_types::resources as wire;

fn render(s: &model::Subscription) -> wire::Subscription {
    wire::Subscription {
        id: wid_core::resource_id::subscription(&s.id),
        subscription_id: s.id.clone(),
        tenant_id: s.tenant_id.clone(),
        display_name: s.display_name.clone(),
        state: "Enabled".to_owned(),
        subscription_policies: wire::SubscriptionPolicies {
            location_placement_id: "Public_2014-09-01".to_owned(),
            quota_id: "PayAsYouGo_2014-09-01".to_owned(),
            spending_limit: "Off".to_owned(),
        },
        authorization_source: "RoleBased".to_owned(),
        managed_by_tenants: vec![],
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<wire::Subscription>>, ArmError> {
    let value = state
        .store
        .subscriptions()
        .await?
        .iter()
        .filter(|s| s.tenant_id == caller.tenant_id)
        .map(render)
        .collect();
    Ok(Json(Page::complete(value)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<wire::Subscription>, ArmError> {
    super::subscription(&state, &caller, &sub)?;
    let found = state
        .store
        .subscription(&sub)
        .await?
        .ok_or_else(|| ArmError::subscription_not_found(&sub))?;
    Ok(Json(render(&found)))
}

pub async fn tenants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<wire::Tenant>>, ArmError> {
    let value = state
        .store
        .tenants()
        .await?
        .into_iter()
        .filter(|t| t.id == caller.tenant_id)
        .map(|t| wire::Tenant {
            id: format!("/tenants/{}", t.id),
            tenant_id: t.id,
            country_code: "US".to_owned(),
            display_name: t.display_name,
            domains: vec![t.default_domain.clone()],
            default_domain: t.default_domain,
            tenant_category: "Home".to_owned(),
            tenant_type: "AAD".to_owned(),
        })
        .collect();
    Ok(Json(Page::complete(value)))
}

/// Rotates the key-encryption key and re-seals everything under the new one (see
/// [`crate::keyring`]), without stopping the server.
pub async fn rotate_key_encryption_key(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    axum::extract::Path(sub): axum::extract::Path<String>,
) -> Result<axum::Json<serde_json::Value>, ArmError> {
    super::subscription(&state, &caller, &sub)?;
    let resealed = crate::keyring::rotate(&state.kek, &state.store, &state.config)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key-encryption key rotation failed");
            ArmError::bad_request(format!("The key-encryption key was not rotated: {e}"))
        })?;
    Ok(axum::Json(serde_json::json!({ "resealed": resealed })))
}
