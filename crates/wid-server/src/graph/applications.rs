//! `/applications`: application registrations (`az ad app create|show|list|update|delete`),
//! their client secrets (`az ad app credential reset`) and their federated identity
//! credentials (`az ad app federated-credential …`), under Entra's rules.
//!
//! Deleting an application deletes its service principal, secrets and credentials at once;
//! Entra keeps deleted applications in `deletedItems` for 30 days, wid does not.

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
use wid_core::model::{AppFederatedCredential, Application, ApplicationPassword};
use wid_store::{AppCredentialChanges, ApplicationChanges};

const FILTERABLE: &[(&str, Shape)] = &[
    ("id", Shape::Single),
    ("appId", Shape::Single),
    ("displayName", Shape::Single),
    ("signInAudience", Shape::Single),
    ("identifierUris", Shape::Collection),
];
const CREDENTIAL_FILTERABLE: &[(&str, Shape)] = &[
    ("name", Shape::Single),
    ("issuer", Shape::Single),
    ("subject", Shape::Single),
];
const SIGN_IN_AUDIENCES: &[&str] = &[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];
/// What a secret is valid for when `addPassword` names no end (Graph's default).
const DEFAULT_PASSWORD_LIFETIME: i64 = 2 * 365 * 86_400;
/// Graph's limit on identifier URIs of one application.
const MAX_IDENTIFIER_URIS: usize = 50;

async fn find(state: &AppState, tenant: &str, id: &str) -> Result<Application, GraphError> {
    state
        .store
        .application(tenant, id)
        .await?
        .ok_or_else(|| GraphError::not_found(id))
}

async fn body_of(state: &AppState, a: &Application) -> Result<Value, GraphError> {
    let passwords = state.store.application_passwords(&a.object_id).await?;
    Ok(render::application(
        a,
        &passwords,
        &state.tenant.default_domain,
    ))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let mut items = Vec::new();
    for a in state
        .store
        .list_applications(&auth.caller.tenant_id)
        .await?
    {
        items.push(body_of(&state, &a).await?);
    }
    Ok(Json(q.page(&state, "applications", FILTERABLE, items)?))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let a = find(&state, &auth.caller.tenant_id, &id).await?;
    let mut body = select(body_of(&state, &a).await?, q.select_of());
    body["@odata.context"] = entity_context(&state, "applications").into();
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationBody {
    display_name: Option<String>,
    identifier_uris: Option<Vec<String>>,
    sign_in_audience: Option<String>,
}

/// Checks identifier URIs: absolute, and used by no other application of the tenant.
async fn check_identifier_uris(
    state: &AppState,
    tenant: &str,
    uris: &[String],
    except: Option<&str>,
) -> Result<(), GraphError> {
    if uris.len() > MAX_IDENTIFIER_URIS {
        return Err(GraphError::bad_request(format!(
            "An application can have at most {MAX_IDENTIFIER_URIS} identifier URIs."
        )));
    }
    for uri in uris {
        let scheme_ok = uri
            .split_once("://")
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
        if !scheme_ok || uri.len() > 400 || uri.chars().any(char::is_whitespace) {
            return Err(GraphError::bad_request(format!(
                "Values of identifierUris property must use a verified domain of the organization or its subdomain: '{uri}'"
            )));
        }
    }
    for other in state.store.list_applications(tenant).await? {
        if Some(other.object_id.as_str()) == except {
            continue;
        }
        if other
            .identifier_uris
            .iter()
            .any(|u| uris.iter().any(|n| n.eq_ignore_ascii_case(u)))
        {
            return Err(GraphError::same_key(
                "Another object with the same value for property identifierUris already exists.",
            ));
        }
    }
    Ok(())
}

fn check_audience(audience: &str) -> Result<(), GraphError> {
    if SIGN_IN_AUDIENCES.contains(&audience) {
        Ok(())
    } else {
        Err(GraphError::bad_request(format!(
            "Invalid value specified for property 'signInAudience' of resource 'Application': '{audience}'."
        )))
    }
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    GraphJson(body): GraphJson<ApplicationBody>,
) -> Result<Response, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let display_name = body
        .display_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            GraphError::bad_request("Property 'displayName' is required for an application.")
        })?;
    let identifier_uris = body.identifier_uris.unwrap_or_default();
    check_identifier_uris(&state, tenant, &identifier_uris, None).await?;
    let sign_in_audience = body
        .sign_in_audience
        .unwrap_or_else(|| "AzureADMyOrg".to_owned());
    check_audience(&sign_in_audience)?;
    let app = Application {
        object_id: wid_core::ids::random_uuid().to_string(),
        tenant_id: tenant.clone(),
        app_id: wid_core::ids::random_uuid().to_string(),
        display_name,
        sign_in_audience,
        identifier_uris,
        created_at: state.now(),
    };
    state.store.insert_application(&app).await?;
    let mut body = body_of(&state, &app).await?;
    body["@odata.context"] = entity_context(&state, "applications").into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<ApplicationBody>,
) -> Result<StatusCode, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let app = find(&state, tenant, &id).await?;
    if let Some(uris) = &body.identifier_uris {
        check_identifier_uris(&state, tenant, uris, Some(&app.object_id)).await?;
    }
    if let Some(a) = &body.sign_in_audience {
        check_audience(a)?;
    }
    if body
        .display_name
        .as_deref()
        .is_some_and(|n| n.trim().is_empty())
    {
        return Err(GraphError::bad_request(
            "Property 'displayName' is required for an application.",
        ));
    }
    let changes = ApplicationChanges {
        display_name: body.display_name,
        sign_in_audience: body.sign_in_audience,
        identifier_uris: body.identifier_uris,
    };
    state
        .store
        .update_application(tenant, &app.object_id, &changes)
        .await?
        .ok_or_else(|| GraphError::not_found(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    if state
        .store
        .delete_application(&auth.caller.tenant_id, &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(GraphError::not_found(&id))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialBody {
    display_name: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddPassword {
    #[serde(default)]
    password_credential: Option<PasswordCredentialBody>,
}

fn instant(text: Option<&str>, property: &str) -> Result<Option<i64>, GraphError> {
    text.map(|t| {
        wid_core::timefmt::parse_rfc3339(t).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Invalid value specified for property '{property}' of resource 'PasswordCredential'."
            ))
        })
    })
    .transpose()
}

/// A new client secret. Its text is in this answer only; wid keeps its hash.
pub async fn add_password(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<AddPassword>,
) -> Result<Json<Value>, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let requested = body.password_credential.unwrap_or_default();
    let now = state.now();
    let start_at = instant(requested.start_date_time.as_deref(), "startDateTime")?.unwrap_or(now);
    let end_at = instant(requested.end_date_time.as_deref(), "endDateTime")?
        .unwrap_or(start_at + DEFAULT_PASSWORD_LIFETIME);
    if end_at <= start_at {
        return Err(GraphError::bad_request(
            "The end date of a password credential must be later than its start date.",
        ));
    }
    let secret = wid_core::secret::generate().map_err(|_| GraphError::internal())?;
    let password = ApplicationPassword {
        key_id: wid_core::ids::random_uuid().to_string(),
        display_name: requested.display_name,
        hint: secret.chars().take(3).collect(),
        secret_hash: wid_core::secret::hash(&secret),
        start_at,
        end_at,
    };
    if !state
        .store
        .add_application_password(tenant, &id, &password)
        .await?
    {
        return Err(GraphError::not_found(&id));
    }
    let mut body = render::password(&password, Some(&secret));
    body["@odata.context"] = format!(
        "{}v1.0/$metadata#microsoft.graph.passwordCredential",
        state.cloud.graph_resource()
    )
    .into();
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovePassword {
    key_id: String,
}

pub async fn remove_password(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<RemovePassword>,
) -> Result<StatusCode, GraphError> {
    let app = find(&state, &auth.caller.tenant_id, &id).await?;
    if state
        .store
        .remove_application_password(&app.object_id, &body.key_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(GraphError::bad_request(format!(
            "No password credential found with keyId '{}'.",
            body.key_id
        )))
    }
}

fn credentials_path(app: &Application) -> String {
    format!(
        "applications/{}/federatedIdentityCredentials",
        app.object_id
    )
}

pub async fn list_credentials(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let app = find(&state, &auth.caller.tenant_id, &id).await?;
    let items = state
        .store
        .app_federated_credentials(&app.object_id)
        .await?
        .iter()
        .map(render::federated_credential)
        .collect();
    Ok(Json(q.page(
        &state,
        &credentials_path(&app),
        CREDENTIAL_FILTERABLE,
        items,
    )?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialBody {
    name: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    audiences: Option<Vec<String>>,
    description: Option<String>,
}

fn check_credential(issuer: &str, subject: &str, audiences: &[String]) -> Result<(), GraphError> {
    wid_core::federation::validate(issuer, subject, audiences).map_err(GraphError::from)
}

pub async fn create_credential(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<CredentialBody>,
) -> Result<Response, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let app = find(&state, tenant, &id).await?;
    let name = body.name.unwrap_or_default();
    if wid_core::names::federated_credential(&name).is_err() {
        return Err(GraphError::bad_request(format!(
            "Invalid value specified for property 'name' of resource 'FederatedIdentityCredential': '{name}'. \
             Names are 3 to 120 characters: letters, digits, '-' and '_', starting with a letter or digit."
        )));
    }
    let credential = AppFederatedCredential {
        id: wid_core::ids::random_uuid().to_string(),
        name,
        issuer: body.issuer.unwrap_or_default(),
        subject: body.subject.unwrap_or_default(),
        audiences: body.audiences.unwrap_or_default(),
        description: body.description,
    };
    check_credential(
        &credential.issuer,
        &credential.subject,
        &credential.audiences,
    )?;
    state
        .store
        .insert_app_federated_credential(tenant, &app.object_id, &credential)
        .await
        .map_err(|e| match e {
            wid_store::StoreError::Conflict(_) => GraphError::same_key(format!(
                "FederatedIdentityCredential with name {} already exists.",
                credential.name
            )),
            other => other.into(),
        })?
        .ok_or_else(|| GraphError::not_found(&id))?;
    let mut body = render::federated_credential(&credential);
    body["@odata.context"] = entity_context(&state, &credentials_path(&app)).into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn find_credential(
    state: &AppState,
    app: &Application,
    id_or_name: &str,
) -> Result<AppFederatedCredential, GraphError> {
    state
        .store
        .app_federated_credentials(&app.object_id)
        .await?
        .into_iter()
        .find(|c| c.id.eq_ignore_ascii_case(id_or_name) || c.name.eq_ignore_ascii_case(id_or_name))
        .ok_or_else(|| GraphError::not_found(id_or_name))
}

pub async fn get_credential(
    State(state): State<AppState>,
    auth: Authorized,
    Path((id, fic)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let app = find(&state, &auth.caller.tenant_id, &id).await?;
    let c = find_credential(&state, &app, &fic).await?;
    let mut body = render::federated_credential(&c);
    body["@odata.context"] = entity_context(&state, &credentials_path(&app)).into();
    Ok(Json(body))
}

pub async fn update_credential(
    State(state): State<AppState>,
    auth: Authorized,
    Path((id, fic)): Path<(String, String)>,
    GraphJson(body): GraphJson<CredentialBody>,
) -> Result<StatusCode, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let app = find(&state, tenant, &id).await?;
    let current = find_credential(&state, &app, &fic).await?;
    if body.name.as_deref().is_some_and(|n| n != current.name) {
        return Err(GraphError::bad_request(
            "The name of a federated identity credential cannot be changed.",
        ));
    }
    let issuer = body
        .issuer
        .clone()
        .unwrap_or_else(|| current.issuer.clone());
    let subject = body
        .subject
        .clone()
        .unwrap_or_else(|| current.subject.clone());
    let audiences = body
        .audiences
        .clone()
        .unwrap_or_else(|| current.audiences.clone());
    check_credential(&issuer, &subject, &audiences)?;
    let changes = AppCredentialChanges {
        issuer: body.issuer,
        subject: body.subject,
        audiences: body.audiences,
        description: body.description,
    };
    state
        .store
        .update_app_federated_credential(tenant, &app.object_id, &current.id, &changes)
        .await?
        .ok_or_else(|| GraphError::not_found(&fic))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_credential(
    State(state): State<AppState>,
    auth: Authorized,
    Path((id, fic)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    let app = find(&state, &auth.caller.tenant_id, &id).await?;
    if state
        .store
        .delete_app_federated_credential(&app.object_id, &fic)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(GraphError::not_found(&fic))
    }
}
