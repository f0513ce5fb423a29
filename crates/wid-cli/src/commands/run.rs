//! `wid run`: run a local process the way a labelled pod runs under workload identity. The
//! process gets the environment the admission webhook injects and a service-account token
//! file that is refreshed like kubelet refreshes projected tokens (at 80 % of its life).

use super::aks::{create_token, ClusterName};
use crate::context::Context;
use anyhow::{Context as _, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The cluster whose issuer signs the token.
    #[arg(long)]
    cluster: String,
    #[arg(short = 'g', long)]
    resource_group: String,
    #[arg(long)]
    subscription: Option<String>,
    #[arg(long, default_value = "default")]
    namespace: String,
    #[arg(long)]
    service_account: String,
    /// Client id of the managed identity (the service account's
    /// azure.workload.identity/client-id annotation).
    #[arg(long)]
    client_id: String,
    #[arg(long, default_value = wid_core::cluster::TOKEN_EXCHANGE_AUDIENCE)]
    audience: Vec<String>,
    /// Token lifetime (Go duration, 10m to 48h).
    #[arg(long, default_value = "1h")]
    duration: String,
    /// Serve IMDS's managed-identity endpoint to the command instead
    /// (`AZURE_POD_IDENTITY_AUTHORITY_HOST`), for apps that use ManagedIdentityCredential.
    #[arg(long)]
    imds: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Private to this run: removed when the child exits.
struct TokenDir(PathBuf);

impl TokenDir {
    fn create() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("wid-run-{}", uuid_like()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TokenDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}", std::process::id())
}

fn write_token(path: &Path, token: &str) -> Result<()> {
    wid_server::datadir::write_atomic(path, token.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs the command and exits with its status; only returns on failure to start it.
pub async fn run(args: RunArgs, ctx: &Context) -> Result<Option<Value>> {
    let cluster = ClusterName {
        name: args.cluster.clone(),
        resource_group: args.resource_group.clone(),
        subscription: args.subscription.clone(),
    };
    let lifetime = wid_core::cluster::parse_duration(&args.duration)?;
    let fetch = || {
        create_token(
            ctx,
            &cluster,
            &args.namespace,
            &args.service_account,
            &args.audience,
            &args.duration,
            None,
        )
    };
    let dir = TokenDir::create()?;
    let token_file = dir.0.join("azure-identity-token");
    write_token(&token_file, &fetch().await?)?;

    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no command given"))?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .env("AZURE_CLIENT_ID", &args.client_id)
        .env("AZURE_TENANT_ID", &ctx.server.tenant_id);
    if args.imds {
        // The workload-identity variables stay out: with them, azure-identity would skip
        // IMDS and exchange the token itself.
        let ca = match &ctx.server.ca_bundle {
            Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
            None => None,
        };
        let proxy = wid_proxy::Proxy::new(wid_proxy::ProxyConfig {
            default_client_id: Some(args.client_id.clone()),
            tenant_id: ctx.server.tenant_id.clone(),
            authority_host: ctx.server.url.clone(),
            token_file: token_file.clone(),
            extra_ca: ca,
        })
        .map_err(|e| anyhow::anyhow!(e))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, wid_proxy::router(proxy)).await });
        command.env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://{addr}"),
        );
    } else {
        command
            .env("AZURE_AUTHORITY_HOST", format!("{}/", ctx.server.url))
            .env("AZURE_FEDERATED_TOKEN_FILE", &token_file);
    }
    if let Some(ca) = &ctx.server.ca_bundle {
        command
            .env("REQUESTS_CA_BUNDLE", ca)
            .env("SSL_CERT_FILE", ca);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let pid = child.id().map(|p| p as i32);

    let refresh_every = Duration::from_secs((lifetime as u64) * 8 / 10);
    let mut signals = [
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
        signal(SignalKind::quit())?,
    ];
    let mut next_refresh = tokio::time::Instant::now() + refresh_every;
    let status = loop {
        let [int, term, hup, quit] = &mut signals;
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep_until(next_refresh) => {
                match fetch().await.and_then(|t| write_token(&token_file, &t)) {
                    Ok(()) => next_refresh += refresh_every,
                    Err(e) => {
                        eprintln!("WARNING: refreshing the service-account token failed, retrying in 10s: {e:#}");
                        next_refresh = tokio::time::Instant::now() + Duration::from_secs(10);
                    }
                }
            }
            _ = int.recv() => forward(pid, libc::SIGINT),
            _ = term.recv() => forward(pid, libc::SIGTERM),
            _ = hup.recv() => forward(pid, libc::SIGHUP),
            _ = quit.recv() => forward(pid, libc::SIGQUIT),
        }
    };
    drop(dir);
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    };
    std::process::exit(code);
}

fn forward(pid: Option<i32>, sig: i32) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}
