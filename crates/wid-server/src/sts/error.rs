//! Entra's error answers (contracts.md §1.4-1.5). Each failure is one constructor, so the
//! AADSTS code, OAuth error string and HTTP status always travel together.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use wid_core::federation::MatchError;
use wid_core::token::ScopeError;
use wid_types::oauth::OAuthError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl StsError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> Self {
        Self {
            status,
            error,
            code,
            message,
        }
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    pub fn resource_not_supported() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            901002,
            "The 'resource' request parameter is not supported.".to_owned(),
        )
    }

    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        )
    }

    /// Discovery documents name the same failure `invalid_tenant`.
    pub fn tenant_not_found_discovery(tenant: &str) -> Self {
        Self {
            error: "invalid_tenant",
            ..Self::tenant_not_found(tenant)
        }
    }

    pub fn request_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            90100,
            format!("The request body is larger than the {limit} bytes this endpoint accepts."),
        )
    }

    pub fn invalid_tenant_name(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900023,
            format!("Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."),
        )
    }

    pub fn application_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
        )
    }

    pub fn missing_client_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
        )
    }

    pub fn invalid_client_secret(app_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{app_id}'."),
        )
    }

    /// An application with no service principal in the tenant has nobody to issue a
    /// token to (`az ad sp create --id APPID` makes one).
    pub fn missing_service_principal(app_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            7000229,
            format!("The client application {app_id} is missing service principal in the tenant {tenant}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119"),
        )
    }

    pub fn expired_client_secret(app_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!("The provided client secret keys for app '{app_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."),
        )
    }

    pub fn scope(err: &ScopeError) -> Self {
        let code = match err {
            ScopeError::NotDefault(_) => 1002012,
            ScopeError::MultipleResources(_) => 700022,
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            code,
            err.to_string(),
        )
    }

    pub fn resource_not_found(resource: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!("The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        )
    }

    /// An assertion that is not a JWT wid can read (AADSTS50027, InvalidJwtToken).
    pub fn malformed_assertion(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed: {detail}."),
        )
    }

    pub fn wrong_assertion_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_assertion_type' with the value 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.".to_owned(),
        )
    }

    /// The client is an application without federated credentials, or with none matching.
    pub fn no_matching_credential(iss: &str, sub: &str, aud: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            70021,
            format!("No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'."),
        )
    }

    /// No federated credential matches (AADSTS700211/700212/700213/7002138), with the
    /// credential that came closest and what differs, beyond what Entra says.
    pub fn credential_mismatch(err: &MatchError, iss: &str, sub: &str, aud: &[String]) -> Self {
        const CHECK: &str = " Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.";
        let (code, message) = match err {
            MatchError::NoCredentials => {
                return Self::no_matching_credential(iss, sub, &aud.join(","))
            }
            MatchError::Issuer { presented, closest } => (
                700211,
                format!(
                    "No matching federated identity record found for presented assertion issuer '{presented}'.{CHECK}{}",
                    closest.as_ref().map(|h| h.sentence("issuer")).unwrap_or_default()
                ),
            ),
            MatchError::Audience { presented, closest } => (
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{}'.{CHECK}{}",
                    presented.join(","),
                    closest.as_ref().map(|h| h.sentence("audience")).unwrap_or_default()
                ),
            ),
            MatchError::Subject { presented, closest } => (
                700213,
                format!(
                    "No matching federated identity record found for presented assertion subject '{presented}'.{CHECK}{}",
                    closest.as_ref().map(|h| h.sentence("subject")).unwrap_or_default()
                ),
            ),
            MatchError::SubjectCase { presented, closest } => (
                7002138,
                format!(
                    "No matching federated identity record found for presented assertion subject '{presented}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison.{}",
                    closest.sentence("subject")
                ),
            ),
        };
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }

    /// The same words whatever went wrong: what failed, and where, would tell an
    /// unauthenticated caller what listens on wid's network. wid's log has the details.
    pub fn issuer_unreachable() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90061,
            "Request to External OIDC endpoint failed.".to_owned(),
        )
    }

    pub fn unknown_signing_key(kid: &str, issuer: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000272,
            format!("The certificate with identifier '{kid}' used to sign the federated credential could not be found in the metadata of identity provider '{issuer}'. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token."),
        )
    }

    pub fn bad_assertion_signature(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!("Client assertion failed signature validation. {detail}"),
        )
    }

    pub fn assertion_time(now: i64, nbf: Option<i64>, exp: Option<i64>) -> Self {
        let at = |t: Option<i64>| t.map_or_else(|| "(none)".to_owned(), wid_core::timefmt::rfc3339);
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                wid_core::timefmt::rfc3339(now),
                at(nbf),
                at(exp)
            ),
        )
    }

    pub fn unknown_instance() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_instance",
            50049,
            "Unknown or invalid instance.".to_owned(),
        )
    }

    fn invalid_grant(code: u32, message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
    }

    /// A user grant from a client that is not one of the public clients wid signs users in to.
    pub fn not_a_public_client(client_id: &str, tenant: &str) -> Self {
        Self::application_not_found(client_id, tenant)
    }

    pub fn wrong_password() -> Self {
        Self::invalid_grant(
            50126,
            "Error validating credentials due to invalid username or password.".to_owned(),
        )
    }

    /// Entra's answer to ROPC for a UPN the managed tenant does not have; like Entra, it
    /// does not echo the name.
    pub fn user_not_found(tenant: &str) -> Self {
        Self::invalid_grant(
            50034,
            format!("The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."),
        )
    }

    pub fn user_locked() -> Self {
        Self::invalid_grant(
            50053,
            "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.".to_owned(),
        )
    }

    pub fn user_disabled() -> Self {
        Self::invalid_grant(
            50057,
            "The user account is disabled. The user object in Active Directory backing this account has been disabled. An admin can re-enable this account through PowerShell.".to_owned(),
        )
    }

    /// A refresh token wid never issued (or not a refresh token at all).
    pub fn malformed_grant() -> Self {
        Self::invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid.".to_owned(),
        )
    }

    pub fn refresh_expired() -> Self {
        Self::invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.".to_owned(),
        )
    }

    pub fn session_too_old() -> Self {
        Self::invalid_grant(
            50133,
            "Session is invalid due to expiration or recent password change.".to_owned(),
        )
    }

    /// A rotated refresh token presented again: its whole family is revoked now.
    pub fn refresh_replayed() -> Self {
        Self::invalid_grant(
            70000,
            "The provided value for the 'refresh_token' is not valid: it was already redeemed. The session it belongs to has been revoked; sign in again.".to_owned(),
        )
    }

    pub fn grant_revoked() -> Self {
        Self::invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.".to_owned(),
        )
    }

    pub fn grant_of_other_client() -> Self {
        Self::invalid_grant(
            70000,
            "The provided value for the 'refresh_token' is not valid: it was issued to another client.".to_owned(),
        )
    }

    pub fn authorization_pending() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".to_owned(),
        )
    }

    pub fn authorization_declined() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_declined",
            70000,
            "The end user denied the authorization request.".to_owned(),
        )
    }

    pub fn device_code_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "expired_token",
            70019,
            "Verification code expired.".to_owned(),
        )
    }

    pub fn bad_verification_code() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_verification_code",
            70018,
            "Invalid verification code was entered.".to_owned(),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            "There was an error issuing a token or an issue with our sign-in service.".to_owned(),
        )
    }

    /// The response, stamped with the time and ids the client will quote back to support.
    pub fn into_response_at(self, now: i64, correlation_id: &str) -> Response {
        let trace_id = wid_core::ids::random_uuid().to_string();
        let timestamp = wid_core::timefmt::entra_timestamp(now);
        let body = OAuthError {
            error: self.error.to_owned(),
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            error_codes: vec![self.code],
            timestamp,
            trace_id,
            correlation_id: correlation_id.to_owned(),
            error_uri: None,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        no_store(&mut response);
        response
    }
}

/// Token responses must never be cached by intermediaries.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
