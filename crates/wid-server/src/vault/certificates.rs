//! Certificates (`/certificates/...`, `/deletedcertificates/...`): self-signed issuance
//! and import under a Key Vault policy. A certificate's private key is the value of its
//! backing secret (same name, same version), sealed like every secret; the certificate rows
//! hold only the public DER.

use super::auth::{OpenVault, VaultCaller};
use super::error::VaultError;
use super::versioned::{self, At, Versioned};
use super::{base_url, blocking, page, parse_json, route, Paging, Route, DAY};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wid_core::model::{Certificate, CertificateOperation, CertificateVersion, KeyVersion, Tags};
use wid_core::vault_access::CertificateOp;
use wid_core::vault_certificate::{self as vc, CertificateError, Policy, PolicyIn};
use wid_core::vault_key;
use wid_core::vault_secret::{self, NewVersion};
use zeroize::Zeroizing;

/// Every certificates route with the operation its guard checks on the certificate it
/// captures (`{name}`), or on the vault for routes that name none.
pub(super) fn routes() -> Vec<Route> {
    use CertificateOp as Op;
    vec![
        route(Method::GET, "/certificates", Op::List, list),
        route(
            Method::GET,
            "/certificates/contacts",
            Op::ManageContacts,
            unsupported,
        ),
        route(
            Method::PUT,
            "/certificates/contacts",
            Op::ManageContacts,
            unsupported,
        ),
        route(
            Method::DELETE,
            "/certificates/contacts",
            Op::ManageContacts,
            unsupported,
        ),
        route(
            Method::GET,
            "/certificates/issuers",
            Op::GetIssuers,
            unsupported,
        ),
        route(
            Method::GET,
            "/certificates/issuers/{issuer}",
            Op::GetIssuers,
            unsupported,
        ),
        route(
            Method::PUT,
            "/certificates/issuers/{issuer}",
            Op::ManageIssuers,
            unsupported,
        ),
        route(
            Method::PATCH,
            "/certificates/issuers/{issuer}",
            Op::ManageIssuers,
            unsupported,
        ),
        route(
            Method::DELETE,
            "/certificates/issuers/{issuer}",
            Op::ManageIssuers,
            unsupported,
        ),
        route(Method::POST, "/certificates/restore", Op::Restore, restore),
        route(Method::GET, "/certificates/{name}", Op::Get, show),
        route(Method::DELETE, "/certificates/{name}", Op::Delete, remove),
        route(Method::GET, "/certificates/{name}/", Op::Get, show),
        route(Method::PATCH, "/certificates/{name}/", Op::Update, update),
        route(
            Method::POST,
            "/certificates/{name}/create",
            Op::Create,
            create,
        ),
        route(
            Method::POST,
            "/certificates/{name}/backup",
            Op::Backup,
            backup,
        ),
        route(
            Method::POST,
            "/certificates/{name}/import",
            Op::Import,
            import,
        ),
        route(
            Method::GET,
            "/certificates/{name}/pending",
            Op::GetOperation,
            show_operation,
        ),
        route(
            Method::PATCH,
            "/certificates/{name}/pending",
            Op::UpdateOperation,
            cancel_operation,
        ),
        route(
            Method::DELETE,
            "/certificates/{name}/pending",
            Op::DeleteOperation,
            delete_operation,
        ),
        route(
            Method::GET,
            "/certificates/{name}/policy",
            Op::Get,
            show_policy,
        ),
        route(
            Method::PATCH,
            "/certificates/{name}/policy",
            Op::Update,
            update_policy,
        ),
        route(
            Method::GET,
            "/certificates/{name}/versions",
            Op::List,
            versioned::list_versions::<Certificate>,
        ),
        route(Method::GET, "/certificates/{name}/{version}", Op::Get, show),
        route(
            Method::PATCH,
            "/certificates/{name}/{version}",
            Op::Update,
            update,
        ),
        route(
            Method::GET,
            "/deletedcertificates",
            Op::ListDeleted,
            versioned::list_deleted::<Certificate>,
        ),
        route(
            Method::GET,
            "/deletedcertificates/{name}",
            Op::GetDeleted,
            versioned::show_deleted::<Certificate>,
        ),
        route(
            Method::DELETE,
            "/deletedcertificates/{name}",
            Op::Purge,
            versioned::purge::<Certificate>,
        ),
        route(
            Method::POST,
            "/deletedcertificates/{name}/recover",
            Op::Recover,
            versioned::recover::<Certificate>,
        ),
    ]
}

/// Contacts and issuers configure Key Vault's certificate authorities and e-mail
/// notifications; wid issues self-signed certificates only and sends no mail.
async fn unsupported() -> VaultError {
    VaultError::not_supported(
        "Certificate contacts and issuers are not supported: wid issues self-signed certificates and imports certificates issued elsewhere.",
    )
}

fn check_name(name: &str) -> Result<(), VaultError> {
    wid_core::names::secret(name).map_err(|e| VaultError::bad_parameter(e.to_string()))
}

fn refused(e: CertificateError) -> VaultError {
    match e {
        CertificateError::Issue(_) => {
            tracing::error!(error = %e, "certificate issuance failed");
            VaultError::internal()
        }
        other => VaultError::bad_parameter(other.to_string()),
    }
}

fn stored_policy(c: &Certificate) -> Result<Policy, VaultError> {
    serde_json::from_str(&c.policy).map_err(|e| {
        tracing::error!(error = %e, "a stored certificate policy does not parse");
        VaultError::internal()
    })
}

fn policy_json(p: &Policy) -> Result<String, VaultError> {
    serde_json::to_string(p).map_err(|_| VaultError::internal())
}

/// The policy as Key Vault shows it: its REST shape with `id` and `attributes`.
fn policy_body(state: &AppState, open: &OpenVault, c: &Certificate) -> Result<Value, VaultError> {
    let p = stored_policy(c)?;
    let mut out = serde_json::to_value(&p).map_err(|_| VaultError::internal())?;
    if let Some(o) = out.as_object_mut() {
        o.remove("enabled");
    }
    out["id"] = json!(format!(
        "{}/certificates/{}/policy",
        base_url(state, &open.vault.name),
        c.name
    ));
    out["attributes"] =
        json!({"enabled": p.enabled, "created": c.policy_created, "updated": c.policy_updated});
    Ok(out)
}

/// A certificate as Key Vault shows it; `full` adds what a get returns beyond a list item
/// (`kid`, `sid`, `cer`, `policy`).
fn bundle(
    state: &AppState,
    open: &OpenVault,
    c: &Certificate,
    full: bool,
    with_version: bool,
) -> Result<Value, VaultError> {
    let base = base_url(state, &open.vault.name);
    let mut out = json!({});
    match &c.version {
        Some(v) => {
            let mut attributes = json!({
                "enabled": v.enabled, "created": v.created, "updated": v.updated,
                "recoveryLevel": vault_secret::recovery_level(&open.vault.settings),
                "recoverableDays": open.vault.settings.soft_delete_retention_in_days,
            });
            if let Some(nbf) = v.nbf {
                attributes["nbf"] = json!(nbf);
            }
            if let Some(exp) = v.exp {
                attributes["exp"] = json!(exp);
            }
            out["id"] = json!(if with_version {
                format!("{base}/certificates/{}/{}", c.name, v.version)
            } else {
                format!("{base}/certificates/{}", c.name)
            });
            out["x5t"] = json!(v.x5t);
            out["attributes"] = attributes;
            if !v.tags.is_empty() {
                out["tags"] = json!(v.tags);
            }
            if full {
                out["kid"] = json!(format!("{base}/keys/{}/{}", c.name, v.version));
                out["sid"] = json!(format!("{base}/secrets/{}/{}", c.name, v.version));
                out["cer"] = json!(base64::engine::general_purpose::STANDARD.encode(&v.der));
                out["contentType"] = json!(stored_policy(c)?.secret_props.content_type);
                out["policy"] = policy_body(state, open, c)?;
            }
        }
        None => {
            out["id"] = json!(format!("{base}/certificates/{}", c.name));
            out["attributes"] = json!({"enabled": stored_policy(c)?.enabled});
        }
    }
    if let Some(deleted) = c.deleted_at {
        out["recoveryId"] = json!(format!("{base}/deletedcertificates/{}", c.name));
        out["deletedDate"] = json!(deleted);
        out["scheduledPurgeDate"] = json!(c.scheduled_purge_at);
    }
    Ok(out)
}

fn operation_body(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    issuer: &str,
    op: &CertificateOperation,
) -> Value {
    let base = base_url(state, &open.vault.name);
    let mut out = json!({
        "id": format!("{base}/certificates/{name}/pending"),
        "issuer": {"name": issuer},
        "cancellation_requested": op.cancellation_requested,
        "status": op.status,
        "status_details": op.status_details,
        "target": format!("{base}/certificates/{name}"),
        "request_id": op.request_id,
    });
    if let Some(csr) = &op.csr {
        out["csr"] = json!(base64::engine::general_purpose::STANDARD.encode(csr));
    }
    if let Some(e) = &op.error {
        out["error"] = json!({"code": "CertificateOperationFailed", "message": e});
    }
    out
}

#[derive(Deserialize, Default)]
struct Attributes {
    enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
struct CreateBody {
    policy: Option<PolicyIn>,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

/// An import's body. No `Debug`: it carries the private key and the PFX password.
#[derive(Deserialize)]
struct ImportBody {
    value: String,
    pwd: Option<String>,
    policy: Option<PolicyIn>,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    policy: Option<PolicyIn>,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

/// The private key of a certificate's newest version, read back from its backing secret
/// (for policies that reuse the key).
async fn current_key(
    state: &AppState,
    open: &OpenVault,
    name: &str,
) -> Result<Option<vc::KeyMaterial>, VaultError> {
    let Some(secret) = state
        .store
        .secret(&open.vault.name, name, None)
        .await?
        .filter(|s| s.deleted_at.is_none())
    else {
        return Ok(None);
    };
    let plain = vault_secret::open_value(&open.data_key, &open.vault.name, &secret)
        .map_err(|_| VaultError::internal())?;
    let value = std::str::from_utf8(&plain).map_err(|_| VaultError::internal())?;
    Ok(vc::import(value, None).ok().map(|i| i.material))
}

/// A certificate's backing secret and key take its name: a secret or key of that name that
/// backs no certificate keeps it.
async fn name_free(state: &AppState, open: &OpenVault, name: &str) -> Result<(), VaultError> {
    match state.store.secret(&open.vault.name, name, None).await? {
        Some(s) if !s.version.managed => Err(VaultError::conflict(format!(
            "A secret named {name} already exists in this vault; a certificate's backing secret cannot take its name."
        ))),
        _ => match state.store.key(&open.vault.name, name, None).await? {
            Some(k) if !k.version.managed => Err(VaultError::conflict(format!(
                "A key named {name} already exists in this vault; a certificate's backing key cannot take its name."
            ))),
            _ => Ok(()),
        },
    }
}

/// Writes a version: the backing secret (private key and certificate) first, its version id
/// shared by the certificate version.
async fn write_version(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    policy: &Policy,
    m: &vc::KeyMaterial,
    enabled: bool,
    tags: Tags,
) -> Result<(), VaultError> {
    let facts = vc::facts(&m.der).map_err(refused)?;
    let value = vc::secret_value(&policy.secret_props.content_type, m).map_err(refused)?;
    name_free(state, open, name).await?;
    let now = state.now();
    let mut record = vault_secret::seal_new_version(
        &open.data_key,
        &open.vault.name,
        name,
        NewVersion {
            value: &value,
            content_type: Some(policy.secret_props.content_type.clone()),
            tags: tags.clone(),
            enabled: Some(enabled),
            nbf: Some(facts.not_before),
            exp: Some(facts.not_after),
        },
        now,
    )
    .map_err(|e| VaultError::bad_parameter(e.to_string()))?;
    record.managed = true;
    let version = CertificateVersion {
        version: record.version.clone(),
        der: m.der.clone(),
        x5t: vc::thumbprint(&m.der),
        tags,
        enabled,
        nbf: Some(facts.not_before),
        exp: Some(facts.not_after),
        created: now,
        updated: now,
    };
    let deleted = |e| match e {
        wid_store::StoreError::SecretDeleted => {
            VaultError::deleted_but_recoverable("Certificate", name)
        }
        other => other.into(),
    };
    state
        .store
        .put_certificate(
            &open.vault.name,
            name,
            &policy_json(policy)?,
            now,
            Some(&version),
        )
        .await
        .map_err(deleted)?;
    state
        .store
        .add_secret_version(&open.vault.name, name, &record)
        .await
        .map_err(deleted)?;
    write_backing_key(state, open, name, &version, &m.pkcs8).await
}

/// The key backing a certificate version: the same name and version id, its private key
/// sealed like every vault key, `managed` so that it changes only through the certificate.
async fn write_backing_key(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    v: &CertificateVersion,
    pkcs8: &[u8],
) -> Result<(), VaultError> {
    let m = vault_key::from_pkcs8(pkcs8).map_err(|e| {
        tracing::error!(error = %e, "a certificate's private key is not a vault key");
        VaultError::internal()
    })?;
    let record = KeyVersion {
        version: v.version.clone(),
        kty: m.kty.as_str().to_owned(),
        crv: m.crv.map(|c| c.as_str().to_owned()),
        size: m.size,
        key_ops: vault_key::default_key_ops(m.kty),
        public_jwk: m.public,
        sealed_private_key: open
            .data_key
            .seal(
                pkcs8,
                &vault_key::private_key_purpose(&open.vault.name, name, &v.version),
            )
            .map_err(|_| VaultError::internal())?,
        tags: v.tags.clone(),
        enabled: v.enabled,
        nbf: v.nbf,
        exp: v.exp,
        created: v.created,
        updated: v.updated,
        exportable: false,
        managed: true,
    };
    match state
        .store
        .add_key_version(&open.vault.name, name, &record)
        .await
    {
        Err(wid_store::StoreError::KeyDeleted) => {
            Err(VaultError::deleted_but_recoverable("Certificate", name))
        }
        other => other.map(drop).map_err(Into::into),
    }
}

/// Records the certificate (its policy) and an `inProgress` operation, as Key Vault
/// answers a create; the certificate is issued when the operation is next read (the
/// SDK's poller does that at once), unless it was cancelled first.
async fn create(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), VaultError> {
    check_name(&name)?;
    let body: CreateBody = parse_json(&body)?;
    let open = caller.open()?;
    let existing = state
        .store
        .certificate(&open.vault.name, &name, None)
        .await?;
    if existing.as_ref().is_some_and(|c| c.deleted_at.is_some()) {
        return Err(VaultError::deleted_but_recoverable("Certificate", &name));
    }
    let policy = match (body.policy, &existing) {
        (Some(p), _) => Policy::resolve(p),
        (None, Some(c)) => Ok(stored_policy(c)?),
        (None, None) => Err(CertificateError::Policy(
            "a new certificate needs a policy.".into(),
        )),
    }
    .map_err(refused)?;
    policy.self_issued().map_err(refused)?;
    name_free(&state, open, &name).await?;
    let op = CertificateOperation {
        request_id: wid_core::ids::random_uuid().simple().to_string(),
        status: "inProgress".to_owned(),
        status_details: Some(
            "Pending certificate created. Certificate request is in progress.".to_owned(),
        ),
        error: None,
        csr: None,
        cancellation_requested: false,
        enabled: body
            .attributes
            .and_then(|a| a.enabled)
            .unwrap_or(policy.enabled),
        tags: body.tags.unwrap_or_default(),
    };
    let deleted = |e| match e {
        wid_store::StoreError::SecretDeleted => {
            VaultError::deleted_but_recoverable("Certificate", &name)
        }
        other => other.into(),
    };
    state
        .store
        .put_certificate(
            &open.vault.name,
            &name,
            &policy_json(&policy)?,
            state.now(),
            None,
        )
        .await
        .map_err(deleted)?;
    state
        .store
        .put_certificate_operation(&open.vault.name, &name, &op)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(operation_body(
            &state,
            open,
            &name,
            &policy.issuer.name,
            &op,
        )),
    ))
}

/// How long a claim on a pending operation holds: far beyond an RSA-4096 issuance, so only
/// a replica that stopped mid-issuance loses its claim.
const ISSUANCE_CLAIM_SECONDS: i64 = 300;

/// Runs a pending operation: issues the certificate under the stored policy (a cancelled
/// operation issues nothing) and records how it ended. Concurrent polls, on this replica or
/// another, issue it once: the poll that claims the operation issues, the others answer that
/// it is still in progress.
async fn run_operation(
    state: &AppState,
    open: &OpenVault,
    c: &Certificate,
    mut op: CertificateOperation,
) -> Result<CertificateOperation, VaultError> {
    if op.status != "inProgress" {
        return Ok(op);
    }
    let (vault, now) = (&open.vault.name, state.now());
    if !state
        .store
        .claim_certificate_operation(
            vault,
            &c.name,
            &op.request_id,
            now,
            now - ISSUANCE_CLAIM_SECONDS,
        )
        .await?
    {
        return Ok(op);
    }
    if op.cancellation_requested {
        op.status = "cancelled".to_owned();
        op.status_details = Some("The operation was cancelled.".to_owned());
    } else {
        let policy = stored_policy(c)?;
        let previous = current_key(state, open, &c.name).await?;
        let issuing = policy.clone();
        match blocking(move || vc::issue_self_signed(&issuing, previous.as_ref(), now)).await? {
            Ok(material) => {
                write_version(
                    state,
                    open,
                    &c.name,
                    &policy,
                    &material,
                    op.enabled,
                    op.tags.clone(),
                )
                .await?;
                op.status = "completed".to_owned();
                op.status_details = None;
            }
            Err(e) => {
                tracing::error!(error = %e, "certificate issuance failed");
                op.status = "failed".to_owned();
                op.error = Some(e.to_string());
            }
        }
    }
    if state
        .store
        .finish_certificate_operation(vault, &c.name, &op)
        .await?
    {
        return Ok(op);
    }
    // Another poll ended it first, or a new create replaced it: answer what is stored.
    Ok(state
        .store
        .certificate_operation(vault, &c.name)
        .await?
        .unwrap_or(op))
}

async fn import(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    check_name(&name)?;
    let mut body: ImportBody = parse_json(&body)?;
    let open = caller.open()?;
    let (value, password) = (std::mem::take(&mut body.value), body.pwd.take());
    let imported = blocking(move || vc::import(&value, password.as_deref()))
        .await?
        .map_err(refused)?;
    let facts = vc::facts(&imported.material.der).map_err(refused)?;
    let policy =
        vc::imported_policy(body.policy, &facts, imported.content_type).map_err(refused)?;
    let enabled = body.attributes.and_then(|a| a.enabled).unwrap_or(true);
    write_version(
        &state,
        open,
        &name,
        &policy,
        &imported.material,
        enabled,
        body.tags.unwrap_or_default(),
    )
    .await?;
    let c: Certificate = versioned::live(&state, open, &name, None).await?;
    Ok(Json(bundle(&state, open, &c, true, true)?))
}

/// A live certificate with at least one issued version.
async fn issued(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    version: Option<&str>,
) -> Result<Certificate, VaultError> {
    Some(versioned::live::<Certificate>(state, open, name, version).await?)
        .filter(|c| c.version.is_some())
        .ok_or_else(|| VaultError::certificate_not_found(name))
}

async fn show(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let c = issued(&state, open, &at.name, at.version()).await?;
    Ok(Json(bundle(&state, open, &c, true, true)?))
}

/// Tags and `enabled` of a version (and of its backing secret's version), and the policy
/// when the body has one.
async fn update(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: UpdateBody = parse_json(&body)?;
    let open = caller.open()?;
    let (state, name) = (&state, at.name.as_str());
    let mut c = issued(state, open, name, at.version()).await?;
    let now = state.now();
    if let Some(p) = body.policy {
        let policy = stored_policy(&c)?.update(p).map_err(refused)?;
        c.policy = policy_json(&policy)?;
        state
            .store
            .put_certificate(&open.vault.name, name, &c.policy, now, None)
            .await?;
        c.policy_updated = now;
    }
    let Some(v) = c.version.as_mut() else {
        return Err(VaultError::certificate_not_found(name));
    };
    if let Some(tags) = body.tags {
        v.tags = tags;
    }
    v.enabled = body.attributes.and_then(|a| a.enabled).unwrap_or(v.enabled);
    v.updated = now;
    state
        .store
        .update_certificate_version(&open.vault.name, name, v)
        .await?;
    if let Some(mut s) = state
        .store
        .secret(&open.vault.name, name, Some(&v.version))
        .await?
    {
        s.version.tags = v.tags.clone();
        s.version.enabled = v.enabled;
        s.version.updated = now;
        state
            .store
            .update_secret_version(&open.vault.name, name, &s.version)
            .await?;
    }
    Ok(Json(bundle(state, open, &c, true, true)?))
}

async fn show_policy(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let c: Certificate = versioned::live(&state, open, &name, None).await?;
    Ok(Json(policy_body(&state, open, &c)?))
}

async fn update_policy(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let change: PolicyIn = parse_json(&body)?;
    let open = caller.open()?;
    let mut c: Certificate = versioned::live(&state, open, &name, None).await?;
    let policy = stored_policy(&c)?.update(change).map_err(refused)?;
    c.policy = policy_json(&policy)?;
    let now = state.now();
    state
        .store
        .put_certificate(&open.vault.name, &name, &c.policy, now, None)
        .await?;
    c.policy_updated = now;
    Ok(Json(policy_body(&state, open, &c)?))
}

async fn operation(
    state: &AppState,
    open: &OpenVault,
    name: &str,
) -> Result<(Certificate, CertificateOperation), VaultError> {
    let c: Certificate = versioned::live(state, open, name, None).await?;
    let op = state
        .store
        .certificate_operation(&open.vault.name, name)
        .await?
        .ok_or_else(|| VaultError::pending_certificate_not_found(name))?;
    Ok((c, op))
}

async fn show_operation(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let (c, op) = operation(&state, open, &name).await?;
    let op = run_operation(&state, open, &c, op).await?;
    let issuer = stored_policy(&c)?.issuer.name;
    Ok(Json(operation_body(&state, open, &c.name, &issuer, &op)))
}

#[derive(Deserialize)]
struct CancelBody {
    cancellation_requested: bool,
}

/// A cancellation is recorded; it stops an operation that has not run, and one that has
/// ended stays as it ended.
async fn cancel_operation(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: CancelBody = parse_json(&body)?;
    let open = caller.open()?;
    let (c, mut op) = operation(&state, open, &name).await?;
    if body.cancellation_requested {
        state
            .store
            .cancel_certificate_operation(&open.vault.name, &name)
            .await?;
        op = operation(&state, open, &name).await?.1;
    }
    let issuer = stored_policy(&c)?.issuer.name;
    Ok(Json(operation_body(&state, open, &c.name, &issuer, &op)))
}

async fn delete_operation(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let (c, op) = operation(&state, open, &name).await?;
    state
        .store
        .delete_certificate_operation(&open.vault.name, &name)
        .await?;
    let issuer = stored_policy(&c)?.issuer.name;
    Ok(Json(operation_body(&state, open, &c.name, &issuer, &op)))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(rename = "includePending")]
    include_pending: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

async fn list(
    State(state): State<AppState>,
    caller: VaultCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let pending = q.include_pending.as_deref() == Some("true");
    let mut items = Vec::new();
    for c in Certificate::load_all(&state, &open.vault.name, false).await? {
        if c.version.is_some() || pending {
            items.push(c.item(&state, open, false)?);
        }
    }
    page(&state, open, Certificate::PATH, &q.paging, items)
}

/// Deleting a certificate deletes its backing secret with it, as Key Vault does.
async fn remove(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let now = state.now();
    let purge_at = now + open.vault.settings.soft_delete_retention_in_days * DAY;
    if !state
        .store
        .delete_certificate(&open.vault.name, &name, now, purge_at)
        .await?
    {
        return Err(VaultError::certificate_not_found(&name));
    }
    state
        .store
        .delete_secret(&open.vault.name, &name, now, purge_at)
        .await?;
    state
        .store
        .delete_key(&open.vault.name, &name, now, purge_at)
        .await?;
    let c: Certificate = versioned::deleted(&state, open, &name).await?;
    Ok(Json(bundle(&state, open, &c, true, true)?))
}

const BACKUP_PURPOSE: &str = "certificate-backup";

/// A certificate backup: the policy and every version with its backing secret's value (the
/// private key), sealed with the installation's key-encryption key so that it restores
/// into any vault of this installation and is opaque to whoever holds the blob. No `Debug`.
#[derive(Serialize, Deserialize)]
struct Backup {
    name: String,
    policy: String,
    policy_created: i64,
    policy_updated: i64,
    versions: Vec<BackupVersion>,
}

#[derive(Serialize, Deserialize)]
struct BackupVersion {
    version: String,
    der: String,
    tags: Tags,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
    /// The backing secret's value: the certificate with its private key.
    secret: String,
}

async fn backup(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let c = issued(&state, open, &name, None).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut versions = Vec::new();
    for c in state
        .store
        .certificate_versions(&open.vault.name, &name)
        .await?
    {
        let Some(v) = c.version else { continue };
        let secret = state
            .store
            .secret(&open.vault.name, &name, Some(&v.version))
            .await?
            .ok_or_else(|| {
                tracing::error!("a certificate version has no backing secret");
                VaultError::internal()
            })?;
        let plain = vault_secret::open_value(&open.data_key, &open.vault.name, &secret)
            .map_err(|_| VaultError::internal())?;
        versions.push(BackupVersion {
            secret: String::from_utf8(plain.to_vec()).map_err(|_| VaultError::internal())?,
            version: v.version,
            der: b64.encode(&v.der),
            tags: v.tags,
            enabled: v.enabled,
            nbf: v.nbf,
            exp: v.exp,
            created: v.created,
            updated: v.updated,
        });
    }
    let blob = Backup {
        name: c.name,
        policy: c.policy,
        policy_created: c.policy_created,
        policy_updated: c.policy_updated,
        versions,
    };
    let plain = Zeroizing::new(serde_json::to_vec(&blob).map_err(|_| VaultError::internal())?);
    for v in blob.versions {
        drop(Zeroizing::new(v.secret));
    }
    let sealed = state
        .kek
        .seal(&plain, BACKUP_PURPOSE)
        .map_err(|_| VaultError::internal())?;
    Ok(Json(
        json!({"value": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)}),
    ))
}

#[derive(Deserialize)]
struct RestoreBody {
    value: String,
}

/// Restores every version of a backed-up certificate with its backing secret, under a name
/// no certificate or secret of this vault holds.
async fn restore(
    State(state): State<AppState>,
    caller: VaultCaller,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: RestoreBody = parse_json(&body)?;
    let bad = || {
        VaultError::bad_parameter("The backup blob is invalid or was made by another installation.")
    };
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.value.trim_end_matches('='))
        .map_err(|_| bad())?;
    let plain = state.kek.open(&sealed, BACKUP_PURPOSE).map_err(|_| bad())?;
    let blob: Backup = serde_json::from_slice(&plain).map_err(|_| bad())?;
    let name = blob.name;
    check_name(&name)?;
    let open = caller.open()?;
    match state.store.certificate(&open.vault.name, &name, None).await? {
        Some(c) if c.deleted_at.is_some() => return Err(VaultError::deleted_but_recoverable("Certificate", &name)),
        Some(_) => {
            return Err(VaultError::conflict(format!(
                "Certificate {name} already exists in this vault; restore only creates certificates that do not exist."
            )))
        }
        None => {}
    }
    if state
        .store
        .secret(&open.vault.name, &name, None)
        .await?
        .is_some()
    {
        return Err(VaultError::conflict(format!(
            "A secret named {name} already exists in this vault; a certificate's backing secret cannot take its name."
        )));
    }
    if state
        .store
        .key(&open.vault.name, &name, None)
        .await?
        .is_some()
    {
        return Err(VaultError::conflict(format!(
            "A key named {name} already exists in this vault; a certificate's backing key cannot take its name."
        )));
    }
    if blob.versions.is_empty() {
        return Err(bad());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    for v in blob.versions {
        let secret = Zeroizing::new(v.secret);
        let der = b64.decode(&v.der).map_err(|_| bad())?;
        let version = CertificateVersion {
            x5t: vc::thumbprint(&der),
            der,
            version: v.version,
            tags: v.tags,
            enabled: v.enabled,
            nbf: v.nbf,
            exp: v.exp,
            created: v.created,
            updated: v.updated,
        };
        let record = wid_core::model::SecretVersion {
            sealed_value: open
                .data_key
                .seal(
                    secret.as_bytes(),
                    &vault_secret::value_purpose(&open.vault.name, &name, &version.version),
                )
                .map_err(|_| VaultError::internal())?,
            version: version.version.clone(),
            content_type: Some(
                serde_json::from_str::<Policy>(&blob.policy)
                    .map_err(|_| bad())?
                    .secret_props
                    .content_type,
            ),
            tags: version.tags.clone(),
            enabled: version.enabled,
            nbf: version.nbf,
            exp: version.exp,
            created: version.created,
            updated: version.updated,
            managed: true,
        };
        state
            .store
            .put_certificate(
                &open.vault.name,
                &name,
                &blob.policy,
                blob.policy_created,
                Some(&version),
            )
            .await?;
        state
            .store
            .add_secret_version(&open.vault.name, &name, &record)
            .await?;
        let material = vc::import(&secret, None).map_err(|_| bad())?.material;
        write_backing_key(&state, open, &name, &version, &material.pkcs8).await?;
    }
    let c: Certificate = versioned::live(&state, open, &name, None).await?;
    Ok(Json(bundle(&state, open, &c, true, true)?))
}

impl Versioned for Certificate {
    const PATH: &'static str = "/certificates";
    const DELETED_PATH: &'static str = "/deletedcertificates";
    const NOUN: &'static str = "Certificate";

    fn not_found(name: &str) -> VaultError {
        VaultError::certificate_not_found(name)
    }

    fn deleted_not_found(name: &str) -> VaultError {
        VaultError::deleted_certificate_not_found(name)
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
        Ok(state.store.certificate(vault, name, version).await?)
    }

    async fn load_all(
        state: &AppState,
        vault: &str,
        deleted: bool,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.certificates(vault, deleted).await?)
    }

    async fn load_versions(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.certificate_versions(vault, name).await?)
    }

    /// The backing secret and key come back with their certificate.
    async fn recover_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
        state.store.recover_certificate(vault, name).await?;
        state.store.recover_secret(vault, name).await?;
        state.store.recover_key(vault, name).await?;
        Ok(())
    }

    /// The backing secret and key go with their certificate, the key's parsed private keys
    /// with them.
    async fn purge_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
        state.store.purge_certificate(vault, name).await?;
        state.store.purge_secret(vault, name).await?;
        state.store.purge_key(vault, name).await?;
        state.vault_keys.clear();
        Ok(())
    }

    fn item(
        &self,
        state: &AppState,
        open: &OpenVault,
        with_version: bool,
    ) -> Result<Value, VaultError> {
        bundle(state, open, self, false, with_version)
    }

    fn bundle(&self, state: &AppState, open: &OpenVault) -> Result<Value, VaultError> {
        bundle(state, open, self, true, true)
    }
}
