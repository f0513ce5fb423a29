//! The token endpoint: who is asking, for what, and the token they get. The checks run in
//! the order Entra runs them (contracts.md §1.5), so a request with several faults gets the
//! same first error it would get from Entra.

use super::error::StsError;
use crate::state::AppState;
use base64::Engine;
use wid_core::model::Tenant;
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
    pub scope: Option<String>,
    pub resource: Option<String>,
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
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let mut req = Self {
            grant_type: get("grant_type"),
            client_id: get("client_id"),
            client_secret: get("client_secret"),
            client_assertion: get("client_assertion"),
            scope: get("scope"),
            resource: get("resource"),
        };
        if let Some((id, secret)) = authorization.and_then(basic_credentials) {
            req.client_id.get_or_insert(id);
            req.client_secret.get_or_insert(secret);
        }
        req
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

pub async fn issue(
    state: &AppState,
    tenant_segment: &str,
    req: &TokenRequest,
    endpoint: Endpoint,
) -> Result<Issued, StsError> {
    let grant_type = req
        .grant_type
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(StsError::unsupported_grant_type(grant_type));
    }
    if endpoint == Endpoint::V2 && req.resource.is_some() {
        return Err(StsError::resource_not_supported());
    }
    let tenant = resolve_tenant(state, tenant_segment)?;
    let client_id = req
        .client_id
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("client_id"))?;
    let resource = match endpoint {
        Endpoint::V2 => {
            let scope = req
                .scope
                .as_deref()
                .ok_or_else(|| StsError::missing_parameter("scope"))?;
            token::resource_from_scope(scope).map_err(|e| StsError::scope(&e))?
        }
        Endpoint::V1 => req
            .resource
            .clone()
            .ok_or_else(|| StsError::missing_parameter("resource"))?,
    };
    let principal = state
        .store
        .service_principal_by_app_id(&tenant.id, client_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "service principal lookup failed");
            StsError::internal()
        })?
        .ok_or_else(|| StsError::application_not_found(client_id, &tenant.id))?;
    match (&req.client_secret, &req.client_assertion) {
        (Some(secret), _) => {
            if !wid_core::secret::verify(secret, &principal.secret_hash) {
                return Err(StsError::invalid_client_secret(&principal.app_id));
            }
        }
        _ => return Err(StsError::missing_client_credential()),
    }
    if !state.cloud.is_known_resource(&resource) {
        return Err(StsError::resource_not_found(&resource, &tenant.id));
    }
    let now = state.now();
    let lifetime = token::SERVICE_PRINCIPAL_TOKEN_LIFETIME;
    let subject = TokenSubject {
        tenant_id: &tenant.id,
        app_id: &principal.app_id,
        object_id: &principal.object_id,
        auth_class: "1",
        managed_identity_resource_id: None,
    };
    let claims = token::access_token_claims(
        &subject,
        &resource,
        &state.cloud.access_token_issuer(&tenant.id),
        now,
        lifetime,
        uuid::Uuid::new_v4().simple().to_string(),
    );
    let header = HeaderParams {
        typ: Some("JWT".to_owned()),
        kid: None,
        x5t: true,
    };
    let access_token = state
        .keys
        .signing()
        .sign_jwt(&claims, &header)
        .map_err(|e| {
            tracing::error!(error = %e, "signing failed");
            StsError::internal()
        })?;
    Ok(Issued {
        access_token,
        resource,
        issued_at: now,
        lifetime,
    })
}
