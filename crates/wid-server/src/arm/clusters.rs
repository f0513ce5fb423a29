//! Clusters (`az aks …`): `Microsoft.ContainerService/managedClusters` as AKS clients read
//! and write it, the OIDC issuer wid hosts for each, its keys, service-account tokens signed
//! as the cluster's API server would sign them, and the kubeconfig of the API server a
//! cluster record may be attached to.
//!
//! Writes are long-running operations in ARM's manner: PUT and PATCH answer with the
//! resource and an `Azure-AsyncOperation` URL, DELETE and the signing-key rotation with 202
//! and both `Azure-AsyncOperation` and `Location`. wid completes each within its request and
//! records it (see [`crate::arm::operations`]) so that the URLs answer as AKS's do.

use super::auth::Caller;
use super::error::ArmError;
use super::operations;
use super::render::{normalize_location, system_data};
use super::request::{ArmJson, ArmQuery};
use crate::keyring::{ISSUER_KEY_PURPOSE, KUBECONFIG_PURPOSE};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use std::collections::BTreeMap;
use wid_core::cluster::{self, TokenRequest, TokenRequestError};
use wid_core::cluster_spec::{self, Envelope, Placement, SpecError};
use wid_core::model::{Audit, Cluster, ClusterKey, IssuerKey};
use wid_core::resource_id;
use wid_jose::{pem_encode, HeaderParams, SigningKey, VerifyingKey};
use wid_types::arm::Page;
use wid_types::resources as wire;

pub const CLUSTER_TYPE: &str = "Microsoft.ContainerService/managedClusters";
const PROVIDER: &str = "Microsoft.ContainerService";
type ClusterPath = Path<(String, String, String)>;

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

pub fn cluster_id(c: &Cluster) -> String {
    format!(
        "{}/providers/{CLUSTER_TYPE}/{}",
        resource_id::resource_group(&c.subscription_id, &c.resource_group),
        c.name
    )
}

/// The cluster as AKS answers it. What wid does not run (nodes, a control plane) is
/// reported as AKS reports a healthy cluster, so clients that wait for `Succeeded` and
/// `Running` go on.
pub fn render(state: &AppState, c: &Cluster) -> wire::Cluster {
    let spec = &c.spec;
    let host = format!(
        "{}-{}",
        spec.dns_prefix.to_ascii_lowercase(),
        &c.issuer_id.replace('-', "")[..8]
    );
    let running = || wire::PowerState {
        code: "Running".to_owned(),
    };
    let kubelet = wire::UserAssignedIdentityRef {
        resource_id: format!(
            "{}/providers/{}/{}-agentpool",
            resource_id::resource_group(&c.subscription_id, &spec.node_resource_group),
            resource_id::IDENTITY_TYPE,
            c.name
        ),
        client_id: spec.kubelet_client_id.clone(),
        object_id: spec.kubelet_object_id.clone(),
    };
    wire::Cluster {
        id: cluster_id(c),
        name: c.name.clone(),
        kind: "Microsoft.ContainerService/ManagedClusters".to_owned(),
        location: c.location.clone(),
        tags: c.tags.clone(),
        system_data: system_data(&c.audit),
        sku: wire::ClusterSku {
            name: "Base".to_owned(),
            tier: spec.sku_tier.clone(),
        },
        identity: wire::ClusterIdentity {
            kind: "SystemAssigned".to_owned(),
            principal_id: spec.principal_id.clone(),
            tenant_id: c.tenant_id.clone(),
        },
        properties: wire::ClusterProperties {
            provisioning_state: "Succeeded".to_owned(),
            power_state: running(),
            max_agent_pools: cluster_spec::MAX_AGENT_POOLS,
            kubernetes_version: spec.kubernetes_version.clone(),
            current_kubernetes_version: cluster_spec::current_version(&spec.kubernetes_version),
            dns_prefix: spec.dns_prefix.clone(),
            fqdn: format!("{host}.hcp.{}.{}", c.location, state.cloud.dns_suffix),
            azure_portal_fqdn: format!(
                "{host}.portal.hcp.{}.{}",
                c.location, state.cloud.dns_suffix
            ),
            agent_pool_profiles: spec
                .agent_pools
                .iter()
                .map(|p| wire::AgentPoolProfile {
                    current_orchestrator_version: cluster_spec::current_version(
                        &p.orchestrator_version,
                    ),
                    provisioning_state: "Succeeded".to_owned(),
                    power_state: running(),
                    node_image_version: format!("AKS{}-wid", p.os_sku),
                    pool: p.clone(),
                })
                .collect(),
            linux_profile: spec.linux_profile.clone(),
            service_principal_profile: wire::ServicePrincipalProfile {
                client_id: "msi".to_owned(),
            },
            node_resource_group: spec.node_resource_group.clone(),
            enable_rbac: spec.enable_rbac,
            support_plan: "KubernetesOfficial".to_owned(),
            network_profile: spec.network.clone(),
            identity_profile: BTreeMap::from([("kubeletidentity".to_owned(), kubelet)]),
            disable_local_accounts: spec.disable_local_accounts,
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

fn spec_error(e: SpecError) -> ArmError {
    let status = if e.code() == "OperationNotAllowed" {
        StatusCode::CONFLICT
    } else {
        StatusCode::BAD_REQUEST
    };
    ArmError::code(status, e.code(), e.to_string())
}

/// What the body's `attachedKubeconfig` asks for: absent keeps what is attached, empty
/// detaches, anything else must be the base64 of a UTF-8 kubeconfig and is sealed.
fn kubeconfig(
    state: &AppState,
    requested: Option<&str>,
    current: Option<&Cluster>,
) -> Result<Option<Vec<u8>>, ArmError> {
    let Some(b64) = requested else {
        return Ok(current.and_then(|c| c.sealed_kubeconfig.clone()));
    };
    if b64.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ArmError::invalid_parameter(
            "The value of 'attachedKubeconfig' is invalid: the base64 of a kubeconfig file is required.",
        )
    };
    let plain = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid())?,
    );
    if plain.is_empty() || std::str::from_utf8(&plain).is_err() {
        return Err(invalid());
    }
    let sealed = state.kek.seal(&plain, KUBECONFIG_PURPOSE).map_err(|e| {
        tracing::error!(error = %e, "sealing failed");
        ArmError::internal()
    })?;
    Ok(Some(sealed))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path((sub, rg, name)): ClusterPath,
    ArmJson(body): ArmJson<wire::ClusterCreate>,
) -> Result<Response, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?.to_owned();
    check_name(&name)?;
    let location = normalize_location(&body.location);
    if location.is_empty() {
        return Err(ArmError::location_required());
    }
    let props = body.properties.clone().unwrap_or_default();
    let oidc = props.oidc_issuer_profile.clone().unwrap_or_default();
    let workload_identity = props
        .security_profile
        .as_ref()
        .and_then(|p| p.workload_identity.as_ref())
        .and_then(|w| w.enabled);
    let now = state.now();
    let current = state
        .store
        .cluster(&key(&sub, rg.clone(), name.clone()))
        .await?;
    if let Some(c) = current.as_ref().filter(|c| c.location != location) {
        return Err(spec_error(SpecError::Immutable {
            field: "location",
            current: c.location.clone(),
            requested: location,
        }));
    }
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
    let issuer_id = current.as_ref().map_or_else(
        || wid_core::ids::random_uuid().to_string(),
        |c| c.issuer_id.clone(),
    );
    let spec = cluster_spec::resolve(
        &props,
        Envelope {
            sku: body.sku.as_ref(),
            identity: body.identity.as_ref(),
        },
        current.as_ref().map(|c| &c.spec),
        &Placement {
            subscription_id: &sub,
            resource_group: current.as_ref().map_or(&rg, |c| &c.resource_group),
            name: current.as_ref().map_or(&name, |c| &c.name),
            location: &location,
            issuer_id: &issuer_id,
        },
    )
    .map_err(spec_error)?;
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
    let sealed_kubeconfig = kubeconfig(
        &state,
        props.attached_kubeconfig.as_ref().map(|k| k.0.as_str()),
        current.as_ref(),
    )?;
    let record = Cluster {
        subscription_id: sub,
        resource_group: rg.clone(),
        name,
        location,
        tags: body.tags.unwrap_or_default(),
        tenant_id: caller.tenant_id.clone(),
        issuer_id,
        oidc_issuer_enabled: oidc_enabled,
        workload_identity_enabled: wi_enabled,
        spec,
        sealed_kubeconfig,
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
    let op = operations::record(&state, &stored.subscription_id, &cluster_id(&stored)).await?;
    let links = operations::Links::new(&state, &op, PROVIDER, &stored.location, &query);
    Ok((
        status,
        links.async_operation(),
        Json(render(&state, &stored)),
    )
        .into_response())
}

/// `begin_update_tags`: the tags are replaced, nothing else changes.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
    ArmJson(body): ArmJson<wire::TagsPatch>,
) -> Result<Response, ArmError> {
    let current = existing(&state, &caller, path).await?;
    let Some(tags) = body.tags else {
        return Ok(Json(render(&state, &current)).into_response());
    };
    let now = state.now();
    let record = Cluster {
        tags,
        audit: Audit {
            modified_by: caller.app_id,
            modified_at: now,
            ..current.audit.clone()
        },
        ..current
    };
    let (stored, _) = state.store.put_cluster(&record, &[]).await?;
    let op = operations::record(&state, &stored.subscription_id, &cluster_id(&stored)).await?;
    let links = operations::Links::new(&state, &op, PROVIDER, &stored.location, &query);
    Ok((links.async_operation(), Json(render(&state, &stored))).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): ClusterPath,
) -> Result<Json<wire::Cluster>, ArmError> {
    let c = existing(&state, &caller, path).await?;
    Ok(Json(render(&state, &c)))
}

/// 202 with the operation's URLs when there was a cluster, 204 when there was none (so a
/// retried delete succeeds); pollers accept exactly these two.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path((sub, rg, name)): ClusterPath,
) -> Result<Response, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let k = key(sub, rg.clone(), name);
    let Some(c) = state.store.cluster(&k).await? else {
        return match state.store.resource_group(sub, &rg).await? {
            None => Err(ArmError::resource_group_not_found(&rg)),
            Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        };
    };
    match state.store.delete_cluster(&k).await {
        Err(wid_store::StoreError::ResourceGroupNotFound) => {
            return Err(ArmError::resource_group_not_found(&rg))
        }
        other => other?,
    };
    let op = operations::record(&state, &c.subscription_id, &cluster_id(&c)).await?;
    Ok(operations::Links::new(&state, &op, PROVIDER, &c.location, &query).accepted())
}

pub async fn list_in_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<Page<wire::Cluster>>, ArmError> {
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
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::Cluster>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let clusters = state.store.clusters_in_subscription(sub).await?;
    Ok(Json(Page::complete(
        clusters.iter().map(|c| render(&state, c)).collect(),
    )))
}

/// A new key is published and signs from now on; the old ones stay published, so tokens
/// they signed keep verifying until the user removes them. A long-running action as AKS's
/// is: 202 and the operation's URLs.
pub async fn rotate_signing_keys(
    State(state): State<AppState>,
    caller: Caller,
    query: ArmQuery,
    Path(path): ClusterPath,
) -> Result<Response, ArmError> {
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
    let op = operations::record(&state, &c.subscription_id, &cluster_id(&c)).await?;
    Ok(operations::Links::new(&state, &op, PROVIDER, &c.location, &query).accepted())
}

/// `listClusterUserCredential` and `listClusterAdminCredential`: the kubeconfig of the API
/// server the cluster is attached to.
async fn credentials(
    state: &AppState,
    caller: &Caller,
    path: (String, String, String),
    admin: bool,
) -> Result<Json<wire::CredentialResults>, ArmError> {
    let c = existing(state, caller, path).await?;
    if admin && c.spec.disable_local_accounts {
        return Err(ArmError::bad_request(
            "Getting static credential is not allowed because this cluster is set to disable local accounts.",
        ));
    }
    let Some(sealed) = &c.sealed_kubeconfig else {
        return Err(ArmError::operation_not_allowed(format!(
            "The cluster '{}' is not attached to a Kubernetes API server, so wid has no credentials for it. Attach one with: wid aks update -g {} -n {} --attach-kubeconfig FILE",
            c.name, c.resource_group, c.name
        )));
    };
    let plain = state.kek.open(sealed, KUBECONFIG_PURPOSE).map_err(|e| {
        tracing::error!(error = %e, "unsealing a kubeconfig failed");
        ArmError::internal()
    })?;
    Ok(Json(wire::CredentialResults {
        kubeconfigs: vec![wire::CredentialResult {
            name: if admin { "clusterAdmin" } else { "clusterUser" }.to_owned(),
            value: base64::engine::general_purpose::STANDARD.encode(&*plain),
        }],
    }))
}

pub async fn list_user_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): ClusterPath,
) -> Result<Json<wire::CredentialResults>, ArmError> {
    credentials(&state, &caller, path, false).await
}

pub async fn list_admin_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): ClusterPath,
) -> Result<Json<wire::CredentialResults>, ArmError> {
    credentials(&state, &caller, path, true).await
}

/// `…/locations/{location}/operations/{operation}`: the status behind `Azure-AsyncOperation`.
pub async fn operation_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, location, id)): Path<(String, String, String)>,
) -> Result<Json<wire::OperationStatus>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    operations::status(&state, sub, PROVIDER, &location, &id)
        .await
        .map(Json)
}

/// `…/locations/{location}/operationresults/{operation}`: behind `Location`. Every wid
/// operation has finished, and none of AKS's has a result body: 204.
pub async fn operation_result(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, location, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    operations::status(&state, sub, PROVIDER, &location, &id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    Path(path): ClusterPath,
) -> Result<Json<Page<wire::IssuerKeyInfo>>, ArmError> {
    let c = existing(&state, &caller, path).await?;
    list_keys_of(&state, &c).await.map(Json)
}

pub async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): ClusterPath,
    ArmJson(body): ArmJson<wire::IssuerKeyAdd>,
) -> Result<Response, ArmError> {
    let c = existing(&state, &caller, path).await?;
    let k = public_key(&body.public_key_pem, state.now())?;
    state.store.add_issuer_key(&c.issuer_id, &k).await?;
    Ok((StatusCode::CREATED, Json(key_info(&k))).into_response())
}

pub async fn remove_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name, kid)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let c = existing(&state, &caller, (sub, rg, name)).await?;
    let removed = state.store.remove_issuer_key(&c.issuer_id, &kid).await?;
    Ok(super::delete_status(removed))
}

/// The signing key, once and only once, for a self-managed kube-apiserver.
pub async fn export_signing_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): ClusterPath,
) -> Result<Json<wire::ExportedSigningKey>, ArmError> {
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
    Path(path): ClusterPath,
    ArmJson(body): ArmJson<wire::ServiceAccountTokenRequest>,
) -> Result<Json<wire::ServiceAccountToken>, ArmError> {
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
