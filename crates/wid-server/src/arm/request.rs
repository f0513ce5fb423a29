//! What every management request carries besides its path: the api-version, paging
//! parameters and a JSON body. ARM validates these before touching any resource.

use super::error::ArmError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The query string, decoded once; names compare case-insensitively as ARM's do.
#[derive(Debug, Default, Clone)]
pub struct ArmQuery(Vec<(String, String)>);

impl ArmQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `$top`: a positive integer when given.
    pub fn top(&self) -> Result<Option<usize>, ArmError> {
        match self.get("$top") {
            None => Ok(None),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .map(Some)
                .ok_or_else(|| ArmError::invalid_parameter(format!("The value '{v}' of the query parameter '$top' is invalid. It must be a positive integer."))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ArmQuery {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ArmError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(ArmQuery)
            .map_err(|_| ArmError::invalid_parameter("The query string is malformed."))
    }
}

/// A JSON body decoded strictly into `T`; size-limited by the router's body limit.
pub struct ArmJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ArmJson<T> {
    type Rejection = ArmError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ArmError> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ArmError::too_large(limit)
            } else {
                ArmError::invalid_content("the request body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ArmError::invalid_content("the request body is empty"));
        }
        serde_json::from_slice(&bytes)
            .map(ArmJson)
            .map_err(ArmError::invalid_content)
    }
}

/// The body limit in force, carried so the 413 message can state it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);
