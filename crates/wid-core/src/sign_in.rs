//! The sign-in log: one record per token request, granted or refused, so that "why can't my
//! pod get a token?" is answered where Entra users look (the portal's sign-in logs, Graph's
//! `auditLogs/signIns`) rather than in a pod's logs.
//!
//! A record holds what identifies the attempt (client, principal, resource, result, the
//! federated credential matched or the closest one and how it differs, the assertion's
//! issuer and subject) and never a credential: no assertion, secret, password or token.

use crate::graph_filter::{Clause, Comparison, GraphFilter, GraphFilterError, Shape};
use serde::{Deserialize, Serialize};

/// Graph's `signInEventTypes` value for each kind of sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignInKind {
    ManagedIdentity,
    ServicePrincipal,
    /// A user at the device-code page.
    InteractiveUser,
    /// A user's password or refresh token redeemed by an application.
    NonInteractiveUser,
}

impl SignInKind {
    pub const ALL: [SignInKind; 4] = [
        SignInKind::ManagedIdentity,
        SignInKind::ServicePrincipal,
        SignInKind::InteractiveUser,
        SignInKind::NonInteractiveUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignInKind::ManagedIdentity => "managedIdentity",
            SignInKind::ServicePrincipal => "servicePrincipal",
            SignInKind::InteractiveUser => "interactiveUser",
            SignInKind::NonInteractiveUser => "nonInteractiveUser",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text))
    }

    pub fn is_user(self) -> bool {
        matches!(
            self,
            SignInKind::InteractiveUser | SignInKind::NonInteractiveUser
        )
    }
}

/// Graph beta's `clientCredentialType`, plus the user grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CredentialKind {
    None,
    ClientSecret,
    FederatedIdentityCredential,
    Password,
    RefreshToken,
    DeviceCode,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::None => "none",
            CredentialKind::ClientSecret => "clientSecret",
            CredentialKind::FederatedIdentityCredential => "federatedIdentityCredential",
            CredentialKind::Password => "password",
            CredentialKind::RefreshToken => "refreshToken",
            CredentialKind::DeviceCode => "deviceCode",
        }
    }
}

/// What the exchange made of the identity's federated credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum FederatedOutcome {
    /// This credential matched the assertion.
    #[serde(rename_all = "camelCase")]
    Matched { credential: String },
    /// None matched; this one came closest, and its `field` (issuer, audience, subject)
    /// holds `expected` where the assertion had something else.
    #[serde(rename_all = "camelCase")]
    Closest {
        credential: String,
        field: String,
        expected: String,
        difference: String,
    },
    /// The identity has no federated credential at all.
    NoCredentials,
}

impl FederatedOutcome {
    pub fn credential(&self) -> Option<&str> {
        match self {
            FederatedOutcome::Matched { credential }
            | FederatedOutcome::Closest { credential, .. } => Some(credential),
            FederatedOutcome::NoCredentials => None,
        }
    }
}

/// One token request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    pub id: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub tenant_id: String,
    /// The `client_id` the request named (lowercased), or the application the user signed
    /// in to.
    pub app_id: String,
    pub app_display_name: Option<String>,
    /// The object id of whoever the token would name: the managed identity's principal,
    /// the service principal, or the user.
    pub principal_id: Option<String>,
    pub principal_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub kind: SignInKind,
    pub credential: CredentialKind,
    /// The resource (v1) or scope's resource (v2) asked for.
    pub resource: Option<String>,
    /// 0 when a token was issued; the AADSTS number otherwise.
    pub error_code: u32,
    pub failure_reason: Option<String>,
    pub federated: Option<FederatedOutcome>,
    pub assertion_issuer: Option<String>,
    pub assertion_subject: Option<String>,
    /// The managed identity's ARM id.
    pub managed_identity_resource_id: Option<String>,
    pub ip_address: String,
    /// The client's `client-request-id` (else the request's own id): Graph's
    /// `correlationId`, and what the error body's `correlation_id` says.
    pub correlation_id: String,
    pub request_id: String,
    /// Which replica served it.
    pub replica: String,
}

impl SignIn {
    pub fn succeeded(&self) -> bool {
        self.error_code == 0
    }
}

/// The properties a sign-in `$filter` may name, in Graph's spelling.
pub const FILTERABLE: &[(&str, Shape)] = &[
    ("createdDateTime", Shape::Ordered),
    ("status/errorCode", Shape::Ordered),
    ("appId", Shape::Single),
    ("id", Shape::Single),
    ("userId", Shape::Single),
    ("userPrincipalName", Shape::Single),
    ("servicePrincipalId", Shape::Single),
    ("correlationId", Shape::Single),
    ("ipAddress", Shape::Single),
    ("signInEventTypes", Shape::Collection),
];

/// A string property a query compares for equality (without regard to case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    AppId,
    PrincipalId,
    UserPrincipalName,
    CorrelationId,
    IpAddress,
}

/// One condition of a query; a query is all of them. Each names a typed column, so the
/// store never builds SQL from what a caller wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `created_at_ms <comparison> value`.
    Created(Comparison, i64),
    ErrorCode(Comparison, i64),
    /// Equal, without regard to case.
    Is(Field, String),
    Kind(SignInKind),
    /// Matches nothing (`signInEventTypes/any(t: t eq 'unknown')`).
    Never,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub all_of: Vec<Condition>,
}

impl Query {
    /// The conditions of a Graph `$filter` over [`FILTERABLE`].
    pub fn from_filter(text: &str) -> Result<Self, GraphFilterError> {
        let filter = GraphFilter::parse(text, FILTERABLE)?;
        let all_of = filter
            .all_of
            .into_iter()
            .map(|clause| {
                Ok(match clause {
                    Clause::Compare {
                        property,
                        comparison,
                        value,
                    } => match property.as_str() {
                        // A time filters on whole seconds; records keep milliseconds.
                        "createdDateTime" => {
                            let (comparison, ms) = time_bound(comparison, value.value());
                            Condition::Created(comparison, ms)
                        }
                        _ => Condition::ErrorCode(comparison, value.value()),
                    },
                    Clause::Eq { property, value } => {
                        let field = match property.as_str() {
                            "id" => Field::Id,
                            "appId" => Field::AppId,
                            "userId" | "servicePrincipalId" => Field::PrincipalId,
                            "userPrincipalName" => Field::UserPrincipalName,
                            "correlationId" => Field::CorrelationId,
                            _ => Field::IpAddress,
                        };
                        Condition::Is(field, value.to_lowercase())
                    }
                    Clause::AnyEq { value, .. } => {
                        SignInKind::parse(&value).map_or(Condition::Never, Condition::Kind)
                    }
                    Clause::StartsWith { property, .. } => {
                        return Err(GraphFilterError {
                            reason: format!("startswith is not supported on '{property}'"),
                        })
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { all_of })
    }
}

/// A comparison with a whole second `secs`, as one on milliseconds: `createdDateTime le
/// 10:00:00Z` keeps 10:00:00.999.
pub(crate) fn time_bound(comparison: Comparison, secs: i64) -> (Comparison, i64) {
    let start = secs.saturating_mul(1000);
    let next = secs.saturating_add(1).saturating_mul(1000);
    match comparison {
        Comparison::Gt => (Comparison::Ge, next),
        Comparison::Le => (Comparison::Lt, next),
        other => (other, start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_filters_become_typed_conditions() {
        use Comparison::*;
        use Condition::*;
        let t = 1_796_083_200;
        let cases: &[(&str, Vec<Condition>)] = &[
            ("status/errorCode ne 0", vec![ErrorCode(Ne, 0)]),
            (
                "createdDateTime ge 2026-12-01T00:00:00Z and createdDateTime le 2026-12-01T00:00:00Z",
                vec![Created(Ge, t * 1000), Created(Lt, (t + 1) * 1000)],
            ),
            ("createdDateTime gt 2026-12-01T00:00:00Z", vec![Created(Ge, (t + 1) * 1000)]),
            ("createdDateTime lt 2026-12-01T00:00:00Z", vec![Created(Lt, t * 1000)]),
            (
                "appId eq 'ABC' and servicePrincipalId eq 'P' and userId eq 'u'",
                vec![
                    Is(Field::AppId, "abc".into()),
                    Is(Field::PrincipalId, "p".into()),
                    Is(Field::PrincipalId, "u".into()),
                ],
            ),
            (
                "signInEventTypes/any(t: t eq 'ManagedIdentity')",
                vec![Kind(SignInKind::ManagedIdentity)],
            ),
            ("signInEventTypes/any(t: t eq 'other')", vec![Never]),
            (
                "correlationId eq 'c' and ipAddress eq '::1' and id eq 'i' and userPrincipalName eq 'A@B'",
                vec![
                    Is(Field::CorrelationId, "c".into()),
                    Is(Field::IpAddress, "::1".into()),
                    Is(Field::Id, "i".into()),
                    Is(Field::UserPrincipalName, "a@b".into()),
                ],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                Query::from_filter(text).map(|q| q.all_of).as_ref(),
                Ok(want),
                "{text}"
            );
        }
        for text in [
            "status/failureReason eq 'x'",
            "appDisplayName eq 'x'",
            "startswith(appId,'a')",
            "createdDateTime ge '2026-12-01T00:00:00Z'",
            "status/errorCode eq 0 or status/errorCode eq 1",
        ] {
            assert!(Query::from_filter(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn kinds_read_back_what_they_print() {
        for k in SignInKind::ALL {
            assert_eq!(SignInKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(SignInKind::parse("user"), None);
    }
}
