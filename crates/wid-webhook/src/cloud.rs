//! The cloud the webhook serves, named by `AZURE_ENVIRONMENT` as upstream's chart sets it, and
//! the authority host it gives workloads (`AZURE_AUTHORITY_HOST`): the cloud's Active
//! Directory endpoint, as go-autorest's `EnvironmentFromName` names the clouds. A name no
//! cloud has stops the webhook at start, as upstream's does.

use thiserror::Error;

/// The name upstream's chart defaults to.
pub const DEFAULT_ENVIRONMENT: &str = "AzurePublicCloud";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CloudError {
    /// Worded as upstream logs it, which is what users search for.
    #[error("failed to get AAD endpoint: autorest/azure: There is no cloud environment matching the name \"{0}\"")]
    Unknown(String),
    #[error("failed to get AAD endpoint: reading the Azure Stack environment file (AZURE_ENVIRONMENT_FILEPATH): {0}")]
    StackFile(String),
}

/// The clouds by their upper-cased name, with their Active Directory endpoint.
const CLOUDS: [(&str, &str); 4] = [
    ("AZURECHINACLOUD", "https://login.chinacloudapi.cn/"),
    ("AZUREGERMANCLOUD", "https://login.microsoftonline.de/"),
    ("AZUREPUBLICCLOUD", "https://login.microsoftonline.com/"),
    (
        "AZUREUSGOVERNMENTCLOUD",
        "https://login.microsoftonline.us/",
    ),
];

/// The authority host of the cloud `name` (any case; empty is the public cloud, as upstream
/// reads an empty variable). `AzureStackCloud` is described by the
/// JSON file `stack_file` returns (the contents of `AZURE_ENVIRONMENT_FILEPATH`), whose
/// `activeDirectoryEndpoint` it takes.
pub fn authority_host(
    name: &str,
    stack_file: impl FnOnce() -> Result<String, String>,
) -> Result<String, CloudError> {
    if name.eq_ignore_ascii_case("AZURESTACKCLOUD") {
        let text = stack_file().map_err(CloudError::StackFile)?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CloudError::StackFile(e.to_string()))?;
        return doc["activeDirectoryEndpoint"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| CloudError::StackFile("no activeDirectoryEndpoint".into()));
    }
    let upper = if name.is_empty() {
        DEFAULT_ENVIRONMENT.to_ascii_uppercase()
    } else {
        name.to_ascii_uppercase()
    };
    CLOUDS
        .iter()
        .find(|(cloud, _)| *cloud == upper)
        .map(|(_, endpoint)| (*endpoint).to_owned())
        .ok_or(CloudError::Unknown(upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_file() -> Result<String, String> {
        Err("open : no such file or directory".into())
    }

    #[test]
    fn clouds_by_name_in_any_case() {
        for (name, host) in [
            ("AzurePublicCloud", "https://login.microsoftonline.com/"),
            ("azurepubliccloud", "https://login.microsoftonline.com/"),
            (
                "AzureUSGovernmentCloud",
                "https://login.microsoftonline.us/",
            ),
            ("AzureChinaCloud", "https://login.chinacloudapi.cn/"),
            ("AzureGermanCloud", "https://login.microsoftonline.de/"),
            ("", "https://login.microsoftonline.com/"),
        ] {
            assert_eq!(authority_host(name, no_file).as_deref(), Ok(host), "{name}");
        }
    }

    #[test]
    fn an_unknown_cloud_is_refused_in_upstreams_words() {
        for name in [
            "Mars",
            "AzureCloud",
            "AzureUSGovernment",
            "AzurePublic Cloud",
        ] {
            let e = authority_host(name, no_file).unwrap_err();
            assert_eq!(e, CloudError::Unknown(name.to_ascii_uppercase()));
            assert!(e
                .to_string()
                .contains("autorest/azure: There is no cloud environment matching the name"));
        }
    }

    #[test]
    fn azure_stack_reads_its_environment_file() {
        let file = || {
            Ok(r#"{"name": "Stack", "activeDirectoryEndpoint": "https://login.stack.example/adfs/"}"#.to_owned())
        };
        assert_eq!(
            authority_host("AzureStackCloud", file).as_deref(),
            Ok("https://login.stack.example/adfs/")
        );
        assert!(matches!(
            authority_host("AZURESTACKCLOUD", no_file),
            Err(CloudError::StackFile(_))
        ));
        assert!(matches!(
            authority_host("AzureStackCloud", || Ok("{}".into())),
            Err(CloudError::StackFile(_))
        ));
    }
}
