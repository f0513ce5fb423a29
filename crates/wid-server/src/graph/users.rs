//! `/me` and `/users`: the directory's users (`az ad signed-in-user show`, `az ad user …`).

use super::error::GraphError;
use super::odata::{entity_context, select, GraphJson, ListQuery};
use super::render;
use super::Authorized;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use wid_core::graph_filter::Shape;
use wid_core::model::User;
use wid_store::UserChanges;

const FILTERABLE: &[(&str, Shape)] = &[
    ("id", Shape::Single),
    ("userPrincipalName", Shape::Single),
    ("displayName", Shape::Single),
    ("mailNickname", Shape::Single),
];

fn entity(state: &AppState, u: &User, q: &ListQuery) -> Json<Value> {
    let mut body = select(render::user(u), q.select_of());
    body["@odata.context"] = entity_context(state, "users").into();
    Json(body)
}

/// The signed-in user. Graph answers an app-only token with 400: `/me` has no meaning
/// without a user.
pub async fn me(
    State(state): State<AppState>,
    auth: Authorized,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    if auth.caller.user.is_none() {
        return Err(GraphError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "/me request is only valid with delegated authentication flow.".into(),
        });
    }
    let user = state
        .store
        .user_by_object_id(&auth.caller.tenant_id, &auth.caller.object_id)
        .await?
        .ok_or_else(|| GraphError::not_found(&auth.caller.object_id))?;
    Ok(entity(&state, &user, &q))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let users = state.store.list_users(&auth.caller.tenant_id).await?;
    let items = users.iter().map(render::user).collect();
    Ok(Json(q.page(&state, "users", FILTERABLE, items)?))
}

/// A user by object id or UPN, as Graph addresses them.
async fn find(state: &AppState, tenant: &str, id: &str) -> Result<User, GraphError> {
    let found = if id.contains('@') {
        state.store.user_by_upn(tenant, id).await?
    } else {
        state.store.user_by_object_id(tenant, id).await?
    };
    found.ok_or_else(|| GraphError::not_found(id))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let user = find(&state, &auth.caller.tenant_id, &id).await?;
    Ok(entity(&state, &user, &q))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// `forceChangePasswordNextSignIn` is accepted and ignored: wid's sign-in has no
    /// password-change step.
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    account_enabled: Option<bool>,
    display_name: Option<String>,
    mail_nickname: Option<String>,
    user_principal_name: Option<String>,
    password_profile: Option<PasswordProfile>,
}

fn invalid(property: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{property}' of resource 'User'."
    ))
}

/// Checks the password's complexity and hashes it off the async workers (Argon2id is slow
/// on purpose).
async fn password_hash(password: String) -> Result<String, GraphError> {
    if wid_core::password::check_complexity(&password).is_err() {
        return Err(GraphError::bad_request(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    tokio::task::spawn_blocking(move || wid_core::password::hash(&password))
        .await
        .map_err(|_| GraphError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "hashing a password failed");
            GraphError::internal()
        })
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    GraphJson(body): GraphJson<NewUser>,
) -> Result<Response, GraphError> {
    let nonempty = |v: Option<String>, name: &str| {
        v.filter(|v| !v.trim().is_empty())
            .ok_or_else(|| invalid(name))
    };
    let upn = nonempty(body.user_principal_name, "userPrincipalName")?;
    let display_name = nonempty(body.display_name, "displayName")?;
    let mail_nickname = nonempty(body.mail_nickname, "mailNickname")?;
    let account_enabled = body
        .account_enabled
        .ok_or_else(|| invalid("accountEnabled"))?;
    let password = body
        .password_profile
        .and_then(|p| p.password)
        .ok_or_else(|| invalid("passwordProfile"))?;
    match upn.rsplit_once('@') {
        Some((name, d)) if !name.is_empty() && d.eq_ignore_ascii_case(&state.tenant.default_domain) => {}
        _ => {
            return Err(GraphError::bad_request(
                "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
            ))
        }
    }
    let user = User {
        object_id: wid_core::ids::random_uuid().to_string(),
        tenant_id: auth.caller.tenant_id.clone(),
        user_principal_name: upn,
        display_name,
        mail_nickname,
        account_enabled,
        password_hash: password_hash(password).await?,
        sign_in: Default::default(),
        created_at: state.now(),
    };
    state.store.insert_user(&user).await.map_err(|e| match e {
        wid_store::StoreError::Conflict(_) => GraphError::same_key(
            "Another object with the same value for property userPrincipalName already exists.",
        ),
        other => other.into(),
    })?;
    let mut body = render::user(&user);
    body["@odata.context"] = entity_context(&state, "users").into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPatch {
    display_name: Option<String>,
    account_enabled: Option<bool>,
    password_profile: Option<PasswordProfile>,
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<UserPatch>,
) -> Result<StatusCode, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let user = find(&state, tenant, &id).await?;
    let password_hash = match body.password_profile.and_then(|p| p.password) {
        Some(p) => Some(password_hash(p).await?),
        None => None,
    };
    // A new password or a disabled account ends the user's sessions, as in Entra: refresh
    // tokens issued before no longer redeem.
    let ends_sessions = password_hash.is_some() || body.account_enabled == Some(false);
    let changes = UserChanges {
        display_name: body.display_name,
        account_enabled: body.account_enabled,
        password_hash,
    };
    state
        .store
        .update_user(tenant, &user.object_id, &changes)
        .await?
        .ok_or_else(|| GraphError::not_found(&id))?;
    if ends_sessions {
        state.store.revoke_user_sessions(&user.object_id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let user = find(&state, tenant, &id).await?;
    if !state.store.delete_user(tenant, &user.object_id).await? {
        return Err(GraphError::not_found(&id));
    }
    state.store.revoke_user_sessions(&user.object_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
