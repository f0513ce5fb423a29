//! `wid proxy`: the IMDS proxy sidecar (and `--probe`, its postStart check).

use anyhow::{anyhow, Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use wid_proxy::{Proxy, ProxyConfig};

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Port on localhost (the init container redirects IMDS traffic here).
    #[arg(
        long = "proxy-port",
        alias = "port",
        env = "PROXY_PORT",
        default_value_t = 8000
    )]
    port: u16,
    /// Check that a proxy on the port is ready (up to 7 tries, 1 s apart), then exit.
    #[arg(long)]
    probe: bool,
    /// Extra CA (PEM) to trust for AZURE_AUTHORITY_HOST, besides the system's.
    #[arg(long, env = "WID_PROXY_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// As upstream's proxy: empty (the default), info, debug, trace or all; the webhook passes
    /// its own.
    #[arg(long, default_value = "")]
    log_level: String,
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("{name} must be set (the webhook injects it)"))
}

/// The proxy for this process's workload-identity environment.
pub fn from_env(ca_file: Option<&PathBuf>) -> Result<std::sync::Arc<Proxy>> {
    let extra_ca = match ca_file {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    Proxy::new(ProxyConfig {
        default_client_id: std::env::var("AZURE_CLIENT_ID")
            .ok()
            .filter(|v| !v.is_empty()),
        tenant_id: env("AZURE_TENANT_ID")?,
        authority_host: env("AZURE_AUTHORITY_HOST")?,
        token_file: PathBuf::from(env("AZURE_FEDERATED_TOKEN_FILE")?),
        extra_ca,
    })
    .map_err(|e| anyhow!(e))
}

pub async fn run(args: ProxyArgs) -> Result<()> {
    if args.probe {
        let url = format!("http://127.0.0.1:{}/readyz", args.port);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(wid_proxy::tokens::tls_config(None).map_err(|e| anyhow!(e))?)
            .timeout(Duration::from_secs(1))
            .no_proxy()
            .build()?;
        for _ in 0..7 {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        anyhow::bail!("the proxy on port {} is not ready", args.port);
    }
    let level = crate::logging::upstream_level(&args.log_level)?;
    let _logging = crate::logging::init_at(crate::logging::LogFormat::Text, level);
    let proxy = from_env(args.ca_file.as_ref())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!("wid proxy: answering IMDS token requests on http://{addr}");
    // The same bounds as wid's HTTPS servers: only the pod reaches this port, but a workload
    // leaking connections must not exhaust the sidecar's descriptors.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(wid_server::serve_http(
        listener,
        wid_proxy::router(proxy),
        wid_server::config::Limits::default(),
        stopped,
    ));
    super::up::wait_for_signal().await?;
    let _ = stop.send(true);
    server.await?;
    Ok(())
}
