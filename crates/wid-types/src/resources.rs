//! ARM resource bodies: what clients PUT and what wid answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    pub created_by: String,
    pub created_by_type: String,
    pub created_at: String,
    pub last_modified_by: String,
    pub last_modified_by_type: String,
    pub last_modified_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub tenant_id: String,
    pub country_code: String,
    pub display_name: String,
    pub domains: Vec<String>,
    pub default_domain: String,
    pub tenant_category: String,
    pub tenant_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicies {
    pub location_placement_id: String,
    pub quota_id: String,
    pub spending_limit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub state: String,
    pub subscription_policies: SubscriptionPolicies,
    pub authorization_source: String,
    pub managed_by_tenants: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningState {
    pub provisioning_state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupCreate {
    pub location: String,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub managed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub managed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tags: Option<Tags>,
    pub properties: ProvisioningState,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityPropertiesInput {
    #[serde(default)]
    pub isolation_scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityCreate {
    pub location: String,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub properties: Option<IdentityPropertiesInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityPatch {
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub properties: Option<IdentityPropertiesInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProperties {
    pub tenant_id: String,
    pub principal_id: String,
    pub client_id: String,
    pub isolation_scope: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    pub system_data: SystemData,
    pub properties: IdentityProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialPropertiesInput {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialCreate {
    #[serde(default)]
    pub properties: Option<FederatedCredentialPropertiesInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialProperties {
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub system_data: SystemData,
    pub properties: FederatedCredentialProperties,
}

/// `Microsoft.ContainerService/managedClusters`, the parts wid models: the OIDC issuer and
/// workload identity. Other AKS properties are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCreate {
    #[serde(default)]
    pub location: String,
    pub tags: Option<Tags>,
    pub properties: Option<ClusterPropertiesInput>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPropertiesInput {
    pub oidc_issuer_profile: Option<OidcIssuerProfileInput>,
    pub security_profile: Option<SecurityProfile>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcIssuerProfileInput {
    pub enabled: Option<bool>,
    /// wid's extension: PEM public keys the cluster signs with. When given at creation,
    /// wid generates no key and never holds a private key for this issuer.
    pub service_account_public_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfile {
    pub workload_identity: Option<WorkloadIdentityProfile>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentityProfile {
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    pub system_data: SystemData,
    pub properties: ClusterProperties,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProperties {
    pub provisioning_state: String,
    pub oidc_issuer_profile: OidcIssuerProfile,
    pub security_profile: SecurityProfile,
}

/// The REST name is `issuerURL` (az prints the SDK's `issuerUrl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcIssuerProfile {
    pub enabled: bool,
    #[serde(rename = "issuerURL", skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
}

/// A key of a cluster's issuer (wid's extension, `…/managedClusters/{name}/issuerKeys`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerKeyInfo {
    pub kid: String,
    pub alg: String,
    pub signing: bool,
    pub has_private_key: bool,
    pub exported: bool,
    pub created_at: String,
    pub public_key_pem: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerKeyAdd {
    pub public_key_pem: String,
}

/// What `…/serviceAccountToken` takes, shaped like a Kubernetes TokenRequest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountTokenRequest {
    pub namespace: String,
    pub service_account_name: String,
    pub audiences: Option<Vec<String>>,
    pub expiration_seconds: Option<i64>,
    pub pod_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountToken {
    pub token: String,
    pub expiration_timestamp: String,
}

/// The private signing key, handed out once for a self-managed kube-apiserver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSigningKey {
    pub kid: String,
    pub issuer: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentCreate {
    pub properties: RoleAssignmentCreateProperties,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentCreateProperties {
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub scope: String,
    pub description: Option<String>,
    pub created_on: String,
    pub updated_on: String,
    pub created_by: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub assignable_scopes: Vec<String>,
    pub permissions: Vec<RolePermissions>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolePermissions {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
}

/// A vault PUT/PATCH body: every property optional here, the handler says what is required.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultInput {
    pub location: Option<String>,
    pub tags: Option<Tags>,
    pub properties: Option<VaultPropertiesInput>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultPropertiesInput {
    pub tenant_id: Option<String>,
    pub sku: Option<Sku>,
    pub access_policies: Option<Vec<Value>>,
    pub enable_rbac_authorization: Option<bool>,
    pub enable_soft_delete: Option<bool>,
    pub soft_delete_retention_in_days: Option<i64>,
    pub enable_purge_protection: Option<bool>,
    pub enabled_for_deployment: Option<bool>,
    pub enabled_for_disk_encryption: Option<bool>,
    pub enabled_for_template_deployment: Option<bool>,
    pub create_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    #[serde(default = "sku_family")]
    pub family: String,
    pub name: String,
}

fn sku_family() -> String {
    "A".to_owned()
}

/// A resource as `GET …/resources` lists it, whatever its type (ARM's `GenericResource`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericResource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    /// Left out of listings filtered by tag, as ARM does.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tags: Option<Tags>,
    /// The three below only when `$expand` names them (`az resource list` does).
    #[serde(
        rename = "createdTime",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub created_time: Option<String>,
    #[serde(
        rename = "changedTime",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub changed_time: Option<String>,
    #[serde(
        rename = "provisioningState",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub provisioning_state: Option<String>,
}

/// `POST …/providers/Microsoft.KeyVault/checkNameAvailability`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaultNameCheck {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameAvailability {
    pub name_available: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

/// A PUT or PATCH of `…/vaults/{v}/secrets/{name}`, the ARM child resource templates use.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecretResourceInput {
    pub tags: Option<Tags>,
    pub properties: Option<SecretResourceProperties>,
}

#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretResourceProperties {
    pub value: Option<String>,
    pub content_type: Option<String>,
    pub attributes: Option<crate::keyvault::SecretAttributes>,
}

/// The value never reaches a log through `{:?}`.
impl std::fmt::Debug for SecretResourceProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretResourceProperties")
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("content_type", &self.content_type)
            .field("attributes", &self.attributes)
            .finish()
    }
}

impl std::fmt::Debug for SecretResourceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretResourceInput")
            .field("tags", &self.tags)
            .field("properties", &self.properties)
            .finish()
    }
}

/// A secret as ARM shows it: metadata and URIs, never the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretResource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    pub properties: SecretResourceView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretResourceView {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    pub attributes: SecretResourceAttributes,
    pub secret_uri: String,
    pub secret_uri_with_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretResourceAttributes {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
}
