//! Starting and stopping a server: bootstrap, TLS, the accept loop and graceful shutdown.
//! Every connection is bounded (see [`crate::connections`] and [`Limits`]): its handshake,
//! its first request, its idle time between requests, its requests' bodies and responses,
//! and how many connections are open at once, so that slow or idle clients can't pin
//! descriptors and memory, or keep health checks out.

use crate::bootstrap::{self, Installation};
use crate::cache::TtlCache;
use crate::config::{Limits, ServerConfig};
use crate::connections::{self, Activity, Connections, Due, Slot, Tracked};
use crate::datadir::{self, ServerInfo};
use crate::error::ServerError;
use crate::state::{AppState, Shared};
use crate::sts::issuers::IssuerKeys;
use crate::tenant_keys::SharedTenantKeys;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceExt;
use wid_core::clock::{Clock, SystemClock};
use wid_core::cloud::Cloud;
use wid_store::Store;

/// Verifying a bearer token costs an RSA operation; a verified one is remembered briefly,
/// with its expiry still checked on every use.
const VERIFIED_TOKENS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// How long shutdown waits for the activity logs' queues to be stored.
const LOG_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// A started server: what it serves, and how to stop it.
pub struct RunningServer {
    pub info: ServerInfo,
    pub local_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: String,
    pub admin_client_id: String,
    /// The bootstrap admin user's UPN; the password is in `admin-user.json`.
    pub admin_upn: String,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// The activity logs' writers: each ends once every request that could record has, and
    /// its queue is stored.
    log_writers: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and returns when all are done.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        let writers = futures_util::future::join_all(self.log_writers);
        if tokio::time::timeout(LOG_FLUSH, writers).await.is_err() {
            tracing::warn!("the activity logs' last records were not all stored before shutdown");
        }
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
    for resource in &config.resources {
        wid_core::resources::validate_added(resource)
            .map_err(|e| ServerError::Config(format!("--resource: {e}")))?;
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
        admin_user,
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
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let (sign_ins, sign_in_writer) =
        crate::activity::Log::start(config.sign_in_log, store.clone(), metrics.clone());
    let (vault_events, vault_event_writer) =
        crate::activity::Log::start(config.vault_audit_log, store.clone(), metrics.clone());
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
        vault_keys: TtlCache::new(crate::cache::RESYNC),
        key_versions: TtlCache::new(crate::cache::RESYNC),
        verified_tokens: TtlCache::new(VERIFIED_TOKENS_FOR),
        metrics,
        sign_ins,
        vault_events,
        replica: crate::activity::replica_name(),
    });
    // Before the listener answers: a script that waits for the port and then runs a command
    // must find the server (the CLI reads this file).
    datadir::write_json(&config.data_dir.join(datadir::SERVER_INFO), &info, 0o644)
        .map_err(ServerError::io("writing server.json"))?;
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
    Ok(RunningServer {
        info,
        local_addr,
        data_dir: config.data_dir.clone(),
        database: redact_database_url(&database),
        admin_client_id: admin.client_id,
        admin_upn: admin_user.user_principal_name,
        shutdown,
        task,
        log_writers: sign_in_writer
            .into_iter()
            .chain(vault_event_writer)
            .collect(),
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
    limits: Limits,
    stop: watch::Receiver<bool>,
) {
    serve(
        listener,
        Some(tokio_rustls::TlsAcceptor::from(tls)),
        app,
        limits,
        stop,
    )
    .await
}

/// [`serve_tls`] without TLS, for listeners only the local host reaches (the IMDS proxy),
/// with the same bounds on connections.
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
) {
    serve(listener, None, app, limits, stop).await
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let max = connections::effective_max_connections(limits.max_connections);
    if max < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            max,
            reserve = connections::FD_RESERVE,
            "the file descriptor limit (RLIMIT_NOFILE) lowers the connection cap"
        );
    }
    let connections = Connections::new(max, &limits);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive_interval)
        .keep_alive_timeout(limits.http2_keep_alive_timeout)
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    back_off(&e, &connections).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let slot = tokio::select! {
            slot = connections.slot() => slot,
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            tls.clone(),
            app.clone(),
            builder.clone(),
            limits.clone(),
            slot,
            stop.clone(),
        ));
    }
    drop(listener);
    connections.drained().await;
}

/// After a failed accept. Running out of descriptors (or kernel memory) would otherwise
/// make the loop spin on an error that only a closed connection ends, so it closes the
/// longest-idle connection and waits a little; anything else (a peer that reset before
/// accept) concerns that peer only.
async fn back_off(error: &std::io::Error, connections: &Connections) {
    let exhausted = matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    if exhausted {
        tracing::warn!(error = %error, "accept failed: out of resources; closing the longest-idle connection");
        connections.evict_longest_idle();
        tokio::time::sleep(ACCEPT_BACK_OFF).await;
    } else {
        tracing::debug!(error = %error, "accept failed");
    }
}

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_BACK_OFF: Duration = Duration::from_millis(50);

/// One connection from accept to close: the TLS handshake within its timeout, then HTTP
/// until the peer leaves, the connection's idle or stuck deadline passes, the registry
/// evicts it, or the server stops.
#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    slot: Slot,
    mut stop: watch::Receiver<bool>,
) {
    let activity = slot.activity.clone();
    let Some(acceptor) = tls else {
        return http(stream, peer, app, &builder, &limits, &activity, stop).await;
    };
    let handshake = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = activity.evict.notified() => return,
        _ = stop.changed() => return,
    };
    activity.touch();
    http(stream, peer, app, &builder, &limits, &activity, stop).await;
}

/// Serves HTTP/1.1 or HTTP/2 on an established connection, enforcing its deadlines
/// (see [`Activity::deadline`]): idle ones close gracefully (HTTP/2 sends GOAWAY), and a
/// connection that does not finish closing within `send_timeout`, or is stuck, or is
/// evicted, is dropped.
async fn http<I>(
    io: I,
    peer: SocketAddr,
    app: axum::Router,
    builder: &auto::Builder<TokioExecutor>,
    limits: &Limits,
    activity: &Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let in_flight = tracker.begin();
        let app = app.clone();
        let mut req = req;
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        async move {
            let response = app
                .oneshot(req)
                .await
                .unwrap_or_else(|never| match never {});
            Ok::<_, Infallible>(response.map(|body| Tracked::wrap(body, in_flight)))
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    // Once closing (idle, or the server stopping), when to give up on a graceful close:
    // an idle connection only has to say goodbye, a stopping one may finish its requests.
    let mut give_up: Option<Instant> = None;
    let mut stopping = false;
    loop {
        let (deadline, _) = activity.schedule();
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = activity.changed.notified() => {}
            _ = activity.evict.notified() => {
                if activity.accept_eviction() {
                    tracing::debug!(%peer, "closing an idle connection to make room for a new one");
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline), if give_up.is_none() => {
                // Progress since the deadline was computed may have moved it.
                let (deadline, due) = activity.deadline();
                if Instant::now() < deadline {
                    continue;
                }
                match due {
                    Due::Stuck => {
                        tracing::debug!(%peer, "dropping a connection whose requests made no progress");
                        return;
                    }
                    Due::Idle => {
                        tracing::debug!(%peer, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        give_up = Some(Instant::now() + limits.send_timeout);
                    }
                }
            }
            _ = tokio::time::sleep_until(give_up.unwrap_or(deadline)), if give_up.is_some() => {
                tracing::debug!(%peer, "dropping a connection that did not close in time");
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
                let finishing = Instant::now() + limits.request_timeout + limits.send_timeout;
                give_up = Some(give_up.map_or(finishing, |at| at.min(finishing)));
            }
        }
    }
}
