//! The admission webhook under load: `wid webhook` pinned to one core (taskset), fed
//! realistic 5 KB pods over HTTPS keep-alive, its service accounts served by a stand-in API
//! server in this process; resident memory read from /proc.

use crate::{drive, Report};
use anyhow::{anyhow, bail, Context, Result};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pod of about 5 KB, as a real Deployment's pods are: several containers, env, mounts.
fn pod() -> Value {
    let env: Vec<Value> = (0..14)
        .map(|i| json!({"name": format!("SETTING_{i}"), "value": format!("value-{i}-{}", "x".repeat(24))}))
        .collect();
    let container = |name: &str| {
        json!({
            "name": name, "image": format!("registry.example.com/team/{name}:1.4.2"),
            "imagePullPolicy": "IfNotPresent",
            "args": ["--config=/etc/app/config.yaml", "--log-level=info"],
            "ports": [{"containerPort": 8080, "name": "http"}],
            "env": env,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "cache", "mountPath": "/var/cache/app"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
        })
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "checkout-7d4b9c6f5d-x2k9q", "generateName": "checkout-7d4b9c6f5d-",
            "labels": {"app": "checkout", "pod-template-hash": "7d4b9c6f5d", "azure.workload.identity/use": "true"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7d4b9c6f5d",
                "uid": "6b7a1c2e-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "serviceAccountName": "checkout",
            "containers": [container("checkout"), container("telemetry")],
            "initContainers": [container("migrate")],
            "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}}, {"name": "cache", "emptyDir": {}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        },
    })
}

fn review(pod: &Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "shop", "operation": "CREATE", "object": pod}})
}

/// The client id the one service account is annotated with.
pub const CLIENT_ID: &str = "8c2d5b1e-0000-4000-8000-000000000001";
const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// What `wid webhook` runs with here (its defaults, this tenant, no native sidecar), for a
/// reference that answers the same reviews.
pub fn config() -> wid_webhook::Config {
    wid_webhook::Config {
        tenant_id: TENANT_ID.to_owned(),
        authority_host: "https://login.microsoftonline.com/".to_owned(),
        audience: wid_webhook::mutate::DEFAULT_AUDIENCE.to_owned(),
        proxy_image: "ghcr.io/wid-project/wid:latest".to_owned(),
        proxy_init_image: "ghcr.io/wid-project/wid:latest".to_owned(),
        log_level: String::new(),
        native_sidecar: false,
        custom_token_endpoint: None,
    }
}

/// The review the benches send: a 5 KB pod, serialized.
pub fn review_body() -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&review(&pod()))?)
}

/// The stand-in API server: one annotated service account, a version, and a watch that stays open.
async fn fake_api() -> Result<u16> {
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "checkout", "namespace": "shop",
        "resourceVersion": "7", "annotations": {"azure.workload.identity/client-id": CLIENT_ID}}});
    let list = json!({"kind": "ServiceAccountList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": [account.clone()]});
    let app = Router::new()
        .route(
            "/version",
            get(|| async { axum::Json(json!({"major": "1", "minor": "33"})) }),
        )
        .route(
            "/api/v1/serviceaccounts",
            get(move |q: axum::extract::RawQuery| {
                let list = list.clone();
                async move {
                    if q.0.unwrap_or_default().contains("watch=true") {
                        tokio::time::sleep(Duration::from_secs(280)).await;
                        return String::new();
                    }
                    list.to_string()
                }
            }),
        )
        .route(
            "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
            get(move || {
                let account = account.clone();
                async move { account.to_string() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

pub fn resident_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn wid_binary(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let here = std::env::current_exe()?;
    let sibling = here.with_file_name("wid");
    sibling
        .exists()
        .then_some(sibling)
        .ok_or_else(|| anyhow!("no wid binary next to {}: pass --wid-bin", here.display()))
}

/// `wid webhook` pinned to core 0, reading its service account from a stand-in API server,
/// ready to answer.
pub struct Webhook {
    pub child: tokio::process::Child,
    pub port: u16,
    pub cert_pem: String,
    pub pid: u32,
    dir: PathBuf,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Webhook {
    pub async fn start(wid: &Path) -> Result<Webhook> {
        let dir = std::env::temp_dir().join(format!("wid-bench-webhook-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let api_port = fake_api().await?;
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, json!({"apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": format!("http://127.0.0.1:{api_port}")}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
            "users": [{"name": "bench", "user": {"token": "bench"}}]}).to_string())?;
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
        let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert_path, cert.cert.pem())?;
        std::fs::write(&key_path, cert.key_pair.serialize_pem())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new("taskset")
            .args(["-c", "0"])
            .arg(wid)
            .args(["webhook", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--health-addr", "0", "--metrics-addr", "0"])
            .arg("--tls-cert")
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--tenant-id", TENANT_ID, "--native-sidecar", "false"])
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting `taskset -c 0 wid webhook` (taskset is in util-linux)")?;
        let pid = child.id().ok_or_else(|| anyhow!("the webhook exited"))?;
        let webhook = Webhook {
            child,
            port,
            cert_pem: cert.cert.pem(),
            pid,
            dir,
        };
        let client = webhook.client()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.http().get(client.url("/readyz")).send().await {
                if r.status().is_success() {
                    return Ok(webhook);
                }
            }
            if Instant::now() > deadline {
                bail!("the webhook did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn client(&self) -> Result<wid_client::WidClient> {
        Ok(wid_client::WidClient::new(
            &format!("https://localhost:{}", self.port),
            self.cert_pem.as_bytes(),
        )?)
    }
}

pub async fn run(wid_bin: Option<PathBuf>, concurrency: usize, seconds: u64) -> Result<()> {
    let webhook = Webhook::start(&wid_binary(wid_bin)?).await?;
    let (client, pid) = (webhook.client()?, webhook.pid);
    let body = Arc::new(review_body()?);
    println!(
        "review size: {} bytes (pod {} bytes)",
        body.len(),
        serde_json::to_vec(&pod())?.len()
    );
    let client = Arc::new(client);
    let op = {
        let (client, body) = (client.clone(), body.clone());
        move |_: usize, _: u64| {
            let (client, body) = (client.clone(), body.clone());
            async move {
                match client
                    .http()
                    .post(client.url("/mutate-v1-pod"))
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await
                {
                    Ok(r) => {
                        r.status().is_success()
                            && r.bytes()
                                .await
                                .is_ok_and(|b| b.windows(13).any(|w| w == b"\"allowed\":tru"))
                    }
                    Err(_) => false,
                }
            }
        }
    };
    drive(concurrency, Duration::from_secs(1), op.clone()).await;
    let mut peak = 0;
    let sampler = {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        (
            stop,
            tokio::spawn(async move {
                let mut peak = 0;
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(resident_kib(pid, "VmRSS:").unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                peak
            }),
        )
    };
    let mut report: Report = drive(concurrency, Duration::from_secs(seconds), op.clone()).await;
    report.print("AdmissionReview (webhook on one core)", concurrency);
    sampler.0.store(true, std::sync::atomic::Ordering::Relaxed);
    peak = peak.max(sampler.1.await.unwrap_or(0));
    let mut single = drive(1, Duration::from_secs(seconds.min(5)), op).await;
    single.print("AdmissionReview, one at a time", 1);
    println!(
        "webhook resident memory under load: {:.1} MiB (peak sampled RSS; VmHWM {:.1} MiB)",
        peak as f64 / 1024.0,
        resident_kib(pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0
    );
    drop(webhook);
    Ok(())
}
