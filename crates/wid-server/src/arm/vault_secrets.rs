//! The ARM child resource `…/vaults/{vault}/secrets/{name}`: what Bicep, Terraform and
//! azure-mgmt-keyvault's `secrets.create_or_update` write. Authorized by management actions
//! (`Microsoft.KeyVault/vaults/secrets/write`, `…/read`) at the route's guard, so a Key Vault
//! Contributor may set a value here that only data-plane roles may read back. Values go into
//! the data plane's store, sealed under the vault's data key, one version per write; ARM
//! never returns them.

use super::auth::Caller;
use super::error::ArmError;
use super::request::{ArmJson, ArmQuery};
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::model::{Secret, Vault};
use wid_core::resource_id;
use wid_core::seal::Kek;
use wid_core::vault_secret::{self, NewVersion, SecretWriteError, VersionUpdate};
use wid_store::StoreError;
use wid_types::arm::Page;
use wid_types::resources as wire;

const SECRET_TYPE: &str = "Microsoft.KeyVault/vaults/secrets";
const CHILD_TYPE: &str = "vaults/secrets";
/// Page size when the client gives no `$top`, Key Vault's own.
const DEFAULT_PAGE: usize = 25;

/// The live vault the path names, with its data key: a missing one is
/// `ParentResourceNotFound` (or `ResourceGroupNotFound` when the group is missing too).
async fn parent(
    state: &AppState,
    caller: &Caller,
    sub: &str,
    rg: &str,
    name: &str,
    action: &str,
) -> Result<(Vault, Kek), ArmError> {
    let sub = super::subscription(state, caller, sub)?;
    match state.store.vault(name).await? {
        Some(v)
            if v.deleted_at.is_none()
                && v.subscription_id.eq_ignore_ascii_case(sub)
                && v.resource_group.eq_ignore_ascii_case(rg) =>
        {
            let key = crate::vault::open_data_key(state, &v).map_err(|_| ArmError::internal())?;
            Ok((v, key))
        }
        _ => match state.store.resource_group(sub, rg).await? {
            None => Err(ArmError::resource_group_not_found(rg)),
            Some(_) => Err(ArmError::parent_not_found(
                action,
                CHILD_TYPE,
                &resource_id::vault(sub, rg, name),
            )),
        },
    }
}

fn render(state: &AppState, vault: &Vault, s: &Secret) -> wire::SecretResource {
    let uri = format!(
        "{}secrets/{}",
        crate::arm::vault_uri(state, &vault.name),
        s.name
    );
    let v = &s.version;
    wire::SecretResource {
        id: format!(
            "{}/secrets/{}",
            resource_id::vault(&vault.subscription_id, &vault.resource_group, &vault.name),
            s.name
        ),
        name: s.name.clone(),
        kind: SECRET_TYPE.to_owned(),
        location: vault.location.clone(),
        tags: v.tags.clone(),
        properties: wire::SecretResourceView {
            content_type: v.content_type.clone(),
            attributes: wire::SecretResourceAttributes {
                enabled: v.enabled,
                nbf: v.nbf,
                exp: v.exp,
                created: v.created,
                updated: v.updated,
            },
            secret_uri_with_version: format!("{uri}/{}", v.version),
            secret_uri: uri,
        },
    }
}

fn not_found(rg: &str, vault: &str, name: &str) -> ArmError {
    ArmError::resource_not_found(SECRET_TYPE, &format!("{vault}/{name}"), rg)
}

/// Key Vault's answer when a deleted secret's name is written: recover or purge it first.
fn deleted_but_recoverable(name: &str) -> ArmError {
    ArmError::conflict(format!("Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."))
}

async fn write_version(
    state: &AppState,
    vault: &Vault,
    key: &Kek,
    name: &str,
    new: NewVersion<'_>,
) -> Result<Secret, ArmError> {
    let record =
        vault_secret::seal_new_version(key, &vault.name, name, new, state.now()).map_err(|e| {
            match e {
                SecretWriteError::TooLarge(_) => ArmError::bad_request(e.to_string()),
                SecretWriteError::Seal(_) => ArmError::internal(),
            }
        })?;
    match state
        .store
        .add_secret_version(&vault.name, name, &record)
        .await
    {
        Err(StoreError::SecretDeleted) => Err(deleted_but_recoverable(name)),
        other => Ok(other?),
    }
}

/// A new version on every PUT: `201` when the secret is new, `200` when it had versions.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, vault, name)): Path<(String, String, String, String)>,
    ArmJson(body): ArmJson<wire::SecretResourceInput>,
) -> Result<Response, ArmError> {
    wid_core::names::secret(&name)?;
    let props = body
        .properties
        .ok_or_else(|| ArmError::bad_request("The property 'properties' is required."))?;
    let value = props
        .value
        .ok_or_else(|| ArmError::bad_request("The property 'properties.value' is required."))?;
    let (v, key) = parent(&state, &caller, &sub, &rg, &vault, "write").await?;
    let existing = state.store.secret(&v.name, &name, None).await?;
    if existing.as_ref().is_some_and(|s| s.deleted_at.is_some()) {
        return Err(deleted_but_recoverable(&name));
    }
    let attributes = props.attributes.unwrap_or_default();
    let new = NewVersion {
        value: &value.0,
        content_type: props.content_type,
        tags: body.tags.unwrap_or_default(),
        enabled: attributes.enabled,
        nbf: attributes.nbf,
        exp: attributes.exp,
    };
    let stored = write_version(&state, &v, &key, &name, new).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(render(&state, &v, &stored))).into_response())
}

/// Changes what the body names: a `value` makes a new version that keeps the current
/// version's metadata unless the body changes it; without one, the current version's
/// metadata changes in place.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, vault, name)): Path<(String, String, String, String)>,
    ArmJson(body): ArmJson<wire::SecretResourceInput>,
) -> Result<Json<wire::SecretResource>, ArmError> {
    wid_core::names::secret(&name)?;
    let (v, key) = parent(&state, &caller, &sub, &rg, &vault, "write").await?;
    let mut current = match state.store.secret(&v.name, &name, None).await? {
        Some(s) if s.deleted_at.is_some() => return Err(deleted_but_recoverable(&name)),
        Some(s) => s,
        None => return Err(not_found(&rg, &v.name, &name)),
    };
    let props = body.properties.unwrap_or_default();
    let attributes = props.attributes.unwrap_or_default();
    let stored = match props.value {
        Some(value) => {
            let was = &current.version;
            let new = NewVersion {
                value: &value.0,
                content_type: props.content_type.or_else(|| was.content_type.clone()),
                tags: body.tags.unwrap_or_else(|| was.tags.clone()),
                enabled: Some(attributes.enabled.unwrap_or(was.enabled)),
                nbf: attributes.nbf.or(was.nbf),
                exp: attributes.exp.or(was.exp),
            };
            write_version(&state, &v, &key, &name, new).await?
        }
        None => {
            let change = VersionUpdate {
                content_type: props.content_type,
                tags: body.tags,
                enabled: attributes.enabled,
                nbf: attributes.nbf,
                exp: attributes.exp,
            };
            vault_secret::apply_update(&mut current.version, change, state.now());
            state
                .store
                .update_secret_version(&v.name, &name, &current.version)
                .await?;
            current
        }
    };
    Ok(Json(render(&state, &v, &stored)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, vault, name)): Path<(String, String, String, String)>,
) -> Result<Json<wire::SecretResource>, ArmError> {
    let (v, _) = parent(&state, &caller, &sub, &rg, &vault, "read").await?;
    match state.store.secret(&v.name, &name, None).await? {
        Some(s) if s.deleted_at.is_none() => Ok(Json(render(&state, &v, &s))),
        _ => Err(not_found(&rg, &v.name, &name)),
    }
}

/// The newest version of each live secret, by name; `$skiptoken` is the lower-cased name of
/// the last secret of the page before.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    OriginalUri(uri): OriginalUri,
    Path((sub, rg, vault)): Path<(String, String, String)>,
) -> Result<Json<Page<wire::SecretResource>>, ArmError> {
    let limit = query.top()?.unwrap_or(DEFAULT_PAGE);
    let (v, _) = parent(&state, &caller, &sub, &rg, &vault, "read").await?;
    let after = query.get("$skiptoken").map(str::to_ascii_lowercase);
    let secrets = state.store.secrets(&v.name, false).await?;
    let mut rest = secrets.iter().filter(|s| {
        after
            .as_ref()
            .is_none_or(|a| s.name.to_ascii_lowercase() > *a)
    });
    let chosen: Vec<&Secret> = rest.by_ref().take(limit).collect();
    let next_link = match (rest.next(), chosen.last()) {
        (Some(_), Some(last)) => Some(super::next_link(
            &state,
            uri.path(),
            &query,
            limit,
            &last.name.to_ascii_lowercase(),
            &[],
        )?),
        _ => None,
    };
    let value = chosen.into_iter().map(|s| render(&state, &v, s)).collect();
    Ok(Json(Page { value, next_link }))
}
