//! Keys (`/keys/...`, `/deletedkeys/...`): versions whose private keys are sealed under the
//! vault's data key, the crypto operations Key Vault performs with them, soft delete and
//! purge protection, backup and restore, rotation and rotation policies.

use super::auth::{OpenVault, VaultCaller};
use super::error::VaultError;
use super::versioned::{self, At, Versioned};
use super::{base_url, blocking, parse_json, route, Route, DAY};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use wid_core::model::{KeyVersion, Tags, VaultKey};
use wid_core::vault_access::KeyOp;
use wid_core::vault_key::{self, EncAlg, KeyError, Kty, Material, PrivateJwk, PrivateKey, SignAlg};
use zeroize::Zeroizing;

/// Every keys route with the operation its guard checks on the key it captures (`{name}`),
/// or on the vault for routes that name none. An operation on an unversioned key id is sent
/// with an empty version segment (`/keys/{name}//sign`), served by the same handlers.
pub(super) fn routes() -> Vec<Route> {
    let mut routes = vec![
        route(
            Method::GET,
            "/keys",
            KeyOp::List,
            versioned::list::<VaultKey>,
        ),
        route(Method::POST, "/keys/restore", KeyOp::Restore, restore),
        route(Method::GET, "/keys/{name}", KeyOp::Get, show),
        route(Method::PUT, "/keys/{name}", KeyOp::Import, import),
        route(Method::DELETE, "/keys/{name}", KeyOp::Delete, remove),
        route(Method::GET, "/keys/{name}/", KeyOp::Get, show),
        route(Method::PATCH, "/keys/{name}/", KeyOp::Update, update),
        route(Method::POST, "/keys/{name}/create", KeyOp::Create, create),
        route(
            Method::GET,
            "/keys/{name}/versions",
            KeyOp::List,
            versioned::list_versions::<VaultKey>,
        ),
        route(Method::POST, "/keys/{name}/backup", KeyOp::Backup, backup),
        route(Method::POST, "/keys/{name}/rotate", KeyOp::Rotate, rotate),
        route(
            Method::GET,
            "/keys/{name}/rotationpolicy",
            KeyOp::GetRotationPolicy,
            get_policy,
        ),
        route(
            Method::PUT,
            "/keys/{name}/rotationpolicy",
            KeyOp::SetRotationPolicy,
            set_policy,
        ),
        route(Method::GET, "/keys/{name}/{version}", KeyOp::Get, show),
        route(
            Method::PATCH,
            "/keys/{name}/{version}",
            KeyOp::Update,
            update,
        ),
        route(
            Method::GET,
            "/deletedkeys",
            KeyOp::ListDeleted,
            versioned::list_deleted::<VaultKey>,
        ),
        route(
            Method::GET,
            "/deletedkeys/{name}",
            KeyOp::GetDeleted,
            versioned::show_deleted::<VaultKey>,
        ),
        route(
            Method::DELETE,
            "/deletedkeys/{name}",
            KeyOp::Purge,
            versioned::purge::<VaultKey>,
        ),
        route(
            Method::POST,
            "/deletedkeys/{name}/recover",
            KeyOp::Recover,
            versioned::recover::<VaultKey>,
        ),
    ];
    routes.extend([
        route(
            Method::POST,
            "/keys/{name}/{version}/sign",
            KeyOp::Sign,
            sign,
        ),
        route(Method::POST, "/keys/{name}//sign", KeyOp::Sign, sign),
        route(
            Method::POST,
            "/keys/{name}/{version}/verify",
            KeyOp::Verify,
            verify,
        ),
        route(Method::POST, "/keys/{name}//verify", KeyOp::Verify, verify),
        route(
            Method::POST,
            "/keys/{name}/{version}/encrypt",
            KeyOp::Encrypt,
            encrypt,
        ),
        route(
            Method::POST,
            "/keys/{name}//encrypt",
            KeyOp::Encrypt,
            encrypt,
        ),
        route(
            Method::POST,
            "/keys/{name}/{version}/decrypt",
            KeyOp::Decrypt,
            decrypt,
        ),
        route(
            Method::POST,
            "/keys/{name}//decrypt",
            KeyOp::Decrypt,
            decrypt,
        ),
        route(
            Method::POST,
            "/keys/{name}/{version}/wrapkey",
            KeyOp::WrapKey,
            wrap,
        ),
        route(Method::POST, "/keys/{name}//wrapkey", KeyOp::WrapKey, wrap),
        route(
            Method::POST,
            "/keys/{name}/{version}/unwrapkey",
            KeyOp::UnwrapKey,
            unwrap,
        ),
        route(
            Method::POST,
            "/keys/{name}//unwrapkey",
            KeyOp::UnwrapKey,
            unwrap,
        ),
    ]);
    routes
}

impl From<KeyError> for VaultError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::OperationNotAllowed(_) => {
                VaultError::forbidden("KeyOperationForbidden", e.to_string())
            }
            KeyError::Disabled(_) => VaultError::forbidden("KeyDisabled", e.to_string()),
            KeyError::NotYetValid(_) => VaultError::forbidden("KeyNotYetValid", e.to_string()),
            KeyError::Expired(_) => VaultError::forbidden("KeyExpired", e.to_string()),
            KeyError::Corrupt => {
                tracing::error!("a stored vault key does not parse");
                VaultError::internal()
            }
            _ => VaultError::bad_parameter(e.to_string()),
        }
    }
}

fn check_name(name: &str) -> Result<(), VaultError> {
    wid_core::names::secret(name).map_err(|e| VaultError::bad_parameter(e.to_string()))
}

fn key_id(state: &AppState, open: &OpenVault, k: &VaultKey) -> String {
    format!(
        "{}/keys/{}/{}",
        base_url(state, &open.vault.name),
        k.name,
        k.version.version
    )
}

fn attributes(open: &OpenVault, v: &KeyVersion) -> Value {
    let mut a = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": wid_core::vault_secret::recovery_level(&open.vault.settings),
        "recoverableDays": open.vault.settings.soft_delete_retention_in_days,
        "exportable": v.exportable,
    });
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    a
}

fn deletion(state: &AppState, open: &OpenVault, k: &VaultKey, out: &mut Value) {
    if let Some(deleted) = k.deleted_at {
        out["recoveryId"] = json!(format!(
            "{}/deletedkeys/{}",
            base_url(state, &open.vault.name),
            k.name
        ));
        out["deletedDate"] = json!(deleted);
        out["scheduledPurgeDate"] = json!(k.scheduled_purge_at);
    }
}

/// A key bundle as Key Vault shows it: the public JWK only, never a private member.
fn bundle(state: &AppState, open: &OpenVault, k: &VaultKey) -> Value {
    let v = &k.version;
    let mut jwk = serde_json::to_value(&v.public_jwk).unwrap_or_else(|_| json!({}));
    jwk["kid"] = json!(key_id(state, open, k));
    jwk["kty"] = json!(v.kty);
    jwk["key_ops"] = json!(v.key_ops);
    let mut out = json!({"key": jwk, "attributes": attributes(open, v)});
    if !v.tags.is_empty() {
        out["tags"] = json!(v.tags);
    }
    if v.managed {
        out["managed"] = json!(true);
    }
    deletion(state, open, k, &mut out);
    out
}

/// A list item: the key id and attributes, without the key.
fn item(state: &AppState, open: &OpenVault, k: &VaultKey, with_version: bool) -> Value {
    let kid = if with_version {
        key_id(state, open, k)
    } else {
        format!("{}/keys/{}", base_url(state, &open.vault.name), k.name)
    };
    let mut out = json!({"kid": kid, "attributes": attributes(open, &k.version)});
    if !k.version.tags.is_empty() {
        out["tags"] = json!(k.version.tags);
    }
    if k.version.managed {
        out["managed"] = json!(true);
    }
    deletion(state, open, k, &mut out);
    out
}

#[derive(Deserialize, Default)]
struct Attributes {
    enabled: Option<bool>,
    nbf: Option<i64>,
    exp: Option<i64>,
    exportable: Option<bool>,
}

#[derive(Deserialize)]
struct CreateBody {
    kty: String,
    key_size: Option<u32>,
    crv: Option<String>,
    public_exponent: Option<u32>,
    key_ops: Option<Vec<String>>,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

#[derive(Deserialize)]
struct ImportBody {
    #[serde(rename = "Hsm")]
    hsm: Option<bool>,
    key: PrivateJwk,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

#[derive(Deserialize)]
struct UpdateBody {
    key_ops: Option<Vec<String>>,
    attributes: Option<Attributes>,
    tags: Option<Tags>,
}

/// What a new version carries besides its key material.
struct Settings {
    key_ops: Vec<String>,
    attributes: Attributes,
    tags: Tags,
}

/// Seals new material under the vault's data key and stores it as the key's newest version.
async fn store_new(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    m: Material,
    s: Settings,
) -> Result<VaultKey, VaultError> {
    if s.attributes.exportable == Some(true) {
        return Err(VaultError::bad_parameter(
            "Exportable keys need a release policy, which this vault does not support.",
        ));
    }
    vault_key::check_key_ops(&s.key_ops)?;
    let version = wid_core::ids::random_uuid().simple().to_string();
    let sealed = open
        .data_key
        .seal(
            &m.pkcs8,
            &vault_key::private_key_purpose(&open.vault.name, name, &version),
        )
        .map_err(|_| VaultError::internal())?;
    let now = state.now();
    let record = KeyVersion {
        version,
        kty: m.kty.as_str().to_owned(),
        crv: m.crv.map(|c| c.as_str().to_owned()),
        size: m.size,
        key_ops: s.key_ops,
        public_jwk: m.public,
        sealed_private_key: sealed,
        tags: s.tags,
        enabled: s.attributes.enabled.unwrap_or(true),
        nbf: s.attributes.nbf,
        exp: s.attributes.exp,
        created: now,
        updated: now,
        exportable: false,
        managed: false,
    };
    match state
        .store
        .add_key_version(&open.vault.name, name, &record)
        .await
    {
        Err(wid_store::StoreError::KeyDeleted) => {
            Err(VaultError::key_deleted_but_recoverable(name))
        }
        other => Ok(other?),
    }
}

/// A certificate's key is managed through its certificate.
async fn refuse_managed(
    state: &AppState,
    open: &OpenVault,
    name: &str,
    op: &str,
) -> Result<(), VaultError> {
    match state.store.key(&open.vault.name, name, None).await? {
        Some(k) if k.version.managed => Err(VaultError::forbidden(
            "ManagedKey",
            format!("Operation {op} is not allowed on key {name}: it backs a certificate; manage it through the certificate."),
        )),
        _ => Ok(()),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    check_name(&name)?;
    let body: CreateBody = parse_json(&body)?;
    let open = caller.open()?;
    if body.public_exponent.is_some_and(|e| e != 65537) {
        return Err(VaultError::bad_parameter(
            "The public exponent must be 65537.",
        ));
    }
    let kty = Kty::parse(&body.kty)?;
    refuse_managed(&state, open, &name, "create").await?;
    let (size, crv) = (body.key_size, body.crv.clone());
    let m = blocking(move || vault_key::generate(kty, size, crv.as_deref())).await??;
    let settings = Settings {
        key_ops: body
            .key_ops
            .unwrap_or_else(|| vault_key::default_key_ops(kty)),
        attributes: body.attributes.unwrap_or_default(),
        tags: body.tags.unwrap_or_default(),
    };
    let stored = store_new(&state, open, &name, m, settings).await?;
    Ok(Json(bundle(&state, open, &stored)))
}

async fn import(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    check_name(&name)?;
    let body: ImportBody = parse_json(&body)?;
    let open = caller.open()?;
    refuse_managed(&state, open, &name, "import").await?;
    let m = vault_key::import(&body.key, body.hsm.unwrap_or(false))?;
    let settings = Settings {
        key_ops: body
            .key
            .key_ops
            .clone()
            .unwrap_or_else(|| vault_key::default_key_ops(m.kty)),
        attributes: body.attributes.unwrap_or_default(),
        tags: body.tags.unwrap_or_default(),
    };
    let stored = store_new(&state, open, &name, m, settings).await?;
    Ok(Json(bundle(&state, open, &stored)))
}

async fn show(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let k: VaultKey = versioned::live(&state, open, &at.name, at.version()).await?;
    Ok(Json(bundle(&state, open, &k)))
}

async fn update(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(at): Path<At>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: UpdateBody = parse_json(&body)?;
    let open = caller.open()?;
    let name = &at.name;
    let mut k: VaultKey = versioned::live(&state, open, name, at.version()).await?;
    let v = &mut k.version;
    if let Some(ops) = body.key_ops {
        vault_key::check_key_ops(&ops)?;
        v.key_ops = ops;
    }
    if let Some(tags) = body.tags {
        v.tags = tags;
    }
    let a = body.attributes.unwrap_or_default();
    v.enabled = a.enabled.unwrap_or(v.enabled);
    v.nbf = a.nbf.or(v.nbf);
    v.exp = a.exp.or(v.exp);
    v.updated = state.now();
    state
        .store
        .update_key_version(&open.vault.name, name, v)
        .await?;
    Ok(Json(bundle(&state, open, &k)))
}

async fn remove(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    refuse_managed(&state, open, &name, "delete").await?;
    let now = state.now();
    let purge_at = now + open.vault.settings.soft_delete_retention_in_days * DAY;
    if !state
        .store
        .delete_key(&open.vault.name, &name, now, purge_at)
        .await?
    {
        return Err(VaultError::key_not_found(&name));
    }
    let k: VaultKey = versioned::deleted(&state, open, &name).await?;
    Ok(Json(bundle(&state, open, &k)))
}

/// A key version (deleted or not, `None`: no such key) as the crypto operations read it: from
/// the replica's cache, which every change to a key empties (on the other replicas within the coherence bound), so an
/// operation on a hot key costs no database read. Writes read the store, never this cache.
async fn cached_version(
    state: &AppState,
    open: &OpenVault,
    at: &At,
) -> Result<Arc<Option<VaultKey>>, VaultError> {
    let cache_key = format!(
        "{}/{}/{}",
        open.vault.name.to_ascii_lowercase(),
        at.name.to_ascii_lowercase(),
        at.version().unwrap_or_default()
    );
    state
        .key_versions
        .get_or_load(&cache_key, || {
            VaultKey::load(state, &open.vault.name, &at.name, at.version())
        })
        .await
}

/// The parsed private key of a version, opened from its seal once and then cached.
async fn private_key(
    state: &AppState,
    open: &OpenVault,
    k: &VaultKey,
) -> Result<Arc<PrivateKey>, VaultError> {
    let cache_key = format!(
        "{}/{}/{}",
        open.vault.name.to_ascii_lowercase(),
        k.name.to_ascii_lowercase(),
        k.version.version
    );
    state
        .vault_keys
        .get_or_load(&cache_key, || async {
            let pkcs8 = open_pkcs8(open, k)?;
            Ok::<_, VaultError>(PrivateKey::from_pkcs8(&k.version, &pkcs8)?)
        })
        .await
}

fn open_pkcs8(open: &OpenVault, k: &VaultKey) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    open.data_key
        .open(
            &k.version.sealed_private_key,
            &vault_key::private_key_purpose(&open.vault.name, &k.name, &k.version.version),
        )
        .map_err(|e| {
            tracing::error!(error = %e, "a vault key does not open");
            VaultError::internal()
        })
}

#[derive(Deserialize)]
struct OperationBody {
    alg: String,
    value: String,
    digest: Option<String>,
}

fn decode(value: &str, what: &str) -> Result<Vec<u8>, VaultError> {
    B64.decode(value.trim_end_matches('='))
        .map_err(|_| VaultError::bad_parameter(format!("The {what} is not base64url.")))
}

/// The crypto operations, by their `key_ops` name.
#[derive(Clone, Copy)]
enum Crypto {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    Wrap,
    Unwrap,
}

impl Crypto {
    fn op(self) -> &'static str {
        match self {
            Crypto::Sign => "sign",
            Crypto::Verify => "verify",
            Crypto::Encrypt => "encrypt",
            Crypto::Decrypt => "decrypt",
            Crypto::Wrap => "wrapKey",
            Crypto::Unwrap => "unwrapKey",
        }
    }
}

async fn operate(
    state: &AppState,
    caller: &VaultCaller,
    at: &At,
    crypto: Crypto,
    body: &Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: OperationBody = parse_json(body)?;
    let open = caller.open()?;
    // Borrowed from the cache entry: an operation copies nothing of the key.
    let found = cached_version(state, open, at).await?;
    let k = Option::as_ref(&found)
        .filter(|k| !k.is_deleted())
        .ok_or_else(|| VaultKey::not_found(&at.name))?;
    vault_key::check_usable(&k.version, crypto.op(), state.now())?;
    let key = private_key(state, open, k).await?;
    let kid = key_id(state, open, k);
    let value = decode(&body.value, "value")?;
    let out = match crypto {
        Crypto::Sign => key.sign(SignAlg::parse(&body.alg)?, &value)?,
        Crypto::Verify => {
            let digest = decode(
                body.digest
                    .as_deref()
                    .ok_or_else(|| VaultError::bad_parameter("The digest is missing."))?,
                "digest",
            )?;
            let ok = key.verify(SignAlg::parse(&body.alg)?, &digest, &value)?;
            return Ok(Json(json!({ "value": ok })));
        }
        Crypto::Encrypt | Crypto::Wrap => key.encrypt(EncAlg::parse(&body.alg)?, &value)?,
        Crypto::Decrypt | Crypto::Unwrap => {
            let plain = key.decrypt(EncAlg::parse(&body.alg)?, &value)?;
            return Ok(Json(
                json!({"kid": kid, "value": B64.encode(plain.as_slice())}),
            ));
        }
    };
    Ok(Json(json!({"kid": kid, "value": B64.encode(out)})))
}

/// One handler per operation, for the versioned key id and the unversioned one alike.
macro_rules! crypto_handlers {
    ($($handler:ident => $crypto:expr;)*) => {$(
        async fn $handler(
            State(state): State<AppState>,
            caller: VaultCaller,
            Path(at): Path<At>,
            body: Bytes,
        ) -> Result<Json<Value>, VaultError> {
            operate(&state, &caller, &at, $crypto, &body).await
        }
    )*};
}

crypto_handlers! {
    sign => Crypto::Sign;
    verify => Crypto::Verify;
    encrypt => Crypto::Encrypt;
    decrypt => Crypto::Decrypt;
    wrap => Crypto::Wrap;
    unwrap => Crypto::Unwrap;
}

/// Rotation makes a new version like the newest one: same type, size or curve, key_ops and
/// tags, with fresh key material.
async fn rotate(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let current: VaultKey = versioned::live(&state, open, &name, None).await?;
    refuse_managed(&state, open, &name, "rotate").await?;
    let v = &current.version;
    let (kty, size, crv) = (Kty::parse(&v.kty)?, v.size, v.crv.clone());
    let m = blocking(move || vault_key::generate(kty, size, crv.as_deref())).await??;
    let settings = Settings {
        key_ops: v.key_ops.clone(),
        attributes: Attributes::default(),
        tags: v.tags.clone(),
    };
    let stored = store_new(&state, open, &current.name, m, settings).await?;
    Ok(Json(bundle(&state, open, &stored)))
}

fn policy_id(state: &AppState, open: &OpenVault, name: &str) -> String {
    format!(
        "{}/keys/{name}/rotationpolicy",
        base_url(state, &open.vault.name)
    )
}

/// The policy a key has until one is set: Key Vault's default, a notification 30 days
/// before expiry.
fn default_policy() -> Value {
    json!({
        "lifetimeActions": [
            {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}
        ],
        "attributes": {}
    })
}

async fn get_policy(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let stored = state
        .store
        .key_rotation_policy(&open.vault.name, &name)
        .await?
        .ok_or_else(|| VaultError::key_not_found(&name))?;
    let mut policy = match stored {
        Some(text) => serde_json::from_str(&text).map_err(|_| VaultError::internal())?,
        None => default_policy(),
    };
    policy["id"] = json!(policy_id(&state, open, &name));
    Ok(Json(policy))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyBody {
    #[serde(default)]
    lifetime_actions: Vec<LifetimeAction>,
    attributes: Option<PolicyAttributes>,
}

#[derive(Deserialize, serde::Serialize)]
struct LifetimeAction {
    trigger: Trigger,
    action: Action,
}

#[derive(Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Trigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    time_after_create: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_before_expiry: Option<String>,
}

#[derive(Deserialize, serde::Serialize)]
struct Action {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyAttributes {
    expiry_time: Option<String>,
}

/// Stores the policy as sent (typed, so nothing else is kept). wid records it for clients to
/// read back; it does not rotate keys on its own schedule.
async fn set_policy(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let body: PolicyBody = parse_json(&body)?;
    if body.lifetime_actions.len() > 2 {
        return Err(VaultError::bad_parameter(
            "A rotation policy has at most one rotate and one notify action.",
        ));
    }
    for a in &body.lifetime_actions {
        let kind = a.action.kind.to_ascii_lowercase();
        if kind != "rotate" && kind != "notify" {
            return Err(VaultError::bad_parameter(format!(
                "The lifetime action type {} is invalid.",
                a.action.kind
            )));
        }
        if a.trigger.time_after_create.is_some() == a.trigger.time_before_expiry.is_some() {
            return Err(VaultError::bad_parameter(
                "A trigger names exactly one of timeAfterCreate and timeBeforeExpiry.",
            ));
        }
    }
    let open = caller.open()?;
    let now = state.now();
    let mut attributes = json!({"created": now, "updated": now});
    if let Some(expiry) = body.attributes.and_then(|a| a.expiry_time) {
        attributes["expiryTime"] = json!(expiry);
    }
    let policy = json!({"lifetimeActions": body.lifetime_actions, "attributes": attributes});
    if !state
        .store
        .set_key_rotation_policy(&open.vault.name, &name, &policy.to_string())
        .await?
    {
        return Err(VaultError::key_not_found(&name));
    }
    let mut out = policy;
    out["id"] = json!(policy_id(&state, open, &name));
    Ok(Json(out))
}

const BACKUP_PURPOSE: &str = "key-backup";

/// A backup holds every version with its private key, sealed with the key-encryption key:
/// it restores into any vault of this installation, and is opaque to whoever holds the blob.
async fn backup(
    State(state): State<AppState>,
    caller: VaultCaller,
    Path(name): Path<String>,
) -> Result<Json<Value>, VaultError> {
    let open = caller.open()?;
    let versions = state.store.key_versions(&open.vault.name, &name).await?;
    let Some(first) = versions.first() else {
        return Err(VaultError::key_not_found(&name));
    };
    let mut items = Vec::with_capacity(versions.len());
    for k in &versions {
        let v = &k.version;
        let pkcs8 = open_pkcs8(open, k)?;
        items.push(json!({
            "version": v.version, "kty": v.kty, "crv": v.crv, "size": v.size,
            "key_ops": v.key_ops, "jwk": v.public_jwk, "pkcs8": B64.encode(pkcs8.as_slice()),
            "tags": v.tags, "enabled": v.enabled, "nbf": v.nbf, "exp": v.exp,
            "created": v.created, "updated": v.updated, "managed": v.managed,
        }));
    }
    let plain = Zeroizing::new(
        serde_json::to_vec(&json!({"name": first.name, "versions": items}))
            .map_err(|_| VaultError::internal())?,
    );
    drop(items);
    let sealed = state
        .kek
        .seal(&plain, BACKUP_PURPOSE)
        .map_err(|_| VaultError::internal())?;
    Ok(Json(json!({"value": B64.encode(sealed)})))
}

#[derive(Deserialize)]
struct RestoreBody {
    value: String,
}

#[derive(Deserialize)]
struct BackupBlob {
    name: String,
    versions: Vec<BackupVersion>,
}

#[derive(Deserialize)]
struct BackupVersion {
    version: String,
    kty: String,
    crv: Option<String>,
    size: Option<u32>,
    key_ops: Vec<String>,
    jwk: wid_core::model::PublicJwk,
    pkcs8: wid_core::vault_key::PrivatePart,
    tags: Tags,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
    managed: bool,
}

async fn restore(
    State(state): State<AppState>,
    caller: VaultCaller,
    body: Bytes,
) -> Result<Json<Value>, VaultError> {
    let blob: RestoreBody = parse_json(&body)?;
    let bad = || {
        VaultError::bad_parameter("The backup blob is invalid or was made by another installation.")
    };
    let sealed = B64
        .decode(blob.value.trim_end_matches('='))
        .map_err(|_| bad())?;
    let plain = state.kek.open(&sealed, BACKUP_PURPOSE).map_err(|_| bad())?;
    let backup: BackupBlob = serde_json::from_slice(&plain).map_err(|_| bad())?;
    let name = backup.name;
    let open = caller.open()?;
    match state.store.key(&open.vault.name, &name, None).await? {
        Some(k) if k.deleted_at.is_some() => {
            return Err(VaultError::key_deleted_but_recoverable(&name))
        }
        Some(_) => {
            return Err(VaultError::conflict(format!(
            "Key {name} already exists in this vault; restore only creates keys that do not exist."
        )))
        }
        None => {}
    }
    let mut last = None;
    for b in backup.versions {
        let pkcs8 = Zeroizing::new(B64.decode(b.pkcs8.0.as_bytes()).map_err(|_| bad())?);
        let record = KeyVersion {
            sealed_private_key: open
                .data_key
                .seal(
                    &pkcs8,
                    &vault_key::private_key_purpose(&open.vault.name, &name, &b.version),
                )
                .map_err(|_| VaultError::internal())?,
            version: b.version,
            kty: b.kty,
            crv: b.crv,
            size: b.size,
            key_ops: b.key_ops,
            public_jwk: b.jwk,
            tags: b.tags,
            enabled: b.enabled,
            nbf: b.nbf,
            exp: b.exp,
            created: b.created,
            updated: b.updated,
            exportable: false,
            managed: b.managed,
        };
        last = Some(
            state
                .store
                .add_key_version(&open.vault.name, &name, &record)
                .await?,
        );
    }
    let k = last.ok_or_else(bad)?;
    Ok(Json(bundle(&state, open, &k)))
}

impl Versioned for VaultKey {
    const PATH: &'static str = "/keys";
    const DELETED_PATH: &'static str = "/deletedkeys";
    const NOUN: &'static str = "Key";

    fn not_found(name: &str) -> VaultError {
        VaultError::key_not_found(name)
    }

    fn deleted_not_found(name: &str) -> VaultError {
        VaultError::deleted_key_not_found(name)
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
        Ok(state.store.key(vault, name, version).await?)
    }

    async fn load_all(
        state: &AppState,
        vault: &str,
        deleted: bool,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.keys(vault, deleted).await?)
    }

    async fn load_versions(
        state: &AppState,
        vault: &str,
        name: &str,
    ) -> Result<Vec<Self>, VaultError> {
        Ok(state.store.key_versions(vault, name).await?)
    }

    async fn recover_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
        state.store.recover_key(vault, name).await?;
        Ok(())
    }

    /// A purged key's parsed private keys leave the cache with it.
    async fn purge_stored(state: &AppState, vault: &str, name: &str) -> Result<(), VaultError> {
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
        Ok(item(state, open, self, with_version))
    }

    fn bundle(&self, state: &AppState, open: &OpenVault) -> Result<Value, VaultError> {
        Ok(bundle(state, open, self))
    }
}
