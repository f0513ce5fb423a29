//! wid's HTTPS server: one listener serving the identity plane (Entra-compatible token
//! service) and the management plane (ARM-compatible API), with the data directory
//! bootstrap that makes `wid up` work on a fresh machine.

mod access_token;
pub mod activity;
pub mod arm;
pub mod bootstrap;
mod cache;
mod coherence;
pub mod config;
mod connections;
pub mod datadir;
pub mod error;
pub mod graph;
mod issuer;
mod jobs;
pub mod keyring;
mod metrics;
mod refusals;
mod request_log;
mod serve;
pub mod state;
pub mod sts;
pub mod swap;
mod tenant_keys;
pub mod tls;
mod vault;

pub use config::ServerConfig;
pub use error::ServerError;
pub use serve::{serve_http, serve_tls, start, start_with_clock, RunningServer};
pub use vault::route_table as vault_route_table;

use axum::extract::{OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use state::AppState;
use tower::ServiceExt;

/// The whole HTTP surface. Requests for `{vault}.vault.{suffix}` go to the Key Vault plane;
/// everything else is routed by path, with ARM paths normalized first (see
/// [`arm::normalize_path`]).
pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    let routed = Router::new()
        .merge(sts::router())
        .merge(issuer::router())
        .merge(graph::router(&state))
        .merge(arm::router(&state))
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .fallback(arm::fallback)
        .with_state(state.clone());
    let by_path = routed.map_request(|mut req: Request| {
        let original = req.uri().clone();
        if let Some(path) = arm::normalize_path(original.path()) {
            let rebuilt = match original.query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            if let Ok(uri) = rebuilt.parse() {
                *req.uri_mut() = uri;
            }
        }
        req.extensions_mut().insert(OriginalUri(original));
        req
    });
    let edge_state = state.clone();
    let vaults = vault::router(&state)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(state.clone());
    let dispatch = move |mut req: Request| {
        let (vaults, by_path, state) = (vaults.clone(), by_path.clone(), state.clone());
        async move {
            let host = req
                .headers()
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().authority().map(|a| a.as_str()));
            let vault = host.and_then(|h| vault::vault_of_host(&state, h));
            let result = match vault {
                Some(name) => {
                    req.extensions_mut().insert(vault::VaultHost(name));
                    vaults.oneshot(req).await
                }
                None => by_path.oneshot(req).await,
            };
            result.unwrap_or_else(|never| match never {})
        }
    };
    Router::new()
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(edge_state, edge))
}

/// Outermost, in this order: the access log, the shaping of bare refusals, the request
/// timeout. One layer, not three: each axum layer costs a boxed future and a clone of the
/// service it wraps on every request.
async fn edge(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let timeout = state.limits.request_timeout;
    request_log::trace(req, |req| {
        refusals::shape(&state, req, |req| async move {
            tokio::time::timeout(timeout, next.run(req))
                .await
                .unwrap_or_else(|_| {
                    axum::response::IntoResponse::into_response(StatusCode::REQUEST_TIMEOUT)
                })
        })
    })
    .await
}

/// Which plane a matched route belongs to, for the metrics.
fn plane_of(route: &str, vault_host: bool) -> &'static str {
    if vault_host {
        "keyvault"
    } else if route.starts_with("/subscriptions")
        || route == "/tenants"
        || route.ends_with("/metadata/endpoints")
    {
        "arm"
    } else if route.contains("{issuer}") {
        "issuer"
    } else if route.starts_with("/v1.0") || route.starts_with("/beta") {
        "graph"
    } else if route.starts_with("/{tenant}") || route.starts_with("/common") {
        "sts"
    } else {
        "operations"
    }
}

/// Counts every routed request by plane, route template and status, with its latency.
async fn record(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let plane = plane_of(route, req.extensions().get::<vault::VaultHost>().is_some());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state
        .metrics
        .request(plane, route, response.status().as_u16(), started.elapsed());
    response
}

/// Prometheus exposition of [`metrics::Metrics`], the caches and the database pool.
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let lookups = |name, (hits, misses)| (name, hits, misses);
    let caches = [
        lookups("clients", state.clients.lookups()),
        lookups("role_assignments", state.role_assignments.lookups()),
        lookups("vaults", state.vaults.lookups()),
        lookups("verified_tokens", state.verified_tokens.lookups()),
    ];
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(&caches, state.store.pool_stats()),
    )
}

/// Liveness that also proves the database answers, within a probe's patience.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping());
    match ping.await {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer within 2 s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
