//! The HTTP side: the token route, `/readyz`, and everything else passed to the real IMDS.

use crate::imds::{self, ImdsError};
use crate::tokens::{self, Exchanger};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The real IMDS, for the paths the proxy does not answer itself.
const METADATA_ADDRESS: &str = "http://169.254.169.254:80";

pub struct ProxyConfig {
    pub default_client_id: Option<String>,
    pub tenant_id: String,
    pub authority_host: String,
    pub token_file: PathBuf,
    pub extra_ca: Option<Vec<u8>>,
}

pub struct Proxy {
    default_client_id: Option<String>,
    pub exchanger: Exchanger,
    upstream: reqwest::Client,
}

impl Proxy {
    pub fn new(config: ProxyConfig) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self {
            default_client_id: config.default_client_id,
            exchanger: Exchanger::new(
                &config.authority_host,
                &config.tenant_id,
                config.token_file,
                config.extra_ca.as_deref(),
            )?,
            upstream: reqwest::Client::builder()
                .use_preconfigured_tls(crate::tokens::tls_config(None)?)
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())?,
        }))
    }
}

fn error(e: ImdsError) -> Response {
    (e.status, Json(e.body())).into_response()
}

async fn token(proxy: &Proxy, query: Option<&str>, headers: &HeaderMap) -> Response {
    let q = match imds::parse(query, headers, proxy.default_client_id.as_deref()) {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    match proxy.exchanger.token(&q.client_id, &q.resource).await {
        Ok(t) => Json(imds::token_body(
            &t.access_token,
            &q.client_id,
            &q.resource,
            t.expires_on,
            t.not_before,
            tokens::now(),
        ))
        .into_response(),
        Err(e) => {
            tracing::info!(client_id = %q.client_id, resource = %q.resource, error = e.error, "token request failed");
            error(e)
        }
    }
}

/// Paths other than the token route go to the real IMDS unchanged, headers both ways.
async fn forward(proxy: &Proxy, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut upstream = proxy
        .upstream
        .request(req.method().clone(), format!("{METADATA_ADDRESS}{path}"));
    for (name, value) in req.headers() {
        if name != axum::http::header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    match upstream.body(body).send().await {
        Ok(r) => {
            let mut response = Response::builder().status(r.status().as_u16());
            for (name, value) in r.headers() {
                response = response.header(name, value);
            }
            response
                .body(Body::from(r.bytes().await.unwrap_or_default()))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn dispatch(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    if imds::is_token_path(req.uri().path()) {
        if req.method() != axum::http::Method::GET {
            return error(ImdsError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Only GET is allowed.",
            ));
        }
        let query = req.uri().query().map(str::to_owned);
        return token(&proxy, query.as_deref(), req.headers()).await;
    }
    forward(&proxy, req).await
}

pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/readyz", get(|| async { "ok" }))
        .fallback(dispatch)
        .with_state(proxy)
}
