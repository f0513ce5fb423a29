//! Authentication of management requests: a bearer token wid's identity plane issued for the
//! management resource. Authentication is an extractor, so a handler cannot forget it.

use super::access;
use super::error::ArmError;
use crate::access_token::{self, TokenError};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use wid_jose::TimeWindowError;

/// The authenticated principal of a management request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub object_id: String,
    pub app_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ArmError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ArmError::authentication_failed("The 'Authorization' header is missing.")
            })?
            .to_str()
            .map_err(|_| {
                ArmError::authentication_failed("The 'Authorization' header is invalid.")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ArmError::authentication_failed(
                    "The 'Authorization' header is not in the format 'Bearer <token>'.",
                )
            })?;
        let caller = authenticate(state, token.trim())?;
        authorize(state, &caller, &parts.method, parts.uri.path()).await?;
        Ok(caller)
    }
}

/// Role-based access control for the request's action on its scope (see [`access`]).
async fn authorize(
    state: &AppState,
    caller: &Caller,
    method: &axum::http::Method,
    path: &str,
) -> Result<(), ArmError> {
    let Some(required) = access::requirement(method, path) else {
        return Ok(());
    };
    let assignments = access_token::assignments_of(state, &caller.object_id).await?;
    if access_token::allows(&assignments, &required.scope, &required.action, false) {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(
            caller,
            &required.action,
            &required.scope,
        ))
    }
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
