//! Starting and stopping a server: bootstrap, TLS, the accept loop and graceful shutdown.
//! Every connection gets a handshake timeout and a header-read timeout, so slow or idle
//! clients can't pin resources.

use crate::bootstrap::{self, Installation};
use crate::cache::TtlCache;
use crate::config::ServerConfig;
use crate::datadir::{self, ServerInfo};
use crate::error::ServerError;
use crate::state::{AppState, Shared};
use crate::sts::issuers::IssuerKeys;
use crate::tenant_keys::SharedTenantKeys;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wid_core::clock::{Clock, SystemClock};
use wid_core::cloud::Cloud;
use wid_store::Store;

/// Verifying a bearer token costs an RSA operation; a verified one is remembered briefly,
/// with its expiry still checked on every use.
const VERIFIED_TOKENS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// A started server: what it serves, and how to stop it.
pub struct RunningServer {
    pub info: ServerInfo,
    pub local_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: String,
    pub admin_client_id: String,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and returns when all are done.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Starts a server on the wall clock.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// Starts with an injected clock, so tests can move time past token expiry.
pub async fn start_with_clock(
    mut config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    // Bind first: with port 0 the URL, certificate and server.json must name the real port.
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(ServerError::io(format!("listening on {}", config.listen)))?;
    let local_addr = listener
        .local_addr()
        .map_err(ServerError::io("reading the listen address"))?;
    config.listen = local_addr;
    let activation = config.signing_key_rotation.activation;
    if activation <= crate::coherence::PROPAGATION_BOUND.as_secs() as i64 {
        return Err(ServerError::Config(format!(
            "a new signing key must be published for longer than every replica takes to load it ({} s); got {activation} s",
            crate::coherence::PROPAGATION_BOUND.as_secs()
        )));
    }
    datadir::ensure_dir(&config.data_dir)
        .map_err(ServerError::io("creating the data directory"))?;
    let database = config.database_url();
    let store = Store::connect(&database).await?;
    let ring = crate::keyring::load(&config)?;
    let tls = crate::tls::load(&config, &ring, clock.now_unix())?;
    let Installation {
        tenant,
        subscription,
        signing_keys,
        admin,
    } = bootstrap::bootstrap(&store, &config, &ring, clock.as_ref()).await?;
    let resealed = crate::keyring::reseal(&store, &ring, &config).await?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            "re-sealed values under the current key-encryption key"
        );
    }
    let keys = SharedTenantKeys::new(crate::tenant_keys::open(
        &signing_keys,
        &ring,
        &config.signing_key_rotation,
    )?);
    let cloud = Cloud {
        public_url: config.effective_public_url(),
        dns_suffix: config.dns_suffix.clone(),
    };
    let info = ServerInfo {
        url: cloud.public_url.clone(),
        ca_bundle: tls.ca_bundle.clone(),
        tenant_id: tenant.id.clone(),
        subscription_id: subscription.id.clone(),
        management_resource: cloud.management_resource(),
        dns_suffix: cloud.dns_suffix.clone(),
        pid: std::process::id(),
    };
    let mut extra_roots = Vec::new();
    for path in tls.ca_bundle.iter().chain(&config.issuer_ca_files) {
        extra_roots.push(
            std::fs::read(path).map_err(ServerError::io(format!("reading {}", path.display())))?,
        );
    }
    let destinations = crate::sts::destinations::Destinations::new(
        &cloud.public_url,
        config.issuer_allowed_networks.clone(),
    );
    let issuer_keys = IssuerKeys::new(&extra_roots, destinations).map_err(ServerError::Tls)?;
    let state = AppState::new(Shared {
        store,
        clock,
        cloud,
        tenant,
        subscription,
        keys,
        limits: config.limits.clone(),
        kek: crate::keyring::SharedKeyRing::new(ring),
        config: config.clone(),
        issuer_keys,
        clients: TtlCache::new(crate::cache::RESYNC),
        role_assignments: TtlCache::new(crate::cache::RESYNC),
        vaults: TtlCache::new(crate::cache::RESYNC),
        verified_tokens: TtlCache::new(VERIFIED_TOKENS_FOR),
        metrics: Default::default(),
    });
    let (shutdown, stop) = watch::channel(false);
    crate::coherence::follow_local_writes(&state);
    tokio::spawn(crate::coherence::follow(state.clone(), stop.clone()));
    tokio::spawn(crate::jobs::run(
        state.clone(),
        config.job_interval,
        stop.clone(),
    ));
    let task = tokio::spawn(serve_tls(
        listener,
        tls.server_config,
        crate::app(state),
        config.limits.clone(),
        stop,
    ));
    datadir::write_json(&config.data_dir.join(datadir::SERVER_INFO), &info, 0o644)
        .map_err(ServerError::io("writing server.json"))?;
    Ok(RunningServer {
        info,
        local_addr,
        data_dir: config.data_dir.clone(),
        database: redact_database_url(&database),
        admin_client_id: admin.client_id,
        shutdown,
        task,
    })
}

/// A database URL fit for printing: any password replaced.
fn redact_database_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Serves `app` over TLS until `stop` changes, then drains in-flight requests. Shared by
/// every HTTPS server wid runs.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    limits: crate::config::Limits,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = limits.tls_handshake_timeout;
        tokio::spawn(async move {
            let tls_stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let service = TowerToHyperService::new(app);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
