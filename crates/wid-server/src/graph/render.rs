//! Directory objects in Graph v1.0's JSON shapes, with property names exactly as Graph's,
//! and the lookup of any directory object by object id.

use super::error::GraphError;
use crate::state::AppState;
use serde_json::{json, Value};
use wid_core::model::{
    AppFederatedCredential, AppServicePrincipal, Application, ApplicationPassword, ManagedIdentity,
    ServicePrincipal, User,
};
use wid_core::timefmt::rfc3339;

pub const USER_TYPE: &str = "#microsoft.graph.user";
pub const SERVICE_PRINCIPAL_TYPE: &str = "#microsoft.graph.servicePrincipal";
pub const APPLICATION_TYPE: &str = "#microsoft.graph.application";

pub fn user(u: &User) -> Value {
    json!({
        "id": u.object_id,
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": null,
        "mailNickname": u.mail_nickname,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": u.user_principal_name,
        "accountEnabled": u.account_enabled,
        "createdDateTime": rfc3339(u.created_at),
    })
}

fn service_principal_body(
    id: &str,
    app_id: &str,
    display_name: &str,
    tenant: &str,
    kind: &str,
    names: Vec<String>,
    alternative_names: Vec<String>,
) -> Value {
    json!({
        "id": id,
        "accountEnabled": true,
        "alternativeNames": alternative_names,
        "appDisplayName": display_name,
        "appId": app_id,
        "appOwnerOrganizationId": tenant,
        "appRoles": [],
        "displayName": display_name,
        "keyCredentials": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "servicePrincipalNames": names,
        "servicePrincipalType": kind,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
    })
}

/// A managed identity as Entra lists it: its client id and ARM id are its names.
pub fn identity_sp(mi: &ManagedIdentity) -> Value {
    let arm_id = wid_core::resource_id::identity(&mi.subscription_id, &mi.resource_group, &mi.name);
    let mut sp = service_principal_body(
        &mi.principal_id,
        &mi.client_id,
        &mi.name,
        &mi.tenant_id,
        "ManagedIdentity",
        vec![mi.client_id.clone(), arm_id.clone()],
        vec!["isExplicit=True".to_owned(), arm_id],
    );
    sp["appDisplayName"] = Value::Null;
    sp
}

/// The bootstrap principal, which has no application registration in the directory.
pub fn bootstrap_sp(sp: &ServicePrincipal) -> Value {
    service_principal_body(
        &sp.object_id,
        &sp.app_id,
        &sp.display_name,
        &sp.tenant_id,
        "Application",
        vec![sp.app_id.clone()],
        vec![],
    )
}

/// An application's service principal: named by the app id and the app's identifier URIs.
pub fn app_sp(sp: &AppServicePrincipal, app: Option<&Application>) -> Value {
    let mut names = vec![sp.app_id.clone()];
    names.extend(app.iter().flat_map(|a| a.identifier_uris.iter().cloned()));
    service_principal_body(
        &sp.object_id,
        &sp.app_id,
        &sp.display_name,
        &sp.tenant_id,
        "Application",
        names,
        vec![],
    )
}

pub fn password(p: &ApplicationPassword, secret_text: Option<&str>) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": p.display_name,
        "endDateTime": rfc3339(p.end_at),
        "hint": p.hint,
        "keyId": p.key_id,
        "secretText": secret_text,
        "startDateTime": rfc3339(p.start_at),
    })
}

pub fn application(a: &Application, passwords: &[ApplicationPassword], domain: &str) -> Value {
    json!({
        "id": a.object_id,
        "appId": a.app_id,
        "displayName": a.display_name,
        "identifierUris": a.identifier_uris,
        "signInAudience": a.sign_in_audience,
        "createdDateTime": rfc3339(a.created_at),
        "publisherDomain": domain,
        "passwordCredentials": passwords.iter().map(|p| password(p, None)).collect::<Vec<_>>(),
        "keyCredentials": [],
        "appRoles": [],
        "tags": [],
        "isFallbackPublicClient": null,
        "optionalClaims": null,
        "requiredResourceAccess": [],
        "api": {"acceptMappedClaims": null, "knownClientApplications": [], "oauth2PermissionScopes": [], "preAuthorizedApplications": [], "requestedAccessTokenVersion": null},
        "web": {"homePageUrl": null, "logoutUrl": null, "redirectUris": [], "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
        "publicClient": {"redirectUris": []},
        "spa": {"redirectUris": []},
    })
}

pub fn federated_credential(c: &AppFederatedCredential) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "issuer": c.issuer,
        "subject": c.subject,
        "description": c.description,
        "audiences": c.audiences,
    })
}

/// Every service principal of the tenant, in Graph's shape: managed identities, the
/// bootstrap principal, applications' principals.
pub async fn all_service_principals(
    state: &AppState,
    tenant: &str,
) -> Result<Vec<Value>, GraphError> {
    let mut out = Vec::new();
    for sp in state.store.list_service_principals(tenant).await? {
        out.push(bootstrap_sp(&sp));
    }
    let apps = state.store.list_applications(tenant).await?;
    for sp in state.store.list_app_service_principals(tenant).await? {
        let app = apps
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(&sp.app_id));
        out.push(app_sp(&sp, app));
    }
    for mi in state
        .store
        .identities_in_subscription(&state.subscription.id)
        .await?
        .into_iter()
        .filter(|mi| mi.tenant_id == tenant)
    {
        out.push(identity_sp(&mi));
    }
    Ok(out)
}

/// The service principal with this object id, of any kind.
pub async fn service_principal(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<Option<Value>, GraphError> {
    if let Some(mi) = state
        .store
        .identity_by_principal_id(id)
        .await?
        .filter(|mi| mi.tenant_id == tenant)
    {
        return Ok(Some(identity_sp(&mi)));
    }
    if let Some(sp) = state
        .store
        .service_principal_by_object_id(tenant, id)
        .await?
    {
        return Ok(Some(bootstrap_sp(&sp)));
    }
    if let Some(sp) = state.store.app_service_principal(tenant, id).await? {
        let app = state.store.application_by_app_id(&sp.app_id).await?;
        return Ok(Some(app_sp(&sp, app.as_ref())));
    }
    Ok(None)
}

/// Any directory object by object id, with its `@odata.type`.
pub async fn directory_object(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<Option<(&'static str, Value)>, GraphError> {
    if let Some(u) = state.store.user_by_object_id(tenant, id).await? {
        return Ok(Some((USER_TYPE, user(&u))));
    }
    if let Some(sp) = service_principal(state, tenant, id).await? {
        return Ok(Some((SERVICE_PRINCIPAL_TYPE, sp)));
    }
    if let Some(a) = state.store.application(tenant, id).await? {
        let passwords = state.store.application_passwords(&a.object_id).await?;
        return Ok(Some((
            APPLICATION_TYPE,
            application(&a, &passwords, &state.tenant.default_domain),
        )));
    }
    Ok(None)
}
