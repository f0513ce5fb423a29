//! Clusters (`az aks …`): the `Microsoft.ContainerService/managedClusters` subset that
//! workload identity needs, the OIDC issuer wid hosts for each, its keys, and
//! service-account tokens signed as the cluster's API server would sign them.

use super::auth::Caller;
use super::error::ArmError;
use super::render::{normalize_location, system_data};
use super::request::{ArmJson, ArmQuery};
use crate::keyring::ISSUER_KEY_PURPOSE;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::cluster::{self, TokenRequest, TokenRequestError};
use wid_core::model::{Audit, Cluster, ClusterKey, IssuerKey};
use wid_core::resource_id;
use wid_jose::{pem_encode, HeaderParams, SigningKey, VerifyingKey};
use wid_types::arm::Page;
use wid_types::resources as wire;

pub const CLUSTER_TYPE: &str = "Microsoft.ContainerService/managedClusters";
const TYPE_NAME: &str = "managedClusters";
pub const API_VERSIONS: &[&str] = &[
    "2023-08-01",
    "2023-10-01",
    "2024-01-01",
    "2024-02-01",
    "2024-05-01",
    "2024-07-01",
    "2024-08-01",
    "2024-09-01",
    "2024-10-01",
    "2025-01-01",
    "2025-02-01",
    "2025-03-01",
    "2025-04-01",
    "2025-05-01",
    "2025-06-01",
    "2025-07-01",
    "2025-08-01",
    "2025-09-01",
    "2025-10-01",
];

type ClusterPath = Path<(String, String, String)>;

fn check_version(query: &ArmQuery) -> Result<(), ArmError> {
    query.require_provider_version(API_VERSIONS, TYPE_NAME)
}

fn key(sub: &str, rg: String, name: String) -> ClusterKey {
    ClusterKey {
        subscription_id: sub.to_owned(),
        resource_group: rg,
        name,
    }
}

/// AKS names: 1-63 letters, digits, `-` and `_`, starting and ending alphanumeric.
fn check_name(name: &str) -> Result<(), ArmError> {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    ok.then_some(()).ok_or_else(|| {
        ArmError::invalid_resource_name(format!("Resource name '{name}' is invalid. The name can contain only letters, numbers, underscores and hyphens, must start and end with a letter or number, and be 1-63 characters long."))
    })
}

pub fn render(state: &AppState, c: &Cluster) -> wire::Cluster {
    wire::Cluster {
        id: format!(
            "{}/providers/{CLUSTER_TYPE}/{}",
            resource_id::resource_group(&c.subscription_id, &c.resource_group),
            c.name
        ),
        name: c.name.clone(),
        kind: "Microsoft.ContainerService/ManagedClusters".to_owned(),
        location: c.location.clone(),
        tags: c.tags.clone(),
        system_data: system_data(&c.audit),
        properties: wire::ClusterProperties {
            provisioning_state: "Succeeded".to_owned(),
            oidc_issuer_profile: wire::OidcIssuerProfile {
                enabled: c.oidc_issuer_enabled,
                issuer_url: c.oidc_issuer_enabled.then(|| issuer_of(state, c)),
            },
            security_profile: wire::SecurityProfile {
                workload_identity: Some(wire::WorkloadIdentityProfile {
                    enabled: Some(c.workload_identity_enabled),
                }),
            },
        },
    }
}

pub fn issuer_of(state: &AppState, c: &Cluster) -> String {
    cluster::issuer_url(state.cloud.authority(), &c.tenant_id, &c.issuer_id)
}

async fn not_found(state: &AppState, sub: &str, rg: &str, name: &str) -> ArmError {
    match state.store.resource_group(sub, rg).await {
        Ok(None) => ArmError::resource_group_not_found(rg),
        Ok(Some(_)) => ArmError::resource_not_found(CLUSTER_TYPE, name, rg),
        Err(e) => e.into(),
    }
}

async fn existing(
    state: &AppState,
    caller: &Caller,
    path: (String, String, String),
) -> Result<Cluster, ArmError> {
    let (sub, rg, name) = path;
    let sub = super::subscription(state, caller, &sub)?;
    let k = key(sub, rg, name);
    match state.store.cluster(&k).await? {
        Some(c) => Ok(c),
        None => Err(not_found(state, sub, &k.resource_group, &k.name).await),
    }
}

fn new_signing_key(state: &AppState, now: i64) -> Result<IssuerKey, ArmError> {
    let (signing, pkcs8) = SigningKey::generate_rsa().map_err(|e| {
        tracing::error!(error = %e, "key generation failed");
        ArmError::internal()
    })?;
    let sealed = state.kek.seal(&pkcs8, ISSUER_KEY_PURPOSE).map_err(|e| {
        tracing::error!(error = %e, "sealing failed");
        ArmError::internal()
    })?;
    Ok(IssuerKey {
        kid: signing.kid().to_owned(),
        alg: signing.algorithm().to_string(),
        public_spki_der: signing.public_spki_der(),
        sealed_private_key: Some(sealed),
        signing: true,
        exported_at: None,
        created_at: now,
    })
}

fn public_key(pem: &str, now: i64) -> Result<IssuerKey, ArmError> {
    let key = VerifyingKey::from_pem(pem).map_err(|e| {
        ArmError::invalid_parameter(format!("The service account public key is not usable: {e}. An RSA (2048 bits or more) or P-256 public key in PEM is required."))
    })?;
    Ok(IssuerKey {
        kid: key.kid().to_owned(),
        alg: key.algorithm().to_string(),
        public_spki_der: key.spki_der().to_vec(),
        sealed_private_key: None,
        signing: false,
        exported_at: None,
        created_at: now,
    })
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path((sub, rg, name)): ClusterPath,
    ArmJson(body): ArmJson<wire::ClusterCreate>,
) -> Result<Response, ArmError> {
    check_version(&query)?;
    let sub = super::subscription(&state, &caller, &sub)?.to_owned();
    check_name(&name)?;
    let location = normalize_location(&body.location);
    if location.is_empty() {
        return Err(ArmError::location_required());
    }
    let props = body.properties.unwrap_or_default();
    let oidc = props.oidc_issuer_profile.unwrap_or_default();
    let workload_identity = props
        .security_profile
        .and_then(|p| p.workload_identity)
        .and_then(|w| w.enabled);
    let now = state.now();
    let current = state
        .store
        .cluster(&key(&sub, rg.clone(), name.clone()))
        .await?;
    let oidc_enabled = oidc
        .enabled
        .unwrap_or(current.as_ref().is_some_and(|c| c.oidc_issuer_enabled));
    let wi_enabled = workload_identity.unwrap_or(
        current
            .as_ref()
            .is_some_and(|c| c.workload_identity_enabled),
    );
    if current.as_ref().is_some_and(|c| c.oidc_issuer_enabled) && !oidc_enabled {
        return Err(ArmError::bad_request(
            "The OIDC issuer cannot be disabled once it has been enabled.",
        ));
    }
    if wi_enabled && !oidc_enabled {
        return Err(ArmError::bad_request(
            "Workload identity requires the OIDC issuer: enable it with --enable-oidc-issuer.",
        ));
    }
    let initial_keys = match (&current, oidc.service_account_public_keys) {
        (Some(_), Some(_)) => {
            return Err(ArmError::bad_request(
                "serviceAccountPublicKeys can only be given when the cluster is created; manage the keys of an existing issuer with issuerKeys.",
            ))
        }
        (Some(_), None) => Vec::new(),
        (None, Some(pems)) if !pems.is_empty() => pems
            .iter()
            .map(|pem| public_key(pem, now))
            .collect::<Result<Vec<_>, _>>()?,
        (None, _) => vec![new_signing_key(&state, now)?],
    };
    let record = Cluster {
        subscription_id: sub,
        resource_group: rg.clone(),
        name,
        location,
        tags: body.tags.unwrap_or_default(),
        tenant_id: caller.tenant_id.clone(),
        issuer_id: wid_core::ids::random_uuid().to_string(),
        oidc_issuer_enabled: oidc_enabled,
        workload_identity_enabled: wi_enabled,
        audit: Audit {
            created_by: caller.app_id.clone(),
            created_at: now,
            modified_by: caller.app_id,
            modified_at: now,
        },
    };
    let (stored, created) = match state.store.put_cluster(&record, &initial_keys).await {
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
    Ok((status, Json(render(&state, &stored))).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
) -> Result<Json<wire::Cluster>, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    Ok(Json(render(&state, &c)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path((sub, rg, name)): ClusterPath,
) -> Result<StatusCode, ArmError> {
    check_version(&query)?;
    let sub = super::subscription(&state, &caller, &sub)?;
    let k = key(sub, rg.clone(), name);
    let deleted = match state.store.delete_cluster(&k).await {
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
    query: ArmQuery,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<Page<wire::Cluster>>, ArmError> {
    check_version(&query)?;
    let sub = super::subscription(&state, &caller, &sub)?;
    let clusters = match state.store.clusters_in_group(sub, &rg).await {
        Err(wid_store::StoreError::ResourceGroupNotFound) => {
            return Err(ArmError::resource_group_not_found(&rg))
        }
        other => other?,
    };
    Ok(Json(Page::complete(
        clusters.iter().map(|c| render(&state, c)).collect(),
    )))
}

pub async fn list_in_subscription(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::Cluster>>, ArmError> {
    check_version(&query)?;
    let sub = super::subscription(&state, &caller, &sub)?;
    let clusters = state.store.clusters_in_subscription(sub).await?;
    Ok(Json(Page::complete(
        clusters.iter().map(|c| render(&state, c)).collect(),
    )))
}

/// A new key is published and signs from now on; the old ones stay published, so tokens
/// they signed keep verifying until the user removes them.
pub async fn rotate_signing_keys(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
) -> Result<Json<Page<wire::IssuerKeyInfo>>, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    let keys = state.store.issuer_keys(&c.issuer_id).await?;
    if !keys.is_empty() && keys.iter().all(|k| k.sealed_private_key.is_none()) {
        return Err(ArmError::bad_request(
            "The cluster signs its own tokens with keys wid never held; publish the new public key with issuerKeys instead.",
        ));
    }
    state
        .store
        .add_issuer_key(&c.issuer_id, &new_signing_key(&state, state.now())?)
        .await?;
    list_keys_of(&state, &c).await.map(Json)
}

async fn list_keys_of(
    state: &AppState,
    c: &Cluster,
) -> Result<Page<wire::IssuerKeyInfo>, ArmError> {
    let keys = state.store.issuer_keys(&c.issuer_id).await?;
    Ok(Page::complete(keys.iter().map(key_info).collect()))
}

fn key_info(k: &IssuerKey) -> wire::IssuerKeyInfo {
    wire::IssuerKeyInfo {
        kid: k.kid.clone(),
        alg: k.alg.clone(),
        signing: k.signing,
        has_private_key: k.sealed_private_key.is_some(),
        exported: k.exported_at.is_some(),
        created_at: wid_core::timefmt::rfc3339(k.created_at),
        public_key_pem: pem_encode("PUBLIC KEY", &k.public_spki_der),
    }
}

pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
) -> Result<Json<Page<wire::IssuerKeyInfo>>, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    list_keys_of(&state, &c).await.map(Json)
}

pub async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
    ArmJson(body): ArmJson<wire::IssuerKeyAdd>,
) -> Result<Response, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    let k = public_key(&body.public_key_pem, state.now())?;
    state.store.add_issuer_key(&c.issuer_id, &k).await?;
    Ok((StatusCode::CREATED, Json(key_info(&k))).into_response())
}

pub async fn remove_key(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path((sub, rg, name, kid)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, (sub, rg, name)).await?;
    let removed = state.store.remove_issuer_key(&c.issuer_id, &kid).await?;
    Ok(super::delete_status(removed))
}

/// The signing key, once and only once, for a self-managed kube-apiserver.
pub async fn export_signing_key(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
) -> Result<Json<wire::ExportedSigningKey>, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    let keys = state.store.issuer_keys(&c.issuer_id).await?;
    let signing = keys
        .iter()
        .find(|k| k.signing && k.sealed_private_key.is_some())
        .ok_or_else(|| ArmError::bad_request("wid holds no signing key for this cluster."))?;
    if !state
        .store
        .mark_issuer_key_exported(&c.issuer_id, &signing.kid, state.now())
        .await?
    {
        return Err(ArmError::conflict(format!(
            "The signing key '{}' was exported before; a private key is handed out only once. Rotate to get a new one.",
            signing.kid
        )));
    }
    let pkcs8 = open(&state, signing)?;
    Ok(Json(wire::ExportedSigningKey {
        kid: signing.kid.clone(),
        issuer: issuer_of(&state, &c),
        private_key_pem: pem_encode("PRIVATE KEY", &pkcs8),
        public_key_pem: pem_encode("PUBLIC KEY", &signing.public_spki_der),
    }))
}

fn open(state: &AppState, k: &IssuerKey) -> Result<zeroize::Zeroizing<Vec<u8>>, ArmError> {
    let sealed = k
        .sealed_private_key
        .as_deref()
        .ok_or_else(ArmError::internal)?;
    state.kek.open(sealed, ISSUER_KEY_PURPOSE).map_err(|e| {
        tracing::error!(error = %e, "unsealing an issuer key failed");
        ArmError::internal()
    })
}

/// A service-account token as the cluster's API server would issue it.
pub async fn service_account_token(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
    ArmJson(body): ArmJson<wire::ServiceAccountTokenRequest>,
) -> Result<Json<wire::ServiceAccountToken>, ArmError> {
    check_version(&query)?;
    let c = existing(&state, &caller, path).await?;
    let request = TokenRequest::from(body);
    request.validate().map_err(token_request_error)?;
    if !c.oidc_issuer_enabled {
        return Err(token_request_error(TokenRequestError::IssuerDisabled));
    }
    let keys = state.store.issuer_keys(&c.issuer_id).await?;
    let signing = keys
        .iter()
        .find(|k| k.signing && k.sealed_private_key.is_some())
        .ok_or_else(|| token_request_error(TokenRequestError::NoSigningKey))?;
    let key = SigningKey::from_pkcs8_der(&open(&state, signing)?).map_err(|e| {
        tracing::error!(error = %e, "issuer key unusable");
        ArmError::internal()
    })?;
    let now = state.now();
    let claims = cluster::service_account_claims(
        &issuer_of(&state, &c),
        &request,
        now,
        wid_core::ids::random_uuid().to_string(),
    );
    let token = key
        .sign_jwt(&claims, &HeaderParams::default())
        .map_err(|_| ArmError::internal())?;
    Ok(Json(wire::ServiceAccountToken {
        token,
        expiration_timestamp: wid_core::timefmt::rfc3339(claims.exp),
    }))
}

fn token_request_error(e: TokenRequestError) -> ArmError {
    ArmError::bad_request(e.to_string())
}
