//! Federated identity credentials of a user-assigned identity
//! (`az identity federated-credential …`).

use super::auth::Caller;
use super::error::ArmError;
use super::identities::not_found;
use super::render::{self, IdentityRef};
use super::request::{ArmJson, ArmQuery};
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::federation::{self, CredentialError};
use wid_core::model::{Audit, FederatedCredential, IdentityKey, ManagedIdentity};
use wid_core::resource_id::{self, CREDENTIAL_TYPE};
use wid_types::arm::Page;
use wid_types::resources as wire;

const CHILD_TYPE: &str = "userAssignedIdentities/federatedIdentityCredentials";
/// Page size when the client gives no `$top`: every credential fits (at most 20).
const DEFAULT_PAGE: usize = 100;

/// The parent identity, which must exist: a missing parent is `ParentResourceNotFound`.
async fn parent(
    state: &AppState,
    caller: &Caller,
    sub: &str,
    rg: String,
    name: String,
    action: &str,
) -> Result<(IdentityKey, ManagedIdentity), ArmError> {
    let sub = super::subscription(state, caller, sub)?;
    let key = IdentityKey {
        subscription_id: sub.to_owned(),
        resource_group: rg,
        name,
    };
    match state.store.identity(&key).await? {
        Some(mi) => Ok((key, mi)),
        None => {
            let id = resource_id::identity(sub, &key.resource_group, &key.name);
            match state.store.resource_group(sub, &key.resource_group).await? {
                None => Err(ArmError::resource_group_not_found(&key.resource_group)),
                Some(_) => Err(ArmError::parent_not_found(action, CHILD_TYPE, &id)),
            }
        }
    }
}

fn identity_ref(mi: &ManagedIdentity) -> IdentityRef<'_> {
    IdentityRef {
        subscription_id: &mi.subscription_id,
        resource_group: &mi.resource_group,
        name: &mi.name,
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name, fic)): Path<(String, String, String, String)>,
    ArmJson(body): ArmJson<wire::FederatedCredentialCreate>,
) -> Result<Response, ArmError> {
    wid_core::names::federated_credential(&fic)?;
    let props = body.properties.ok_or_else(|| {
        ArmError::bad_request(format!(
            "The federated identity credential '{fic}' has empty properties."
        ))
    })?;
    let issuer = props.issuer.ok_or(CredentialError::Missing("issuer"))?;
    let subject = props.subject.ok_or(CredentialError::Missing("subject"))?;
    let audiences = props.audiences.unwrap_or_default();
    federation::validate(&issuer, &subject, &audiences)?;
    let (key, mi) = parent(&state, &caller, &sub, rg, name, "write").await?;
    let now = state.now();
    let record = FederatedCredential {
        name: fic,
        issuer,
        subject,
        audiences,
        audit: Audit {
            created_by: caller.app_id.clone(),
            created_at: now,
            modified_by: caller.app_id,
            modified_at: now,
        },
    };
    let (stored, created) = match state.store.put_federated_credential(&key, &record).await {
        Err(wid_store::StoreError::IdentityNotFound) => {
            let id = resource_id::identity(&key.subscription_id, &key.resource_group, &key.name);
            return Err(ArmError::parent_not_found("write", CHILD_TYPE, &id));
        }
        other => other?,
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(render::credential(&identity_ref(&mi), &stored)),
    )
        .into_response())
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name, fic)): Path<(String, String, String, String)>,
) -> Result<Json<wire::FederatedCredential>, ArmError> {
    let (key, mi) = parent(&state, &caller, &sub, rg, name, "read").await?;
    let found = state
        .store
        .federated_credential(&key, &fic)
        .await?
        .ok_or_else(|| {
            ArmError::resource_not_found(
                CREDENTIAL_TYPE,
                &format!("{}/{fic}", mi.name),
                &mi.resource_group,
            )
        })?;
    Ok(Json(render::credential(&identity_ref(&mi), &found)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name, fic)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let key = IdentityKey {
        subscription_id: sub.to_owned(),
        resource_group: rg,
        name,
    };
    if state.store.identity(&key).await?.is_none() {
        return Err(not_found(&state, sub, &key.resource_group, &key.name).await);
    }
    let deleted = match state.store.delete_federated_credential(&key, &fic).await {
        Err(wid_store::StoreError::IdentityNotFound) => {
            return Err(not_found(&state, sub, &key.resource_group, &key.name).await)
        }
        other => other?,
    };
    Ok(super::delete_status(deleted))
}

/// Keyset paging: `$skiptoken` is the lower-cased name of the last credential returned, and
/// `nextLink` is absolute, as the SDKs follow it verbatim.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    OriginalUri(uri): OriginalUri,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<Json<Page<wire::FederatedCredential>>, ArmError> {
    let top = query.top()?;
    let limit = top.unwrap_or(DEFAULT_PAGE);
    let (key, mi) = parent(&state, &caller, &sub, rg, name, "read").await?;
    let after = query.get("$skiptoken");
    let mut page = match state
        .store
        .federated_credentials(&key, after, limit + 1)
        .await
    {
        Err(wid_store::StoreError::IdentityNotFound) => {
            let id = resource_id::identity(&key.subscription_id, &key.resource_group, &key.name);
            return Err(ArmError::parent_not_found("read", CHILD_TYPE, &id));
        }
        other => other?,
    };
    let more = page.len() > limit;
    page.truncate(limit);
    let next_link = match (more, page.last()) {
        (true, Some(last)) => Some(super::next_link(
            &state,
            uri.path(),
            &query,
            limit,
            &last.name.to_ascii_lowercase(),
            &[],
        )?),
        _ => None,
    };
    let value = page
        .iter()
        .map(|c| render::credential(&identity_ref(&mi), c))
        .collect();
    Ok(Json(Page { value, next_link }))
}
