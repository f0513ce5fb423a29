//! User-realm discovery (`/common/userrealm/{upn}`): MSAL asks it before a password grant,
//! and a `Managed` answer makes it post the password to the token endpoint rather than to a
//! federation server (WS-Trust). Names in the tenant's domain are managed; others unknown.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The cloud instance name MSAL compares with the authority's: wid's DNS suffix.
fn instance(state: &AppState) -> String {
    state.cloud.dns_suffix.clone()
}

pub async fn user_realm(State(state): State<AppState>, Path(upn): Path<String>) -> Response {
    let domain = upn.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let body = if !domain.is_empty() && domain.eq_ignore_ascii_case(&state.tenant.default_domain) {
        json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": state.tenant.default_domain,
            "cloud_instance_name": instance(&state),
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        })
    } else {
        json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "cloud_instance_name": instance(&state),
        })
    };
    Json(body).into_response()
}
