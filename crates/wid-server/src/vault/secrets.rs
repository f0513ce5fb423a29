//! Secrets (`/secrets/...`, `/deletedsecrets/...`): versions sealed under the vault's data
//! key, soft delete and purge protection, backup and restore.

use super::auth::{OpenVault, VaultCaller};
use super::error::VaultError;
use super::versioned::{self, At, Versioned};
use super::{base_url, parse_json, route, Route, DAY};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};
use wid_core::model::{Secret, SecretVersion};
use wid_core::vault_access::SecretOp;
use wid_core::vault_secret::{self, NewVersion, SecretWriteError, VersionUpdate};
use wid_types::keyvault::{SecretRestoreParameters, SecretSetParameters, SecretUpdateParameters};

/// Every secrets route with the operation its guard checks on the secret it captures
/// (`{name}`), or on the vault for routes that name none.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/secrets",
            SecretOp::List,
            versioned::list::<Secret>,
        ),
        route(Method::POST, "/secrets/restore", SecretOp::Restore, restore),
        route(Method::GET, "/secrets/{name}", SecretOp::Get, show),
        route(Method::PUT, "/secrets/{name}", SecretOp::Set, set),
        route(Method::DELETE, "/secrets/{name}", SecretOp::Delete, remove),
        route(Method::GET, "/secrets/{name}/", SecretOp::Get, show),
        route(Method::PATCH, "/secrets/{name}/", SecretOp::Update, update),
        route(
            Method::GET,
            "/secrets/{name}/versions",
            SecretOp::List,
            versioned::list_versions::<Secret>,
        ),
        route(
            Method::POST,
            "/secrets/{name}/backup",
            SecretOp::Backup,
            backup,
        ),
        route(
            Method::GET,
            "/secrets/{name}/{version}",
            SecretOp::Get,
            show,
        ),
        route(
            Method::PATCH,
            "/secrets/{name}/{version}",
            SecretOp::Update,
            update,
        ),
        route(
            Method::GET,
            "/deletedsecrets",
            SecretOp::ListDeleted,
            versioned::list_deleted::<Secret>,
        ),
        route(
            Method::GET,
            "/deletedsecrets/{name}",
            SecretOp::GetDeleted,
            versioned::show_deleted::<Secret>,
        ),
        route(
            Method::DELETE,
            "/deletedsecrets/{name}",
            SecretOp::Purge,
            versioned::purge::<Secret>,
        ),
        route(
            Method::POST,
            "/deletedsecrets/{name}/recover",
            SecretOp::Recover,
            versioned::recover::<Secret>,
        ),
    ]
}

fn check_name(name: &str) -> Result<(), VaultError> {
    wid_core::names::secret(name).map_err(|e| VaultError::bad_parameter(e.to_string()))
}

/// A secret as Key Vault shows it; `value` only where the operation returns it.
fn bundle(
    state: &AppState,
    open: &OpenVault,
    s: &Secret,
    value: Option<&str>,
    with_version: bool,
) -> Value {
    let base = base_url(state, &open.vault.name);
    let v = &s.version;
    let mut attributes = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": vault_secret::recovery_level(&open.vault.settings),
        "recoverableDays": open.vault.settings.soft_delete_retention_in_days,
    });
    if let Some(nbf) = v.nbf {
        attributes["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        attributes["exp"] = json!(exp);
    }
    let id = if with_version {
        format!("{base}/secrets/{}/{}", s.name, v.version)
    } else {
        format!("{base}/secrets/{}", s.name)
    };
    let mut out = json!({"id": id, "attributes": attributes});
    if let Some(value) = value {
        out["value"] = json!(value);
    }
    if let Some(ct) = &v.content_type {
        out["contentType"] = json!(ct);
    }
    if !v.tags.is_empty() {
        out["tags"] = json!(v.tags);
    }
    if v.managed {
        out["kid"] = json!(format!("{base}/keys/{}/{}", s.name, v.version));
        out["managed"] = json!(true);
    }
    if let Some(deleted) = s.deleted_at {
        out["recoveryId"] = json!(format!("{base}/deletedsecrets/{}", s.name));
        out["deletedDate"] = json!(deleted);
        out["scheduledPurgeDate"] = json!(s.scheduled_purge_at);
    }
    out
}

/// Refuses `operation` on a secret that backs a certificate: only the certificate changes it.
async fn unmanaged(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    operation: &str,
) -> Result<(), VaultError> {
    match state.store.secret(&open.vault.name, name, None).await? {
        Some(s) if s.version.managed => Err(VaultError::secret_managed(operation)),
        _ => Ok(()),
    }
}

fn open_value(open: &OpenVault, s: &Secret) -> Result<String, VaultError> {
    let plain = vault_secret::open_value(&open.data_key, &open.vault.name, s).map_err(|e| {
        tracing::error!(error = %e, "a secret value does not open");
        VaultError::internal()
    })?;
    String::from_utf8(plain.to_vec()).map_err(|_| VaultError::internal())
}

async fn set(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    check_name(&name)?;
    let body: SecretSetParameters = parse_json(&body)?;
    let open = caller.open()?;
    unmanaged(&state, open, &name, "set").await?;
    let attributes = body.attributes.unwrap_or_default();
    let new = NewVersion {
        value: &body.value.0,
        content_type: body.content_type,
        tags: body.tags.unwrap_or_default(),
        enabled: attributes.enabled,
        nbf: attributes.nbf,
        exp: attributes.exp,
    };
    let record =
        vault_secret::seal_new_version(&open.data_key, &open.vault.name, &name, new, state.now())
            .map_err(|e| match e {
            SecretWriteError::TooLarge(_) => VaultError::bad_parameter(e.to_string()),
            SecretWriteError::Seal(_) => VaultError::internal(),
        })?;
    let stored = match state
        .store
        .add_secret_version(&open.vault.name, &name, &record)
        .await
    {
        Err(wid_store::StoreError::SecretDeleted) => {
            return Err(VaultError::deleted_but_recoverable("Secret", &name))
        }
        other => other?,
    };
    Ok(Json(bundle(
        &state,
        open,
        &stored,
        Some(&body.value.0),
        true,
    )))
}

/// A live version, readable unless disabled: Key Vault serves `get` outside a secret's
/// nbf/exp window (its documented date-time behaviour), leaving the dates to the reader.
async fn readable(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    version: Option<&str>,
) -> Result<(Secret, String), VaultError> {
    let secret: Secret = versioned::live(state, open, name, version).await?;
    if !secret.version.enabled {
        return Err(VaultError::forbidden(
            "SecretDisabled",
            "Operation get is not allowed on a disabled secret.",
        ));
    }
    let value = open_value(open, &secret)?;
    Ok((secret, value))
}

async fn show(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let (secret, value) = readable(&state, open, &at.name, at.version()).await?;
    Ok(Json(bundle(&state, open, &secret, Some(&value), true)))
}

async fn update(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: SecretUpdateParameters = parse_json(&body)?;
    let open = caller.open()?;
    let name = &at.name;
    let mut secret: Secret = versioned::live(&state, open, name, at.version()).await?;
    if secret.version.managed {
        return Err(VaultError::secret_managed("update"));
    }
    let v = &mut secret.version;
    let a = body.attributes.unwrap_or_default();
    let change = VersionUpdate {
        content_type: body.content_type,
        tags: body.tags,
        enabled: a.enabled,
        nbf: a.nbf,
        exp: a.exp,
    };
    vault_secret::apply_update(v, change, state.now());
    state
        .store
        .update_secret_version(&open.vault.name, name, v)
        .await?;
    Ok(Json(bundle(&state, open, &secret, None, true)))
}

async fn remove(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    unmanaged(&state, open, &name, "delete").await?;
    let now = state.now();
    let purge_at = now + open.vault.settings.soft_delete_retention_in_days * DAY;
    if !state
        .store
        .delete_secret(&open.vault.name, &name, now, purge_at)
        .await?
    {
        return Err(VaultError::secret_not_found(&name));
    }
    let secret: Secret = versioned::deleted(&state, open, &name).await?;
    Ok(Json(bundle(&state, open, &secret, None, true)))
}

const BACKUP_PURPOSE: &str = "secret-backup";

/// A backup holds every version, sealed with the key-encryption key: it restores into any
/// vault of this installation, and is opaque to whoever holds the blob.
async fn backup(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let versions = state.store.secret_versions(&open.vault.name, &name).await?;
    let Some(first) = versions.first() else {
        return Err(VaultError::secret_not_found(&name));
    };
    let mut items = Vec::with_capacity(versions.len());
    for s in &versions {
        let v = &s.version;
        items.push(json!({
            "version": v.version, "value": open_value(open, s)?, "contentType": v.content_type,
            "tags": v.tags, "enabled": v.enabled, "nbf": v.nbf, "exp": v.exp,
            "created": v.created, "updated": v.updated,
        }));
    }
    let plain = serde_json::to_vec(&json!({"name": first.name, "versions": items}))
        .map_err(|_| VaultError::internal())?;
    let sealed = state
        .kek
        .seal(&plain, BACKUP_PURPOSE)
        .map_err(|_| VaultError::internal())?;
    Ok(Json(
        json!({"value": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)}),
    ))
}

async fn restore(
    State(state): State<AppState>,
    caller: VaultCaller,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let blob: SecretRestoreParameters = parse_json(&body)?;
    let bad = || {
        VaultError::bad_parameter("The backup blob is invalid or was made by another installation.")
    };
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(blob.value.trim_end_matches('='))
        .map_err(|_| bad())?;
    let plain = state.kek.open(&sealed, BACKUP_PURPOSE).map_err(|_| bad())?;
    let backup: Map<String, Value> = serde_json::from_slice(&plain).map_err(|_| bad())?;
    let name = backup
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_owned();
    let open = caller.open()?;
    match state.store.secret(&open.vault.name, &name, None).await? {
        Some(s) if s.deleted_at.is_some() => return Err(VaultError::deleted_but_recoverable("Secret", &name)),
        Some(_) => return Err(VaultError::conflict(format!("Secret {name} already exists in this vault; restore only creates secrets that do not exist."))),
        None => {}
    }
    let mut last = None;
    for item in backup
        .get("versions")
        .and_then(Value::as_array)
        .ok_or_else(bad)?
    {
        let field = |k: &str| item.get(k).cloned().unwrap_or(Value::Null);
        let version = field("version").as_str().ok_or_else(bad)?.to_owned();
        let value = field("value").as_str().ok_or_else(bad)?.to_owned();
        let record = SecretVersion {
            sealed_value: open
                .data_key
                .seal(
                    value.as_bytes(),
                    &vault_secret::value_purpose(&open.vault.name, &name, &version),
                )
                .map_err(|_| VaultError::internal())?,
            version,
            content_type: field("contentType").as_str().map(str::to_owned),
            tags: serde_json::from_value(field("tags")).unwrap_or_default(),
            enabled: field("enabled").as_bool().unwrap_or(true),
            nbf: field("nbf").as_i64(),
            exp: field("exp").as_i64(),
            created: field("created").as_i64().unwrap_or_default(),
            updated: field("updated").as_i64().unwrap_or_default(),
            managed: false,
        };
        last = Some(
            state
                .store
                .add_secret_version(&open.vault.name, &name, &record)
                .await?,
        );
    }
    let secret = last.ok_or_else(bad)?;
    Ok(Json(bundle(&state, open, &secret, None, true)))
}

impl Versioned for Secret {
    const PATH: &'static str = "/secrets";
    const DELETED_PATH: &'static str = "/deletedsecrets";
    const NOUN: &'static str = "Secret";

    fn not_found(name: &str) -> VaultError {
        VaultError::secret_not_found(name)
    }

    fn deleted_not_found(name: &str) -> VaultError {
        VaultError::deleted_secret_not_found(name)
    }

    fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    async fn load(
        state: &AppState,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<Self>, VaultError> {
        Ok(state.store.secret(vault, name, version).await?)
    }

    async fn load_all(
        state: &AppState,
        vault: &str,
        deleted: bool,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.secrets(vault, deleted).await?)
    }

    async fn load_versions(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.secret_versions(vault, name).await?)
    }

    async fn recover_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
        state.store.recover_secret(vault, name).await?;
        Ok(())
    }

    async fn purge_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
        state.store.purge_secret(vault, name).await?;
        Ok(())
    }

    fn item(
        &self,
        state: &AppState,
        open: &OpenVault,
        with_version: bool,
    ) -> Result<Value, VaultError> {
        Ok(bundle(state, open, self, None, with_version))
    }

    fn bundle(&self, state: &AppState, open: &OpenVault) -> Result<Value, VaultError> {
        Ok(bundle(state, open, self, None, true))
    }
}
