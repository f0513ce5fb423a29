//! Resource groups (`az group …`).

use super::auth::Caller;
use super::error::ArmError;
use super::render::{self, normalize_location};
use super::request::{ArmJson, ArmQuery};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::filter::Candidate;
use wid_core::model::{Audit, ResourceGroup};
use wid_types::arm::Page;
use wid_types::resources as wire;

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
    ArmJson(body): ArmJson<wire::ResourceGroupCreate>,
) -> Result<Response, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    wid_core::names::resource_group(&rg)?;
    let location = normalize_location(&body.location);
    if location.is_empty() {
        return Err(ArmError::location_required());
    }
    if let Some(existing) = state.store.resource_group(sub, &rg).await? {
        if existing.location != location {
            return Err(ArmError::invalid_resource_group_location(
                &existing.location,
                &location,
                &existing.name,
            ));
        }
    }
    let now = state.now();
    let record = ResourceGroup {
        subscription_id: sub.to_owned(),
        name: rg,
        location,
        tags: body.tags.unwrap_or_default(),
        managed_by: body.managed_by,
        audit: Audit {
            created_by: caller.app_id.clone(),
            created_at: now,
            modified_by: caller.app_id,
            modified_at: now,
        },
    };
    let (stored, created) = state.store.put_resource_group(&record).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(render::resource_group(&stored))).into_response())
}

/// `PATCH` (`az group update --tags`, the SDKs' `resource_groups.update`): tags given replace
/// the group's tags as a whole, as in ARM; location and name cannot change.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
    ArmJson(body): ArmJson<wire::ResourceGroupPatch>,
) -> Result<Json<wire::ResourceGroup>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let existing = state
        .store
        .resource_group(sub, &rg)
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(&rg))?;
    let record = ResourceGroup {
        tags: body.tags.unwrap_or_else(|| existing.tags.clone()),
        audit: Audit {
            modified_by: caller.app_id,
            modified_at: state.now(),
            ..existing.audit.clone()
        },
        ..existing
    };
    let (stored, _) = state.store.put_resource_group(&record).await?;
    Ok(Json(render::resource_group(&stored)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<wire::ResourceGroup>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let found = state
        .store
        .resource_group(sub, &rg)
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(&rg))?;
    Ok(Json(render::resource_group(&found)))
}

/// `HEAD`: 204 when the group exists, 404 otherwise (`az group exists`).
pub async fn exists(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<StatusCode, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    Ok(match state.store.resource_group(sub, &rg).await? {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    })
}

/// The groups of the subscription, with ARM's `$filter` (`tagName eq 'n' and tagValue eq
/// 'v'`, the form `az group list --tag` sends) parsed as for generic resources.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::ResourceGroup>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let filter = super::resources::parse_filter(&query)?;
    let value = state
        .store
        .resource_groups(sub)
        .await?
        .iter()
        .filter(|g| {
            filter.as_ref().is_none_or(|f| {
                f.matches(&Candidate {
                    resource_type: wid_core::resource_id::RESOURCE_GROUP_TYPE,
                    name: &g.name,
                    location: &g.location,
                    resource_group: &g.name,
                    tags: &g.tags,
                })
            })
        })
        .map(render::resource_group)
        .collect();
    Ok(Json(Page::complete(value)))
}

/// Deletes the group and everything in it. Completes before answering, so it answers 200
/// without a `Location`, which ARM clients read as a finished long-running operation.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<StatusCode, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    // Its vaults are soft-deleted, not lost: as in Azure they can still be recovered (into
    // a group of the same name) or purged.
    let now = state.now();
    for vault in state.store.vaults(sub, Some(&rg)).await? {
        let purge_at = now + vault.settings.soft_delete_retention_in_days * 86_400;
        state
            .store
            .soft_delete_vault(&vault.name, now, purge_at)
            .await?;
    }
    if state.store.delete_resource_group(sub, &rg).await? {
        Ok(StatusCode::OK)
    } else {
        Err(ArmError::resource_group_not_found(&rg))
    }
}
