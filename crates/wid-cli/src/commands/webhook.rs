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
use std::time::{Duration, Instant};
use wid_webhook::kube::{KubeClient, ServiceAccountCache};
use wid_webhook::metrics::MutationMetrics;
use wid_webhook::{certs, endpoints};
use wid_webhook::{
    handle_review, handle_review_value, review_target, Config, ServiceAccountLookup,
};

/// AdmissionReviews of pods are a few KiB; the API server caps requests at 3 MiB.
const MAX_REVIEW_BYTES: usize = 3 * 1024 * 1024;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: Option<WebhookCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum WebhookCommand {
    /// Print the webhook's Kubernetes manifests (deploy/webhook.yaml) with the values filled in.
    Manifests {
        #[arg(long, env = "AZURE_TENANT_ID")]
        tenant_id: String,
        #[arg(long, default_value = "https://login.microsoftonline.com/")]
        authority_host: String,
        /// Image with the `wid` binary.
        #[arg(long)]
        image: String,
        #[arg(long, default_value = "wid-system")]
        namespace: String,
        /// PEM of the CA that issued the serving certificate (for the webhook's caBundle).
        #[arg(long)]
        ca_bundle: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, default_value = "0.0.0.0:9443")]
    listen: SocketAddr,
    /// Serving certificate chain (PEM), read again when it changes; without it (and
    /// --tls-key) the webhook manages its own certificate in a Secret and publishes its CA in
    /// the webhook configuration, unless --disable-cert-rotation.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// As upstream's: with --disable-cert-rotation, the directory whose tls.crt and tls.key
    /// are served (a mounted Secret).
    #[arg(long, default_value = "/certs")]
    webhook_cert_dir: PathBuf,
    /// As upstream's: serve the certificate in --webhook-cert-dir instead of managing one.
    #[arg(long)]
    disable_cert_rotation: bool,
    /// As upstream's: 1.2 or 1.3 (1.0 and 1.1 are refused: rustls has neither).
    #[arg(long, default_value = "1.3")]
    tls_min_version: String,
    /// As upstream's: plain HTTP /healthz and /readyz (host:port, :port, or 0 for none);
    /// both are also served on --listen.
    #[arg(long, default_value = ":9440")]
    health_addr: String,
    /// As upstream's: Prometheus /metrics with azwi_mutation_request (0 for none).
    #[arg(long, default_value = ":8095")]
    metrics_addr: String,
    /// As upstream's: prometheus is the only backend.
    #[arg(long, default_value = "prometheus")]
    metrics_backend: String,
    /// Self-managed certificate: the Secret that holds it (shared by the replicas).
    #[arg(long, default_value = "wid-webhook-cert")]
    cert_secret: String,
    /// Self-managed certificate: the namespace of the Secret and the Service.
    #[arg(long, default_value = "wid-system")]
    namespace: String,
    /// Self-managed certificate: the Service the certificate names.
    #[arg(long, default_value = "wid-webhook")]
    service_name: String,
    /// Self-managed certificate: the MutatingWebhookConfiguration whose caBundle it keeps.
    #[arg(long, default_value = "wid-webhook")]
    webhook_configuration: String,
    /// Self-managed certificate: lifetime of the serving certificate (Go duration); it is
    /// renewed when a fifth of it is left.
    #[arg(long, default_value = "2160h")]
    cert_lifetime: String,
    /// Kubeconfig to reach the API server; in-cluster configuration otherwise.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Tenant for service accounts without the tenant-id annotation.
    #[arg(long, env = "AZURE_TENANT_ID", required = true)]
    tenant_id: Option<String>,
    /// `AZURE_AUTHORITY_HOST` given to workloads (wid's URL, say); without it, the Active
    /// Directory endpoint of the cloud `--azure-environment` names.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority_host: Option<String>,
    /// The cloud, as upstream's chart names it (AzurePublicCloud, AzureUSGovernmentCloud,
    /// AzureChinaCloud, AzureGermanCloud, AzureStackCloud with AZURE_ENVIRONMENT_FILEPATH); an
    /// unknown name stops the webhook.
    #[arg(long, env = "AZURE_ENVIRONMENT", default_value = wid_webhook::cloud::DEFAULT_ENVIRONMENT)]
    azure_environment: String,
    #[arg(long, default_value = wid_webhook::mutate::DEFAULT_AUDIENCE)]
    audience: String,
    /// Image with the `wid` binary, for the proxy sidecar (and its init container unless
    /// --proxy-init-image names another), as upstream's PROXY_IMAGE.
    #[arg(
        long,
        env = "PROXY_IMAGE",
        default_value = "ghcr.io/wid-project/wid:latest"
    )]
    proxy_image: String,
    /// Image of the proxy's init container, as upstream's PROXY_INIT_IMAGE (default: the
    /// proxy image, since both run `wid`).
    #[arg(long, env = "PROXY_INIT_IMAGE")]
    proxy_init_image: Option<String>,
    /// As upstream's: empty (the default: `WID_LOG`, else info), info, debug, trace or all;
    /// the proxy sidecar is given the same.
    #[arg(long, default_value = "")]
    log_level: String,
    /// Inject the proxy as a native sidecar: `auto` asks the API server (Kubernetes >= 1.32).
    #[arg(long, default_value = "auto")]
    native_sidecar: String,
    /// AKS identity bindings: pods annotated `azure.workload.identity/use-SUFFIX: "true"` get
    /// a token for --custom-token-endpoint-audience and the token proxy named by
    /// AZURE_KUBERNETES_TOKEN_PROXY, AZURE_KUBERNETES_SNI_NAME and the CA from
    /// AZURE_KUBERNETES_CA_DATA, AZURE_KUBERNETES_CA_CONFIGMAP_NAME or
    /// AZURE_KUBERNETES_CA_CTB_SIGNER_NAME (with AZURE_KUBERNETES_CA_CTB_LABEL_SELECTOR).
    #[arg(long, default_value = "")]
    custom_token_endpoint_annotation_suffix: String,
    /// The audience of the custom token endpoint's tokens (e.g. api://AKSIdentityBinding).
    #[arg(long, default_value = "")]
    custom_token_endpoint_audience: String,
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
    metrics: MutationMetrics,
}

/// Every review is timed, answered or refused, as upstream's metric counts them.
async fn mutate(State(hook): State<Arc<Webhook>>, body: Bytes) -> Json<Value> {
    let started = Instant::now();
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        let response = handle_review(&body, &hook.config, &Found(None, None));
        hook.metrics.record("", started.elapsed());
        return Json(response);
    };
    let target = review_target(&review);
    let found = match &target {
        Some((ns, sa)) => match hook.accounts.annotations(ns, sa).await {
            Ok(a) => Found(a, None),
            Err(e) => Found(None, Some(e.to_string())),
        },
        None => Found(None, None),
    };
    let response = handle_review_value(&review, &hook.config, &found);
    let namespace = target.as_ref().map_or("", |(ns, _)| ns.as_str());
    hook.metrics.record(namespace, started.elapsed());
    Json(response)
}

fn probes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
}

/// Serves plain HTTP `app` on `addr` (a Go-style address; `None` when the flag turned it off).
async fn serve_plain(
    what: &str,
    addr: Option<SocketAddr>,
    app: Router,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} for {what}"))?;
    eprintln!(
        "wid webhook: serving {what} on http://{}",
        listener.local_addr()?
    );
    Ok(Some(tokio::spawn(wid_server::serve_http(
        listener,
        app,
        wid_server::config::Limits::default(),
        stop.clone(),
    ))))
}

/// The manifests template; `${NAME}` placeholders, as envsubst reads them.
const MANIFESTS: &str = include_str!("../../../../deploy/webhook.yaml");

fn render(values: &[(&str, String)]) -> Result<String> {
    let mut out = MANIFESTS.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    if let Some(at) = out.find("${") {
        anyhow::bail!(
            "the template has an unfilled placeholder near {}",
            &out[at..(at + 30).min(out.len())]
        );
    }
    Ok(out)
}

pub async fn run(args: WebhookArgs) -> Result<()> {
    if let Some(WebhookCommand::Manifests {
        tenant_id,
        authority_host,
        image,
        namespace,
        ca_bundle,
    }) = args.command
    {
        use base64::Engine;
        let ca = std::fs::read(&ca_bundle)
            .with_context(|| format!("reading {}", ca_bundle.display()))?;
        print!(
            "{}",
            render(&[
                ("NAMESPACE", namespace),
                ("IMAGE", image),
                ("AZURE_TENANT_ID", tenant_id),
                ("AZURE_AUTHORITY_HOST", authority_host),
                (
                    "CA_BUNDLE",
                    base64::engine::general_purpose::STANDARD.encode(ca)
                ),
            ])?
        );
        return Ok(());
    }
    let args = args.serve;
    let Some(tenant_id) = args.tenant_id else {
        anyhow::bail!("--tenant-id (or AZURE_TENANT_ID) is required");
    };
    let authority_host = match args.authority_host {
        Some(host) => host,
        None => wid_webhook::cloud::authority_host(&args.azure_environment, || {
            let path = std::env::var("AZURE_ENVIRONMENT_FILEPATH").unwrap_or_default();
            std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
        })?,
    };
    if !args.metrics_backend.eq_ignore_ascii_case("prometheus") {
        anyhow::bail!(
            "entrypoint: failed to initialize metrics exporter: unsupported metrics backend: {}",
            args.metrics_backend
        );
    }
    let tls_versions =
        endpoints::tls_versions(&args.tls_min_version).map_err(anyhow::Error::msg)?;
    let health_addr =
        endpoints::bind_address("health-addr", &args.health_addr).map_err(anyhow::Error::msg)?;
    let metrics_addr =
        endpoints::bind_address("metrics-addr", &args.metrics_addr).map_err(anyhow::Error::msg)?;
    let level = crate::logging::upstream_level(&args.log_level)?;
    let _logging = crate::logging::init_at(crate::logging::LogFormat::Text, level);
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
    let from_env = |name: &str| std::env::var(name).unwrap_or_default();
    let custom_token_endpoint = wid_webhook::token_endpoint::Settings {
        annotation_suffix: args.custom_token_endpoint_annotation_suffix,
        audience: args.custom_token_endpoint_audience,
        token_proxy: from_env("AZURE_KUBERNETES_TOKEN_PROXY"),
        sni_name: from_env("AZURE_KUBERNETES_SNI_NAME"),
        ca_data: from_env("AZURE_KUBERNETES_CA_DATA"),
        ca_configmap: from_env("AZURE_KUBERNETES_CA_CONFIGMAP_NAME"),
        ca_ctb_signer: from_env("AZURE_KUBERNETES_CA_CTB_SIGNER_NAME"),
        ca_ctb_label_selector: from_env("AZURE_KUBERNETES_CA_CTB_LABEL_SELECTOR"),
    }
    .endpoint()?;
    let config = Config {
        tenant_id,
        authority_host,
        audience: args.audience,
        proxy_init_image: args
            .proxy_init_image
            .unwrap_or_else(|| args.proxy_image.clone()),
        proxy_image: args.proxy_image,
        log_level: args.log_level,
        native_sidecar,
        custom_token_endpoint,
    };
    let hook = Arc::new(Webhook {
        config,
        accounts: ServiceAccountCache::start(client),
        metrics: MutationMetrics::default(),
    });
    let state = hook.clone();
    let app = Router::new()
        .route("/mutate-v1-pod", post(mutate))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .merge(probes())
        .with_state(state);
    let files = |cert, key| certs::FromFiles {
        cert,
        key,
        check_every: Duration::from_secs(10),
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => files(cert, key).start(tls_versions)?,
        _ if args.disable_cert_rotation => files(
            args.webhook_cert_dir.join("tls.crt"),
            args.webhook_cert_dir.join("tls.key"),
        )
        .start(tls_versions)?,
        _ => {
            let lifetime = wid_core::cluster::parse_duration(&args.cert_lifetime)?;
            certs::SelfManaged {
                client: hook.accounts.client(),
                namespace: args.namespace,
                secret: args.cert_secret,
                service: args.service_name,
                webhook_configuration: args.webhook_configuration,
                leaf_lifetime: Duration::from_secs(lifetime.max(1) as u64),
            }
            .start(tls_versions)
            .await
            .context("managing the serving certificate")?
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    eprintln!(
        "wid webhook: serving /mutate-v1-pod on https://{}",
        listener.local_addr()?
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Probes answer only once the certificate is served, as upstream's readiness waits for it.
    let health = serve_plain("/healthz and /readyz", health_addr, probes(), &stopped).await?;
    let metrics_app = Router::new()
        .route(
            "/metrics",
            get(|State(hook): State<Arc<Webhook>>| async move { hook.metrics.render() }),
        )
        .with_state(hook.clone());
    let metrics = serve_plain("/metrics", metrics_addr, metrics_app, &stopped).await?;
    let server = tokio::spawn(wid_server::serve_tls(
        listener,
        tls,
        app,
        wid_server::config::Limits::default(),
        stopped,
    ));
    super::up::wait_for_signal().await?;
    let _ = stop.send(true);
    for task in [Some(server), health, metrics].into_iter().flatten() {
        let _ = task.await;
    }
    Ok(())
}
