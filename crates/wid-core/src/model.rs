//! The records wid keeps. Stores persist exactly these; the planes render them into wire bodies.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

/// Who created or last changed a resource (ARM `systemData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub created_by: String,
    pub created_at: i64,
    pub modified_by: String,
    pub modified_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    pub default_domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
}

/// An application-style service principal that authenticates with a client secret
/// (the bootstrap admin). Only a hash of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub object_id: String,
    pub app_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub secret_hash: Vec<u8>,
}

/// A user of the directory, who signs in with a password. Only a slow hash of the password
/// is kept ([`crate::password`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub object_id: String,
    pub tenant_id: String,
    /// `name@domain`, unique in the tenant regardless of case.
    pub user_principal_name: String,
    pub display_name: String,
    pub mail_nickname: String,
    pub account_enabled: bool,
    pub password_hash: String,
    pub sign_in: crate::password::SignInState,
    pub created_at: i64,
}

/// A token-signing key of a tenant; the private half is sealed with the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub tenant_id: String,
    pub alg: String,
    pub public_spki_der: Vec<u8>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    pub subscription_id: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub managed_by: Option<String>,
    pub audit: Audit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    pub subscription_id: String,
    /// The resource group's name as it was written when the group was created.
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub tenant_id: String,
    pub client_id: String,
    pub principal_id: String,
    pub isolation_scope: String,
    pub audit: Audit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    pub audit: Audit,
}

/// Identifies a managed identity by its ARM coordinates; names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityKey {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

/// A Kubernetes cluster as wid knows it: an ARM resource whose OIDC issuer wid hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub subscription_id: String,
    /// The resource group's name as it was written when the group was created.
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub tenant_id: String,
    /// The random path segment of the issuer URL; stable for the cluster's life, so tokens
    /// and federated credentials survive disabling and re-enabling the issuer.
    pub issuer_id: String,
    pub oidc_issuer_enabled: bool,
    pub workload_identity_enabled: bool,
    /// Everything else AKS clients read and write back (see [`crate::cluster_spec`]).
    pub spec: ClusterSpec,
    /// A kubeconfig for the real API server, sealed under the KEK and bound to the issuer id;
    /// served only by the credential actions.
    pub sealed_kubeconfig: Option<Vec<u8>>,
    pub audit: Audit,
}

/// The AKS properties of a cluster with AKS's defaults filled in, kept as one JSON
/// document: wid stores and returns them so that clients which read a cluster before they
/// write it back (az, the SDKs, Terraform) find what they expect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub kubernetes_version: String,
    pub dns_prefix: String,
    pub node_resource_group: String,
    pub agent_pools: Vec<wid_types::resources::AgentPool>,
    pub linux_profile: Option<wid_types::resources::LinuxProfile>,
    pub network: wid_types::resources::NetworkProfile,
    pub enable_rbac: bool,
    pub disable_local_accounts: bool,
    pub sku_tier: String,
    /// The system-assigned identity's object id.
    pub principal_id: String,
    pub kubelet_client_id: String,
    pub kubelet_object_id: String,
}

/// Identifies a cluster by its ARM coordinates; names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterKey {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

/// A long-running ARM operation, finished when it is recorded (wid completes operations
/// within their request). Its id is a lower-case GUID; readers need read access on
/// `resource_id`, the ARM id of the resource it acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmOperation {
    pub id: String,
    pub subscription_id: String,
    pub resource_id: String,
    /// ARM's terminal status: `Succeeded`, `Failed` or `Canceled`.
    pub status: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub expires_at: i64,
}

/// A key published in a cluster issuer's JWKS. wid holds the private half (sealed) for keys
/// it generated; keys a user brought are public only, their private half stays in the
/// cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    pub kid: String,
    pub alg: String,
    pub public_spki_der: Vec<u8>,
    pub sealed_private_key: Option<Vec<u8>>,
    /// The one key wid signs service-account tokens with; at most one per cluster.
    pub signing: bool,
    /// Set once the private key was handed out; it is never handed out twice.
    pub exported_at: Option<i64>,
    pub created_at: i64,
}

/// A role assignment: a principal holds a role at a scope and everything below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The assignment's GUID name.
    pub name: String,
    pub tenant_id: String,
    /// An ARM id prefix: `/subscriptions/…`, a group, a resource, or a Key Vault object.
    pub scope: String,
    /// As the client sent it (subscription-scoped form or not), echoed back as Azure does.
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub description: Option<String>,
    pub audit: Audit,
}

/// A Key Vault. Names are global, as Azure's are: a vault name is taken across
/// subscriptions, and a soft-deleted vault keeps its name until purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vault {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub tenant_id: String,
    pub settings: VaultSettings,
    /// The vault's data key, sealed with the key-encryption key: secret values are sealed
    /// with it, so a KEK rotation re-wraps one key per vault, not every secret.
    pub sealed_data_key: Vec<u8>,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
    pub audit: Audit,
}

/// What a vault's properties say about authorization and deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultSettings {
    pub sku_name: String,
    pub enable_rbac_authorization: bool,
    pub enable_soft_delete: bool,
    pub soft_delete_retention_in_days: i64,
    pub enable_purge_protection: bool,
    pub access_policies: Vec<AccessPolicy>,
    #[serde(default)]
    pub enabled_for_deployment: bool,
    #[serde(default)]
    pub enabled_for_disk_encryption: bool,
    #[serde(default)]
    pub enabled_for_template_deployment: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    pub tenant_id: String,
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    pub permissions: AccessPermissions,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPermissions {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default)]
    pub storage: Vec<String>,
}

/// One version of a secret; the value is sealed with the vault's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub version: String,
    pub sealed_value: Vec<u8>,
    pub content_type: Option<String>,
    pub tags: Tags,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    /// The version backs a certificate: Key Vault writes, updates and deletes it with the
    /// certificate and refuses to let a client do so through the secrets collection.
    pub managed: bool,
}

/// A secret's name and deletion state, with one of its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
    pub version: SecretVersion,
}

/// The public half of a vault key as a JWK (RFC 7517), without `kid`: the key id is the
/// versioned URL, which depends on the host the vault is reached by. Members are base64url.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// One version of a vault key. The private key (PKCS#8 DER) is sealed with the vault's data
/// key under the purpose `key:{vault}/{name}/{version}`; only the public JWK is in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersion {
    pub version: String,
    /// Key Vault's `kty`: `RSA`, `RSA-HSM`, `EC` or `EC-HSM`.
    pub kty: String,
    /// The curve of an EC key (`P-256`, `P-384`, `P-521`).
    pub crv: Option<String>,
    /// The modulus size in bits of an RSA key.
    pub size: Option<u32>,
    /// The operations the version allows, by Key Vault's names (`sign`, `wrapKey`, ...).
    pub key_ops: Vec<String>,
    pub public_jwk: PublicJwk,
    pub sealed_private_key: Vec<u8>,
    pub tags: Tags,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    /// Whether the private key may be exported; wid does not export keys.
    pub exportable: bool,
    /// Whether the key backs a certificate (and is then managed through it).
    pub managed: bool,
}

/// A vault key's name and deletion state, with one of its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKey {
    pub name: String,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
    pub version: KeyVersion,
}

/// A version of a key vault certificate: the DER certificate (public) and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateVersion {
    pub version: String,
    pub der: Vec<u8>,
    pub x5t: String,
    pub tags: Tags,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

/// A certificate's name, policy (JSON) and deletion state, with one of its versions (none
/// while its first issuance is pending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub name: String,
    pub policy: String,
    pub policy_created: i64,
    pub policy_updated: i64,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
    pub version: Option<CertificateVersion>,
}

/// A certificate's last create operation, as `/certificates/{name}/pending` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOperation {
    pub request_id: String,
    pub status: String,
    pub status_details: Option<String>,
    pub error: Option<String>,
    pub csr: Option<Vec<u8>>,
    pub cancellation_requested: bool,
    /// What the version takes when it is issued.
    pub enabled: bool,
    pub tags: Tags,
}

/// An application registration (Graph's `application`): what a service principal of the
/// tenant instantiates, and what federated credentials and client secrets belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub object_id: String,
    pub tenant_id: String,
    /// The client id, unique across the installation as across Entra.
    pub app_id: String,
    pub display_name: String,
    pub sign_in_audience: String,
    pub identifier_uris: Vec<String>,
    pub created_at: i64,
}

/// A client secret of an application. Only the secret's hash is kept; the hint is its first
/// three characters, as Graph shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationPassword {
    pub key_id: String,
    pub display_name: Option<String>,
    pub hint: String,
    pub secret_hash: Vec<u8>,
    pub start_at: i64,
    pub end_at: i64,
}

/// A federated identity credential of an application: Graph gives it an id as well as a
/// name, and either addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFederatedCredential {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    pub description: Option<String>,
}

/// The service principal of an application in its tenant: the object role assignments,
/// access policies and tokens' `oid` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppServicePrincipal {
    pub object_id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub display_name: String,
    pub created_at: i64,
}

/// A directory role held by a principal, tenant-wide (Graph's `unifiedRoleAssignment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRoleAssignment {
    pub id: String,
    pub tenant_id: String,
    pub principal_id: String,
    /// The role's template id, e.g. Directory Readers' `88d8e3e3-…`.
    pub role_definition_id: String,
    pub directory_scope_id: String,
}
