//! The endpoints of one wid installation, as `az cloud show` describes a cloud. Everything a
//! client needs to reach wid derives from the public URL and the DNS suffix, so the server,
//! the CLI and the tests compute them in this one place: ARM's cloud metadata document (from
//! which `az cloud register` fills a cloud) and `wid cloud show` are both made here, the
//! latter by mapping the former as az does, so the two cannot disagree.

use serde::{Deserialize, Serialize};
use wid_types::cloud::{
    AzCloud, AzCloudEndpoints, AzCloudSuffixes, CloudAuthentication, CloudMetadata, CloudSuffixes,
    LegacyCloudMetadata,
};

/// The cloud's name in its metadata, and the name `wid cloud register-az` gives it in az.
pub const CLOUD_NAME: &str = "wid";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cloud {
    /// `https://host:port` without a trailing slash: authority host and ARM endpoint.
    pub public_url: String,
    /// Parent domain of the per-service host names, e.g. `wid.localhost`.
    pub dns_suffix: String,
}

impl Cloud {
    pub fn authority(&self) -> &str {
        &self.public_url
    }

    pub fn resource_manager(&self) -> String {
        format!("{}/", self.public_url)
    }

    /// The audience of management-plane tokens (az's `activeDirectoryResourceId`).
    pub fn management_resource(&self) -> String {
        format!("https://management.{}/", self.dns_suffix)
    }

    pub fn management_scope(&self) -> String {
        format!("{}.default", self.management_resource())
    }

    /// Resource ids the management plane accepts as token audience: with and without the
    /// trailing slash, as Entra emits either depending on how the scope was written.
    pub fn management_audiences(&self) -> [String; 2] {
        let with = self.management_resource();
        let without = with.trim_end_matches('/').to_owned();
        [with, without]
    }

    /// Parent domain of vault host names, without the port: what a request's `Host` is
    /// matched against.
    pub fn keyvault_dns_suffix(&self) -> String {
        format!("vault.{}", self.dns_suffix)
    }

    /// az's `keyVaultDns` suffix (ARM metadata's `suffixes.keyVaultDns`): vault URLs are
    /// `https://{vault}.{this}`, so it carries wid's port when that is not 443, or clients
    /// would knock on 443.
    pub fn keyvault_dns(&self) -> String {
        match self.port() {
            Some(p) => format!("{}:{p}", self.keyvault_dns_suffix()),
            None => self.keyvault_dns_suffix(),
        }
    }

    /// The Key Vault resource (challenge `resource`, token audience). Vault hosts are
    /// `{vault}.vault.{suffix}` on wid's port, and clients require the vault host to be a
    /// subdomain of this resource on the same port.
    pub fn keyvault_resource(&self) -> String {
        format!("https://{}", self.keyvault_dns())
    }

    /// Host of the Microsoft Graph plane, without the port.
    pub fn graph_host(&self) -> String {
        format!("graph.{}", self.dns_suffix)
    }

    /// The Graph resource (az's `microsoftGraphResourceId`): the token audience and, since az
    /// and the Graph SDKs use one string for both, the base URL of Graph requests, so it names
    /// a host that reaches wid, on wid's port.
    pub fn graph_resource(&self) -> String {
        match self.port() {
            Some(p) => format!("https://{}:{p}/", self.graph_host()),
            None => format!("https://{}/", self.graph_host()),
        }
    }

    /// The port of the public URL when it is not HTTPS's default.
    fn port(&self) -> Option<u16> {
        let authority = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, rest)| rest);
        let authority = authority.split('/').next().unwrap_or(authority);
        authority
            .rsplit_once(':')
            .filter(|(host, _)| !host.starts_with('[') || host.ends_with(']'))
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .filter(|p| *p != 443)
    }

    /// Whether `resource` is one of wid's own planes (management, Key Vault or Graph), with
    /// or without a trailing slash.
    pub fn serves_resource(&self, resource: &str) -> bool {
        let r = resource.trim_end_matches('/');
        self.management_audiences()
            .iter()
            .any(|a| a.trim_end_matches('/') == r)
            || r == self.keyvault_resource()
            || r == self.graph_resource().trim_end_matches('/')
    }

    /// `iss` of v1.0 access tokens (Entra: `https://sts.windows.net/{tid}/`).
    pub fn access_token_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/", self.public_url)
    }

    /// `issuer` of the v2.0 discovery document.
    pub fn v2_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.public_url)
    }

    /// This cloud as ARM's metadata document describes one, Graph included: wid's Graph
    /// plane is the directory az and the Graph SDKs call, at the URL they take from here.
    pub fn metadata(&self) -> CloudMetadata {
        CloudMetadata {
            name: CLOUD_NAME.to_owned(),
            authentication: CloudAuthentication {
                login_endpoint: self.authority().to_owned(),
                audiences: vec![self.management_resource()],
                tenant: "common".to_owned(),
                identity_provider: "AAD".to_owned(),
            },
            resource_manager: self.resource_manager(),
            graph: Some(self.graph_resource()),
            graph_audience: Some(self.graph_resource()),
            microsoft_graph_resource_id: Some(self.graph_resource()),
            suffixes: CloudSuffixes {
                key_vault_dns: self.keyvault_dns(),
            },
        }
    }

    /// The metadata document in the shape an api-version asks for.
    pub fn metadata_document(&self, shape: MetadataShape) -> MetadataDocument {
        let metadata = self.metadata();
        match shape {
            MetadataShape::Legacy => MetadataDocument::Legacy(LegacyCloudMetadata {
                authentication: metadata.authentication,
            }),
            MetadataShape::List => MetadataDocument::List(vec![metadata]),
            MetadataShape::Single => MetadataDocument::Single(metadata),
        }
    }

    /// What `wid cloud show` prints: the cloud az registers from [`Cloud::metadata`], plus
    /// the Key Vault resource, which az learns from the vaults' challenge instead.
    pub fn az_cloud(&self) -> AzCloud {
        let mut cloud = az_registers(&self.metadata(), CLOUD_NAME, &self.resource_manager());
        cloud.suffixes.keyvault_resource = Some(self.keyvault_resource());
        cloud
    }
}

/// The api-versions of `/metadata/endpoints` that clients send: az (2022-09-01), Terraform
/// and PowerShell (2020-06-01), the Azure Stack samples (2019-10-01), `ARM_CLOUD_METADATA_URL`
/// users (2019-05-01) and older autorest clients (1.0, 2015-01-01, 2018-01-01).
pub const METADATA_API_VERSIONS: &[&str] = &[
    "1.0",
    "2015-01-01",
    "2018-01-01",
    "2019-05-01",
    "2019-10-01",
    "2020-06-01",
    "2022-09-01",
];

/// What the metadata document looks like, by api-version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataShape {
    /// Before 2019-05-01: one object of endpoints, without a cloud name.
    Legacy,
    /// 2019-05-01 up to 2022-09-01: a list of clouds, which clients search by name.
    List,
    /// 2022-09-01 on: the one cloud the endpoint belongs to.
    Single,
}

/// The shape `api_version` answers with, or `None` for a version the endpoint does not know.
/// A well-formed version newer than the newest known one gets the newest shape, so that a
/// client released after wid keeps working.
pub fn metadata_shape(api_version: &str) -> Option<MetadataShape> {
    let v = api_version.to_ascii_lowercase();
    let shape_of_date = |date: &str| match date {
        d if d < "2019-05-01" => MetadataShape::Legacy,
        d if d < "2022-09-01" => MetadataShape::List,
        _ => MetadataShape::Single,
    };
    if v == "1.0" {
        return Some(MetadataShape::Legacy);
    }
    if METADATA_API_VERSIONS.contains(&v.as_str()) {
        return Some(shape_of_date(&v));
    }
    let date = v.strip_suffix("-preview").unwrap_or(&v);
    let newest = METADATA_API_VERSIONS.last().copied().unwrap_or_default();
    (is_date(date) && date > newest).then_some(MetadataShape::Single)
}

/// `YYYY-MM-DD` with a month and day that exist in some year.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (number(y, 4), number(m, 2), number(d, 2)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

/// The body of `/metadata/endpoints`, in one of its [`MetadataShape`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MetadataDocument {
    Legacy(LegacyCloudMetadata),
    List(Vec<CloudMetadata>),
    Single(CloudMetadata),
}

/// The cloud `az cloud register -n NAME --endpoint-resource-manager URL` makes from the
/// metadata it fetches: `loginEndpoint` becomes `activeDirectory`, the first audience both
/// `activeDirectoryResourceId` and `management`, `keyVaultDns` gains a leading dot, and the
/// resource manager stays the URL as given, `graphAudience` becomes
/// `activeDirectoryGraphResourceId` and `microsoftGraphResourceId` keeps its name. Members
/// the metadata lacks stay unset, as they do
/// for a cloud whose name is not one of az's own (whose values az would fall back to).
pub fn az_registers(metadata: &CloudMetadata, name: &str, resource_manager: &str) -> AzCloud {
    let audience = metadata.authentication.audiences.first().cloned();
    let dns = &metadata.suffixes.key_vault_dns;
    AzCloud {
        endpoints: AzCloudEndpoints {
            active_directory: Some(metadata.authentication.login_endpoint.clone()),
            active_directory_resource_id: audience.clone(),
            active_directory_graph_resource_id: metadata.graph_audience.clone(),
            management: audience,
            microsoft_graph_resource_id: metadata.microsoft_graph_resource_id.clone(),
            resource_manager: Some(resource_manager.to_owned()),
            ..AzCloudEndpoints::default()
        },
        is_active: true,
        name: name.to_owned(),
        profile: "latest".to_owned(),
        suffixes: AzCloudSuffixes {
            keyvault_dns: Some(if dns.starts_with('.') {
                dns.clone()
            } else {
                format!(".{dns}")
            }),
            ..AzCloudSuffixes::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_endpoints() {
        let c = Cloud {
            public_url: "https://localhost:8443".into(),
            dns_suffix: "wid.localhost".into(),
        };
        assert_eq!(
            c.management_scope(),
            "https://management.wid.localhost/.default"
        );
        assert_eq!(c.keyvault_resource(), "https://vault.wid.localhost:8443");
        assert!(c.serves_resource("https://management.wid.localhost"));
        assert!(c.serves_resource("https://vault.wid.localhost:8443/"));
        assert!(!c.serves_resource("https://management.azure.com/"));
        assert!(!c.serves_resource("https://vault.azure.net"));
        assert_eq!(c.graph_resource(), "https://graph.wid.localhost:8443/");
        assert!(c.serves_resource("https://graph.wid.localhost:8443"));
        assert!(!c.serves_resource("https://graph.microsoft.com/"));
        let c443 = Cloud {
            public_url: "https://wid.example.com".into(),
            dns_suffix: "example.com".into(),
        };
        assert_eq!(c443.keyvault_resource(), "https://vault.example.com");
        assert_eq!(c443.graph_resource(), "https://graph.example.com/");
        assert_eq!(c443.access_token_issuer("t"), "https://wid.example.com/t/");
    }

    /// The vault suffix carries the port unless it is 443, however the URL spells it.
    #[test]
    fn keyvault_dns_carries_the_port() {
        for (url, dns) in [
            ("https://localhost:8443", "vault.wid.localhost:8443"),
            ("https://localhost:443", "vault.wid.localhost"),
            ("https://localhost", "vault.wid.localhost"),
            ("https://wid.example.com:9443/", "vault.wid.localhost:9443"),
            ("https://[::1]:8443", "vault.wid.localhost:8443"),
            ("https://[::1]", "vault.wid.localhost"),
        ] {
            let c = Cloud {
                public_url: url.into(),
                dns_suffix: "wid.localhost".into(),
            };
            assert_eq!(c.keyvault_dns(), dns, "{url}");
            assert_eq!(c.keyvault_resource(), format!("https://{dns}"), "{url}");
            assert_eq!(c.keyvault_dns_suffix(), "vault.wid.localhost", "{url}");
        }
    }

    #[test]
    fn metadata_shapes_by_api_version() {
        use MetadataShape::*;
        for (version, shape) in [
            ("1.0", Some(Legacy)),
            ("2015-01-01", Some(Legacy)),
            ("2018-01-01", Some(Legacy)),
            ("2019-05-01", Some(List)),
            ("2019-10-01", Some(List)),
            ("2020-06-01", Some(List)),
            ("2022-09-01", Some(Single)),
            ("2022-09-01-PREVIEW", None),
            ("2024-01-01", Some(Single)),
            ("2031-12-31-preview", Some(Single)),
            ("2021-01-01", None),
            ("2019-05-02", None),
            ("2099-13-01", None),
            ("2099-01-32", None),
            ("2099-1-01", None),
            ("latest", None),
            ("", None),
            ("2.0", None),
            ("2099-01-01-beta", None),
        ] {
            assert_eq!(metadata_shape(version), shape, "{version}");
        }
    }

    /// The document's members, and what az makes of them: every endpoint `az cloud
    /// register --endpoint-resource-manager` needs, Graph's included.
    #[test]
    fn metadata_and_the_cloud_az_registers_from_it() {
        let c = Cloud {
            public_url: "https://localhost:8443".into(),
            dns_suffix: "wid.localhost".into(),
        };
        let single = serde_json::to_value(c.metadata_document(MetadataShape::Single)).unwrap();
        let expected = serde_json::json!({
            "name": "wid",
            "authentication": {
                "loginEndpoint": "https://localhost:8443",
                "audiences": ["https://management.wid.localhost/"],
                "tenant": "common",
                "identityProvider": "AAD",
            },
            "resourceManager": "https://localhost:8443/",
            "graph": "https://graph.wid.localhost:8443/",
            "graphAudience": "https://graph.wid.localhost:8443/",
            "microsoftGraphResourceId": "https://graph.wid.localhost:8443/",
            "suffixes": {"keyVaultDns": "vault.wid.localhost:8443"},
        });
        assert_eq!(single, expected);
        let list = serde_json::to_value(c.metadata_document(MetadataShape::List)).unwrap();
        assert_eq!(list, serde_json::json!([expected]));
        let legacy = serde_json::to_value(c.metadata_document(MetadataShape::Legacy)).unwrap();
        assert_eq!(
            legacy,
            serde_json::json!({"authentication": expected["authentication"]})
        );

        let az = serde_json::to_value(c.az_cloud()).unwrap();
        let endpoints = az["endpoints"].as_object().unwrap();
        let set: Vec<(&str, &str)> = endpoints
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        assert_eq!(
            set,
            [
                ("activeDirectory", "https://localhost:8443"),
                (
                    "activeDirectoryGraphResourceId",
                    "https://graph.wid.localhost:8443/"
                ),
                (
                    "activeDirectoryResourceId",
                    "https://management.wid.localhost/"
                ),
                ("management", "https://management.wid.localhost/"),
                (
                    "microsoftGraphResourceId",
                    "https://graph.wid.localhost:8443/"
                ),
                ("resourceManager", "https://localhost:8443/"),
            ]
        );
        assert_eq!(endpoints.len(), 21, "every endpoint az prints");
        assert_eq!(az["suffixes"]["keyvaultDns"], ".vault.wid.localhost:8443");
        assert_eq!(
            az["suffixes"]["keyvaultResource"],
            "https://vault.wid.localhost:8443"
        );
        assert_eq!(
            (&az["name"], &az["profile"], &az["isActive"]),
            (
                &serde_json::json!("wid"),
                &serde_json::json!("latest"),
                &serde_json::json!(true)
            )
        );
    }
}
