//! wid's HTTPS server: one listener serving the identity plane (Entra-compatible token
//! service) and the management plane (ARM-compatible API), with the data directory
//! bootstrap that makes `wid up` work on a fresh machine.

pub mod arm;
pub mod bootstrap;
mod cache;
pub mod config;
pub mod datadir;
pub mod error;
mod graph;
mod issuer;
mod serve;
pub mod state;
pub mod sts;
pub mod tls;

pub use config::ServerConfig;
pub use error::ServerError;
pub use serve::{start, start_with_clock, RunningServer};

use axum::extract::{OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use state::AppState;
use tower::ServiceExt;

/// The whole HTTP surface. ARM paths are normalized before routing (see
/// [`arm::normalize_path`]), which is why the routed app sits behind a fallback service.
pub fn app(state: AppState) -> Router {
    let limits = state.limits.clone();
    let routed = Router::new()
        .merge(sts::router())
        .merge(issuer::router())
        .merge(graph::router())
        .merge(arm::router(&state))
        .route("/healthz", get(healthz))
        .fallback(arm::fallback)
        .with_state(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    let normalized = routed.map_request(|mut req: Request| {
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
    Router::new().fallback_service(normalized)
}

/// Liveness that also proves the database answers.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
