//! The custom token endpoint of AKS identity bindings, as azure-workload-identity v1.6 injects
//! it: a pod annotated `azure.workload.identity/use-{suffix}: "true"` gets a service-account
//! token for the binding's audience instead of Entra's, the environment that points the SDKs at
//! the cluster's token proxy (`AZURE_KUBERNETES_TOKEN_PROXY`, `…_SNI_NAME`, `…_CA_FILE`,
//! `…_CA_DATA`), and the proxy's CA projected next to the token (from a ConfigMap or a
//! ClusterTrustBundle) when the webhook is told where it is.

use serde_json::{json, Value};
use thiserror::Error;

/// Where the token proxy's CA comes from, projected as `ca-cert/ca.crt` in the token volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// In the pod's namespace, key `ca.crt` (e.g. `kube-root-ca.crt`).
    ConfigMap(String),
    ClusterTrustBundle {
        signer: String,
        label_selector: Option<Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomTokenEndpoint {
    /// The pod annotation that opts in: `azure.workload.identity/use-{suffix}`.
    pub annotation: String,
    pub audience: String,
    pub token_proxy: String,
    pub sni_name: String,
    pub ca_data: String,
    pub ca_source: Option<CaSource>,
}

/// What the webhook is started with, as upstream's flags and environment name it.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub annotation_suffix: String,
    pub audience: String,
    pub token_proxy: String,
    pub sni_name: String,
    pub ca_data: String,
    pub ca_configmap: String,
    pub ca_ctb_signer: String,
    /// JSON of a `LabelSelector`.
    pub ca_ctb_label_selector: String,
}

/// A misconfiguration that stops the webhook at start, worded as upstream words it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("custom token endpoint annotation suffix cannot be empty when audience is set")]
    NoSuffix,
    #[error("custom token endpoint audience cannot be empty when annotation suffix is set")]
    NoAudience,
    #[error("custom token endpoint audience cannot be equal to default audience \"{0}\"")]
    DefaultAudience(String),
    #[error("custom token endpoint annotation key \"{0}\" is not valid: {1}")]
    AnnotationKey(String, String),
    #[error("only one of AZURE_KUBERNETES_CA_DATA, AZURE_KUBERNETES_CA_CONFIGMAP_NAME or AZURE_KUBERNETES_CA_CTB_SIGNER_NAME can be set")]
    SeveralCaSources,
    #[error("AZURE_KUBERNETES_CA_CTB_SIGNER_NAME needs to be set when AZURE_KUBERNETES_CA_CTB_LABEL_SELECTOR is set")]
    SelectorWithoutSigner,
    #[error("failed to decode LabelSelector: {0}")]
    LabelSelector(String),
}

const CA_PATH: &str = "ca-cert/ca.crt";

impl Settings {
    /// The endpoint to inject, `None` when neither flag is set; refuses what upstream refuses.
    pub fn endpoint(self) -> Result<Option<CustomTokenEndpoint>, SettingsError> {
        let cas = [&self.ca_data, &self.ca_configmap, &self.ca_ctb_signer];
        if cas.iter().filter(|v| !v.is_empty()).count() > 1 {
            return Err(SettingsError::SeveralCaSources);
        }
        let selector = match self.ca_ctb_label_selector.trim() {
            "" => None,
            text => Some(
                serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or_else(|| SettingsError::LabelSelector(text.to_owned()))?,
            ),
        };
        if selector.is_some() && self.ca_ctb_signer.is_empty() {
            return Err(SettingsError::SelectorWithoutSigner);
        }
        match (self.annotation_suffix.is_empty(), self.audience.is_empty()) {
            (true, true) => return Ok(None),
            (true, false) => return Err(SettingsError::NoSuffix),
            (false, true) => return Err(SettingsError::NoAudience),
            (false, false) => {}
        }
        if self
            .audience
            .eq_ignore_ascii_case(crate::mutate::DEFAULT_AUDIENCE)
        {
            return Err(SettingsError::DefaultAudience(
                crate::mutate::DEFAULT_AUDIENCE.to_owned(),
            ));
        }
        let annotation = format!("azure.workload.identity/use-{}", self.annotation_suffix);
        check_qualified_name(&annotation.to_ascii_lowercase())
            .map_err(|e| SettingsError::AnnotationKey(annotation.clone(), e))?;
        let ca_source = if !self.ca_configmap.is_empty() {
            Some(CaSource::ConfigMap(self.ca_configmap))
        } else if !self.ca_ctb_signer.is_empty() {
            Some(CaSource::ClusterTrustBundle {
                signer: self.ca_ctb_signer,
                label_selector: selector,
            })
        } else {
            None
        };
        Ok(Some(CustomTokenEndpoint {
            annotation,
            audience: self.audience,
            token_proxy: self.token_proxy,
            sni_name: self.sni_name,
            ca_data: self.ca_data,
            ca_source,
        }))
    }
}

/// Kubernetes' rule for annotation keys: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters, alphanumeric at both ends, with `-`, `_` and `.` inside.
fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if p.is_empty() || p.len() > 253 || !p.split('.').all(label_ok) {
            return Err("prefix part must be a DNS-1123 subdomain".into());
        }
    }
    if name.is_empty() || name.len() > 63 {
        return Err("name part must be no more than 63 characters".into());
    }
    let edge = |b: u8| b.is_ascii_alphanumeric();
    let inner = |b: u8| edge(b) || b == b'-' || b == b'_' || b == b'.';
    let bytes = name.as_bytes();
    if !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) || !bytes.iter().all(|b| inner(*b)) {
        return Err("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into());
    }
    Ok(())
}

impl CustomTokenEndpoint {
    /// Whether the pod opted in (the annotation is "true" in any case).
    pub fn wanted_by(&self, pod_annotations: &std::collections::BTreeMap<String, String>) -> bool {
        pod_annotations
            .get(&self.annotation)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The variables added after upstream's four, in its order; empty ones are left out by
    /// the caller, as upstream leaves them out.
    pub fn env(&self, mount_path: &str) -> [(&'static str, String); 4] {
        [
            ("AZURE_KUBERNETES_TOKEN_PROXY", self.token_proxy.clone()),
            ("AZURE_KUBERNETES_SNI_NAME", self.sni_name.clone()),
            (
                "AZURE_KUBERNETES_CA_FILE",
                format!("{mount_path}/{CA_PATH}"),
            ),
            ("AZURE_KUBERNETES_CA_DATA", self.ca_data.clone()),
        ]
    }

    /// The projection that puts the proxy's CA in the token volume, if the webhook knows it.
    pub fn ca_projection(&self) -> Option<Value> {
        match self.ca_source.as_ref()? {
            CaSource::ConfigMap(name) => Some(json!({"configMap": {
                "name": name, "items": [{"key": "ca.crt", "path": CA_PATH}], "optional": false}})),
            CaSource::ClusterTrustBundle {
                signer,
                label_selector,
            } => {
                let mut bundle = json!({"signerName": signer, "path": CA_PATH, "optional": false});
                if let Some(selector) = label_selector {
                    bundle["labelSelector"] = selector.clone();
                }
                Some(json!({ "clusterTrustBundle": bundle }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(suffix: &str, audience: &str) -> Settings {
        Settings {
            annotation_suffix: suffix.into(),
            audience: audience.into(),
            ..Settings::default()
        }
    }

    #[test]
    fn the_flags_are_checked_as_upstream_checks_them() {
        assert_eq!(settings("", "").endpoint(), Ok(None));
        for (s, error) in [
            (
                settings("", "api://AKSIdentityBinding"),
                SettingsError::NoSuffix,
            ),
            (settings("identity-binding", ""), SettingsError::NoAudience),
            (
                settings("identity-binding", "API://AzureADTokenExchange"),
                SettingsError::DefaultAudience("api://AzureADTokenExchange".into()),
            ),
            (
                Settings {
                    ca_data: "x".into(),
                    ca_configmap: "kube-root-ca.crt".into(),
                    ..settings("b", "api://AKSIdentityBinding")
                },
                SettingsError::SeveralCaSources,
            ),
            (
                Settings {
                    ca_ctb_label_selector: r#"{"matchLabels": {"a": "b"}}"#.into(),
                    ..settings("b", "api://AKSIdentityBinding")
                },
                SettingsError::SelectorWithoutSigner,
            ),
        ] {
            assert_eq!(s.endpoint(), Err(error));
        }
        for bad in ["has space", "trailing-", &"x".repeat(60)] {
            assert!(matches!(
                settings(bad, "api://AKSIdentityBinding").endpoint(),
                Err(SettingsError::AnnotationKey(..))
            ));
        }
        let made = Settings {
            token_proxy: "https://proxy.example:443".into(),
            ca_configmap: "kube-root-ca.crt".into(),
            ..settings("identity-binding", "api://AKSIdentityBinding")
        }
        .endpoint()
        .unwrap()
        .unwrap();
        assert_eq!(
            made.annotation,
            "azure.workload.identity/use-identity-binding"
        );
        assert_eq!(
            made.ca_projection(),
            Some(json!({"configMap": {"name": "kube-root-ca.crt",
                "items": [{"key": "ca.crt", "path": "ca-cert/ca.crt"}], "optional": false}}))
        );
    }

    #[test]
    fn a_cluster_trust_bundle_keeps_its_selector() {
        let made = Settings {
            ca_ctb_signer: "example.com/proxy".into(),
            ca_ctb_label_selector: r#"{"matchLabels": {"proxy": "yes"}}"#.into(),
            ..settings("b", "api://AKSIdentityBinding")
        }
        .endpoint()
        .unwrap()
        .unwrap();
        assert_eq!(
            made.ca_projection(),
            Some(
                json!({"clusterTrustBundle": {"signerName": "example.com/proxy",
                "labelSelector": {"matchLabels": {"proxy": "yes"}},
                "path": "ca-cert/ca.crt", "optional": false}})
            )
        );
        assert!(matches!(
            Settings {
                ca_ctb_signer: "s".into(),
                ca_ctb_label_selector: "[1]".into(),
                ..Settings::default()
            }
            .endpoint(),
            Err(SettingsError::LabelSelector(_))
        ));
    }
}
