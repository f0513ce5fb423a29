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

/// A resource provider as `GET /subscriptions/{sub}/providers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: String,
    pub namespace: String,
    pub registration_state: String,
    pub registration_policy: String,
    pub resource_types: Vec<ProviderResourceType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderResourceType {
    pub resource_type: String,
    /// Display names (`East US`); empty for global types.
    pub locations: Vec<String>,
    /// Newest first.
    pub api_versions: Vec<String>,
    pub default_api_version: String,
}

/// A region as `GET /subscriptions/{sub}/locations` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub regional_display_name: String,
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

/// `PATCH` of a group: what is given replaces what is stored, the rest stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupPatch {
    #[serde(default)]
    pub tags: Option<Tags>,
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

/// `Microsoft.ContainerService/managedClusters` as clients PUT it. Every field is optional:
/// what is absent takes AKS's default at creation and keeps its value on update, so a PUT of
/// a GET's body changes nothing. Read-only fields and properties wid does not model are
/// ignored, as AKS ignores read-only ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCreate {
    #[serde(default)]
    pub location: String,
    pub tags: Option<Tags>,
    pub sku: Option<ClusterSkuInput>,
    pub identity: Option<ClusterIdentityInput>,
    pub properties: Option<ClusterPropertiesInput>,
}

/// `PATCH …/managedClusters/{name}` (`begin_update_tags`): only tags change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagsPatch {
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSkuInput {
    pub name: Option<String>,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIdentityInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPropertiesInput {
    pub kubernetes_version: Option<String>,
    pub dns_prefix: Option<String>,
    pub node_resource_group: Option<String>,
    pub agent_pool_profiles: Option<Vec<AgentPoolInput>>,
    pub linux_profile: Option<LinuxProfile>,
    pub network_profile: Option<NetworkProfileInput>,
    #[serde(rename = "enableRBAC")]
    pub enable_rbac: Option<bool>,
    pub disable_local_accounts: Option<bool>,
    pub oidc_issuer_profile: Option<OidcIssuerProfileInput>,
    pub security_profile: Option<SecurityProfile>,
    /// wid's extension, write-only: a kubeconfig (base64, as ARM's credential results carry
    /// it) for the real API server this cluster record stands for. Sealed at rest, never
    /// returned by GET, served by `listClusterUserCredential`; absent keeps the one
    /// attached, an empty string detaches it.
    pub attached_kubeconfig: Option<Redacted>,
}

/// A write-only secret of a request body: serialized as the string it is, never shown by
/// `Debug`, so a body logged while debugging does not carry it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
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

/// An agent pool as clients send it (`agentPoolProfiles[]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolInput {
    pub name: Option<String>,
    pub count: Option<i64>,
    pub vm_size: Option<String>,
    #[serde(rename = "osDiskSizeGB")]
    pub os_disk_size_gb: Option<i64>,
    pub os_disk_type: Option<String>,
    pub kubelet_disk_type: Option<String>,
    pub max_pods: Option<i64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub mode: Option<String>,
    pub os_type: Option<String>,
    #[serde(rename = "osSKU")]
    pub os_sku: Option<String>,
    pub orchestrator_version: Option<String>,
    pub enable_auto_scaling: Option<bool>,
    pub min_count: Option<i64>,
    pub max_count: Option<i64>,
    #[serde(rename = "enableNodePublicIP")]
    pub enable_node_public_ip: Option<bool>,
    pub node_labels: Option<Tags>,
    pub node_taints: Option<Vec<String>>,
    pub availability_zones: Option<Vec<String>>,
    pub tags: Option<Tags>,
}

/// An agent pool as wid keeps it: AKS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPool {
    pub name: String,
    pub count: i64,
    pub vm_size: String,
    #[serde(rename = "osDiskSizeGB")]
    pub os_disk_size_gb: i64,
    pub os_disk_type: String,
    pub kubelet_disk_type: String,
    pub max_pods: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub mode: String,
    pub os_type: String,
    #[serde(rename = "osSKU")]
    pub os_sku: String,
    pub orchestrator_version: String,
    pub enable_auto_scaling: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i64>,
    #[serde(rename = "enableNodePublicIP")]
    pub enable_node_public_ip: bool,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub node_labels: Tags,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_taints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// `agentPoolProfiles[]` as AKS answers it: the pool and its read-only state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolProfile {
    #[serde(flatten)]
    pub pool: AgentPool,
    pub current_orchestrator_version: String,
    pub provisioning_state: String,
    pub power_state: PowerState,
    pub node_image_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PowerState {
    pub code: String,
}

/// `linuxProfile`: the nodes' admin user and the SSH key az's `--generate-ssh-keys` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxProfile {
    pub admin_username: String,
    pub ssh: SshConfiguration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshConfiguration {
    pub public_keys: Vec<SshPublicKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshPublicKey {
    pub key_data: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfileInput {
    pub network_plugin: Option<String>,
    pub network_plugin_mode: Option<String>,
    pub network_policy: Option<String>,
    pub network_dataplane: Option<String>,
    pub pod_cidr: Option<String>,
    pub service_cidr: Option<String>,
    #[serde(rename = "dnsServiceIP")]
    pub dns_service_ip: Option<String>,
    pub outbound_type: Option<String>,
    pub load_balancer_sku: Option<String>,
    pub pod_cidrs: Option<Vec<String>>,
    pub service_cidrs: Option<Vec<String>>,
    pub ip_families: Option<Vec<String>>,
}

/// `networkProfile` as wid keeps and answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    pub network_plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_plugin_mode: Option<String>,
    pub network_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_dataplane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    pub service_cidr: String,
    #[serde(rename = "dnsServiceIP")]
    pub dns_service_ip: String,
    pub outbound_type: String,
    pub load_balancer_sku: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
    pub service_cidrs: Vec<String>,
    pub ip_families: Vec<String>,
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
    pub sku: ClusterSku,
    pub identity: ClusterIdentity,
    pub properties: ClusterProperties,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSku {
    pub name: String,
    pub tier: String,
}

/// The cluster's system-assigned identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    pub principal_id: String,
    pub tenant_id: String,
}

/// An entry of `identityProfile` (`kubeletidentity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityRef {
    pub resource_id: String,
    pub client_id: String,
    pub object_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalProfile {
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProperties {
    pub provisioning_state: String,
    pub power_state: PowerState,
    pub max_agent_pools: i64,
    pub kubernetes_version: String,
    pub current_kubernetes_version: String,
    pub dns_prefix: String,
    pub fqdn: String,
    #[serde(rename = "azurePortalFQDN")]
    pub azure_portal_fqdn: String,
    pub agent_pool_profiles: Vec<AgentPoolProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux_profile: Option<LinuxProfile>,
    pub service_principal_profile: ServicePrincipalProfile,
    pub node_resource_group: String,
    #[serde(rename = "enableRBAC")]
    pub enable_rbac: bool,
    pub support_plan: String,
    pub network_profile: NetworkProfile,
    pub identity_profile: BTreeMap<String, UserAssignedIdentityRef>,
    pub disable_local_accounts: bool,
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

/// The status of an asynchronous operation (ARM's common `OperationStatusResult`), behind
/// the `Azure-AsyncOperation` URL a long-running request answers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    pub id: String,
    pub name: String,
    pub resource_id: String,
    pub status: String,
    pub percent_complete: f64,
    pub start_time: String,
    pub end_time: String,
}

/// `listClusterUserCredential` / `listClusterAdminCredential`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialResults {
    pub kubeconfigs: Vec<CredentialResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialResult {
    pub name: String,
    /// Base64 of the kubeconfig.
    pub value: String,
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
    pub network_acls: Option<NetworkRuleSetInput>,
    pub public_network_access: Option<String>,
}

/// A vault's `networkAcls`, read only to refuse what wid would not enforce.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRuleSetInput {
    pub bypass: Option<String>,
    pub default_action: Option<String>,
    pub ip_rules: Option<Vec<Value>>,
    pub virtual_network_rules: Option<Vec<Value>>,
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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecretResourceInput {
    pub tags: Option<Tags>,
    pub properties: Option<SecretResourceProperties>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretResourceProperties {
    pub value: Option<Redacted>,
    pub content_type: Option<String>,
    pub attributes: Option<crate::keyvault::SecretAttributes>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubeconfig_in_a_body_is_not_shown_by_debug() {
        let body: ClusterPropertiesInput =
            serde_json::from_value(serde_json::json!({"attachedKubeconfig": "c2VjcmV0"})).unwrap();
        assert_eq!(
            body.attached_kubeconfig,
            Some(Redacted("c2VjcmV0".to_owned()))
        );
        assert!(!format!("{body:?}").contains("c2VjcmV0"));
        assert_eq!(
            serde_json::to_value(&body).unwrap()["attachedKubeconfig"],
            "c2VjcmV0"
        );
    }
}
