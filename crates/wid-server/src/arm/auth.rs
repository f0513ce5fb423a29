//! Authentication of management requests: a bearer token wid's identity plane issued for the
//! management resource. Authentication is an extractor, so a handler cannot forget it.

use super::access;
use super::error::ArmError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use wid_core::rbac;
use wid_jose::TimeWindowError;

/// The authenticated principal of a management request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub object_id: String,
    pub app_id: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    tid: String,
    oid: String,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
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
    let assignments = state
        .role_assignments
        .get_or_load(&caller.object_id.to_lowercase(), || {
            state.store.role_assignments_of(&caller.object_id)
        })
        .await?;
    let held = assignments.iter().filter_map(|a| {
        let role = rbac::builtin_by_definition_id(&a.role_definition_id)?;
        Some((a.scope.as_str(), &role.permissions))
    });
    if rbac::is_allowed(held, &required.scope, &required.action, false) {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(
            caller,
            &required.action,
            &required.scope,
        ))
    }
}

/// Checks a management token: signature by one of the tenant's keys, issuer, audience and
/// validity window, in that order, so a forged token never reaches the claims checks.
pub fn authenticate(state: &AppState, token: &str) -> Result<Caller, ArmError> {
    let jwt =
        wid_jose::decode(token).map_err(|_| ArmError::invalid_token("The token is malformed."))?;
    let key = jwt
        .header
        .kid
        .as_deref()
        .and_then(|kid| state.keys.verifying(kid))
        .ok_or_else(|| ArmError::invalid_token("The signing key of the token is not known."))?;
    jwt.verify(key)
        .map_err(|_| ArmError::invalid_token("The signature of the token is invalid."))?;
    let claims: Claims = jwt
        .claims()
        .map_err(|_| ArmError::invalid_token("The token lacks required claims."))?;
    if claims.iss != state.cloud.access_token_issuer(&state.tenant.id)
        || claims.tid != state.tenant.id
    {
        return Err(ArmError::invalid_token("The token issuer is not trusted."));
    }
    if !state.cloud.management_audiences().contains(&claims.aud) {
        return Err(ArmError::invalid_audience());
    }
    let now = state.now();
    match wid_jose::check_time_window(
        now,
        claims.nbf,
        claims.exp,
        wid_core::token::CLOCK_SKEW_SECS,
    ) {
        Ok(()) => {}
        Err(TimeWindowError::Expired { exp, now }) => {
            return Err(ArmError::expired_token(exp, now))
        }
        Err(TimeWindowError::NotYetValid { .. }) => {
            return Err(ArmError::invalid_token("The token is not yet valid."))
        }
        Err(TimeWindowError::MissingExp) => {
            return Err(ArmError::invalid_token("The token has no expiry."))
        }
    }
    Ok(Caller {
        tenant_id: claims.tid,
        app_id: claims.appid.unwrap_or_else(|| claims.oid.clone()),
        object_id: claims.oid,
    })
}
