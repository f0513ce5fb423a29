//! What IMDS accepts and answers, without IO: the token route, its query, and the bodies.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// An IMDS error: status and `{"error","error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl ImdsError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// `/metadata/identity/oauth2/token`, `metadata` in any case, a trailing slash tolerated.
pub fn is_token_path(path: &str) -> bool {
    let mut parts = path.trim_end_matches('/').split('/').skip(1);
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(m), Some("identity"), Some("oauth2"), Some("token"), None) if m.eq_ignore_ascii_case("metadata")
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    pub resource: String,
    pub client_id: String,
}

/// The request's resource and identity. The `Metadata: true` header is checked first, as
/// IMDS does (SDKs probe without it and only need a fast answer).
pub fn parse(
    query: Option<&str>,
    headers: &HeaderMap,
    default_client: Option<&str>,
) -> Result<TokenQuery, ImdsError> {
    let metadata = headers.get("metadata").and_then(|v| v.to_str().ok());
    if !metadata.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(ImdsError::new(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        ));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let resource = get("resource").ok_or_else(|| {
        ImdsError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The resource parameter is required.",
        )
    })?;
    if get("object_id").is_some() || get("msi_res_id").is_some() {
        return Err(ImdsError::new(StatusCode::BAD_REQUEST, "invalid_request",
            "Only client_id selects an identity here: object_id and msi_res_id are not supported by workload identity."));
    }
    let client_id = get("client_id")
        .or_else(|| default_client.map(str::to_owned))
        .ok_or_else(|| {
            ImdsError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The client_id parameter or AZURE_CLIENT_ID environment variable must be set",
            )
        })?;
    Ok(TokenQuery {
        resource,
        client_id,
    })
}

/// The scope to ask Entra for: `{resource}/.default`, unless the resource already is one.
pub fn scope_of(resource: &str) -> String {
    if resource.ends_with("/.default") {
        resource.to_owned()
    } else {
        format!("{resource}/.default")
    }
}

/// IMDS's success body: every number a string.
pub fn token_body(
    access_token: &str,
    client_id: &str,
    resource: &str,
    expires_on: i64,
    not_before: i64,
    now: i64,
) -> Value {
    json!({
        "access_token": access_token,
        "client_id": client_id,
        "expires_in": (expires_on - now).max(0).to_string(),
        "expires_on": expires_on.to_string(),
        "ext_expires_in": (expires_on - now).max(0).to_string(),
        "not_before": not_before.to_string(),
        "refresh_token": "",
        "resource": resource,
        "token_type": "Bearer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(metadata: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = metadata {
            h.insert("metadata", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn token_paths() {
        assert!(is_token_path("/metadata/identity/oauth2/token"));
        assert!(is_token_path("/Metadata/identity/oauth2/token/"));
        assert!(!is_token_path("/metadata/Identity/oauth2/token"));
        assert!(!is_token_path("/metadata/instance"));
    }

    #[test]
    fn queries() {
        let ok = parse(
            Some("api-version=2018-02-01&resource=https://vault.azure.net"),
            &headers(Some("true")),
            Some("c1"),
        )
        .unwrap();
        assert_eq!(
            ok,
            TokenQuery {
                resource: "https://vault.azure.net".into(),
                client_id: "c1".into()
            }
        );
        let chosen = parse(
            Some("resource=r&client_id=c2"),
            &headers(Some("True")),
            Some("c1"),
        )
        .unwrap();
        assert_eq!(chosen.client_id, "c2");
        assert_eq!(
            parse(Some("resource=r"), &headers(None), Some("c"))
                .unwrap_err()
                .error,
            "bad_request_102"
        );
        assert_eq!(
            parse(Some(""), &headers(Some("true")), Some("c"))
                .unwrap_err()
                .error,
            "invalid_request"
        );
        assert_eq!(
            parse(Some("resource=r"), &headers(Some("true")), None)
                .unwrap_err()
                .error,
            "invalid_request"
        );
        assert_eq!(
            scope_of("https://vault.azure.net"),
            "https://vault.azure.net/.default"
        );
        assert_eq!(
            scope_of("http://database.windows.net/"),
            "http://database.windows.net//.default"
        );
    }

    #[test]
    fn bodies_use_strings() {
        let b = token_body("t", "c", "r", 1000, 100, 400);
        assert_eq!(
            (
                b["expires_in"].as_str(),
                b["expires_on"].as_str(),
                b["not_before"].as_str()
            ),
            (Some("600"), Some("1000"), Some("100"))
        );
    }
}
