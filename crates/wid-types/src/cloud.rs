//! How clients learn a cloud's endpoints: ARM's cloud metadata document
//! (`GET /metadata/endpoints`), and the view of a registered cloud that `az cloud show`
//! prints. Only the members wid has a value for are typed in the metadata; a client reads an
//! absent member as "not set", which is what wid means for the services it does not serve
//! (portal, gallery, storage, …).

use serde::{Deserialize, Serialize};

/// One cloud, as `/metadata/endpoints` describes it from api-version 2019-05-01 on (a list
/// of these before 2022-09-01, one object from then on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudMetadata {
    pub name: String,
    pub authentication: CloudAuthentication,
    /// The ARM endpoint, with its trailing slash.
    pub resource_manager: String,
    /// The directory API (Azure names Azure AD Graph here); wid's is its Graph plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    /// The audience of `graph` tokens; az reads it as `activeDirectoryGraphResourceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_audience: Option<String>,
    /// Microsoft Graph's resource and base URL; az reads it as `microsoftGraphResourceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microsoft_graph_resource_id: Option<String>,
    pub suffixes: CloudSuffixes,
}

/// The `authentication` member: where tokens come from and for which audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudAuthentication {
    /// The authority host; clients append `/{tenant}`.
    pub login_endpoint: String,
    /// Management token audiences; clients take the first as the resource to ask for.
    pub audiences: Vec<String>,
    pub tenant: String,
    pub identity_provider: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudSuffixes {
    /// Vault hosts are `{vault}.{keyVaultDns}`: no leading dot, and the port when it is not 443.
    pub key_vault_dns: String,
}

/// The document api-versions before 2019-05-01 answer: endpoints without a cloud name, of
/// which wid has only `authentication` (no portal, gallery or Graph endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyCloudMetadata {
    pub authentication: CloudAuthentication,
}

/// A registered cloud as `az cloud show` prints it. Every member az knows is present, `null`
/// when unset, in az's (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzCloud {
    pub endpoints: AzCloudEndpoints,
    pub is_active: bool,
    pub name: String,
    pub profile: String,
    pub suffixes: AzCloudSuffixes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzCloudEndpoints {
    pub active_directory: Option<String>,
    pub active_directory_data_lake_resource_id: Option<String>,
    pub active_directory_graph_resource_id: Option<String>,
    pub active_directory_resource_id: Option<String>,
    pub app_insights_resource_id: Option<String>,
    pub app_insights_telemetry_channel_resource_id: Option<String>,
    pub app_service_resource_id: Option<String>,
    pub attestation_resource_id: Option<String>,
    pub azmirror_storage_account_resource_id: Option<String>,
    pub batch_resource_id: Option<String>,
    pub gallery: Option<String>,
    pub log_analytics_resource_id: Option<String>,
    pub management: Option<String>,
    pub media_resource_id: Option<String>,
    pub microsoft_graph_resource_id: Option<String>,
    pub ossrdbms_resource_id: Option<String>,
    pub portal: Option<String>,
    pub resource_manager: Option<String>,
    pub sql_management: Option<String>,
    pub synapse_analytics_resource_id: Option<String>,
    pub vm_image_alias_doc: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzCloudSuffixes {
    pub acr_login_server_endpoint: Option<String>,
    pub attestation_endpoint: Option<String>,
    pub azure_datalake_analytics_catalog_and_job_endpoint: Option<String>,
    pub azure_datalake_store_file_system_endpoint: Option<String>,
    /// With its leading dot: az builds vault URLs as `https://{vault}{keyvaultDns}`.
    pub keyvault_dns: Option<String>,
    /// Not az's: the resource wid's vaults challenge with, which Key Vault clients ask a
    /// token for. `wid cloud show` adds it; `az cloud show` has no such suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyvault_resource: Option<String>,
    pub mariadb_server_endpoint: Option<String>,
    pub mhsm_dns: Option<String>,
    pub mysql_server_endpoint: Option<String>,
    pub postgresql_server_endpoint: Option<String>,
    pub sql_server_hostname: Option<String>,
    pub storage_endpoint: Option<String>,
    pub storage_sync_endpoint: Option<String>,
    pub synapse_analytics_endpoint: Option<String>,
}
