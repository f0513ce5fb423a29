//! The management plane: an ARM-compatible REST API for subscriptions, resource groups,
//! user-assigned identities and their federated credentials.

mod api_versions;
pub(crate) mod auth;
mod clusters;
mod credentials;
pub mod error;
mod groups;
mod identities;
mod metadata;
mod operations;
mod providers;
mod render;
mod request;
mod resources;
mod roles;
pub mod routes;
mod subscriptions;
mod vault_events;
mod vault_secrets;
mod vaults;

pub use auth::{authenticate, Caller};
pub use vaults::vault_uri;

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use error::ArmError;
use request::BodyLimit;
use routes::{action, listing, Access, Declared, GuardState, Routes};

macro_rules! sub {
    () => {
        "/subscriptions/{sub}"
    };
}
macro_rules! group {
    () => {
        concat!(sub!(), "/resourceGroups/{rg}")
    };
}
macro_rules! identity {
    () => {
        concat!(
            group!(),
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        )
    };
}
macro_rules! cluster {
    () => {
        concat!(
            group!(),
            "/providers/Microsoft.ContainerService/managedClusters/{name}"
        )
    };
}
macro_rules! vault {
    () => {
        concat!(group!(), "/providers/Microsoft.KeyVault/vaults/{name}")
    };
}

/// Role assignments and definitions at one scope: ARM hangs them off any id; wid serves them
/// on every kind of id it hosts (see [`roles`]).
macro_rules! role_routes {
    ($routes:expr, $scope:expr) => {
        $routes
            .add(
                Method::GET,
                concat!($scope, "/providers/Microsoft.Authorization/roleAssignments"),
                action("Microsoft.Authorization/roleAssignments/read", $scope),
                roles::list_assignments,
            )
            .add(
                Method::GET,
                concat!(
                    $scope,
                    "/providers/Microsoft.Authorization/roleAssignments/{assignment}"
                ),
                action("Microsoft.Authorization/roleAssignments/read", $scope),
                roles::show_assignment,
            )
            .add(
                Method::PUT,
                concat!(
                    $scope,
                    "/providers/Microsoft.Authorization/roleAssignments/{assignment}"
                ),
                action("Microsoft.Authorization/roleAssignments/write", $scope),
                roles::create_assignment,
            )
            .add(
                Method::DELETE,
                concat!(
                    $scope,
                    "/providers/Microsoft.Authorization/roleAssignments/{assignment}"
                ),
                action("Microsoft.Authorization/roleAssignments/delete", $scope),
                roles::delete_assignment,
            )
            .add(
                Method::GET,
                concat!($scope, "/providers/Microsoft.Authorization/roleDefinitions"),
                action("Microsoft.Authorization/roleDefinitions/read", $scope),
                roles::list_definitions,
            )
            .add(
                Method::GET,
                concat!(
                    $scope,
                    "/providers/Microsoft.Authorization/roleDefinitions/{definition}"
                ),
                action("Microsoft.Authorization/roleDefinitions/read", $scope),
                roles::show_definition,
            )
    };
}

/// Every management route with its requirement: action and scope as ARM defines them for
/// the resource type, the scope built from the route's captures.
fn routes() -> Routes {
    let r = Routes::new()
        .add(Method::GET, "/tenants", Access::AnyPrincipal, subscriptions::tenants)
        .add(Method::GET, "/subscriptions", Access::AnyPrincipal, subscriptions::list)
        .add(
            Method::GET,
            sub!(),
            action("Microsoft.Resources/subscriptions/read", sub!()),
            subscriptions::show,
        )
        .add(
            Method::GET,
            concat!(sub!(), "/locations"),
            action("Microsoft.Resources/subscriptions/locations/read", sub!()),
            providers::locations,
        )
        // Resource providers: every one wid serves is registered; registering is therefore
        // a write that changes nothing, allowed to whoever may write the subscription.
        .add(
            Method::GET,
            concat!(sub!(), "/providers"),
            action("Microsoft.Resources/subscriptions/providers/read", sub!()),
            providers::list,
        )
        .add(
            Method::GET,
            concat!(sub!(), "/providers/{namespace}"),
            action("Microsoft.Resources/subscriptions/providers/read", sub!()),
            providers::show,
        )
        .add(
            Method::POST,
            concat!(sub!(), "/providers/{namespace}/register"),
            action("Microsoft.Resources/subscriptions/providers/register/action", sub!()),
            providers::show,
        )
        .add(
            Method::POST,
            concat!(sub!(), "/providers/Microsoft.Wid/rotateKeyEncryptionKey"),
            action("Microsoft.Wid/rotateKeyEncryptionKey/action", sub!()),
            subscriptions::rotate_key_encryption_key,
        )
        // Every resource, of any type: each shown only to callers who may read it.
        .add(
            Method::GET,
            concat!(sub!(), "/resources"),
            listing("Microsoft.Resources/subscriptions/resources/read", sub!()),
            resources::list_in_subscription,
        )
        .add(
            Method::GET,
            concat!(group!(), "/resources"),
            listing(
                "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
                group!(),
            ),
            resources::list_in_group,
        )
        // Resource groups.
        .add(
            Method::GET,
            concat!(sub!(), "/resourceGroups"),
            action("Microsoft.Resources/subscriptions/resourceGroups/read", sub!()),
            groups::list,
        )
        .add(
            Method::GET,
            group!(),
            action("Microsoft.Resources/subscriptions/resourceGroups/read", group!()),
            groups::show,
        )
        .add(
            Method::HEAD,
            group!(),
            action("Microsoft.Resources/subscriptions/resourceGroups/read", group!()),
            groups::exists,
        )
        .add(
            Method::PUT,
            group!(),
            action("Microsoft.Resources/subscriptions/resourceGroups/write", group!()),
            groups::put,
        )
        .add(
            Method::PATCH,
            group!(),
            action("Microsoft.Resources/subscriptions/resourceGroups/write", group!()),
            groups::patch,
        )
        .add(
            Method::DELETE,
            group!(),
            action("Microsoft.Resources/subscriptions/resourceGroups/delete", group!()),
            groups::delete,
        )
        // User-assigned identities and their federated credentials.
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/read", sub!()),
            identities::list_in_subscription,
        )
        .add(
            Method::GET,
            concat!(group!(), "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/read", group!()),
            identities::list_in_group,
        )
        .add(
            Method::GET,
            identity!(),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/read", identity!()),
            identities::show,
        )
        .add(
            Method::PUT,
            identity!(),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/write", identity!()),
            identities::put,
        )
        .add(
            Method::PATCH,
            identity!(),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/write", identity!()),
            identities::patch,
        )
        .add(
            Method::DELETE,
            identity!(),
            action("Microsoft.ManagedIdentity/userAssignedIdentities/delete", identity!()),
            identities::delete,
        )
        .add(
            Method::GET,
            concat!(identity!(), "/federatedIdentityCredentials"),
            action(
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                identity!(),
            ),
            credentials::list,
        )
        .add(
            Method::GET,
            concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            action(
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            ),
            credentials::show,
        )
        .add(
            Method::PUT,
            concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            action(
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            ),
            credentials::put,
        )
        .add(
            Method::DELETE,
            concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            action(
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
                concat!(identity!(), "/federatedIdentityCredentials/{fic}"),
            ),
            credentials::delete,
        )
        // Managed clusters and their OIDC issuers.
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.ContainerService/managedClusters"),
            action("Microsoft.ContainerService/managedClusters/read", sub!()),
            clusters::list_in_subscription,
        )
        .add(
            Method::GET,
            concat!(group!(), "/providers/Microsoft.ContainerService/managedClusters"),
            action("Microsoft.ContainerService/managedClusters/read", group!()),
            clusters::list_in_group,
        )
        .add(
            Method::GET,
            cluster!(),
            action("Microsoft.ContainerService/managedClusters/read", cluster!()),
            clusters::show,
        )
        .add(
            Method::PUT,
            cluster!(),
            action("Microsoft.ContainerService/managedClusters/write", cluster!()),
            clusters::put,
        )
        .add(
            Method::PATCH,
            cluster!(),
            action("Microsoft.ContainerService/managedClusters/write", cluster!()),
            clusters::patch,
        )
        .add(
            Method::DELETE,
            cluster!(),
            action("Microsoft.ContainerService/managedClusters/delete", cluster!()),
            clusters::delete,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/listClusterUserCredential"),
            action(
                "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
                cluster!(),
            ),
            clusters::list_user_credential,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/listClusterAdminCredential"),
            action(
                "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
                cluster!(),
            ),
            clusters::list_admin_credential,
        )
        .add(
            Method::GET,
            concat!(
                sub!(),
                "/providers/Microsoft.ContainerService/locations/{location}/operations/{operation}"
            ),
            Access::Operation {
                action: "Microsoft.ContainerService/locations/operations/read",
            },
            clusters::operation_status,
        )
        .add(
            Method::GET,
            concat!(
                sub!(),
                "/providers/Microsoft.ContainerService/locations/{location}/operationresults/{operation}"
            ),
            Access::Operation {
                action: "Microsoft.ContainerService/locations/operationresults/read",
            },
            clusters::operation_result,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/rotateServiceAccountSigningKeys"),
            action(
                "Microsoft.ContainerService/managedClusters/rotateServiceAccountSigningKeys/action",
                cluster!(),
            ),
            clusters::rotate_signing_keys,
        )
        .add(
            Method::GET,
            concat!(cluster!(), "/issuerKeys"),
            action("Microsoft.ContainerService/managedClusters/issuerKeys/read", cluster!()),
            clusters::list_keys,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/issuerKeys"),
            action("Microsoft.ContainerService/managedClusters/issuerKeys/write", cluster!()),
            clusters::add_key,
        )
        .add(
            Method::DELETE,
            concat!(cluster!(), "/issuerKeys/{kid}"),
            action(
                "Microsoft.ContainerService/managedClusters/issuerKeys/delete",
                concat!(cluster!(), "/issuerKeys/{kid}"),
            ),
            clusters::remove_key,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/exportServiceAccountSigningKey"),
            action(
                "Microsoft.ContainerService/managedClusters/exportServiceAccountSigningKey/action",
                cluster!(),
            ),
            clusters::export_signing_key,
        )
        .add(
            Method::POST,
            concat!(cluster!(), "/serviceAccountToken"),
            action(
                "Microsoft.ContainerService/managedClusters/serviceAccountToken/action",
                cluster!(),
            ),
            clusters::service_account_token,
        )
        // Key vaults.
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.KeyVault/vaults"),
            action("Microsoft.KeyVault/vaults/read", sub!()),
            vaults::list_in_subscription,
        )
        .add(
            Method::GET,
            concat!(group!(), "/providers/Microsoft.KeyVault/vaults"),
            action("Microsoft.KeyVault/vaults/read", group!()),
            vaults::list_in_group,
        )
        .add(
            Method::GET,
            vault!(),
            action("Microsoft.KeyVault/vaults/read", vault!()),
            vaults::show,
        )
        .add(
            Method::PUT,
            vault!(),
            action("Microsoft.KeyVault/vaults/write", vault!()),
            vaults::put,
        )
        .add(
            Method::PATCH,
            vault!(),
            action("Microsoft.KeyVault/vaults/write", vault!()),
            vaults::patch,
        )
        .add(
            Method::DELETE,
            vault!(),
            action("Microsoft.KeyVault/vaults/delete", vault!()),
            vaults::delete,
        )
        .add(
            Method::POST,
            concat!(sub!(), "/providers/Microsoft.KeyVault/checkNameAvailability"),
            action("Microsoft.KeyVault/checkNameAvailability/read", sub!()),
            vaults::check_name_availability,
        )
        .add(
            Method::GET,
            concat!(vault!(), "/auditEvents"),
            action("Microsoft.Insights/logs/AZKVAuditLogs/read", vault!()),
            vault_events::list,
        )
        // Secrets as ARM child resources: management actions, not data actions.
        .add(
            Method::GET,
            concat!(vault!(), "/secrets"),
            action("Microsoft.KeyVault/vaults/secrets/read", vault!()),
            vault_secrets::list,
        )
        .add(
            Method::GET,
            concat!(vault!(), "/secrets/{secret}"),
            action(
                "Microsoft.KeyVault/vaults/secrets/read",
                concat!(vault!(), "/secrets/{secret}"),
            ),
            vault_secrets::show,
        )
        .add(
            Method::PUT,
            concat!(vault!(), "/secrets/{secret}"),
            action(
                "Microsoft.KeyVault/vaults/secrets/write",
                concat!(vault!(), "/secrets/{secret}"),
            ),
            vault_secrets::put,
        )
        .add(
            Method::PATCH,
            concat!(vault!(), "/secrets/{secret}"),
            action(
                "Microsoft.KeyVault/vaults/secrets/write",
                concat!(vault!(), "/secrets/{secret}"),
            ),
            vault_secrets::patch,
        )
        .add(
            Method::PUT,
            concat!(vault!(), "/accessPolicies/{kind}"),
            action("Microsoft.KeyVault/vaults/accessPolicies/write", vault!()),
            vaults::update_access_policies,
        )
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.KeyVault/deletedVaults"),
            action("Microsoft.KeyVault/deletedVaults/read", sub!()),
            vaults::list_deleted,
        )
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.KeyVault/deletedManagedHSMs"),
            action("Microsoft.KeyVault/deletedManagedHsms/read", sub!()),
            vaults::list_deleted_managed_hsms,
        )
        .add(
            Method::GET,
            concat!(sub!(), "/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"),
            action(
                "Microsoft.KeyVault/locations/deletedVaults/read",
                concat!(sub!(), "/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"),
            ),
            vaults::show_deleted,
        )
        .add(
            Method::POST,
            concat!(
                sub!(),
                "/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}/purge"
            ),
            action(
                "Microsoft.KeyVault/locations/deletedVaults/purge/action",
                concat!(sub!(), "/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"),
            ),
            vaults::purge,
        );
    let r = role_routes!(r, sub!());
    let r = role_routes!(r, group!());
    let r = role_routes!(r, identity!());
    let r = role_routes!(r, cluster!());
    let r = role_routes!(r, vault!());
    let r = role_routes!(r, concat!(vault!(), "/secrets/{secret}"));
    let r = role_routes!(r, concat!(vault!(), "/certificates/{certificate}"));
    role_routes!(r, concat!(vault!(), "/keys/{key}"))
}

/// The management plane's routes with their requirements, for tests that walk them.
pub fn route_table() -> Vec<Declared> {
    routes().into_parts().1
}

pub fn router(state: &AppState) -> Router<AppState> {
    let max_body = state.limits.max_body_bytes;
    let guard = GuardState(state.clone());
    routes()
        .into_parts()
        .0
        .merge(metadata::router())
        .layer(axum::middleware::from_fn(
            move |mut req: Request, next: Next| {
                req.extensions_mut().insert(BodyLimit(max_body));
                req.extensions_mut().insert(guard.clone());
                request_ids(req, next)
            },
        ))
        .layer(DefaultBodyLimit::max(max_body))
}

/// ARM's tracing headers, so a user can quote them back when something fails; they are the
/// ids the request was logged with.
async fn request_ids(req: Request, next: Next) -> Response {
    let ids = req
        .extensions()
        .get::<crate::request_log::RequestIds>()
        .cloned();
    let client_request = req.headers().get("x-ms-client-request-id").cloned();
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if let Some(ids) = ids {
        for (name, value) in [
            ("x-ms-request-id", ids.request),
            ("x-ms-correlation-request-id", ids.correlation),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
    if let Some(v) = client_request {
        headers.insert("x-ms-client-request-id", v);
    }
    response
}

/// ARM paths are case-insensitive in their fixed parts (`resourceGroups`, `providers`,
/// namespaces, types) and case-preserving in names. Lower-casing the fixed parts before
/// routing lets one route table serve every spelling clients use.
pub fn normalize_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let first = segments.first()?;
    if first.eq_ignore_ascii_case("tenants") && segments.len() == 1 {
        return Some("/tenants".to_owned());
    }
    if !first.eq_ignore_ascii_case("subscriptions") {
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    let mut fixed = true;
    let mut after_providers = false;
    for seg in &segments {
        if after_providers {
            out.push(seg.to_ascii_lowercase());
            after_providers = false;
            fixed = true;
            continue;
        }
        if fixed {
            let lower = seg.to_ascii_lowercase();
            after_providers = lower == "providers";
            fixed = after_providers;
            out.push(lower);
        } else {
            out.push((*seg).to_owned());
            fixed = true;
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// Unknown management paths answer in ARM's shape, anything else is a plain 404.
pub async fn fallback(req: Request) -> Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    if path.starts_with("/subscriptions") || path.starts_with("/tenants") {
        ArmError::not_found_route(path).into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

/// A list page's absolute `nextLink` (the SDKs follow it verbatim): the request's path with
/// its `api-version`, the page size, where the next page starts, and the query parameters in
/// `carried` the request gave.
fn next_link(
    state: &AppState,
    path: &str,
    query: &request::ArmQuery,
    top: usize,
    skiptoken: &str,
    carried: &[&str],
) -> Result<String, ArmError> {
    let top = top.to_string();
    let mut params = vec![
        ("api-version", query.get("api-version").unwrap_or_default()),
        ("$top", top.as_str()),
        ("$skiptoken", skiptoken),
    ];
    for name in carried {
        if let Some(value) = query.get(name) {
            params.push((name, value));
        }
    }
    let params = serde_urlencoded::to_string(params).map_err(|_| ArmError::internal())?;
    Ok(format!("{}{path}?{params}", state.cloud.public_url))
}

/// ARM answers a DELETE with 200 when something was deleted and 204 when there was nothing
/// to delete, so that retried deletes succeed.
fn delete_status(deleted: bool) -> axum::http::StatusCode {
    if deleted {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}

/// The subscription in the path, which must exist and belong to the caller's tenant.
fn subscription<'a>(state: &'a AppState, caller: &Caller, sub: &str) -> Result<&'a str, ArmError> {
    wid_core::names::subscription_id(sub)?;
    let known = &state.subscription;
    if known.id.eq_ignore_ascii_case(sub) && known.tenant_id == caller.tenant_id {
        Ok(&known.id)
    } else {
        Err(ArmError::subscription_not_found(sub))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    /// Registering checks each route's scope and version policy; building the table runs them.
    #[test]
    fn every_route_registers_with_its_requirement_and_version_policy() {
        assert!(!super::route_table().is_empty());
    }

    #[test]
    fn fixed_segments_are_lowercased_names_kept() {
        assert_eq!(
            normalize_path("/subscriptions/S/resourceGroups/MyRG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Id1/federatedIdentityCredentials/Fic").unwrap(),
            "/subscriptions/S/resourcegroups/MyRG/providers/microsoft.managedidentity/userassignedidentities/Id1/federatedidentitycredentials/Fic"
        );
        assert_eq!(
            normalize_path(
                "/SUBSCRIPTIONS/S/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
            )
            .unwrap(),
            "/subscriptions/S/providers/microsoft.managedidentity/userassignedidentities"
        );
        assert_eq!(normalize_path("/Tenants").unwrap(), "/tenants");
        assert_eq!(normalize_path("/t1/oauth2/v2.0/token"), None);
    }
}
