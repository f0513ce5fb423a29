//! Clusters' OIDC issuers and the service-account tokens their API servers issue
//! (contracts.md §6). wid hosts each issuer so that the token exchange can fetch its keys
//! exactly as Entra fetches a real cluster's.

use aws_lc_rs::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The audience azure-workload-identity requests for projected tokens.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// kubectl's and the projected volume's lower bound on token lifetime.
pub const MIN_TOKEN_SECONDS: i64 = 600;
/// Two days: longer-lived service-account tokens defeat the point of short-lived federation.
pub const MAX_TOKEN_SECONDS: i64 = 48 * 3600;
pub const DEFAULT_TOKEN_SECONDS: i64 = 3600;

/// `https://{host}/{tenant}/{issuer id}/`: the AKS form, trailing slash included, which
/// tokens carry verbatim in `iss` and federated credentials must repeat byte for byte.
pub fn issuer_url(public_url: &str, tenant_id: &str, issuer_id: &str) -> String {
    format!("{public_url}/{tenant_id}/{issuer_id}/")
}

/// Where kube-apiserver serves the JWKS, relative to the issuer.
pub fn jwks_url(issuer: &str) -> String {
    format!("{issuer}openid/v1/jwks")
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenRequestError {
    #[error("invalid namespace '{0}': a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters) is required")]
    Namespace(String),
    #[error("invalid service account name '{0}': a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters) is required")]
    ServiceAccount(String),
    #[error("invalid pod name '{0}': a DNS-1123 subdomain is required")]
    Pod(String),
    #[error("invalid duration '{0}': use a Go duration such as 1h, 90m or 3600s")]
    Duration(String),
    #[error(
        "the duration must be between {MIN_TOKEN_SECONDS}s and {MAX_TOKEN_SECONDS}s, not {0}s"
    )]
    DurationRange(i64),
    #[error("an audience must be a non-empty string of at most 600 characters")]
    Audience,
    #[error("the cluster's OIDC issuer is not enabled")]
    IssuerDisabled,
    #[error("wid does not hold the private key of this cluster's issuer; the cluster signs its own tokens")]
    NoSigningKey,
}

fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    (1..=253).contains(&s.len()) && s.split('.').all(is_dns_label)
}

/// A Go duration of whole seconds: `1h`, `1h30m`, `90m`, `3600s`.
pub fn parse_duration(text: &str) -> Result<i64, TokenRequestError> {
    let bad = || TokenRequestError::Duration(text.to_owned());
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// What a caller asks for, as `kubectl create token` or a projected volume would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub namespace: String,
    pub service_account: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub pod: Option<String>,
}

/// The body of `…/serviceAccountToken`, with Kubernetes' defaults for what it leaves out.
impl From<wid_types::resources::ServiceAccountTokenRequest> for TokenRequest {
    fn from(body: wid_types::resources::ServiceAccountTokenRequest) -> Self {
        Self {
            namespace: body.namespace,
            service_account: body.service_account_name,
            audiences: body
                .audiences
                .unwrap_or_else(|| vec![TOKEN_EXCHANGE_AUDIENCE.to_owned()]),
            expiration_seconds: body.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
            pod: body.pod_name,
        }
    }
}

impl TokenRequest {
    pub fn validate(&self) -> Result<(), TokenRequestError> {
        if !is_dns_label(&self.namespace) {
            return Err(TokenRequestError::Namespace(self.namespace.clone()));
        }
        if !is_dns_subdomain(&self.service_account) {
            return Err(TokenRequestError::ServiceAccount(
                self.service_account.clone(),
            ));
        }
        if let Some(pod) = &self.pod {
            if !is_dns_subdomain(pod) {
                return Err(TokenRequestError::Pod(pod.clone()));
            }
        }
        if self.audiences.is_empty()
            || self
                .audiences
                .iter()
                .any(|a| a.is_empty() || a.chars().count() > 600)
        {
            return Err(TokenRequestError::Audience);
        }
        if !(MIN_TOKEN_SECONDS..=MAX_TOKEN_SECONDS).contains(&self.expiration_seconds) {
            return Err(TokenRequestError::DurationRange(self.expiration_seconds));
        }
        Ok(())
    }
}

/// Claims of a service-account token as kube-apiserver writes them (`pkg/serviceaccount/claims.go`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountClaims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub nbf: i64,
    pub sub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<ObjectRef>,
    pub serviceaccount: ObjectRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

pub fn service_account_subject(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// There are no API objects behind wid's service accounts and pods, but their uids must
/// be stable as real ones are: derived from the issuer and the object's coordinates.
fn stable_uid(issuer: &str, kind: &str, namespace: &str, name: &str) -> String {
    let hash = digest(
        &SHA256,
        format!("{issuer}\n{kind}\n{namespace}\n{name}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

pub fn service_account_claims(
    issuer: &str,
    request: &TokenRequest,
    now: i64,
    token_id: String,
) -> ServiceAccountClaims {
    let reference = |kind: &str, name: &str| ObjectRef {
        name: name.to_owned(),
        uid: stable_uid(issuer, kind, &request.namespace, name),
    };
    ServiceAccountClaims {
        aud: request.audiences.clone(),
        exp: now + request.expiration_seconds,
        iat: now,
        iss: issuer.to_owned(),
        jti: token_id,
        kubernetes: KubernetesClaims {
            namespace: request.namespace.clone(),
            pod: request.pod.as_deref().map(|p| reference("Pod", p)),
            serviceaccount: reference("ServiceAccount", &request.service_account),
        },
        nbf: now,
        sub: service_account_subject(&request.namespace, &request.service_account),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> TokenRequest {
        TokenRequest {
            namespace: "default".into(),
            service_account: "workload-identity-sa".into(),
            audiences: vec![TOKEN_EXCHANGE_AUDIENCE.into()],
            expiration_seconds: 3600,
            pod: Some("web-0".into()),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("600s"), Ok(600));
        for bad in ["", "1", "h", "1d", "-1h", "1.5h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_requests_are_validated() {
        assert_eq!(request().validate(), Ok(()));
        let mut r = request();
        r.namespace = "Default".into();
        assert!(matches!(r.validate(), Err(TokenRequestError::Namespace(_))));
        let mut r = request();
        r.service_account = "sa_1".into();
        assert!(matches!(
            r.validate(),
            Err(TokenRequestError::ServiceAccount(_))
        ));
        let mut r = request();
        r.expiration_seconds = 599;
        assert_eq!(r.validate(), Err(TokenRequestError::DurationRange(599)));
        let mut r = request();
        r.audiences.clear();
        assert_eq!(r.validate(), Err(TokenRequestError::Audience));
    }

    #[test]
    fn claims_have_the_apiserver_shape() {
        let iss = issuer_url("https://localhost:8443", "t", "c");
        assert_eq!(iss, "https://localhost:8443/t/c/");
        assert_eq!(jwks_url(&iss), "https://localhost:8443/t/c/openid/v1/jwks");
        let a = service_account_claims(&iss, &request(), 100, "j".into());
        let b = service_account_claims(&iss, &request(), 200, "k".into());
        assert_eq!(a.sub, "system:serviceaccount:default:workload-identity-sa");
        assert_eq!((a.iat, a.nbf, a.exp), (100, 100, 3700));
        assert_eq!(
            a.kubernetes.serviceaccount.uid,
            b.kubernetes.serviceaccount.uid
        );
        assert_ne!(
            a.kubernetes.serviceaccount.uid,
            a.kubernetes.pod.as_ref().unwrap().uid
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(
            json["kubernetes.io"]["serviceaccount"]["name"],
            "workload-identity-sa"
        );
        assert_eq!(json["aud"][0], TOKEN_EXCHANGE_AUDIENCE);
    }
}
