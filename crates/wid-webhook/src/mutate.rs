//! The mutation itself: a pure function of the pod, its service account's annotations and
//! the webhook's configuration.

use aws_lc_rs::digest::{digest, SHA256};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

pub const USE_LABEL: &str = "azure.workload.identity/use";
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";
pub const TOKEN_EXPIRATION_ANNOTATION: &str =
    "azure.workload.identity/service-account-token-expiration";
pub const SKIP_CONTAINERS_ANNOTATION: &str = "azure.workload.identity/skip-containers";
pub const INJECT_PROXY_ANNOTATION: &str = "azure.workload.identity/inject-proxy-sidecar";
pub const PROXY_PORT_ANNOTATION: &str = "azure.workload.identity/proxy-sidecar-port";

pub const MIN_TOKEN_EXPIRATION: i64 = 3600;
pub const MAX_TOKEN_EXPIRATION: i64 = 86400;
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 3600;
pub const DEFAULT_PROXY_PORT: i32 = 8000;
pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The volume name is this prefix and a hash of the pod's name, as the reference names it,
/// so a pod mutated by either webhook looks the same.
const VOLUME_PREFIX: &str = "azure-workload-identity-reserved-";
const MOUNT_PATH: &str = "/var/run/secrets/azure/wi";
const TOKEN_PATH: &str = "token/azure-identity-token";
pub const PROXY_INIT_NAME: &str = "azwi-proxy-init";
pub const PROXY_NAME: &str = "azwi-proxy";
/// `wid proxy-init --proxy-uid`'s default: the proxy runs as this user.
pub const PROXY_UID: i64 = 1501;

/// How the webhook was deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Used when the service account has no tenant annotation.
    pub tenant_id: String,
    /// `AZURE_AUTHORITY_HOST` for workloads: wid's identity plane, or Entra's.
    pub authority_host: String,
    pub audience: String,
    /// The images holding `wid`, which run the proxy sidecar and its init container.
    pub proxy_image: String,
    pub proxy_init_image: String,
    /// The webhook's `--log-level`, handed to the proxy sidecar as upstream hands it.
    pub log_level: String,
    /// Kubernetes 1.32 and later run the proxy as a native sidecar (an init container that
    /// keeps running), so it starts before and stops after the application.
    pub native_sidecar: bool,
    /// AKS identity bindings' token endpoint, for pods that opt in.
    pub custom_token_endpoint: Option<crate::token_endpoint::CustomTokenEndpoint>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MutationError {
    #[error("the object is not a pod: {0}")]
    NotAPod(&'static str),
    #[error("hostNetwork is set to true, cannot inject proxy sidecar")]
    HostNetwork,
    #[error(
        "failed to parse proxy sidecar port '{0}': an integer between 1 and 65535 is required"
    )]
    ProxyPort(String),
    /// Worded as upstream's (Go's) refusal, which users search for.
    #[error("strconv.ParseInt: parsing \"{0}\": invalid syntax")]
    ExpirationNotANumber(String),
    #[error("token expiration {0} not valid. Expected value to be between {MIN_TOKEN_EXPIRATION} and {MAX_TOKEN_EXPIRATION}")]
    ExpirationRange(i64),
}

pub fn token_file() -> String {
    format!("{MOUNT_PATH}/{TOKEN_PATH}")
}

/// `{prefix}{sha256(pod name)}`, truncated to the 63 characters volume names may have.
pub fn volume_name(pod_name: &str) -> String {
    let hash: String = digest(&SHA256, pod_name.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{VOLUME_PREFIX}{}", &hash[..63 - VOLUME_PREFIX.len()])
}

/// An object's annotations with string values.
pub fn annotations(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The mutated pod. `sa_annotations` are the annotations of the pod's service account.
pub fn mutate(
    pod: &Value,
    sa_annotations: &BTreeMap<String, String>,
    config: &Config,
) -> Result<Value, MutationError> {
    let mut pod = pod.clone();
    if !pod.is_object() || !pod["spec"].is_object() {
        return Err(MutationError::NotAPod("it has no spec"));
    }
    let pod_annotations = annotations(&pod);
    let pod_name = match pod["metadata"]["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => format!(
            "{} (prefix)",
            pod["metadata"]["generateName"].as_str().unwrap_or_default()
        ),
    };
    let spec = pod["spec"]
        .as_object_mut()
        .ok_or(MutationError::NotAPod("it has no spec"))?;

    // The reference injects the proxy when the annotation is present, whatever its value.
    if pod_annotations.contains_key(INJECT_PROXY_ANNOTATION) {
        if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
            return Err(MutationError::HostNetwork);
        }
        let port = match pod_annotations.get(PROXY_PORT_ANNOTATION) {
            None => DEFAULT_PROXY_PORT,
            Some(p) => p
                .parse::<i32>()
                .ok()
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| MutationError::ProxyPort(p.clone()))?,
        };
        inject_proxy(spec, port, config);
    }

    let expiration_text = pod_annotations
        .get(TOKEN_EXPIRATION_ANNOTATION)
        .filter(|v| !v.is_empty())
        .or_else(|| {
            sa_annotations
                .get(TOKEN_EXPIRATION_ANNOTATION)
                .filter(|v| !v.is_empty())
        });
    let expiration = match expiration_text {
        None => DEFAULT_TOKEN_EXPIRATION,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| MutationError::ExpirationNotANumber(t.clone()))?,
    };
    if !(MIN_TOKEN_EXPIRATION..=MAX_TOKEN_EXPIRATION).contains(&expiration) {
        return Err(MutationError::ExpirationRange(expiration));
    }
    let client_id = sa_annotations
        .get(CLIENT_ID_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    // A tenant annotation wins even when empty (and then adds nothing), as in the reference.
    let tenant_id = sa_annotations
        .get(TENANT_ID_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| config.tenant_id.clone());
    let skip: BTreeSet<String> = pod_annotations
        .get(SKIP_CONTAINERS_ANNOTATION)
        .filter(|s| !s.is_empty())
        .map(|s| s.split(';').map(|c| c.trim().to_owned()).collect())
        .unwrap_or_default();
    let volume = volume_name(&pod_name);
    let custom = config
        .custom_token_endpoint
        .as_ref()
        .filter(|c| c.wanted_by(&pod_annotations));
    let mut env = vec![
        ("AZURE_CLIENT_ID", client_id),
        ("AZURE_TENANT_ID", tenant_id),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file()),
        ("AZURE_AUTHORITY_HOST", config.authority_host.clone()),
    ];
    if let Some(c) = custom {
        env.extend(c.env(MOUNT_PATH));
    }
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers
                .iter_mut()
                .filter(|c| !skip.contains(c["name"].as_str().unwrap_or_default()))
            {
                add_env(c, &env);
                add_mount(c, &volume);
            }
        }
    }
    let audience = custom.map_or(config.audience.as_str(), |c| c.audience.as_str());
    let ca = custom.and_then(|c| c.ca_projection());
    add_volume(spec, &volume, expiration, audience, ca);
    Ok(pod)
}

fn array<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = object.entry(key).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut()
        .unwrap_or_else(|| unreachable!("just made an array"))
}

fn add_env(container: &mut Value, wanted: &[(&str, String)]) {
    let Some(c) = container.as_object_mut() else {
        return;
    };
    let env = array(c, "env");
    let present: BTreeSet<String> = env
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect();
    for (name, value) in wanted {
        if !present.contains(*name) && !value.is_empty() {
            env.push(json!({"name": name, "value": value}));
        }
    }
}

fn add_mount(container: &mut Value, volume: &str) {
    let Some(c) = container.as_object_mut() else {
        return;
    };
    let mount = json!({"name": volume, "mountPath": MOUNT_PATH, "readOnly": true});
    let mounts = array(c, "volumeMounts");
    match mounts.iter_mut().find(|m| m["name"] == volume) {
        Some(existing) => *existing = mount,
        None => mounts.push(mount),
    }
}

fn add_volume(
    spec: &mut Map<String, Value>,
    name: &str,
    expiration: i64,
    audience: &str,
    ca: Option<Value>,
) {
    let mut sources = vec![json!({"serviceAccountToken": {
        "path": TOKEN_PATH,
        "expirationSeconds": expiration,
        "audience": audience,
    }})];
    sources.extend(ca);
    let volume = json!({"name": name, "projected": {"sources": sources}});
    let volumes = array(spec, "volumes");
    match volumes.iter_mut().find(|v| v["name"] == name) {
        Some(existing) => *existing = volume,
        None => volumes.push(volume),
    }
}

/// The init container redirects IMDS traffic to the sidecar; the sidecar answers it. Both
/// run `wid` (issue 6's `wid proxy-init` and `wid proxy`). Added once: a reinvocation finds
/// them by name.
fn inject_proxy(spec: &mut Map<String, Value>, port: i32, config: &Config) {
    let has = |list: &Vec<Value>, name: &str| list.iter().any(|c| c["name"] == name);
    let init = array(spec, "initContainers");
    if !has(init, PROXY_INIT_NAME) {
        init.push(json!({
            "name": PROXY_INIT_NAME,
            "image": config.proxy_init_image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["wid", "proxy-init"],
            "securityContext": {
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                "privileged": true,
                "runAsNonRoot": false,
                "runAsUser": 0,
            },
            "env": [
                {"name": "PROXY_PORT", "value": port.to_string()},
                {"name": "PROXY_UID", "value": PROXY_UID.to_string()},
            ],
        }));
    }
    let mut sidecar = json!({
        "name": PROXY_NAME,
        "image": config.proxy_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["wid", "proxy"],
        "args": [format!("--proxy-port={port}"), format!("--log-level={}", config.log_level)],
        "ports": [{"containerPort": port}],
        "lifecycle": {"postStart": {"exec": {"command": ["wid", "proxy", format!("--proxy-port={port}"), "--probe",
            format!("--log-level={}", config.log_level)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            // The user proxy-init exempts from the redirect: the proxy's own requests to
            // the real IMDS must get through.
            "runAsUser": PROXY_UID,
        },
    });
    let list = if config.native_sidecar {
        sidecar["restartPolicy"] = json!("Always");
        array(spec, "initContainers")
    } else {
        array(spec, "containers")
    };
    if !has(list, PROXY_NAME) {
        list.insert(0, sidecar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_that_opt_in_get_the_custom_token_endpoint() {
        let endpoint = crate::token_endpoint::Settings {
            annotation_suffix: "identity-binding".into(),
            audience: "api://AKSIdentityBinding".into(),
            token_proxy: "https://proxy.example:443".into(),
            sni_name: "proxy.sni.example".into(),
            ca_configmap: "kube-root-ca.crt".into(),
            ..Default::default()
        }
        .endpoint()
        .unwrap();
        let config = Config {
            tenant_id: "t".into(),
            authority_host: "https://login.example/".into(),
            audience: DEFAULT_AUDIENCE.into(),
            proxy_image: "wid:test".into(),
            proxy_init_image: "wid:test".into(),
            log_level: String::new(),
            native_sidecar: false,
            custom_token_endpoint: endpoint,
        };
        let sa = BTreeMap::from([(CLIENT_ID_ANNOTATION.to_owned(), "c".to_owned())]);
        let pod = |value: &str| {
            json!({"metadata": {"name": "p", "annotations": {"azure.workload.identity/use-identity-binding": value}},
                "spec": {"containers": [{"name": "app"}]}})
        };
        let bound = mutate(&pod("True"), &sa, &config).unwrap();
        let names: Vec<&str> = bound["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "AZURE_CLIENT_ID",
                "AZURE_TENANT_ID",
                "AZURE_FEDERATED_TOKEN_FILE",
                "AZURE_AUTHORITY_HOST",
                "AZURE_KUBERNETES_TOKEN_PROXY",
                "AZURE_KUBERNETES_SNI_NAME",
                "AZURE_KUBERNETES_CA_FILE",
            ],
            "an empty CA_DATA is left out"
        );
        assert_eq!(
            bound["spec"]["containers"][0]["env"][6]["value"],
            "/var/run/secrets/azure/wi/ca-cert/ca.crt"
        );
        let sources = &bound["spec"]["volumes"][0]["projected"]["sources"];
        assert_eq!(
            sources[0]["serviceAccountToken"]["audience"],
            "api://AKSIdentityBinding"
        );
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        for other in ["false", ""] {
            let plain = mutate(&pod(other), &sa, &config).unwrap();
            let sources = plain["spec"]["volumes"][0]["projected"]["sources"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(sources.len(), 1);
            assert_eq!(
                sources[0]["serviceAccountToken"]["audience"],
                DEFAULT_AUDIENCE
            );
            assert_eq!(
                plain["spec"]["containers"][0]["env"]
                    .as_array()
                    .unwrap()
                    .len(),
                4
            );
        }
    }

    #[test]
    fn the_proxy_init_container_has_its_own_image_and_the_proxy_the_log_level() {
        let config = Config {
            tenant_id: "t".into(),
            authority_host: "https://login.example/".into(),
            audience: DEFAULT_AUDIENCE.into(),
            proxy_image: "registry.example/proxy:1".into(),
            proxy_init_image: "registry.example/proxy-init:1".into(),
            log_level: "debug".into(),
            native_sidecar: false,
            custom_token_endpoint: None,
        };
        let pod = json!({"metadata": {"name": "p", "annotations": {INJECT_PROXY_ANNOTATION: "true"}},
            "spec": {"containers": [{"name": "app"}]}});
        let out = mutate(&pod, &BTreeMap::new(), &config).unwrap();
        assert_eq!(
            out["spec"]["initContainers"][0]["image"],
            "registry.example/proxy-init:1"
        );
        let proxy = &out["spec"]["containers"][0];
        assert_eq!(proxy["image"], "registry.example/proxy:1");
        assert_eq!(
            proxy["args"],
            json!(["--proxy-port=8000", "--log-level=debug"])
        );
        assert_eq!(
            proxy["lifecycle"]["postStart"]["exec"]["command"],
            json!([
                "wid",
                "proxy",
                "--proxy-port=8000",
                "--probe",
                "--log-level=debug"
            ])
        );
    }

    #[test]
    fn volume_names_match_the_reference() {
        let name = volume_name("nginx");
        assert_eq!(name.len(), 63);
        assert!(name.starts_with(VOLUME_PREFIX));
        // sha256("nginx") starts with these hex digits.
        let hash: String = digest(&SHA256, b"nginx")
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&name[VOLUME_PREFIX.len()..], &hash[..30]);
    }
}
