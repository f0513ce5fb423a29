//! Graph's refusals, in Graph's body: `{"error":{"code","message","innerError":{"date",
//! "request-id","client-request-id"}}}`, with Graph's codes. Every refusal of the plane is a
//! [`GraphError`], rendered here once.

use crate::request_log::RequestIds;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use wid_core::federation::CredentialError;
use wid_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn e(status: StatusCode, code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError {
        status,
        code,
        message: message.into(),
    }
}

impl GraphError {
    /// 404 for an object id (or key) that names nothing of the collection.
    pub fn not_found(id: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    pub fn denied() -> Self {
        e(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        e(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 401; rendered with Graph's `WWW-Authenticate` challenge.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        e(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    /// A uniqueness rule of the directory (a taken UPN, a second service principal of an
    /// application, a federated credential name).
    pub fn same_key(message: impl Into<String>) -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "Request_MultipleObjectsWithSameKeyValue",
            message,
        )
    }

    pub fn internal() -> Self {
        e(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An internal server error occurred.",
        )
    }
}

impl From<StoreError> for GraphError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Rejected(c) => c.into(),
            StoreError::Conflict(message) => GraphError::same_key(format!(
                "Another object with the same value for property {} already exists.",
                message.trim_end_matches(" already exists")
            )),
            other => {
                tracing::error!(error = %other, "storage failure");
                GraphError::internal()
            }
        }
    }
}

/// Entra's federated credential rules, in the words Graph uses for applications.
impl From<CredentialError> for GraphError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::DuplicateIssuerSubject => GraphError::same_key(
                "FederatedIdentityCredential with same issuer and subject already exists for this application.",
            ),
            CredentialError::TooMany => GraphError::bad_request(format!(
                "Maximum number of federated identity credentials ({}) reached for this application.",
                wid_core::federation::MAX_CREDENTIALS_PER_IDENTITY
            )),
            other => GraphError::bad_request(other.to_string()),
        }
    }
}

/// The request's ids, which a renderer puts into `innerError`.
#[derive(Debug, Clone)]
struct Ids {
    request: String,
    client_request: Option<String>,
}

tokio::task_local! {
    static IDS: Ids;
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let ids = IDS.try_with(Clone::clone).unwrap_or_else(|_| Ids {
            request: wid_core::ids::random_uuid().to_string(),
            client_request: None,
        });
        let client_request = ids.client_request.unwrap_or_else(|| ids.request.clone());
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": wid_core::timefmt::rfc3339(now()),
                "request-id": ids.request,
                "client-request-id": client_request,
            },
        }});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        response
    }
}

/// The wall clock, for `innerError.date` only (it decides nothing).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the rest of the request with its ids at hand for [`GraphError`]'s body, and echoes
/// them as Graph's `request-id` and `client-request-id` headers.
pub async fn with_request_ids(req: Request, next: Next) -> Response {
    let request = req
        .extensions()
        .get::<RequestIds>()
        .map(|ids| ids.request.clone())
        .unwrap_or_else(|| wid_core::ids::random_uuid().to_string());
    let client_request = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned);
    let ids = Ids {
        request: request.clone(),
        client_request: client_request.clone(),
    };
    let mut response = IDS.scope(ids, next.run(req)).await;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request) {
        headers.insert("request-id", v);
    }
    if let Some(v) = client_request.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("client-request-id", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: GraphError) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = e.into_response();
        let status = response.status();
        let challenge = response
            .headers()
            .get(axum::http::header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), challenge)
    }

    #[tokio::test]
    async fn refusals_have_graphs_shape_and_codes() {
        let cases = [
            (GraphError::not_found("x"), 404, "Request_ResourceNotFound"),
            (GraphError::denied(), 403, "Authorization_RequestDenied"),
            (GraphError::bad_request("b"), 400, "Request_BadRequest"),
            (
                GraphError::invalid_token("t"),
                401,
                "InvalidAuthenticationToken",
            ),
            (
                CredentialError::DuplicateIssuerSubject.into(),
                400,
                "Request_MultipleObjectsWithSameKeyValue",
            ),
            (CredentialError::TooMany.into(), 400, "Request_BadRequest"),
            (
                StoreError::Conflict("a user with this upn already exists".into()).into(),
                400,
                "Request_MultipleObjectsWithSameKeyValue",
            ),
        ];
        for (error, status, code) in cases {
            let (got, body, challenge) = body(error).await;
            assert_eq!(
                (got.as_u16(), body["error"]["code"].as_str()),
                (status, Some(code))
            );
            let inner = &body["error"]["innerError"];
            for field in ["date", "request-id", "client-request-id"] {
                assert!(
                    inner[field].as_str().is_some_and(|v| !v.is_empty()),
                    "{field}: {body}"
                );
            }
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert_eq!(challenge.is_some(), status == 401, "{code}");
        }
        // Inside a request, the ids are the request's.
        let ids = Ids {
            request: "R".into(),
            client_request: Some("C".into()),
        };
        let (_, inside, _) = IDS.scope(ids, body(GraphError::denied())).await;
        assert_eq!(inside["error"]["innerError"]["request-id"], "R");
        assert_eq!(inside["error"]["innerError"]["client-request-id"], "C");
    }
}
