//! What every management request carries besides its path: the api-version, paging
//! parameters and a JSON body. ARM validates these before touching any resource.

use super::error::ArmError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// API versions of `Microsoft.Resources` (subscriptions, tenants, resource groups).
pub const RESOURCES_API_VERSIONS: &[&str] = &[
    "2014-04-01",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-05-10",
    "2017-08-01",
    "2018-02-01",
    "2018-05-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-09-01",
    "2022-12-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-01-01",
    "2025-03-01",
    "2025-04-01",
    // Not a Microsoft.Resources version: azure-mgmt-keyvault 14.1.0 follows the nextLink of
    // `vaults.list` (GET …/resources) with its own vaults api-version. Served until the
    // api-version policy serves versions newer than the newest known.
    "2026-05-15",
];

/// API versions of `Microsoft.ManagedIdentity`.
pub const MSI_API_VERSIONS: &[&str] = &[
    "2015-08-31-preview",
    "2018-11-30",
    "2021-09-30-preview",
    "2022-01-31-preview",
    "2023-01-31",
    "2023-07-31-preview",
    "2024-11-30",
    "2025-01-31-preview",
    "2025-05-31-preview",
    "2026-04-30",
    "2026-05-31",
];

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

    fn api_version(&self) -> Result<&str, ArmError> {
        self.get("api-version")
            .filter(|v| !v.is_empty())
            .ok_or_else(ArmError::missing_api_version)
    }

    /// Resource groups, subscriptions and tenants: unknown versions are `InvalidApiVersionParameter`.
    pub fn require_resources_version(&self) -> Result<(), ArmError> {
        let v = self.api_version()?;
        if RESOURCES_API_VERSIONS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(v))
        {
            Ok(())
        } else {
            Err(ArmError::invalid_api_version(v, RESOURCES_API_VERSIONS))
        }
    }

    /// Provider resources: unknown versions are `NoRegisteredProviderFound`.
    pub fn require_provider_version(
        &self,
        supported: &[&str],
        resource_type: &str,
    ) -> Result<(), ArmError> {
        let v = self.api_version()?;
        if supported.iter().any(|s| s.eq_ignore_ascii_case(v)) {
            Ok(())
        } else {
            Err(ArmError::no_registered_provider(
                v,
                resource_type,
                supported,
            ))
        }
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
