//! The access tokens wid's identity plane issues, as the planes that accept them check
//! them, and the role assignments that then decide what their bearer may do. The management
//! plane and the Key Vault plane differ only in the audience they expect and in how they
//! word a refusal.

use crate::state::AppState;
use serde::Deserialize;
use std::sync::Arc;
use wid_core::model::RoleAssignment;
use wid_core::rbac;
use wid_jose::TimeWindowError;

#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub tid: String,
    pub oid: String,
    #[serde(default)]
    pub appid: Option<String>,
    /// Delegated (user) tokens carry the user's sign-in name and the scopes granted;
    /// app-only tokens carry neither.
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub scp: Option<String>,
    /// `app` or `user`, as Entra's optional claim says.
    #[serde(default)]
    pub idtyp: Option<String>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub exp: Option<i64>,
}

impl AccessClaims {
    /// The client id of the caller (`appid`), as refusals name it.
    pub fn app_id(&self) -> &str {
        self.appid.as_deref().unwrap_or(&self.oid)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnknownKey,
    BadSignature,
    MissingClaims,
    Issuer { found: String },
    Audience { found: String },
    Window(TimeWindowError),
}

/// Signature by one of the tenant's keys, then issuer and tenant, then audience, in that
/// order, so a forged token never reaches the claims checks. The time window is separate
/// ([`check_window`]): a verified token may be cached, its window checked on every use.
pub fn verify(
    state: &AppState,
    token: &str,
    audience_ok: impl Fn(&str) -> bool,
) -> Result<AccessClaims, TokenError> {
    let jwt = wid_jose::decode(token).map_err(|_| TokenError::Malformed)?;
    let keys = state.keys.get();
    let key = jwt
        .header
        .kid
        .as_deref()
        .and_then(|kid| keys.verifying(kid))
        .ok_or(TokenError::UnknownKey)?;
    jwt.verify(key).map_err(|_| TokenError::BadSignature)?;
    let claims: AccessClaims = jwt.claims().map_err(|_| TokenError::MissingClaims)?;
    if claims.iss != state.cloud.access_token_issuer(&state.tenant.id)
        || claims.tid != state.tenant.id
    {
        return Err(TokenError::Issuer { found: claims.iss });
    }
    if !audience_ok(&claims.aud) {
        return Err(TokenError::Audience { found: claims.aud });
    }
    Ok(claims)
}

pub fn check_window(state: &AppState, claims: &AccessClaims) -> Result<(), TokenError> {
    wid_jose::check_time_window(
        state.now(),
        claims.nbf,
        claims.exp,
        wid_core::token::CLOCK_SKEW_SECS,
    )
    .map_err(TokenError::Window)
}

/// The principal's role assignments, from the cache (see `crate::coherence`).
pub async fn assignments_of(
    state: &AppState,
    object_id: &str,
) -> Result<Arc<Vec<RoleAssignment>>, wid_store::StoreError> {
    state
        .role_assignments
        .get_or_load(&object_id.to_lowercase(), || {
            state.store.role_assignments_of(object_id)
        })
        .await
}

/// Whether the assignments grant `action` on `resource` (data actions for data planes).
pub fn allows(
    assignments: &[RoleAssignment],
    resource: &str,
    action: &str,
    data_action: bool,
) -> bool {
    let held = assignments.iter().filter_map(|a| {
        let role = rbac::builtin_by_definition_id(&a.role_definition_id)?;
        Some((a.scope.as_str(), &role.permissions))
    });
    rbac::is_allowed(held, resource, action, data_action)
}
