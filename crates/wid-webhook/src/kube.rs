//! Just enough of a Kubernetes API client for the webhook: service accounts by GET, LIST
//! and WATCH, and the server's version, over in-cluster configuration or a kubeconfig.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use wid_client::tls;

const IN_CLUSTER_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Debug, Error)]
pub enum KubeError {
    #[error("kubeconfig {0}: {1}")]
    Config(String, String),
    #[error(
        "not running in a cluster (KUBERNETES_SERVICE_HOST is not set) and no kubeconfig given"
    )]
    NotInCluster,
    #[error("{0}: {1}")]
    Http(String, String),
    #[error("{0} answered {1}: {2}")]
    Status(String, u16, String),
}

enum Credentials {
    None,
    Token(String),
    /// In-cluster tokens rotate: read the file on every request (it is small and cached
    /// by the kernel).
    TokenFile(PathBuf),
}

pub struct KubeClient {
    http: reqwest::Client,
    server: String,
    credentials: Credentials,
}

pub type Annotations = BTreeMap<String, String>;

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    contexts: Vec<Named<ContextSpec>>,
    #[serde(default)]
    clusters: Vec<Named<ClusterSpec>>,
    #[serde(default)]
    users: Vec<Named<UserSpec>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    value: T,
}

#[derive(Deserialize)]
struct ContextSpec {
    cluster: String,
    #[serde(default)]
    user: String,
}

#[derive(Deserialize)]
struct ClusterSpec {
    server: String,
    #[serde(rename = "certificate-authority")]
    certificate_authority: Option<PathBuf>,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: Option<String>,
}

#[derive(Deserialize, Default)]
struct UserSpec {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
    #[serde(rename = "client-certificate")]
    client_certificate: Option<PathBuf>,
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: Option<String>,
    #[serde(rename = "client-key")]
    client_key: Option<PathBuf>,
    #[serde(rename = "client-key-data")]
    client_key_data: Option<String>,
}

fn b64(data: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| e.to_string())
}

fn http_client(
    ca_pem: Option<&[u8]>,
    identity: Option<Vec<u8>>,
) -> Result<reqwest::Client, String> {
    let extra: Vec<&[u8]> = ca_pem.into_iter().collect();
    let builder = tls::client_config(tls::Trust::SystemAnd(&extra))?;
    let tls = match identity {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let chain = rustls_pemfile::certs(&mut &pem[..])
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let key = rustls_pemfile::private_key(&mut &pem[..])
                .map_err(|e| e.to_string())?
                .ok_or("the client key is missing")?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
}

impl KubeClient {
    /// The pod's service account token and CA, at the API server the environment names.
    pub fn in_cluster() -> Result<Self, KubeError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| KubeError::NotInCluster)?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let dir = Path::new(IN_CLUSTER_DIR);
        let ca = std::fs::read(dir.join("ca.crt"))
            .map_err(|e| KubeError::Config("in-cluster".into(), format!("ca.crt: {e}")))?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Ok(Self {
            http: http_client(Some(&ca), None)
                .map_err(|e| KubeError::Config("in-cluster".into(), e))?,
            server: format!("https://{host}:{port}"),
            credentials: Credentials::TokenFile(dir.join("token")),
        })
    }

    /// The current context of a kubeconfig (YAML or JSON).
    pub fn from_kubeconfig(path: &Path) -> Result<Self, KubeError> {
        let err = |e: String| KubeError::Config(path.display().to_string(), e);
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let config: Kubeconfig = serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?;
        let context = config
            .contexts
            .iter()
            .find(|c| c.name == config.current_context)
            .or(config.contexts.first())
            .ok_or_else(|| err("no context".into()))?;
        let cluster = config
            .clusters
            .iter()
            .find(|c| c.name == context.value.cluster)
            .ok_or_else(|| err(format!("no cluster '{}'", context.value.cluster)))?;
        let user = config
            .users
            .iter()
            .find(|u| u.name == context.value.user)
            .map(|u| &u.value);
        let base = path.parent().unwrap_or(Path::new("."));
        let read = |p: &PathBuf| {
            std::fs::read(base.join(p)).map_err(|e| err(format!("{}: {e}", p.display())))
        };
        let ca = match (
            &cluster.value.certificate_authority_data,
            &cluster.value.certificate_authority,
        ) {
            (Some(data), _) => Some(b64(data).map_err(err)?),
            (None, Some(p)) => Some(read(p)?),
            (None, None) => None,
        };
        let mut identity = None;
        let mut credentials = Credentials::None;
        if let Some(u) = user {
            let cert = match (&u.client_certificate_data, &u.client_certificate) {
                (Some(d), _) => Some(b64(d).map_err(err)?),
                (None, Some(p)) => Some(read(p)?),
                _ => None,
            };
            let key = match (&u.client_key_data, &u.client_key) {
                (Some(d), _) => Some(b64(d).map_err(err)?),
                (None, Some(p)) => Some(read(p)?),
                _ => None,
            };
            if let (Some(mut cert), Some(key)) = (cert, key) {
                cert.push(b'\n');
                cert.extend(key);
                identity = Some(cert);
            }
            credentials = match (&u.token, &u.token_file) {
                (Some(t), _) => Credentials::Token(t.clone()),
                (None, Some(f)) => Credentials::TokenFile(base.join(f)),
                _ => Credentials::None,
            };
        }
        Ok(Self {
            http: http_client(ca.as_deref(), identity).map_err(err)?,
            server: cluster.value.server.trim_end_matches('/').to_owned(),
            credentials,
        })
    }

    fn request(&self, path: &str) -> Result<reqwest::RequestBuilder, KubeError> {
        self.request_with(reqwest::Method::GET, path)
    }

    fn request_with(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, KubeError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.server))
            .header("accept", "application/json");
        match &self.credentials {
            Credentials::None => {}
            Credentials::Token(t) => req = req.bearer_auth(t),
            Credentials::TokenFile(f) => {
                let t = std::fs::read_to_string(f)
                    .map_err(|e| KubeError::Http(f.display().to_string(), e.to_string()))?;
                req = req.bearer_auth(t.trim());
            }
        }
        Ok(req)
    }

    async fn get(&self, path: &str, timeout: Duration) -> Result<(u16, Value), KubeError> {
        let fail = |e: reqwest::Error| KubeError::Http(path.to_owned(), e.to_string());
        let response = self
            .request(path)?
            .timeout(timeout)
            .send()
            .await
            .map_err(fail)?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// `Ok(None)` when the service account does not exist.
    pub async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Annotations>, KubeError> {
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}");
        match self.get(&path, Duration::from_secs(5)).await? {
            (200, body) => Ok(Some(crate::mutate::annotations(&body))),
            (404, _) => Ok(None),
            (status, body) => Err(KubeError::Status(
                path,
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            )),
        }
    }

    /// One JSON request: the status and the body (`Null` when it is not JSON).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<(u16, Value), KubeError> {
        let mut req = self
            .request_with(method, path)?
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            req = req
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let response = req
            .send()
            .await
            .map_err(|e| KubeError::Http(path.to_owned(), e.to_string()))?;
        let status = response.status().as_u16();
        Ok((
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        ))
    }

    /// Creates the service account, or merges these annotations into the existing one (as
    /// `kubectl apply` of the seeds' manifest would). Returns whether it was created.
    pub async fn apply_service_account(
        &self,
        namespace: &str,
        name: &str,
        labels: &Annotations,
        annotations: &Annotations,
    ) -> Result<bool, KubeError> {
        let collection = format!("/api/v1/namespaces/{namespace}/serviceaccounts");
        let fail = |path: &str, e: reqwest::Error| KubeError::Http(path.to_owned(), e.to_string());
        let (method, path, body, content_type) = match self.service_account(namespace, name).await?
        {
            None => (
                reqwest::Method::POST,
                collection.clone(),
                serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels,
                        "annotations": annotations}}),
                "application/json",
            ),
            Some(_) => (
                reqwest::Method::PATCH,
                format!("{collection}/{name}"),
                serde_json::json!({"metadata": {"labels": labels, "annotations": annotations}}),
                "application/merge-patch+json",
            ),
        };
        let created = method == reqwest::Method::POST;
        let response = self
            .request_with(method, &path)?
            .header("content-type", content_type)
            .body(body.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| fail(&path, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            return Err(KubeError::Status(
                path,
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        Ok(created)
    }

    /// `(major, minor)` of the API server, for the native sidecar decision.
    pub async fn server_version(&self) -> Result<(u32, u32), KubeError> {
        let (status, body) = self.get("/version", Duration::from_secs(5)).await?;
        let number = |k: &str| -> u32 {
            body[k]
                .as_str()
                .unwrap_or("0")
                .trim_end_matches('+')
                .parse()
                .unwrap_or(0)
        };
        if status != 200 {
            return Err(KubeError::Status("/version".into(), status, String::new()));
        }
        Ok((number("major"), number("minor")))
    }
}

/// Service accounts of every namespace, kept current by LIST then WATCH (with bookmarks,
/// resumed from the last resource version, re-listed when it expires). Reviews read it;
/// a miss falls back to one live GET, as a service account created a moment ago may not
/// have arrived yet.
pub struct ServiceAccountCache {
    client: Arc<KubeClient>,
    accounts: std::sync::RwLock<BTreeMap<(String, String), Annotations>>,
}

impl ServiceAccountCache {
    pub fn start(client: Arc<KubeClient>) -> Arc<Self> {
        let cache = Arc::new(Self {
            client,
            accounts: std::sync::RwLock::new(BTreeMap::new()),
        });
        let runner = cache.clone();
        tokio::spawn(async move { runner.run().await });
        cache
    }

    /// The API client the cache uses, for the webhook's other calls.
    pub fn client(&self) -> Arc<KubeClient> {
        self.client.clone()
    }

    pub async fn annotations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Annotations>, KubeError> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(found) = self
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(found.clone()));
        }
        let live = self.client.service_account(namespace, name).await?;
        if let Some(a) = &live {
            self.accounts
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, a.clone());
        }
        Ok(live)
    }

    fn apply(&self, kind: &str, object: &Value) {
        let meta = &object["metadata"];
        let (Some(ns), Some(name)) = (meta["namespace"].as_str(), meta["name"].as_str()) else {
            return;
        };
        let key = (ns.to_owned(), name.to_owned());
        let mut accounts = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        match kind {
            "DELETED" => {
                accounts.remove(&key);
            }
            _ => {
                accounts.insert(key, crate::mutate::annotations(object));
            }
        }
    }

    async fn list(&self) -> Result<String, KubeError> {
        let (status, body) = self
            .client
            .get("/api/v1/serviceaccounts", Duration::from_secs(30))
            .await?;
        if status != 200 {
            return Err(KubeError::Status(
                "/api/v1/serviceaccounts".into(),
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        let mut fresh = BTreeMap::new();
        for item in body["items"].as_array().into_iter().flatten() {
            let meta = &item["metadata"];
            if let (Some(ns), Some(name)) = (meta["namespace"].as_str(), meta["name"].as_str()) {
                fresh.insert(
                    (ns.to_owned(), name.to_owned()),
                    crate::mutate::annotations(item),
                );
            }
        }
        *self.accounts.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// One watch request: applies events until the server ends the stream. Returns the
    /// resource version to resume from, or `None` when it expired (410) and a re-list is due.
    async fn watch(&self, version: &str) -> Result<Option<String>, KubeError> {
        let path = format!(
            "/api/v1/serviceaccounts?watch=true&allowWatchBookmarks=true&timeoutSeconds=290&resourceVersion={version}"
        );
        let fail = |e: reqwest::Error| KubeError::Http(path.clone(), e.to_string());
        let mut response = self
            .client
            .request(&path)?
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(fail)?;
        // A resource version the API server no longer has (compacted, or gone with a
        // restart) is refused with 410 before the stream starts, as well as inside it: both
        // mean the cache must list again, or it would miss what changed meanwhile.
        if response.status() == reqwest::StatusCode::GONE {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(KubeError::Status(
                path.clone(),
                response.status().as_u16(),
                String::new(),
            ));
        }
        let mut version = version.to_owned();
        let mut buffer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                let kind = event["type"].as_str().unwrap_or_default();
                if kind == "ERROR" {
                    return Ok(None);
                }
                if let Some(v) = event["object"]["metadata"]["resourceVersion"].as_str() {
                    version = v.to_owned();
                }
                if kind != "BOOKMARK" {
                    self.apply(kind, &event["object"]);
                }
            }
        }
        Ok(Some(version))
    }

    async fn run(self: Arc<Self>) {
        loop {
            let mut version = match self.list().await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "listing service accounts failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            loop {
                match self.watch(&version).await {
                    Ok(Some(v)) => version = v,
                    Ok(None) => {
                        tracing::info!(
                            resource_version = %version,
                            "the service accounts' resource version expired (410); listing again"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "watching service accounts failed; resuming");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }
}
