//! ARM's error answers: `{"error":{"code","message"}}` with the status ARM uses. One
//! constructor per failure so codes and statuses can't drift apart between handlers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use wid_core::federation::CredentialError;
use wid_core::names::NameError;
use wid_store::StoreError;
use wid_types::arm::{ErrorBody, ErrorResponse};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn e(status: StatusCode, code: &'static str, message: impl Into<String>) -> ArmError {
    ArmError {
        status,
        code,
        message: message.into(),
    }
}

impl ArmError {
    pub fn authentication_failed(detail: &str) -> Self {
        e(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            format!("Authentication failed. {detail}"),
        )
    }

    pub fn invalid_token(detail: &str) -> Self {
        e(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            format!("The access token is invalid. {detail}"),
        )
    }

    pub fn invalid_audience() -> Self {
        e(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences of the management endpoint.",
        )
    }

    pub fn expired_token(exp: i64, now: i64) -> Self {
        e(
            StatusCode::UNAUTHORIZED,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                wid_core::timefmt::rfc3339(exp),
                wid_core::timefmt::rfc3339(now)
            ),
        )
    }

    pub fn missing_api_version() -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    pub fn invalid_api_version(version: &str, supported: &[&str]) -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )
    }

    pub fn no_registered_provider(version: &str, resource_type: &str, supported: &[&str]) -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for API version '{version}' and type '{resource_type}'. The supported api-versions are '{}'.",
                supported.join(", ")
            ),
        )
    }

    pub fn invalid_content(detail: impl std::fmt::Display) -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        e(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestContentTooLarge",
            format!("The request content size exceeds the maximum size of {limit} bytes."),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        e(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        e(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub fn invalid_resource_name(message: impl Into<String>) -> Self {
        e(StatusCode::BAD_REQUEST, "InvalidResourceName", message)
    }

    pub fn invalid_filter(err: wid_core::filter::FilterError) -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "InvalidFilterInQueryString",
            err.to_string(),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        e(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn authorization_failed(caller: &super::Caller, action: &str, scope: &str) -> Self {
        e(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!("The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.", caller.app_id, caller.object_id),
        )
    }

    /// An error with a code of its own resource provider.
    pub fn code(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        e(status, code, message)
    }

    pub fn method_not_allowed() -> Self {
        e(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The requested method is not allowed on this resource.",
        )
    }

    pub fn location_required() -> Self {
        e(
            StatusCode::BAD_REQUEST,
            "LocationRequired",
            "The location property is required for this definition.",
        )
    }

    pub fn invalid_resource_group_location(existing: &str, requested: &str, rg: &str) -> Self {
        e(
            StatusCode::CONFLICT,
            "InvalidResourceGroupLocation",
            format!("Invalid resource group location '{requested}'. The Resource group already exists in location '{existing}'. Resource group '{rg}' cannot change location."),
        )
    }

    pub fn subscription_not_found(sub: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        )
    }

    pub fn resource_group_not_found(rg: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    pub fn resource_not_found(resource_type: &str, name: &str, rg: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }

    pub fn parent_not_found(action: &str, child_type: &str, parent_id: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "ParentResourceNotFound",
            format!("Failed to perform '{action}' on resource(s) of type '{child_type}', because the parent resource '{parent_id}' could not be found."),
        )
    }

    pub fn operation_not_found(id: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The operation '{id}' could not be found. Operation records are kept for an hour after they complete."),
        )
    }

    /// AKS's answer to an operation the cluster's current state does not allow.
    pub fn operation_not_allowed(message: impl Into<String>) -> Self {
        e(StatusCode::CONFLICT, "OperationNotAllowed", message)
    }

    pub fn not_found_route(path: &str) -> Self {
        e(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!("The resource type could not be found for the request path '{path}'."),
        )
    }

    pub fn internal() -> Self {
        e(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error. Please try again.",
        )
    }
}

impl From<NameError> for ArmError {
    fn from(err: NameError) -> Self {
        let code = match err {
            NameError::ResourceGroup(_) => "InvalidResourceGroupName",
            NameError::SubscriptionId(_) => "InvalidSubscriptionId",
            NameError::Vault(_) => "VaultNameNotValid",
            _ => "InvalidResourceName",
        };
        e(StatusCode::BAD_REQUEST, code, err.to_string())
    }
}

impl From<CredentialError> for ArmError {
    fn from(err: CredentialError) -> Self {
        ArmError::bad_request(err.to_string())
    }
}

/// Store failures that a handler did not map itself are wid's fault, never the client's:
/// logged in full, answered without internals.
impl From<StoreError> for ArmError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Rejected(c) => c.into(),
            StoreError::Conflict(message) => e(StatusCode::CONFLICT, "Conflict", message),
            other => {
                tracing::error!(error = %other, "storage failure");
                ArmError::internal()
            }
        }
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                target: None,
                details: vec![],
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-ms-failure-cause", HeaderValue::from_static("gateway"));
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer authorization_uri=\"\", error=\"invalid_token\", error_description=\"The access token is missing or invalid.\""),
            );
        }
        response
    }
}
