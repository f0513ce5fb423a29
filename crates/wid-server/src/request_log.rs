//! One structured log event per request, and the ids that tie what a client saw to it. Every
//! event logged while a request is handled carries its `request_id` (returned to the client
//! as `x-ms-request-id`) and `correlation_id` (the client's own id when it sent one, as the
//! Azure SDKs do). Only the method, path, status and latency are logged (and a refused token
//! request's code and client id): never headers, query strings or bodies, which is where
//! tokens, assertions and secret values travel.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use tracing::Instrument;

/// A refused token request's AADSTS code and client id, which its handler leaves on the
/// response for the access line to carry: one line per request, refused or not.
#[derive(Debug, Clone)]
pub struct TokenRefusal {
    pub code: u32,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request: String,
    pub correlation: String,
}

/// The id the client chose to follow its request by, if it sent one we can echo safely.
pub fn client_correlation(headers: &HeaderMap) -> Option<String> {
    [
        "x-ms-correlation-request-id",
        "client-request-id",
        "x-ms-client-request-id",
    ]
    .iter()
    .find_map(|h| {
        headers
            .get(*h)?
            .to_str()
            .ok()
            .filter(|v| wid_core::names::is_guid(v))
    })
    .map(str::to_owned)
}

/// Runs `inner` in the request's span and logs its access line.
pub async fn trace<F, Fut>(mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let request = wid_core::ids::random_uuid().to_string();
    let correlation = client_correlation(req.headers()).unwrap_or_else(|| request.clone());
    let span = tracing::info_span!("request", request_id = %request, correlation_id = %correlation);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestIds {
        request: request.clone(),
        correlation,
    });
    let started = std::time::Instant::now();
    let mut response = inner(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    span.in_scope(
        || match response.extensions_mut().remove::<TokenRefusal>() {
            Some(refusal) => tracing::info!(
                target: "wid::access",
                %method,
                path,
                status,
                latency_us,
                code = refusal.code,
                client_id = refusal.client_id,
                "token request refused"
            ),
            None => tracing::info!(
                target: "wid::access",
                %method,
                path,
                status,
                latency_us,
                "served"
            ),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&request) {
        response.headers_mut().entry("x-ms-request-id").or_insert(v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_refused_client_id_cannot_forge_a_log_line() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/t",
                axum::routing::post(|| async {
                    let mut response = axum::http::StatusCode::UNAUTHORIZED.into_response();
                    response.extensions_mut().insert(TokenRefusal {
                        code: 700016,
                        client_id: Some("x\nINFO forged line".to_owned()),
                    });
                    response
                }),
            )
            .layer(axum::middleware::from_fn(
                |req, next: axum::middleware::Next| trace(req, |req| next.run(req)),
            ));
        let request = axum::http::Request::post("/t")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
        assert_eq!(response.status(), 401);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("code=700016"), "{text}");
        assert!(text.contains("x\\nINFO forged line"), "{text}");
    }
}
