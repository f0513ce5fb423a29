//! The management plane: an ARM-compatible REST API for subscriptions, resource groups,
//! user-assigned identities and their federated credentials.

mod access;
mod auth;
mod clusters;
mod credentials;
pub mod error;
mod groups;
mod identities;
mod render;
mod request;
mod roles;
mod subscriptions;
mod vaults;

pub use auth::{authenticate, Caller};
pub use vaults::vault_uri;

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use error::ArmError;
use request::BodyLimit;

const CLUSTERS: &str =
    "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.containerservice/managedclusters";
const VAULTS: &str = "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.keyvault/vaults";
const IDENTITIES: &str = "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.managedidentity/userassignedidentities";

pub fn router(state: &AppState) -> Router<AppState> {
    let max_body = state.limits.max_body_bytes;
    Router::new()
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{sub}", get(subscriptions::show))
        .route("/tenants", get(subscriptions::tenants))
        .route("/subscriptions/{sub}/resourcegroups", get(groups::list))
        .route(
            "/subscriptions/{sub}/resourcegroups/{rg}",
            get(groups::show)
                .put(groups::put)
                .delete(groups::delete)
                .head(groups::exists),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.managedidentity/userassignedidentities",
            get(identities::list_in_subscription),
        )
        .route(IDENTITIES, get(identities::list_in_group))
        .route(
            &format!("{IDENTITIES}/{{name}}"),
            get(identities::show)
                .put(identities::put)
                .patch(identities::patch)
                .delete(identities::delete),
        )
        .route(
            &format!("{IDENTITIES}/{{name}}/federatedidentitycredentials"),
            get(credentials::list),
        )
        .route(
            &format!("{IDENTITIES}/{{name}}/federatedidentitycredentials/{{fic}}"),
            get(credentials::show)
                .put(credentials::put)
                .delete(credentials::delete),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.containerservice/managedclusters",
            get(clusters::list_in_subscription),
        )
        .route(CLUSTERS, get(clusters::list_in_group))
        .route(
            &format!("{CLUSTERS}/{{name}}"),
            get(clusters::show)
                .put(clusters::put)
                .delete(clusters::delete),
        )
        .route(
            &format!("{CLUSTERS}/{{name}}/rotateserviceaccountsigningkeys"),
            post(clusters::rotate_signing_keys),
        )
        .route(
            &format!("{CLUSTERS}/{{name}}/issuerkeys"),
            get(clusters::list_keys).post(clusters::add_key),
        )
        .route(
            &format!("{CLUSTERS}/{{name}}/issuerkeys/{{kid}}"),
            delete(clusters::remove_key),
        )
        .route(
            &format!("{CLUSTERS}/{{name}}/exportserviceaccountsigningkey"),
            post(clusters::export_signing_key),
        )
        .route(
            &format!("{CLUSTERS}/{{name}}/serviceaccounttoken"),
            post(clusters::service_account_token),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.keyvault/vaults",
            get(vaults::list_in_subscription),
        )
        .route(VAULTS, get(vaults::list_in_group))
        .route(
            &format!("{VAULTS}/{{name}}"),
            get(vaults::show)
                .put(vaults::put)
                .patch(vaults::patch)
                .delete(vaults::delete),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.wid/rotatekeyencryptionkey",
            post(subscriptions::rotate_key_encryption_key),
        )
        .route(
            &format!("{VAULTS}/{{name}}/accesspolicies/{{kind}}"),
            axum::routing::put(vaults::update_access_policies),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.keyvault/deletedvaults",
            get(vaults::list_deleted),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.keyvault/locations/{location}/deletedvaults/{name}",
            get(vaults::show_deleted),
        )
        .route(
            "/subscriptions/{sub}/providers/microsoft.keyvault/locations/{location}/deletedvaults/{name}/purge",
            post(vaults::purge),
        )
        .layer(axum::middleware::from_fn(
            move |mut req: Request, next: Next| {
                req.extensions_mut().insert(BodyLimit(max_body));
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

/// Role assignments and definitions hang off any ARM id and are dispatched from here;
/// other unknown management paths answer in ARM's shape, anything else is a plain 404.
pub async fn fallback(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
) -> Response {
    use axum::response::IntoResponse;
    let path = req.uri().path().to_owned();
    if let Some(target) = roles::target(&path) {
        return roles::dispatch(state, target, req).await;
    }
    if path.starts_with("/subscriptions") {
        ArmError::not_found_route(&path).into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
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
