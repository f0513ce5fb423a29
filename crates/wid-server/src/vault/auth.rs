//! Who calls a vault, and whether they may: the 401 challenge for the bodiless first
//! request, bearer tokens from wid's identity plane for the Key Vault resource, then RBAC
//! data actions or the vault's access policies, as the vault's mode says.

use super::audit::Audit;
use super::error::VaultError;
use super::VaultHost;
use crate::access_token::{self, TokenError};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use wid_core::model::Vault;
use wid_core::seal::{Kek, SealError};
use wid_core::vault_access::VaultOp;
use wid_core::vault_audit::Decision;

/// A live vault with its data key opened, cached like every hot-path read.
pub struct OpenVault {
    pub vault: Vault,
    pub data_key: Kek,
}

#[derive(Clone)]
pub struct VaultCaller {
    pub object_id: String,
    pub app_id: String,
    pub tenant_id: String,
    pub vault: Arc<Option<OpenVault>>,
}

impl VaultCaller {
    pub fn open(&self) -> Result<&OpenVault, VaultError> {
        self.vault
            .as_ref()
            .as_ref()
            .ok_or_else(VaultError::internal)
    }
}

pub fn challenge(state: &AppState) -> String {
    format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        state.cloud.authority(),
        state.tenant.id,
        state.cloud.keyvault_resource()
    )
}

fn unauthorized(state: &AppState, message: &str) -> VaultError {
    VaultError::unauthorized(challenge(state), message)
}

/// Signature, issuer and audience; verified once per token and cached, since a workload
/// presents the same token for an hour. The time window is checked on every request.
fn refusal(state: &AppState, e: TokenError) -> VaultError {
    let resource = state.cloud.keyvault_resource();
    let message = match e {
        TokenError::Malformed | TokenError::MissingClaims => {
            "AKV10022: Invalid token: the token is malformed or lacks claims.".to_owned()
        }
        TokenError::UnknownKey | TokenError::BadSignature => {
            "AKV10022: Invalid token: the signature does not verify.".to_owned()
        }
        TokenError::Issuer { found } => format!(
            "AKV10032: Invalid issuer. Expected one of {}, found {found}.",
            state.cloud.access_token_issuer(&state.tenant.id)
        ),
        TokenError::Audience { found } => {
            format!("AKV10022: Invalid audience. Expected {resource}, found: {found}.")
        }
        TokenError::Window(_) => {
            "AKV10022: Invalid token: the token is expired or not yet valid.".to_owned()
        }
    };
    unauthorized(state, &message)
}

pub async fn load_vault(state: &AppState, name: &str) -> Result<Option<OpenVault>, VaultError> {
    let Some(vault) = state
        .store
        .vault(name)
        .await?
        .filter(|v| v.deleted_at.is_none())
    else {
        return Ok(None);
    };
    let data_key = open_data_key(state, &vault).map_err(|_| VaultError::internal())?;
    Ok(Some(OpenVault { vault, data_key }))
}

/// The vault's data key, which its secret values are sealed under, opened with the
/// installation's key-encryption key. Every plane that reads or writes values opens it here.
pub fn open_data_key(state: &AppState, vault: &Vault) -> Result<Kek, SealError> {
    let key = state
        .kek
        .open(
            &vault.sealed_data_key,
            &crate::keyring::vault_data_key_purpose(&vault.name),
        )
        .map_err(|e| {
            tracing::error!(error = %e, vault = %vault.name, "cannot open the vault's data key");
            e
        })?;
    Kek::from_bytes(&key)
}

/// A handler's caller: the one its route's guard authenticated and authorized (see
/// [`guard`]). A handler no guard ran before refuses, whatever it was asked.
impl<S: Send + Sync> FromRequestParts<S> for VaultCaller {
    type Rejection = VaultError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, VaultError> {
        parts.extensions.remove::<VaultCaller>().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a vault handler ran without an authorization decision");
            VaultError::forbidden("ForbiddenByRbac", "The request was not authorized.")
        })
    }
}

/// The state the guard needs, put into every vault request by the plane's router.
#[derive(Clone)]
pub struct GuardState(pub AppState);

/// Authenticates the caller, then checks `op` on the object the route captured (or the
/// vault, for routes that name none) before the handler runs; the request's audit event is
/// recorded from what it decided and how the request was answered.
pub async fn guard(op: VaultOp, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(state) = parts.extensions.get::<GuardState>().map(|s| s.0.clone()) else {
        return VaultError::internal().into_response();
    };
    let mut audit = Audit::begin(&state, &parts, op);
    let host = parts.extensions.get::<VaultHost>().cloned();
    let mut caller = None;
    let decided = async {
        let authenticated = authenticate(&mut parts, &state).await?;
        if let Some(audit) = audit.as_mut() {
            audit.caller(&authenticated);
        }
        let caller = caller.insert(authenticated);
        let Path(captures) =
            <Path<Vec<(String, String)>> as FromRequestParts<()>>::from_request_parts(
                &mut parts,
                &(),
            )
            .await
            .map_err(|_| VaultError::bad_parameter("The request path could not be decoded."))?;
        let capture = |name: &str| {
            captures
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let object = capture("name");
        if let (Some(audit), Some(name)) = (audit.as_mut(), object) {
            audit.item(op, parts.method.as_str(), name, capture("version"));
        }
        let rbac = caller.open()?.vault.settings.enable_rbac_authorization;
        let allowed = authorize(&state, caller, op, object).await;
        if let Some(audit) = audit.as_mut() {
            let ok = allowed.is_ok();
            audit.decided(if rbac {
                Decision::Rbac(ok)
            } else {
                Decision::AccessPolicy(ok)
            });
        }
        allowed
    }
    .await;
    let vault = caller.as_ref().map(|c| c.vault.clone());
    let (response, description) = match decided {
        Ok(()) => {
            if let Some(caller) = caller {
                parts.extensions.insert(caller);
            }
            (next.run(Request::from_parts(parts, body)).await, None)
        }
        Err(e) => {
            let description = audit.is_some().then(|| e.message.clone());
            (e.into_response(), description)
        }
    };
    if let Some(audit) = audit {
        let status = response.status().as_u16();
        record(&state, audit, vault, host, op, status, description).await;
    }
    response
}

/// Stores the event under the vault the request was for: the caller's, once a token
/// verified, else the one the host names (a request refused before that, such as the
/// challenge's, still happened at that vault). Nothing is recorded for a vault that does
/// not exist.
async fn record(
    state: &AppState,
    audit: Audit,
    vault: Option<Arc<Option<OpenVault>>>,
    host: Option<VaultHost>,
    op: VaultOp,
    status: u16,
    description: Option<String>,
) {
    let vault = match (vault, host) {
        (Some(vault), _) => vault,
        (None, Some(VaultHost(name))) => {
            match state
                .vaults
                .get_or_load(&name, || load_vault(state, &name))
                .await
            {
                Ok(vault) => vault,
                Err(_) => return,
            }
        }
        (None, None) => return,
    };
    let Some(open) = vault.as_ref() else {
        return;
    };
    let event = audit.finish(
        state,
        &open.vault,
        op.collection().segment(),
        status,
        description,
    );
    state
        .vault_events
        .record(event, &state.metrics, state.now());
}

/// For a path no route serves: the caller's token is checked as on every route, and the
/// answer is the challenge or nothing.
pub async fn authenticate_only(parts: &mut Parts) -> Result<(), VaultError> {
    let state = parts
        .extensions
        .get::<GuardState>()
        .map(|s| s.0.clone())
        .ok_or_else(VaultError::internal)?;
    authenticate(parts, &state).await.map(drop)
}

async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<VaultCaller, VaultError> {
    let host = parts
        .extensions
        .get::<VaultHost>()
        .cloned()
        .ok_or_else(VaultError::not_found_route)?;
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = header.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return Err(unauthorized(
            state,
            "AKV10000: Request is missing a Bearer or PoP token.",
        ));
    };
    let token = token.trim();
    // Keyed by the token's digest: exact, and small whatever the token's size.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let resource = state.cloud.keyvault_resource();
    let claims = state
        .verified_tokens
        .get_or_load(&wid_jose::b64::encode(digest.as_ref()), || async {
            access_token::verify(state, token, |aud| aud.trim_end_matches('/') == resource)
                .map_err(|e| refusal(state, e))
        })
        .await?;
    access_token::check_window(state, &claims).map_err(|e| refusal(state, e))?;
    let vault = state
        .vaults
        .get_or_load(&host.0, || load_vault(state, &host.0))
        .await?;
    match vault.as_ref() {
        None => return Err(VaultError::vault_not_found(&host.0)),
        Some(open) if !open.vault.tenant_id.eq_ignore_ascii_case(&claims.tid) => {
            return Err(unauthorized(
                state,
                "AKV10032: Invalid issuer: the token is for another tenant than the vault's.",
            ))
        }
        Some(_) => {}
    }
    Ok(VaultCaller {
        app_id: claims.app_id().to_owned(),
        object_id: claims.oid.clone(),
        tenant_id: claims.tid.clone(),
        vault,
    })
}

/// The vault's mode decides: RBAC data actions at the vault or the object, or an access
/// policy for the caller's object id. Denials carry what Azure's carry.
async fn authorize(
    state: &AppState,
    caller: &VaultCaller,
    op: VaultOp,
    object: Option<&str>,
) -> Result<(), VaultError> {
    let vault = &caller.open()?.vault;
    // Only a refusal names the caller; an allowed request does not pay for the text.
    let who = || {
        format!(
            "appid={};oid={};iss={}",
            caller.app_id,
            caller.object_id,
            state.cloud.access_token_issuer(&caller.tenant_id)
        )
    };
    let collection = op.collection().segment();
    if vault.settings.enable_rbac_authorization {
        let vault_id = wid_core::resource_id::vault(
            &vault.subscription_id,
            &vault.resource_group,
            &vault.name,
        );
        let resource = match object {
            Some(name) => format!(
                "{vault_id}/{collection}/{}",
                wid_core::resource_id::segment(name)
            ),
            None => vault_id,
        };
        let assignments = access_token::assignments_of(state, &caller.object_id).await?;
        if access_token::allows(&assignments, &resource, op.data_action(), true) {
            return Ok(());
        }
        return Err(VaultError::forbidden(
            "ForbiddenByRbac",
            format!(
                "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: {}\r\nAction: '{}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {};location={}\r\n",
                who(),
                op.data_action(),
                resource.to_ascii_lowercase(),
                vault.name,
                vault.location
            ),
        ));
    }
    let permitted = vault.settings.access_policies.iter().any(|p| {
        p.object_id.eq_ignore_ascii_case(&caller.object_id)
            && p.tenant_id.eq_ignore_ascii_case(&caller.tenant_id)
            && op.policy_permits(&p.permissions)
    });
    if permitted {
        Ok(())
    } else {
        Err(VaultError::forbidden(
            "ForbiddenByPolicy",
            format!(
                "The user, group or application '{}' does not have {collection} {} permission on key vault '{};location={}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                who(),
                op.policy_permission(),
                vault.name,
                vault.location
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_reached_without_the_guard_refuses() {
        use tower::ServiceExt;
        let app: axum::Router = axum::Router::new().route(
            "/secrets",
            axum::routing::get(|_: VaultCaller| async { "served" }),
        );
        let response = app
            .oneshot(
                Request::builder()
                    .uri("/secrets")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
    }
}
