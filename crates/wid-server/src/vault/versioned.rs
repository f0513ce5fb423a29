//! What the versioned collections of a vault (secrets, keys, certificates) serve alike:
//! listings of live and deleted objects and of an object's versions, paged; a deleted
//! object's read, recovery and purge (purge protection refuses); and the object, or one of
//! its versions, that a path names. Each collection says how it stores and shows its objects
//! by implementing [`Versioned`]; the handlers here serve all three the same way.

use super::auth::{OpenVault, VaultCaller};
use super::error::VaultError;
use super::{page, Paging};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::future::Future;

/// An object's name and, on a versioned path, its version. An empty version segment
/// (`/secrets/{name}/`, `/keys/{name}//sign`) names the newest version, as no segment does.
#[derive(Deserialize)]
pub(super) struct At {
    pub name: String,
    version: Option<String>,
}

impl At {
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref().filter(|v| !v.is_empty())
    }
}

/// A versioned collection: how its objects are stored and how Key Vault shows them.
pub(super) trait Versioned: Sized + Send + Sync + 'static {
    /// The collection's path (`/secrets`) and its deleted objects' (`/deletedsecrets`).
    const PATH: &'static str;
    const DELETED_PATH: &'static str;
    /// How Key Vault names an object of the collection when purge protection refuses.
    const NOUN: &'static str;

    fn not_found(name: &str) -> VaultError;
    fn deleted_not_found(name: &str) -> VaultError;
    fn is_deleted(&self) -> bool;

    /// The object at `version` (its newest without one), deleted or not.
    fn load(
        state: &AppState,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> impl Future<Output = Result<Option<Self>, VaultError>> + Send;

    /// The newest version of every live (or, with `deleted`, soft-deleted) object.
    fn load_all(
        state: &AppState,
        vault: &str,
        deleted: bool,
    ) -> impl Future<Output = Result<Vec<Self>, VaultError>> + Send;

    /// Every version of a live object.
    fn load_versions(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> impl Future<Output = Result<Vec<Self>, VaultError>> + Send;

    /// Brings a soft-deleted object back, with what is deleted with it.
    fn recover_stored(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// Removes a soft-deleted object for good, with what is deleted with it.
    fn purge_stored(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// The object in a listing; with `with_version` its id names its version, as in a list
    /// of versions.
    fn item(
        &self,
        state: &AppState,
        open: &OpenVault,
        with_version: bool,
    ) -> Result<Value, VaultError>;

    /// The object as a get, a delete or a recovery answers with it.
    fn bundle(&self, state: &AppState, open: &OpenVault) -> Result<Value, VaultError>;
}

/// A live object, at `version` or its newest (an empty version segment is already `None`:
/// [`At::version`]).
pub(super) async fn live<C: Versioned>(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    version: Option<&str>,
) -> Result<C, VaultError> {
    C::load(state, &open.vault.name, name, version)
        .await?
        .filter(|o| !o.is_deleted())
        .ok_or_else(|| C::not_found(name))
}

/// A soft-deleted object.
pub(super) async fn deleted<C: Versioned>(
    state: &AppState,
    open: &OpenVault,
    name: &str,
) -> Result<C, VaultError> {
    C::load(state, &open.vault.name, name, None)
        .await?
        .filter(C::is_deleted)
        .ok_or_else(|| C::deleted_not_found(name))
}

pub(super) async fn list<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, VaultError> {
    listing::<C>(&state, &caller, &paging, false).await
}

pub(super) async fn list_deleted<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, VaultError> {
    listing::<C>(&state, &caller, &paging, true).await
}

async fn listing<C: Versioned>(
    state: &AppState,
    caller: &VaultCaller,
    paging: &Paging,
    deleted: bool,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let items = C::load_all(state, &open.vault.name, deleted)
        .await?
        .iter()
        .map(|o| o.item(state, open, false))
        .collect::<Result<_, _>>()?;
    let path = if deleted { C::DELETED_PATH } else { C::PATH };
    page(state, open, path, paging, items)
}

pub(super) async fn list_versions<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let versions = C::load_versions(&state, &open.vault.name, &name).await?;
    if versions.is_empty() {
        return Err(C::not_found(&name));
    }
    let items = versions
        .iter()
        .map(|o| o.item(&state, open, true))
        .collect::<Result<_, _>>()?;
    let path = format!("{}/{name}/versions", C::PATH);
    page(&state, open, &path, &paging, items)
}

pub(super) async fn show_deleted<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let o = deleted::<C>(&state, open, &name).await?;
    Ok(Json(o.bundle(&state, open)?))
}

pub(super) async fn recover<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    deleted::<C>(&state, open, &name).await?;
    C::recover_stored(&state, &open.vault.name, &name).await?;
    let o = live::<C>(&state, open, &name, None).await?;
    Ok(Json(o.bundle(&state, open)?))
}

/// Purge protection keeps deleted objects until their scheduled purge date.
pub(super) async fn purge<C: Versioned>(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, VaultError> {
    let open = caller.open()?;
    deleted::<C>(&state, open, &name).await?;
    if open.vault.settings.enable_purge_protection {
        return Err(VaultError::forbidden(
            "ForbiddenByPolicy",
            format!("Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed. {}: {name}", C::NOUN),
        ));
    }
    C::purge_stored(&state, &open.vault.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
