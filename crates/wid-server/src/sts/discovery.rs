//! The tenant's OIDC metadata and signing keys, for MSAL-based clients and for resource
//! servers that validate wid's tokens.

use super::correlation_id;
use super::error::StsError;
use super::token::{resolve_tenant, resolve_user_tenant};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn cached(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    response
}

fn refuse(state: &AppState, headers: &HeaderMap, tenant: &str) -> Response {
    let err = match resolve_tenant(state, tenant) {
        Err(e) if e.code == 90002 => StsError::tenant_not_found_discovery(tenant),
        Err(e) => e,
        Ok(_) => StsError::internal(),
    };
    err.into_response_at(state.now(), &correlation_id(headers))
}

/// Also at `organizations` and `common`, where az signs users in: the document then
/// describes the installation's one tenant, and its `issuer` is that tenant's, so the id
/// tokens issued there verify against it.
pub async fn openid_configuration_v2(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(t) = resolve_user_tenant(&state, &tenant) else {
        return refuse(&state, &headers, &tenant);
    };
    let base = format!("{}/{}", state.cloud.authority(), t.id);
    let host = state
        .cloud
        .authority()
        .trim_start_matches("https://")
        .to_owned();
    cached(json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "issuer": state.cloud.v2_issuer(&t.id),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "appid", "idtyp", "ver", "name", "preferred_username", "upn", "scp", "amr"],
        "tenant_region_scope": null,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": state.cloud.resource_manager(),
    }))
}

pub async fn openid_configuration_v1(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(t) = resolve_user_tenant(&state, &tenant) else {
        return refuse(&state, &headers, &tenant);
    };
    let base = format!("{}/{}", state.cloud.authority(), t.id);
    cached(json!({
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": state.cloud.access_token_issuer(&t.id),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/devicecode"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "ver"],
    }))
}

pub async fn keys(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(t) = resolve_user_tenant(&state, &tenant) else {
        return refuse(&state, &headers, &tenant);
    };
    let issuer = state.cloud.v2_issuer(&t.id);
    let keys: Vec<Value> = state
        .keys
        .get()
        .jwks()
        .keys
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                if let Some(kid) = k.kid.clone() {
                    map.insert("x5t".to_owned(), Value::String(kid));
                }
                map.insert("issuer".to_owned(), Value::String(issuer.clone()));
            }
            v
        })
        .collect();
    cached(json!({ "keys": keys }))
}

#[derive(serde::Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// MSAL's instance discovery (contracts.md §1.7), for clients configured to ask wid rather
/// than login.microsoftonline.com: an authorization endpoint on wid's host is a known
/// instance, and its tenant's discovery document is where MSAL goes next.
pub async fn instance_discovery(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<InstanceQuery>,
) -> Response {
    let authority = state.cloud.authority();
    let host = authority.trim_start_matches("https://");
    let tenant = query
        .authorization_endpoint
        .as_deref()
        .and_then(|e| e.strip_prefix(authority))
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split('/').next())
        .filter(|t| !t.is_empty());
    let Some(tenant) = tenant else {
        return StsError::unknown_instance()
            .into_response_at(state.now(), &correlation_id(&headers));
    };
    cached(json!({
        "tenant_discovery_endpoint": format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
}
