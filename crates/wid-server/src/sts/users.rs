//! User sign-in at the token endpoint: the resource-owner password grant, refresh tokens and
//! the device-code grant, for Entra's first-party public clients. All three end in the same
//! token response ([`user_tokens`]): a user access token for the resource asked for, an id
//! token and `client_info` for MSAL's account, and a new refresh token of the session.
//!
//! Which clients: wid has no public-client application registrations, so it accepts user
//! grants from the first-party public clients az, Azure PowerShell and VS Code use, by their
//! well-known ids ([`PUBLIC_CLIENTS`]); any other client id gets Entra's AADSTS700016.

use super::error::StsError;
use super::token::{resolve_user_tenant, Endpoint, Issued, TokenRequest, UserTokens};
use crate::activity::sign_ins::Attempt;
use crate::state::AppState;
use wid_core::model::{Tenant, User};
use wid_core::password::SignInState;
use wid_core::session::{self, DeviceCodeState, Poll, RefreshError, RefreshToken};
use wid_core::token::{self, SignedInUser, TokenSubject};
use wid_jose::HeaderParams;
use wid_store::Rotation;

pub const PASSWORD_GRANT: &str = "password";
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Entra's first-party public clients that sign users in to Azure: id and display name.
pub const PUBLIC_CLIENTS: &[(&str, &str)] = &[
    (
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "Microsoft Azure CLI",
    ),
    (
        "1950a258-227b-4e31-a9cf-717495945fc2",
        "Microsoft Azure PowerShell",
    ),
    ("aebc6443-996d-45c2-90f0-388ff96faa56", "Visual Studio Code"),
];

/// The display name of a public client wid signs users in to.
pub fn public_client(client_id: &str) -> Option<&'static str> {
    PUBLIC_CLIENTS
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(client_id))
        .map(|(_, name)| *name)
}

/// How the session of the tokens being issued continues.
enum Session {
    /// A new sign-in: a new refresh-token family.
    New,
    /// A redeemed refresh token: the next link of its family.
    Rotate {
        spent_hash: Vec<u8>,
        family_id: String,
        signed_in_at: i64,
    },
}

pub(super) fn internal(e: impl std::fmt::Display) -> StsError {
    tracing::error!(error = %e, "user token request failed");
    StsError::internal()
}

/// The client and tenant of a user request, checked in Entra's order.
pub(super) fn public_client_of<'a>(
    state: &'a AppState,
    tenant_segment: &str,
    client_id: Option<&str>,
) -> Result<(&'a Tenant, String), StsError> {
    let tenant = resolve_user_tenant(state, tenant_segment)?;
    let client_id = client_id.ok_or_else(|| StsError::missing_parameter("client_id"))?;
    if public_client(client_id).is_none() {
        return Err(StsError::not_a_public_client(client_id, &tenant.id));
    }
    Ok((tenant, client_id.to_lowercase()))
}

/// The resource a user request names (v2 `scope`, v1 `resource`), and its token audience.
pub(super) fn requested_resource(
    state: &AppState,
    tenant: &Tenant,
    endpoint: Endpoint,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<(String, String), StsError> {
    let resource = match endpoint {
        Endpoint::V2 => {
            let scope = scope.ok_or_else(|| StsError::missing_parameter("scope"))?;
            token::resource_from_user_scope(scope)
                .map_err(|e| StsError::scope(&e))?
                .unwrap_or_else(|| state.cloud.graph_resource())
        }
        Endpoint::V1 => resource
            .ok_or_else(|| StsError::missing_parameter("resource"))?
            .to_owned(),
    };
    let own = state.cloud.serves_resource(&resource);
    let audience = wid_core::resources::audience(&resource, own, &state.config.resources)
        .ok_or_else(|| StsError::resource_not_found(&resource, &tenant.id))?;
    Ok((resource, audience))
}

pub async fn issue(
    state: &AppState,
    tenant_segment: &str,
    req: &TokenRequest,
    endpoint: Endpoint,
    grant_type: &str,
    attempt: &mut Attempt,
) -> Result<Issued, StsError> {
    if endpoint == Endpoint::V2 && req.resource.is_some() {
        return Err(StsError::resource_not_supported());
    }
    let (tenant, client_id) = public_client_of(state, tenant_segment, req.client_id.as_deref())?;
    attempt.tenant(&tenant.id);
    // A device-code poll may leave the scope out: it was given when the flow started.
    let started_with = match (grant_type, &req.scope, &req.resource) {
        (DEVICE_CODE_GRANT, None, None) => Some(device_code_scope(state, req).await?),
        _ => None,
    };
    let (scope, resource) = match (&started_with, endpoint) {
        (Some(s), Endpoint::V2) => (Some(s.as_str()), None),
        (Some(s), Endpoint::V1) => (None, Some(s.as_str())),
        (None, _) => (req.scope.as_deref(), req.resource.as_deref()),
    };
    let (resource, audience) = requested_resource(state, tenant, endpoint, scope, resource)?;
    attempt.resource(&resource);
    let (user, session) = match grant_type {
        PASSWORD_GRANT => (password_user(state, tenant, req).await?, Session::New),
        REFRESH_TOKEN_GRANT => redeem_refresh(state, tenant, &client_id, req).await?,
        _ => (
            redeem_device_code(state, tenant, &client_id, req).await?,
            Session::New,
        ),
    };
    attempt.user(&user.object_id, &user.user_principal_name);
    user_tokens(
        state, tenant, &client_id, &user, resource, &audience, endpoint, session,
    )
    .await
}

/// Checks a user's password with the throttle: a locked account is refused whatever the
/// password, a wrong password counts, a right one clears the count. Unknown users cost one
/// verification too, so timing does not tell which names exist.
pub(super) async fn check_password(
    state: &AppState,
    tenant: &Tenant,
    username: &str,
    password: &str,
) -> Result<User, StsError> {
    let now = state.now();
    let found = state
        .store
        .user_by_upn(&tenant.id, username)
        .await
        .map_err(internal)?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let locked = found
        .as_ref()
        .is_some_and(|u| u.sign_in.check(now).is_err());
    let presented = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(hash) if !locked => wid_core::password::verify(&presented, &hash),
        _ => {
            wid_core::password::verify_nothing(&presented);
            false
        }
    })
    .await
    .map_err(internal)?;
    let Some(user) = found else {
        return Err(StsError::user_not_found(&tenant.id));
    };
    if locked {
        return Err(StsError::user_locked());
    }
    if !matches {
        record_sign_in(state, &user, |s| s.after_failure(now)).await?;
        tracing::info!(user = %user.object_id, "wrong password");
        return Err(StsError::wrong_password());
    }
    if !user.account_enabled {
        return Err(StsError::user_disabled());
    }
    if user.sign_in != SignInState::default() {
        record_sign_in(state, &user, |_| SignInState::default()).await?;
    }
    Ok(user)
}

/// Moves the user's throttle state with `next`, re-reading and recomputing when another
/// request changed it first, so concurrent failures all count.
async fn record_sign_in(
    state: &AppState,
    user: &User,
    next: impl Fn(&SignInState) -> SignInState,
) -> Result<(), StsError> {
    let mut seen = user.sign_in;
    for _ in 0..8 {
        if state
            .store
            .swap_sign_in_state(&user.tenant_id, &user.object_id, seen, next(&seen))
            .await
            .map_err(internal)?
        {
            return Ok(());
        }
        match state
            .store
            .user_by_object_id(&user.tenant_id, &user.object_id)
            .await
            .map_err(internal)?
        {
            Some(u) => seen = u.sign_in,
            None => return Ok(()),
        }
    }
    Err(internal("the sign-in state kept changing"))
}

async fn password_user(
    state: &AppState,
    tenant: &Tenant,
    req: &TokenRequest,
) -> Result<User, StsError> {
    let username = req
        .username
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("username"))?;
    let password = req
        .password
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("password"))?;
    check_password(state, tenant, username, password).await
}

/// The user and session of a presented refresh token. Whatever else the request says
/// (`username`, another resource) does not change whose token it is.
async fn redeem_refresh(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    req: &TokenRequest,
) -> Result<(User, Session), StsError> {
    let presented = req
        .refresh_token
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("refresh_token"))?;
    let hash = wid_core::secret::hash(presented);
    let record = state
        .store
        .refresh_token(&hash)
        .await
        .map_err(internal)?
        .filter(|r| r.tenant_id.eq_ignore_ascii_case(&tenant.id))
        .ok_or_else(StsError::malformed_grant)?;
    match session::check_refresh(&record, client_id, state.now()) {
        Ok(()) => {}
        Err(RefreshError::Replayed) => {
            revoke_family(state, &record.family_id).await?;
            tracing::warn!(user = %record.user_object_id, family = %record.family_id, "a spent refresh token was presented again; the session is revoked");
            return Err(StsError::refresh_replayed());
        }
        Err(RefreshError::Revoked) => return Err(StsError::grant_revoked()),
        Err(RefreshError::Inactive) => return Err(StsError::refresh_expired()),
        Err(RefreshError::TooOld) => return Err(StsError::session_too_old()),
        Err(RefreshError::OtherClient) => return Err(StsError::grant_of_other_client()),
    }
    let user = state
        .store
        .user_by_object_id(&tenant.id, &record.user_object_id)
        .await
        .map_err(internal)?;
    let Some(user) = user.filter(|u| u.account_enabled) else {
        revoke_family(state, &record.family_id).await?;
        return Err(StsError::user_disabled());
    };
    Ok((
        user,
        Session::Rotate {
            spent_hash: hash,
            family_id: record.family_id,
            signed_in_at: record.signed_in_at,
        },
    ))
}

async fn revoke_family(state: &AppState, family_id: &str) -> Result<(), StsError> {
    state
        .store
        .revoke_refresh_family(family_id)
        .await
        .map(|_| ())
        .map_err(internal)
}

/// The scope a device-code flow started with.
async fn device_code_scope(state: &AppState, req: &TokenRequest) -> Result<String, StsError> {
    let presented = req
        .device_code
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("device_code"))?;
    state
        .store
        .device_code(&wid_core::secret::hash(presented))
        .await
        .map_err(internal)?
        .map(|c| c.scope)
        .ok_or_else(StsError::bad_verification_code)
}

/// A poll of the device-code grant: tokens once the user approved, each code once.
async fn redeem_device_code(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    req: &TokenRequest,
) -> Result<User, StsError> {
    let presented = req
        .device_code
        .as_deref()
        .ok_or_else(|| StsError::missing_parameter("device_code"))?;
    let hash = wid_core::secret::hash(presented);
    let code = state
        .store
        .device_code(&hash)
        .await
        .map_err(internal)?
        .filter(|c| c.tenant_id.eq_ignore_ascii_case(&tenant.id))
        .ok_or_else(StsError::bad_verification_code)?;
    let user_object_id = match session::poll(&code, client_id, state.now()) {
        Poll::Issue { user_object_id } => user_object_id,
        Poll::Pending => return Err(StsError::authorization_pending()),
        Poll::Declined => return Err(StsError::authorization_declined()),
        Poll::Expired => return Err(StsError::device_code_expired()),
        Poll::BadCode => return Err(StsError::bad_verification_code()),
    };
    let approved = DeviceCodeState::Approved {
        user_object_id: user_object_id.clone(),
    };
    if !state
        .store
        .swap_device_code_state(&hash, &approved, &DeviceCodeState::Redeemed)
        .await
        .map_err(internal)?
    {
        return Err(StsError::bad_verification_code());
    }
    state
        .store
        .user_by_object_id(&tenant.id, &user_object_id)
        .await
        .map_err(internal)?
        .filter(|u| u.account_enabled)
        .ok_or_else(StsError::user_disabled)
}

/// The token response of a user grant; the refresh token is stored (or rotated) before
/// anything is signed, so a lost rotation race issues nothing.
#[allow(clippy::too_many_arguments)]
async fn user_tokens(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    user: &User,
    resource: String,
    audience: &str,
    endpoint: Endpoint,
    session: Session,
) -> Result<Issued, StsError> {
    let now = state.now();
    let refresh_token = wid_core::secret::generate().map_err(internal)?;
    let (family_id, signed_in_at, spent) = match session {
        Session::New => (wid_core::ids::random_uuid().to_string(), now, None),
        Session::Rotate {
            spent_hash,
            family_id,
            signed_in_at,
        } => (family_id, signed_in_at, Some(spent_hash)),
    };
    let record = RefreshToken {
        token_hash: wid_core::secret::hash(&refresh_token),
        family_id,
        tenant_id: tenant.id.clone(),
        user_object_id: user.object_id.clone(),
        client_id: client_id.to_owned(),
        signed_in_at,
        issued_at: now,
        spent: false,
        revoked: false,
    };
    match spent {
        None => state
            .store
            .insert_refresh_token(&record)
            .await
            .map_err(internal)?,
        Some(spent_hash) => {
            if state
                .store
                .rotate_refresh_token(&spent_hash, &record)
                .await
                .map_err(internal)?
                == Rotation::Lost
            {
                tracing::warn!(user = %user.object_id, "a refresh token was redeemed twice at once; the session is revoked");
                return Err(StsError::refresh_replayed());
            }
        }
    }
    let signed_in = SignedInUser {
        object_id: &user.object_id,
        upn: &user.user_principal_name,
        display_name: &user.display_name,
    };
    let subject = TokenSubject {
        tenant_id: &tenant.id,
        app_id: client_id,
        object_id: &user.object_id,
        auth_class: "0",
        managed_identity_resource_id: None,
        user: Some(signed_in),
    };
    let access = token::access_token_claims(
        &subject,
        audience,
        &state.cloud.access_token_issuer(&tenant.id),
        now,
        token::USER_TOKEN_LIFETIME,
        wid_core::ids::random_uuid().simple().to_string(),
    );
    let id = token::id_token_claims(
        &signed_in,
        &tenant.id,
        client_id,
        &state.cloud.v2_issuer(&tenant.id),
        now,
        wid_core::ids::random_uuid().simple().to_string(),
    );
    let header = HeaderParams {
        typ: Some("JWT".to_owned()),
        kid: None,
        x5t: true,
    };
    let keys = state.keys.get();
    let signing = keys.signing(now);
    let access_token = signing.sign_jwt(&access, &header).map_err(internal)?;
    let id_token = signing.sign_jwt(&id, &header).map_err(internal)?;
    let scope = match endpoint {
        Endpoint::V2 => format!(
            "{resource}/{} {resource}/.default",
            token::USER_IMPERSONATION
        ),
        Endpoint::V1 => token::USER_IMPERSONATION.to_owned(),
    };
    Ok(Issued {
        access_token,
        resource,
        issued_at: now,
        lifetime: token::USER_TOKEN_LIFETIME,
        user: Some(UserTokens {
            refresh_token,
            id_token,
            client_info: token::client_info(&user.object_id, &tenant.id),
            scope,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::public_client;

    #[test]
    fn public_clients() {
        let cases = [
            (
                "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                Some("Microsoft Azure CLI"),
            ),
            (
                "04B07795-8DDB-461A-BBEE-02F9E1BF7B46",
                Some("Microsoft Azure CLI"),
            ),
            (
                "1950a258-227b-4e31-a9cf-717495945fc2",
                Some("Microsoft Azure PowerShell"),
            ),
            ("00000000-0000-0000-0000-000000000000", None),
            ("", None),
        ];
        for (id, name) in cases {
            assert_eq!(public_client(id), name, "{id}");
        }
    }
}
