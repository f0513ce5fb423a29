//! What goes into the access tokens wid issues. Tokens for Azure resources are v1.0 tokens
//! whatever endpoint issued them (contracts.md §2.3), so clients and resource servers see the
//! claims they know from Entra.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Lifetime of tokens issued to service principals with a secret: Entra's lower bound.
pub const SERVICE_PRINCIPAL_TOKEN_LIFETIME: i64 = 3599;
/// Lifetime of managed-identity tokens: Entra gives them about a day, and they cannot be
/// shortened by policy.
pub const MANAGED_IDENTITY_TOKEN_LIFETIME: i64 = 86_399;
/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Allowed clock difference when checking `nbf`/`exp` of presented tokens.
pub const CLOCK_SKEW_SECS: i64 = 300;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("The provided value for scope {0} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")]
    NotDefault(String),
    #[error("The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {0} is not valid.")]
    MultipleResources(String),
}

/// The resource a client-credentials `scope` asks for: exactly one `{resource}/.default`.
/// `https://x//.default` names the resource `https://x/`, as Entra reads it.
pub fn resource_from_scope(scope: &str) -> Result<String, ScopeError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let resources: Vec<&str> = scopes
        .iter()
        .map(|s| {
            s.strip_suffix("/.default")
                .ok_or_else(|| ScopeError::NotDefault(scope.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    match resources.as_slice() {
        [one] if !one.is_empty() => Ok((*one).to_owned()),
        [] | [_] => Err(ScopeError::NotDefault(scope.to_owned())),
        _ => Err(ScopeError::MultipleResources(scope.to_owned())),
    }
}

/// Claims of a v1.0 app-only access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub appid: String,
    pub appidacr: String,
    pub idp: String,
    pub idtyp: String,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub xms_mirid: Option<String>,
}

/// The principal a token is issued to.
pub struct TokenSubject<'a> {
    pub tenant_id: &'a str,
    pub app_id: &'a str,
    pub object_id: &'a str,
    /// `"1"` for a client secret, `"2"` for a certificate or federated assertion.
    pub auth_class: &'a str,
    pub managed_identity_resource_id: Option<String>,
}

pub fn access_token_claims(
    subject: &TokenSubject<'_>,
    resource: &str,
    issuer: &str,
    now: i64,
    lifetime: i64,
    token_id: String,
) -> AccessTokenClaims {
    AccessTokenClaims {
        aud: resource.to_owned(),
        iss: issuer.to_owned(),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        appid: subject.app_id.to_owned(),
        appidacr: subject.auth_class.to_owned(),
        idp: issuer.to_owned(),
        idtyp: "app".to_owned(),
        oid: subject.object_id.to_owned(),
        sub: subject.object_id.to_owned(),
        tid: subject.tenant_id.to_owned(),
        uti: token_id,
        ver: "1.0".to_owned(),
        xms_mirid: subject.managed_identity_resource_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(
            resource_from_scope("https://vault.azure.net/.default").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            resource_from_scope("https://x//.default").unwrap(),
            "https://x/"
        );
        assert!(matches!(
            resource_from_scope("https://x/user.read"),
            Err(ScopeError::NotDefault(_))
        ));
        assert!(matches!(
            resource_from_scope(""),
            Err(ScopeError::NotDefault(_))
        ));
        assert!(matches!(
            resource_from_scope("/.default"),
            Err(ScopeError::NotDefault(_))
        ));
        assert!(matches!(
            resource_from_scope("https://a/.default https://b/.default"),
            Err(ScopeError::MultipleResources(_))
        ));
    }
}
