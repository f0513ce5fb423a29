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
/// Lifetime of access tokens issued to users: Entra's default is 60 to 90 minutes.
pub const USER_TOKEN_LIFETIME: i64 = 4_799;
/// The delegated scope a token for an Azure resource carries when a user signs in to a
/// first-party client (what Entra puts in `scp` for ARM and Key Vault).
pub const USER_IMPERSONATION: &str = "user_impersonation";
/// OpenID Connect scopes a user flow may add next to the resource's; they ask for an id
/// token and a refresh token, not for a resource.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access", "email"];

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

/// The resource a user flow's `scope` asks for: the OIDC scopes set aside, at most one
/// resource, named by `/.default` or by one of its scopes (`https://vault.azure.net/user_impersonation`).
/// `None` when only OIDC scopes were asked for; Entra then issues a Microsoft Graph token.
pub fn resource_from_user_scope(scope: &str) -> Result<Option<String>, ScopeError> {
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .collect();
    let named: Vec<String> = resources
        .iter()
        .map(|s| match s.strip_suffix("/.default") {
            Some(resource) => Ok(resource.to_owned()),
            None => s
                .rsplit_once('/')
                .filter(|(resource, name)| {
                    !resource.is_empty() && !name.is_empty() && resource.contains("://")
                })
                .map(|(resource, _)| resource.to_owned())
                .ok_or_else(|| ScopeError::NotDefault(scope.to_owned())),
        })
        .collect::<Result<_, _>>()?;
    match named.as_slice() {
        [] => Ok(None),
        [one] if !one.is_empty() => Ok(Some(one.clone())),
        [_] => Err(ScopeError::NotDefault(scope.to_owned())),
        [first, rest @ ..] if rest.iter().all(|r| r == first) => Ok(Some(first.clone())),
        _ => Err(ScopeError::MultipleResources(scope.to_owned())),
    }
}

/// The claims a token issued to a signed-in user adds to an app token's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    pub scp: String,
    pub upn: String,
    pub unique_name: String,
    pub name: String,
    pub amr: Vec<String>,
}

/// Claims of a v1.0 access token: app-only, or a user's when [`UserClaims`] are present.
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
    #[serde(flatten, default)]
    pub user: Option<UserClaims>,
}

/// The principal a token is issued to.
pub struct TokenSubject<'a> {
    pub tenant_id: &'a str,
    pub app_id: &'a str,
    pub object_id: &'a str,
    /// `"1"` for a client secret, `"2"` for a certificate or federated assertion.
    pub auth_class: &'a str,
    pub managed_identity_resource_id: Option<String>,
    /// The signed-in user, for delegated tokens; `None` for app-only tokens.
    pub user: Option<SignedInUser<'a>>,
}

/// A user a public client signed in, as tokens name them.
#[derive(Debug, Clone, Copy)]
pub struct SignedInUser<'a> {
    pub object_id: &'a str,
    pub upn: &'a str,
    pub display_name: &'a str,
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
        idtyp: if subject.user.is_some() {
            "user"
        } else {
            "app"
        }
        .to_owned(),
        oid: subject
            .user
            .map_or(subject.object_id, |u| u.object_id)
            .to_owned(),
        sub: subject
            .user
            .map_or(subject.object_id, |u| u.object_id)
            .to_owned(),
        tid: subject.tenant_id.to_owned(),
        uti: token_id,
        ver: "1.0".to_owned(),
        xms_mirid: subject.managed_identity_resource_id.clone(),
        user: subject.user.map(|u| UserClaims {
            scp: USER_IMPERSONATION.to_owned(),
            upn: u.upn.to_owned(),
            unique_name: u.upn.to_owned(),
            name: u.display_name.to_owned(),
            amr: vec!["pwd".to_owned()],
        }),
    }
}

/// Claims of a v2.0 id token, as MSAL reads them to build its account: `aud` is the client,
/// `preferred_username` the UPN, `oid`+`tid` the home account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub name: String,
    pub oid: String,
    pub preferred_username: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
}

/// An id token for `user` signed in to `client_id`; it lives as long as Entra's (one hour).
pub fn id_token_claims(
    user: &SignedInUser<'_>,
    tenant_id: &str,
    client_id: &str,
    v2_issuer: &str,
    now: i64,
    token_id: String,
) -> IdTokenClaims {
    IdTokenClaims {
        aud: client_id.to_owned(),
        iss: v2_issuer.to_owned(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        name: user.display_name.to_owned(),
        oid: user.object_id.to_owned(),
        preferred_username: user.upn.to_owned(),
        sub: user.object_id.to_owned(),
        tid: tenant_id.to_owned(),
        uti: token_id,
        ver: "2.0".to_owned(),
    }
}

/// `client_info` of a token response: base64url of `{"uid","utid"}`, from which MSAL makes
/// the account's home id `uid.utid`.
pub fn client_info(user_object_id: &str, tenant_id: &str) -> String {
    use base64::Engine;
    let json = serde_json::json!({"uid": user_object_id, "utid": tenant_id}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_scopes() {
        let cases: [(&str, Result<Option<&str>, ()>); 8] = [
            (
                "https://management.core.windows.net//.default offline_access openid profile",
                Ok(Some("https://management.core.windows.net/")),
            ),
            ("openid profile offline_access", Ok(None)),
            (
                "https://vault.azure.net/user_impersonation openid",
                Ok(Some("https://vault.azure.net")),
            ),
            (
                "https://graph.microsoft.com/User.Read https://graph.microsoft.com/.default",
                Ok(Some("https://graph.microsoft.com")),
            ),
            ("https://a/.default https://b/.default", Err(())),
            ("user_impersonation", Err(())),
            ("/.default", Err(())),
            ("", Ok(None)),
        ];
        for (scope, expected) in cases {
            let got = resource_from_user_scope(scope);
            assert_eq!(
                got.as_ref().map(|o| o.as_deref()).map_err(|_| ()),
                expected,
                "{scope:?}"
            );
        }
    }

    fn app_subject() -> TokenSubject<'static> {
        TokenSubject {
            tenant_id: "t",
            app_id: "app",
            object_id: "sp-oid",
            auth_class: "1",
            managed_identity_resource_id: None,
            user: None,
        }
    }

    #[test]
    fn app_and_user_claims() {
        let app = access_token_claims(&app_subject(), "aud", "iss", 10, 5, "u".into());
        let json = serde_json::to_value(&app).unwrap();
        assert_eq!(json["idtyp"], "app");
        assert_eq!(json["oid"], "sp-oid");
        for absent in ["scp", "upn", "unique_name", "name", "amr"] {
            assert!(json.get(absent).is_none(), "{absent} in an app token");
        }
        let back: AccessTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back, app);

        let user = SignedInUser {
            object_id: "user-oid",
            upn: "a@d",
            display_name: "A",
        };
        let subject = TokenSubject {
            auth_class: "0",
            user: Some(user),
            ..app_subject()
        };
        let claims = access_token_claims(&subject, "aud", "iss", 10, 5, "u".into());
        let json = serde_json::to_value(&claims).unwrap();
        let cases = [
            ("idtyp", serde_json::json!("user")),
            ("oid", serde_json::json!("user-oid")),
            ("sub", serde_json::json!("user-oid")),
            ("appid", serde_json::json!("app")),
            ("appidacr", serde_json::json!("0")),
            ("scp", serde_json::json!("user_impersonation")),
            ("upn", serde_json::json!("a@d")),
            ("unique_name", serde_json::json!("a@d")),
            ("name", serde_json::json!("A")),
            ("amr", serde_json::json!(["pwd"])),
        ];
        for (claim, value) in cases {
            assert_eq!(json[claim], value, "{claim}");
        }
        let back: AccessTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back, claims);
    }

    #[test]
    fn id_token_and_client_info() {
        use base64::Engine;
        let user = SignedInUser {
            object_id: "uid",
            upn: "a@d",
            display_name: "A",
        };
        let id = id_token_claims(
            &user,
            "tid",
            "client",
            "https://x/tid/v2.0",
            100,
            "u".into(),
        );
        assert_eq!(
            (
                id.aud.as_str(),
                id.oid.as_str(),
                id.preferred_username.as_str()
            ),
            ("client", "uid", "a@d")
        );
        assert_eq!(id.exp, 3700);
        let info = client_info("uid", "tid");
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(info)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(v, serde_json::json!({"uid": "uid", "utid": "tid"}));
    }

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
