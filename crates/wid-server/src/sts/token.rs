//! The token endpoint: who is asking, for what, and the token they get. The checks run in
//! the order Entra runs them (contracts.md §1.5), so a request with several faults gets the
//! same first error it would get from Entra.

use super::error::StsError;
use super::federated_client::{matchable, FederatedClient, FederatedPrincipal};
use super::issuers::LookupError;
use crate::activity::sign_ins::Attempt;
use crate::state::AppState;
use base64::Engine;
use std::borrow::Cow;
use wid_core::federation;
use wid_core::model::Tenant;
use wid_core::resource_id;
use wid_core::sign_in::{CredentialKind, SignInKind};
use wid_core::token::{self, TokenSubject};
use wid_jose::HeaderParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/token`: `resource=`, string-typed numbers.
    V1,
    /// `/{tenant}/oauth2/v2.0/token`: `scope=`, integer numbers.
    V2,
}

/// The form fields wid reads; others (`claims`, `client_info`, …) are ignored as Entra does.
#[derive(Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    /// User grants (`password`, `refresh_token`, device code): secrets, never logged.
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub device_code: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl TokenRequest {
    /// Reads an urlencoded form; the first value of a repeated field wins. A body that is not
    /// a form reads as empty, which then fails on the first missing parameter, like Entra.
    pub fn from_form(body: &[u8], authorization: Option<&str>) -> Self {
        let mut req = Self::default();
        // One pass, decoding only the fields kept (an assertion is most of the body): a bit
        // per field marks it seen, so a repeated field keeps its first value, even empty.
        // Pairs split as `form_urlencoded::parse` splits them: on `&`, empty ones skipped, the
        // name ending at the first `=`.
        let mut seen = 0u16;
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (key, value) = match memchr::memchr(b'=', pair) {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let (bit, field) = match &*form_decoded(key) {
                "grant_type" => (0, &mut req.grant_type),
                "client_id" => (1, &mut req.client_id),
                "client_secret" => (2, &mut req.client_secret),
                "client_assertion" => (3, &mut req.client_assertion),
                "client_assertion_type" => (4, &mut req.client_assertion_type),
                "scope" => (5, &mut req.scope),
                "resource" => (6, &mut req.resource),
                "username" => (7, &mut req.username),
                "password" => (8, &mut req.password),
                "refresh_token" => (9, &mut req.refresh_token),
                "device_code" => (10, &mut req.device_code),
                _ => continue,
            };
            if seen & (1 << bit) == 0 {
                seen |= 1 << bit;
                *field = Some(form_decoded(value).into_owned()).filter(|v| !v.is_empty());
            }
        }
        // Empty halves of `Basic` credentials are absent too, as empty form fields are:
        // `Basic Og==` (":") must not turn an assertion request into a secret one.
        if let Some((id, secret)) = authorization.and_then(basic_credentials) {
            req.client_id = req.client_id.or(Some(id).filter(|v| !v.is_empty()));
            req.client_secret = req.client_secret.or(Some(secret).filter(|v| !v.is_empty()));
        }
        req
    }
}

/// A form name or value decoded (`+` is a space, `%XX` a byte, invalid UTF-8 replaced), as
/// `form_urlencoded` decodes it. Most of a token request (a JWT, ids, a grant type) has
/// nothing to decode: those bytes are only checked and borrowed.
fn form_decoded(raw: &[u8]) -> Cow<'_, str> {
    match memchr::memchr2(b'%', b'+', raw) {
        // `from_utf8` first: the lossy reader's chunking is several times slower on the
        // valid text every field is.
        None => {
            std::str::from_utf8(raw).map_or_else(|_| String::from_utf8_lossy(raw), Cow::Borrowed)
        }
        Some(_) if memchr::memchr(b'+', raw).is_none() => {
            percent_encoding::percent_decode(raw).decode_utf8_lossy()
        }
        Some(_) => {
            let spaced: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            Cow::Owned(
                percent_encoding::percent_decode(&spaced)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        }
    }
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
    };
    Some((unescape(id)?, unescape(secret)?))
}

pub struct Issued {
    pub access_token: String,
    pub resource: String,
    pub issued_at: i64,
    pub lifetime: i64,
    /// What a user grant adds; `None` for app-only tokens.
    pub user: Option<UserTokens>,
}

/// The parts of a token response only a signed-in user gets.
pub struct UserTokens {
    pub refresh_token: String,
    pub id_token: String,
    pub client_info: String,
    pub scope: String,
}

/// The tenant of a user flow: also `organizations` and `common`, the authorities az and MSAL
/// sign users in at, which name the tenant the user belongs to; wid has one.
pub fn resolve_user_tenant<'a>(state: &'a AppState, segment: &str) -> Result<&'a Tenant, StsError> {
    if segment.eq_ignore_ascii_case("organizations") || segment.eq_ignore_ascii_case("common") {
        return Ok(&state.tenant);
    }
    resolve_tenant(state, segment)
}

/// The tenant a path segment names: its id or its default domain.
pub fn resolve_tenant<'a>(state: &'a AppState, segment: &str) -> Result<&'a Tenant, StsError> {
    let tenant = &state.tenant;
    if segment.eq_ignore_ascii_case(&tenant.id)
        || segment.eq_ignore_ascii_case(&tenant.default_domain)
    {
        return Ok(tenant);
    }
    let dns_like = segment.contains('.')
        && segment.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if wid_core::names::is_guid(segment)
        || dns_like
        || matches!(segment, "common" | "organizations" | "consumers")
    {
        Err(StsError::tenant_not_found(segment))
    } else {
        Err(StsError::invalid_tenant_name(segment))
    }
}

/// Who the token is for, once the client proved who it is.
struct Principal {
    app_id: String,
    object_id: String,
    auth_class: &'static str,
    managed_identity_resource_id: Option<String>,
    lifetime: i64,
}

pub async fn issue(
    state: &AppState,
    tenant_segment: &str,
    req: &TokenRequest,
    endpoint: Endpoint,
    attempt: &mut Attempt,
) -> Result<Issued, StsError> {
    let grant_type = req
        .grant_type
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("grant_type"))?;
    use super::users::{DEVICE_CODE_GRANT, PASSWORD_GRANT, REFRESH_TOKEN_GRANT};
    let user = match grant_type {
        "client_credentials" => None,
        PASSWORD_GRANT => Some((SignInKind::NonInteractiveUser, CredentialKind::Password)),
        REFRESH_TOKEN_GRANT => Some((SignInKind::NonInteractiveUser, CredentialKind::RefreshToken)),
        DEVICE_CODE_GRANT => Some((SignInKind::InteractiveUser, CredentialKind::DeviceCode)),
        other => return Err(StsError::unsupported_grant_type(other)),
    };
    if let Some((kind, credential)) = user {
        attempt.kind(kind, credential);
        return super::users::issue(state, tenant_segment, req, endpoint, grant_type, attempt)
            .await;
    }
    if endpoint == Endpoint::V2 && req.resource.is_some() {
        return Err(StsError::resource_not_supported());
    }
    let tenant = resolve_tenant(state, tenant_segment)?;
    attempt.tenant(&tenant.id);
    let client_id = req
        .client_id
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("client_id"))?;
    let requested = match endpoint {
        Endpoint::V2 => req
            .scope
            .as_deref()
            .ok_or_else(|| StsError::missing_parameter("scope"))?,
        Endpoint::V1 => req
            .resource
            .as_deref()
            .ok_or_else(|| StsError::missing_parameter("resource"))?,
    };
    let principal = match (&req.client_secret, &req.client_assertion) {
        (Some(secret), _) => {
            attempt.kind(SignInKind::ServicePrincipal, CredentialKind::ClientSecret);
            with_secret(state, tenant, client_id, secret, attempt).await?
        }
        (None, Some(assertion)) => {
            attempt.kind(
                SignInKind::ServicePrincipal,
                CredentialKind::FederatedIdentityCredential,
            );
            if req.client_assertion_type.as_deref() != Some(token::JWT_BEARER_ASSERTION) {
                return Err(StsError::wrong_assertion_type());
            }
            with_assertion(state, tenant, client_id, assertion, attempt).await?
        }
        (None, None) => {
            known_client(state, tenant, client_id).await?;
            return Err(StsError::missing_client_credential());
        }
    };
    let resource = match endpoint {
        Endpoint::V2 => token::resource_from_scope(requested).map_err(|e| StsError::scope(&e))?,
        Endpoint::V1 => requested.to_owned(),
    };
    let own = state.cloud.serves_resource(&resource);
    attempt.resource(&resource);
    let Some(audience) = wid_core::resources::audience(&resource, own, &state.config.resources)
    else {
        return Err(StsError::resource_not_found(&resource, &tenant.id));
    };
    let now = state.now();
    let subject = TokenSubject {
        tenant_id: &tenant.id,
        app_id: &principal.app_id,
        object_id: &principal.object_id,
        auth_class: principal.auth_class,
        managed_identity_resource_id: principal.managed_identity_resource_id,
        user: None,
    };
    let claims = token::access_token_claims(
        &subject,
        &audience,
        &state.cloud.access_token_issuer(&tenant.id),
        now,
        principal.lifetime,
        wid_core::ids::random_uuid().simple().to_string(),
    );
    let header = HeaderParams {
        typ: Some("JWT".to_owned()),
        kid: None,
        x5t: true,
    };
    let access_token = state
        .keys
        .get()
        .signing(now)
        .sign_jwt(&claims, &header)
        .map_err(|e| {
            tracing::error!(error = %e, "signing failed");
            StsError::internal()
        })?;
    Ok(Issued {
        access_token,
        resource,
        issued_at: now,
        lifetime: principal.lifetime,
        user: None,
    })
}

fn internal(e: impl std::fmt::Display) -> StsError {
    tracing::error!(error = %e, "token request failed");
    StsError::internal()
}

/// A client that sent no credential still learns first whether it exists, as from Entra.
async fn known_client(state: &AppState, tenant: &Tenant, client_id: &str) -> Result<(), StsError> {
    let sp = state
        .store
        .service_principal_by_app_id(&tenant.id, client_id)
        .await
        .map_err(internal)?;
    let mi = state
        .store
        .identity_by_client_id(client_id)
        .await
        .map_err(internal)?;
    let app = state
        .store
        .application_by_app_id(client_id)
        .await
        .map_err(internal)?;
    if sp.is_some()
        || mi.is_some_and(|mi| mi.tenant_id == tenant.id)
        || app.is_some_and(|a| a.tenant_id == tenant.id)
    {
        Ok(())
    } else {
        Err(StsError::application_not_found(client_id, &tenant.id))
    }
}

async fn with_secret(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    secret: &str,
    attempt: &mut Attempt,
) -> Result<Principal, StsError> {
    if let Some(sp) = state
        .store
        .service_principal_by_app_id(&tenant.id, client_id)
        .await
        .map_err(internal)?
    {
        attempt.principal(&sp.object_id, &sp.display_name);
        if !wid_core::secret::verify(secret, &sp.secret_hash) {
            return Err(StsError::invalid_client_secret(&sp.app_id));
        }
        return Ok(Principal {
            app_id: sp.app_id,
            object_id: sp.object_id,
            auth_class: "1",
            managed_identity_resource_id: None,
            lifetime: token::SERVICE_PRINCIPAL_TOKEN_LIFETIME,
        });
    }
    let Some(app) = state
        .store
        .application_by_app_id(client_id)
        .await
        .map_err(internal)?
        .filter(|a| a.tenant_id == tenant.id)
    else {
        // Managed identities have no secrets: whatever was sent is wrong.
        known_client(state, tenant, client_id).await?;
        return Err(StsError::invalid_client_secret(client_id));
    };
    attempt.app_display_name(&app.display_name);
    let sp = app_service_principal(state, tenant, &app).await?;
    attempt.principal(&sp.object_id, &app.display_name);
    // Every stored secret is compared (in constant time each), so the answer's timing does
    // not tell which key matched.
    let passwords = state
        .store
        .application_passwords(&app.object_id)
        .await
        .map_err(internal)?;
    let matched: Vec<_> = passwords
        .iter()
        .filter(|p| wid_core::secret::verify(secret, &p.secret_hash))
        .collect();
    let now = state.now();
    match matched.first() {
        None => Err(StsError::invalid_client_secret(&app.app_id)),
        Some(p) if now >= p.end_at || now < p.start_at => {
            Err(StsError::expired_client_secret(&app.app_id))
        }
        Some(_) => Ok(Principal {
            app_id: app.app_id,
            object_id: sp.object_id,
            auth_class: "1",
            managed_identity_resource_id: None,
            lifetime: token::SERVICE_PRINCIPAL_TOKEN_LIFETIME,
        }),
    }
}

/// The application's service principal in the tenant: whom its tokens name.
async fn app_service_principal(
    state: &AppState,
    tenant: &Tenant,
    app: &wid_core::model::Application,
) -> Result<wid_core::model::AppServicePrincipal, StsError> {
    state
        .store
        .app_service_principal_by_app_id(&tenant.id, &app.app_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| StsError::missing_service_principal(&app.app_id, &tenant.id))
}

/// The claims of a presented assertion that the exchange reads.
#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audiences>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

/// The federated exchange (contracts.md §1.5, in Entra's order): match a credential on the
/// unverified claims, then fetch the issuer's keys, then verify signature and time window.
/// Nothing is fetched for a token whose algorithm is not allowed.
async fn with_assertion(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    assertion: &str,
    attempt: &mut Attempt,
) -> Result<Principal, StsError> {
    let client = state
        .clients
        .get_or_load(&client_id.to_lowercase(), || {
            load_client(&state.store, client_id)
        })
        .await
        .map_err(internal)?;
    let Some(client) = client
        .as_ref()
        .as_ref()
        .filter(|c| c.tenant_id() == tenant.id)
    else {
        known_client(state, tenant, client_id).await?;
        // The bootstrap principal has no federated credentials: nothing can match.
        return Err(StsError::no_matching_credential("", "", ""));
    };
    match &client.principal {
        FederatedPrincipal::Identity(mi) => attempt.managed_identity(mi),
        FederatedPrincipal::Application {
            app,
            service_principal,
        } => match service_principal {
            Some(sp) => attempt.principal(&sp.object_id, &app.display_name),
            None => attempt.app_display_name(&app.display_name),
        },
    }
    if let FederatedPrincipal::Application {
        app,
        service_principal: None,
    } = &client.principal
    {
        return Err(StsError::missing_service_principal(&app.app_id, &tenant.id));
    }
    let credentials = &client.credentials;
    let jwt = wid_jose::decode(assertion).map_err(|e| match e {
        wid_jose::JoseError::UnsupportedAlgorithm(alg) => StsError::bad_assertion_signature(
            &format!("The assertion's algorithm '{alg}' is not allowed; tokens must be signed with RS256 or ES256."),
        ),
        other => StsError::malformed_assertion(&other.to_string()),
    })?;
    let claims: AssertionClaims = jwt
        .claims()
        .map_err(|e| StsError::malformed_assertion(&e.to_string()))?;
    let (Some(iss), Some(sub)) = (claims.iss.as_deref(), claims.sub.as_deref()) else {
        return Err(StsError::malformed_assertion(
            "the assertion needs 'iss' and 'sub' claims",
        ));
    };
    let audiences = match claims.aud {
        Some(Audiences::One(a)) => vec![a],
        Some(Audiences::Many(a)) => a,
        None => {
            return Err(StsError::malformed_assertion(
                "the assertion needs an 'aud' claim",
            ))
        }
    };
    attempt.assertion(iss, sub);
    let matched = federation::match_assertion(credentials, iss, sub, &audiences).map_err(|e| {
        attempt.mismatch(&e);
        StsError::credential_mismatch(&e, iss, sub, &audiences)
    })?;
    attempt.matched(&matched.name);
    let kid = jwt.header.kid.as_deref().unwrap_or("");
    let key = state.issuer_keys.key(iss, kid).await.map_err(|e| match e {
        LookupError::Unreachable => StsError::issuer_unreachable(),
        LookupError::UnknownKey => StsError::unknown_signing_key(kid, iss),
    })?;
    jwt.verify(&key).map_err(|e| match e {
        wid_jose::JoseError::KeyMismatch => StsError::bad_assertion_signature(&format!(
            "The key '{kid}' is a {} key; the assertion claims {}.",
            key.algorithm(),
            jwt.header.alg
        )),
        _ => StsError::bad_assertion_signature(""),
    })?;
    let now = state.now();
    wid_jose::check_time_window(now, claims.nbf, claims.exp, token::CLOCK_SKEW_SECS)
        .map_err(|_| StsError::assertion_time(now, claims.nbf, claims.exp))?;
    // An assertion issued in the future gets the same answer, naming `iat` as when it
    // becomes acceptable.
    wid_jose::check_issued_at(now, claims.iat, token::CLOCK_SKEW_SECS)
        .map_err(|_| StsError::assertion_time(now, claims.iat, claims.exp))?;
    Ok(match &client.principal {
        FederatedPrincipal::Identity(mi) => Principal {
            managed_identity_resource_id: Some(resource_id::identity(
                &mi.subscription_id,
                &mi.resource_group,
                &mi.name,
            )),
            app_id: mi.client_id.clone(),
            object_id: mi.principal_id.clone(),
            auth_class: "2",
            lifetime: token::MANAGED_IDENTITY_TOKEN_LIFETIME,
        },
        // An application's token names its service principal, with no `xms_mirid`.
        FederatedPrincipal::Application {
            app,
            service_principal: Some(sp),
        } => Principal {
            managed_identity_resource_id: None,
            app_id: app.app_id.clone(),
            object_id: sp.object_id.clone(),
            auth_class: "2",
            lifetime: token::SERVICE_PRINCIPAL_TOKEN_LIFETIME,
        },
        FederatedPrincipal::Application { app, .. } => {
            return Err(StsError::missing_service_principal(&app.app_id, &tenant.id))
        }
    })
}

/// A client id's managed identity or application with its federated credentials; `None`
/// if it names neither.
async fn load_client(
    store: &wid_store::Store,
    client_id: &str,
) -> Result<Option<FederatedClient>, wid_store::StoreError> {
    if let Some(mi) = store.identity_by_client_id(client_id).await? {
        return match store.federated_credentials_by_client_id(client_id).await {
            Ok(credentials) => Ok(Some(FederatedClient {
                principal: FederatedPrincipal::Identity(mi),
                credentials,
            })),
            Err(wid_store::StoreError::IdentityNotFound) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(app) = store.application_by_app_id(client_id).await? else {
        return Ok(None);
    };
    let credentials = store
        .app_federated_credentials(&app.object_id)
        .await?
        .into_iter()
        .map(matchable)
        .collect();
    let service_principal = store
        .app_service_principal_by_app_id(&app.tenant_id, &app.app_id)
        .await?;
    Ok(Some(FederatedClient {
        principal: FederatedPrincipal::Application {
            app,
            service_principal,
        },
        credentials,
    }))
}

#[cfg(test)]
mod tests {
    use super::TokenRequest;

    #[test]
    fn form_fields_decode_once_and_the_first_value_wins() {
        let field = |form: &[u8], name: &str| {
            let r = TokenRequest::from_form(form, None);
            match name {
                "grant_type" => r.grant_type,
                "client_id" => r.client_id,
                "client_assertion" => r.client_assertion,
                "scope" => r.scope,
                _ => unreachable!(),
            }
        };
        for (form, name, expected) in [
            (&b"scope=a%2Fb+c%20d"[..], "scope", Some("a/b c d")),
            (b"client_id=one&client_id=two", "client_id", Some("one")),
            // The first occurrence decides, even when it is empty (absent).
            (b"client_id=&client_id=two", "client_id", None),
            (
                b"grant_type=client_credentials&x=1&=&&",
                "grant_type",
                Some("client_credentials"),
            ),
            (
                b"client_assertion=e30.e30.sig",
                "client_assertion",
                Some("e30.e30.sig"),
            ),
            (b"{\"client_id\":\"json\"}", "client_id", None),
            (b"client_id", "client_id", None),
            (b"scope=%FF", "scope", Some("\u{FFFD}")),
            (b"scope=a\xffb", "scope", Some("a\u{FFFD}b")),
            (b"scope=%zz%4", "scope", Some("%zz%4")),
            (b"scope=a+b", "scope", Some("a b")),
            (b"scope=%2B+%C3%A9", "scope", Some("+ \u{e9}")),
            (b"client%5Fid=named", "client_id", Some("named")),
            (b"client+id=no", "client_id", None),
        ] {
            assert_eq!(
                field(form, name).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(form)
            );
        }
    }

    /// The `token_form` fuzz target's property "a field read as present is not empty" failed
    /// on `Basic Og==`, which made an assertion request a secret request.
    #[test]
    fn empty_basic_credentials_read_as_absent() {
        let form = b"client_assertion=a.b.c&client_assertion_type=t";
        let req = TokenRequest::from_form(form, Some("Basic Og=="));
        assert_eq!(req.client_id, None);
        assert_eq!(req.client_secret, None);
        assert_eq!(req.client_assertion.as_deref(), Some("a.b.c"));
        // base64("app:") and base64(":s"): the non-empty half still counts.
        let req = TokenRequest::from_form(b"", Some("Basic YXBwOg=="));
        assert_eq!(
            (req.client_id.as_deref(), req.client_secret),
            (Some("app"), None)
        );
        let req = TokenRequest::from_form(b"", Some("Basic OnM="));
        assert_eq!(
            (req.client_id, req.client_secret.as_deref()),
            (None, Some("s"))
        );
    }
}
