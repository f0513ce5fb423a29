//! Refusals the HTTP layer makes before any handler (a body over the limit, a request past
//! its time, headers too large, a path or method no route has) answered in the shape of the
//! plane that was asked, as Azure's services answer them. SDKs parse those bodies to raise
//! their typed errors; a plain-text 413 surfaces as an unreadable failure instead.

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Request headers larger than this are refused with 431: far above what any client of wid
/// sends (a bearer token is a few KiB), far below what would let one request hold memory.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Whose error shape a refusal takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plane {
    /// ARM, Graph and Key Vault: `{"error":{"code","message"}}`.
    Azure,
    /// The token service: OAuth 2.0's `{"error","error_description"}`.
    OAuth,
    /// Health, metrics and issuer documents: left as they are.
    Plain,
}

fn plane_of(state: &AppState, req: &Request) -> Plane {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if host.is_some_and(|h| crate::vault::vault_of_host(state, h).is_some()) {
        return Plane::Azure;
    }
    let path = req.uri().path();
    let starts = |prefix: &str| {
        path.len() >= prefix.len()
            && path.is_char_boundary(prefix.len())
            && path[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let metadata = ["/metadata/endpoints", "//metadata/endpoints"]
        .iter()
        .any(|m| path.eq_ignore_ascii_case(m));
    if starts("/subscriptions")
        || starts("/tenants")
        || starts("/v1.0/")
        || starts("/beta/")
        || metadata
    {
        Plane::Azure
    } else if path.contains("/oauth2/") {
        Plane::OAuth
    } else {
        Plane::Plain
    }
}

fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The code and message for a refusal the HTTP layer made, by status.
fn describe(status: StatusCode, state: &AppState) -> (&'static str, String) {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "RequestContentTooLarge",
            format!(
                "The request content size exceeds the maximum size of {} bytes.",
                state.limits.max_body_bytes
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "RequestTimeout",
            format!(
                "The request did not complete within {} seconds.",
                state.limits.request_timeout.as_secs()
            ),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "RequestHeaderFieldsTooLarge",
            format!("The request headers exceed the maximum size of {MAX_HEADER_BYTES} bytes."),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "MethodNotAllowed",
            "The requested method is not allowed for this resource.".to_owned(),
        ),
        StatusCode::NOT_FOUND => (
            "NotFound",
            "No resource or operation is found at this path.".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UnsupportedMediaType",
            "The request's content type is not supported.".to_owned(),
        ),
        other => (
            "BadRequest",
            format!(
                "The request was refused: {}.",
                other.canonical_reason().unwrap_or("bad request")
            ),
        ),
    }
}

fn shaped(plane: Plane, status: StatusCode, state: &AppState) -> Response {
    let (code, message) = describe(status, state);
    let body = match plane {
        Plane::Azure => json!({"error": {"code": code, "message": message}}),
        Plane::OAuth => json!({"error": "invalid_request", "error_description": message}),
        Plane::Plain => return status.into_response(),
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Refuses oversized headers, and reshapes the refusals `inner` answers without a JSON body
/// (those made by extractors, the router and the timeout).
pub async fn shape<F, Fut>(state: &AppState, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let plane = plane_of(state, &req);
    if header_bytes(&req) > MAX_HEADER_BYTES {
        return shaped(plane, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, state);
    }
    let response = inner(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if plane == Plane::Plain || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let mut reshaped = shaped(plane, status, state);
    // A 401's challenge, and any other header the refusal carried, still applies.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            reshaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    reshaped
}
