//! The OIDC issuers wid hosts for clusters: the discovery document and JWKS exactly as
//! kube-apiserver serves them (contracts.md §6.2), anonymous, as Entra fetches them.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use wid_core::cluster;
use wid_core::model::{Cluster, IssuerKey};
use wid_jose::{Jwks, VerifyingKey};
use wid_types::oidc::IssuerDiscovery;

/// Short, so that rotations reach verifiers quickly; kube-apiserver uses its key cache age.
const MAX_AGE: &str = "public, max-age=60";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/{issuer}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/{issuer}/openid/v1/jwks", get(jwks))
}

/// The cluster behind an issuer URL, if its issuer is enabled. Anything else is a bare 404,
/// as from a static host.
async fn hosted(
    state: &AppState,
    tenant: &str,
    issuer: &str,
) -> Result<(Cluster, String), Response> {
    let found = state
        .store
        .cluster_by_issuer_id(issuer)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "issuer lookup failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })?;
    match found {
        Some(c) if c.oidc_issuer_enabled && c.tenant_id == tenant => {
            let url = cluster::issuer_url(state.cloud.authority(), &c.tenant_id, &c.issuer_id);
            Ok((c, url))
        }
        _ => Err(StatusCode::NOT_FOUND.into_response()),
    }
}

/// The published keys as verifiers see them; stored keys that do not parse are skipped.
pub fn published(keys: &[IssuerKey]) -> Vec<VerifyingKey> {
    keys.iter()
        .filter_map(|k| VerifyingKey::from_spki_der(&k.public_spki_der).ok())
        .collect()
}

fn with_max_age(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    response
}

async fn discovery(
    State(state): State<AppState>,
    Path((tenant, issuer)): Path<(String, String)>,
) -> Response {
    let (c, url) = match hosted(&state, &tenant, &issuer).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let keys = match state.store.issuer_keys(&c.issuer_id).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::error!(error = %e, "issuer keys lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut algs: Vec<String> = published(&keys)
        .iter()
        .map(|k| k.algorithm().to_string())
        .collect();
    algs.sort();
    algs.dedup();
    with_max_age(IssuerDiscovery {
        jwks_uri: cluster::jwks_url(&url),
        issuer: url,
        response_types_supported: vec!["id_token".to_owned()],
        subject_types_supported: vec!["public".to_owned()],
        id_token_signing_alg_values_supported: algs,
    })
}

async fn jwks(
    State(state): State<AppState>,
    Path((tenant, issuer)): Path<(String, String)>,
) -> Response {
    let (c, _) = match hosted(&state, &tenant, &issuer).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.store.issuer_keys(&c.issuer_id).await {
        Ok(keys) => with_max_age(Jwks {
            keys: published(&keys).iter().map(VerifyingKey::to_jwk).collect(),
        }),
        Err(e) => {
            tracing::error!(error = %e, "issuer keys lookup failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
