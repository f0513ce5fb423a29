//! Authentication of management requests: a bearer token wid's identity plane issued for the
//! management resource. The route's guard authenticates; handlers receive the result as an
//! extractor, so a handler cannot forget it.

use super::error::ArmError;
use super::routes::Authorized;
use crate::access_token::{self, TokenError};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use wid_jose::TimeWindowError;

/// The authenticated principal of a management request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub object_id: String,
    pub app_id: String,
}

/// A handler's caller: the identity the route's guard authenticated and authorized (see
/// [`super::routes`]). A handler that no guard ran before refuses, whatever it was asked.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ArmError> {
        Authorized::from_request_parts(parts, state)
            .await
            .map(|a| a.caller)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ArmError> {
        parts.extensions.get::<Authorized>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a management handler ran without an authorization decision");
            ArmError::code(
                axum::http::StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                "The request was not authorized.",
            )
        })
    }
}

/// The caller a bearer token names; the guard's first step.
pub fn bearer_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ArmError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ArmError::authentication_failed("The 'Authorization' header is missing."))?
        .to_str()
        .map_err(|_| ArmError::authentication_failed("The 'Authorization' header is invalid."))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            ArmError::authentication_failed(
                "The 'Authorization' header is not in the format 'Bearer <token>'.",
            )
        })?;
    authenticate(state, token.trim())
}

/// Checks a management token: see [`access_token::verify`]; the audience is the management
/// resource.
pub fn authenticate(state: &AppState, token: &str) -> Result<Caller, ArmError> {
    let audiences = state.cloud.management_audiences();
    let claims = access_token::verify(state, token, |aud| audiences.iter().any(|a| a == aud))
        .and_then(|claims| access_token::check_window(state, &claims).map(|()| claims))
        .map_err(|e| match e {
            TokenError::Malformed => ArmError::invalid_token("The token is malformed."),
            TokenError::UnknownKey => {
                ArmError::invalid_token("The signing key of the token is not known.")
            }
            TokenError::BadSignature => {
                ArmError::invalid_token("The signature of the token is invalid.")
            }
            TokenError::MissingClaims => {
                ArmError::invalid_token("The token lacks required claims.")
            }
            TokenError::Issuer { .. } => {
                ArmError::invalid_token("The token issuer is not trusted.")
            }
            TokenError::Audience { .. } => ArmError::invalid_audience(),
            TokenError::Window(TimeWindowError::Expired { exp, now }) => {
                ArmError::expired_token(exp, now)
            }
            TokenError::Window(TimeWindowError::NotYetValid { .. }) => {
                ArmError::invalid_token("The token is not yet valid.")
            }
            TokenError::Window(TimeWindowError::MissingExp) => {
                ArmError::invalid_token("The token has no expiry.")
            }
        })?;
    Ok(Caller {
        tenant_id: claims.tid.clone(),
        app_id: claims.app_id().to_owned(),
        object_id: claims.oid,
    })
}
