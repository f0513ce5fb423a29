//! The identity plane: an Entra-compatible token service for the tenant.

pub mod destinations;
mod device;
mod devicelogin;
mod discovery;
pub mod error;
pub mod federated_client;
pub mod issuers;
mod realm;
pub mod token;
pub mod users;

use crate::activity::sign_ins::Attempt;
use crate::request_log::{RequestIds, TokenRefusal};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ConnectInfo;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use error::StsError;
use std::net::SocketAddr;
use token::{Endpoint, TokenRequest};
use wid_types::oauth::{TokenResponseV1, TokenResponseV2};

/// Token requests are small forms; a service-account token is a few KiB.
const MAX_TOKEN_REQUEST: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(device::devicecode_v2),
        )
        .route("/{tenant}/oauth2/devicecode", post(device::devicecode_v1))
        .layer(DefaultBodyLimit::max(MAX_TOKEN_REQUEST))
        .route(
            "/devicelogin",
            get(devicelogin::show)
                .post(devicelogin::submit)
                .layer(DefaultBodyLimit::max(devicelogin::MAX_FORM)),
        )
        .route("/common/userrealm/{upn}", get(realm::user_realm))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .route(
            "/common/discovery/instance",
            get(discovery::instance_discovery),
        )
}

/// The id a client asked us to echo, else a new one.
pub fn correlation_id(headers: &HeaderMap) -> String {
    crate::request_log::client_correlation(headers)
        .unwrap_or_else(|| wid_core::ids::random_uuid().to_string())
}

/// The correlation id the request log gave the request (the client's, else the request's
/// own id), so an error body names the id the log line carries; made up only when a router
/// runs without the request log.
fn logged_correlation(ids: Option<Extension<RequestIds>>, headers: &HeaderMap) -> String {
    match ids {
        Some(Extension(ids)) => ids.correlation,
        None => correlation_id(headers),
    }
}

async fn token_v2(
    state: State<AppState>,
    tenant: Path<String>,
    ids: Option<Extension<RequestIds>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    token(state, tenant, ids, peer, headers, body, Endpoint::V2).await
}

async fn token_v1(
    state: State<AppState>,
    tenant: Path<String>,
    ids: Option<Extension<RequestIds>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    token(state, tenant, ids, peer, headers, body, Endpoint::V1).await
}

async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ids: Option<Extension<RequestIds>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(_) => {
            return StsError::request_too_large(MAX_TOKEN_REQUEST)
                .into_response_at(state.now(), &logged_correlation(ids, &headers))
        }
    };
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let request = TokenRequest::from_form(&body, authorization);
    let correlation = logged_correlation(ids.clone(), &headers);
    let mut attempt = Attempt::new(
        &tenant,
        request.client_id.as_deref(),
        peer.map(|Extension(ConnectInfo(a))| a.ip().to_string())
            .unwrap_or_default(),
        correlation.clone(),
        ids.map(|Extension(ids)| ids.request).unwrap_or_default(),
        &state.replica,
    );
    let outcome = token::issue(&state, &tenant, &request, endpoint, &mut attempt).await;
    let refusal = outcome.as_ref().err().map(|e| (e.code, e.message.as_str()));
    let record = attempt.finish(state.now_ms(), refusal);
    state.sign_ins.record(record, &state.metrics, state.now());
    match outcome {
        Ok(issued) => {
            state.metrics.token_issued();
            let user = issued.user;
            let (scope, refresh_token, id_token, client_info) = match user {
                Some(u) => (
                    Some(u.scope),
                    Some(u.refresh_token),
                    Some(u.id_token),
                    Some(u.client_info),
                ),
                None => (None, None, None, None),
            };
            let mut response = match endpoint {
                Endpoint::V2 => Json(TokenResponseV2 {
                    token_type: "Bearer".to_owned(),
                    expires_in: issued.lifetime,
                    ext_expires_in: issued.lifetime,
                    access_token: issued.access_token,
                    scope,
                    refresh_token,
                    id_token,
                    client_info,
                })
                .into_response(),
                Endpoint::V1 => Json(TokenResponseV1 {
                    token_type: "Bearer".to_owned(),
                    expires_in: issued.lifetime.to_string(),
                    ext_expires_in: issued.lifetime.to_string(),
                    expires_on: (issued.issued_at + issued.lifetime).to_string(),
                    not_before: issued.issued_at.to_string(),
                    resource: issued.resource,
                    access_token: issued.access_token,
                    scope,
                    refresh_token,
                    id_token,
                    client_info,
                })
                .into_response(),
            };
            error::no_store(&mut response);
            response
        }
        Err(e) => {
            state.metrics.token_refused(e.code);
            let code = e.code;
            let mut response = e.into_response_at(state.now(), &correlation);
            response.extensions_mut().insert(TokenRefusal {
                code,
                client_id: request.client_id,
            });
            response
        }
    }
}
