//! The endpoints of one wid installation, as `az cloud show` describes a cloud. Everything a
//! client needs to reach wid derives from the public URL and the DNS suffix, so the server,
//! the CLI and the tests compute them in this one place.

use serde::{Deserialize, Serialize};

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

    pub fn keyvault_dns_suffix(&self) -> String {
        format!("vault.{}", self.dns_suffix)
    }

    /// The Key Vault resource (challenge `resource`, token audience). Vault hosts are
    /// `{vault}.vault.{suffix}` on wid's port, and clients require the vault host to be a
    /// subdomain of this resource on the same port.
    pub fn keyvault_resource(&self) -> String {
        let port = self
            .public_url
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .filter(|p| *p != 443);
        match port {
            Some(p) => format!("https://{}:{p}", self.keyvault_dns_suffix()),
            None => format!("https://{}", self.keyvault_dns_suffix()),
        }
    }

    /// Resources wid issues tokens for; anything else is Entra's "resource principal not found".
    pub fn is_known_resource(&self, resource: &str) -> bool {
        let r = resource.trim_end_matches('/');
        self.management_audiences()
            .iter()
            .any(|a| a.trim_end_matches('/') == r)
            || r == self.keyvault_resource()
    }

    /// `iss` of v1.0 access tokens (Entra: `https://sts.windows.net/{tid}/`).
    pub fn access_token_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/", self.public_url)
    }

    /// `issuer` of the v2.0 discovery document.
    pub fn v2_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.public_url)
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
        assert!(c.is_known_resource("https://management.wid.localhost"));
        assert!(c.is_known_resource("https://vault.wid.localhost:8443/"));
        assert!(!c.is_known_resource("https://management.azure.com/"));
        let c443 = Cloud {
            public_url: "https://wid.example.com".into(),
            dns_suffix: "example.com".into(),
        };
        assert_eq!(c443.keyvault_resource(), "https://vault.example.com");
        assert_eq!(c443.access_token_issuer("t"), "https://wid.example.com/t/");
    }
}
