//! `wid webhook`: the mutating admission webhook, serving `/mutate-v1-pod` over HTTPS with
//! service accounts from a watch cache of the cluster's API server.

use anyhow::{Context as _, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use wid_webhook::kube::{KubeClient, ServiceAccountCache};
use wid_webhook::{handle_review, review_target, Config, ServiceAccountLookup};

/// AdmissionReviews of pods are a few KiB; the API server caps requests at 3 MiB.
const MAX_REVIEW_BYTES: usize = 3 * 1024 * 1024;

#[derive(clap::Args)]
pub struct WebhookArgs {
    #[arg(long, default_value = "0.0.0.0:9443")]
    listen: SocketAddr,
    /// Serving certificate chain (PEM).
    #[arg(long)]
    tls_cert: PathBuf,
    #[arg(long)]
    tls_key: PathBuf,
    /// Kubeconfig to reach the API server; in-cluster configuration otherwise.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Tenant for service accounts without the tenant-id annotation.
    #[arg(long, env = "AZURE_TENANT_ID")]
    tenant_id: String,
    /// `AZURE_AUTHORITY_HOST` given to workloads: wid's URL, or https://login.microsoftonline.com/.
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        default_value = "https://login.microsoftonline.com/"
    )]
    authority_host: String,
    #[arg(long, default_value = wid_webhook::mutate::DEFAULT_AUDIENCE)]
    audience: String,
    /// Image with the `wid` binary, for the proxy sidecar and its init container.
    #[arg(long, default_value = "ghcr.io/wid-project/wid:latest")]
    proxy_image: String,
    /// Inject the proxy as a native sidecar: `auto` asks the API server (Kubernetes >= 1.32).
    #[arg(long, default_value = "auto")]
    native_sidecar: String,
}

struct Found(Option<BTreeMap<String, String>>, Option<String>);

impl ServiceAccountLookup for Found {
    fn annotations(&self, _: &str, _: &str) -> Result<Option<BTreeMap<String, String>>, String> {
        match &self.1 {
            Some(e) => Err(e.clone()),
            None => Ok(self.0.clone()),
        }
    }
}

struct Webhook {
    config: Config,
    accounts: Arc<ServiceAccountCache>,
}

async fn mutate(State(hook): State<Arc<Webhook>>, body: Bytes) -> Json<Value> {
    let found = match review_target(&body) {
        Some((ns, sa)) => match hook.accounts.annotations(&ns, &sa).await {
            Ok(a) => Found(a, None),
            Err(e) => Found(None, Some(e.to_string())),
        },
        None => Found(None, None),
    };
    Json(handle_review(&body, &hook.config, &found))
}

pub async fn run(args: WebhookArgs) -> Result<()> {
    super::up::init_logging(super::up::LogFormat::Text);
    let client = Arc::new(match &args.kubeconfig {
        Some(path) => KubeClient::from_kubeconfig(path)?,
        None => KubeClient::in_cluster()?,
    });
    let native_sidecar = match args.native_sidecar.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            let (major, minor) = client
                .server_version()
                .await
                .context("asking the API server for its version")?;
            (major, minor) >= (1, 32)
        }
    };
    let config = Config {
        tenant_id: args.tenant_id,
        authority_host: args.authority_host,
        audience: args.audience,
        proxy_image: args.proxy_image,
        native_sidecar,
    };
    let hook = Arc::new(Webhook {
        config,
        accounts: ServiceAccountCache::start(client),
    });
    let app = Router::new()
        .route("/mutate-v1-pod", post(mutate))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .with_state(hook);
    let tls = wid_server::tls::server_config_from_files(&args.tls_cert, &args.tls_key)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "wid webhook: serving /mutate-v1-pod on https://{}",
        listener.local_addr()?
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(wid_server::serve_tls(
        listener,
        tls,
        app,
        wid_server::config::Limits::default(),
        stopped,
    ));
    super::up::wait_for_signal().await?;
    let _ = stop.send(true);
    let _ = server.await;
    Ok(())
}
