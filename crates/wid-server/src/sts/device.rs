//! The device-authorization endpoint (`/{tenant}/oauth2/v2.0/devicecode`, v1
//! `/{tenant}/oauth2/devicecode`): a device code for the client to poll with and a user code
//! for the person to enter at wid's verification page ([`super::devicelogin`]). Both are
//! stored hashed or as typed, single use, expiring ([`wid_core::session`]).

use super::correlation_id;
use super::error::StsError;
use super::token::Endpoint;
use super::users::{internal, public_client_of, requested_resource};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use wid_core::session::{self, DeviceCode, DeviceCodeState};

#[derive(serde::Deserialize, Default)]
struct DeviceCodeForm {
    client_id: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

pub async fn devicecode_v2(
    state: State<AppState>,
    tenant: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    devicecode(state, tenant, headers, body, Endpoint::V2).await
}

pub async fn devicecode_v1(
    state: State<AppState>,
    tenant: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    devicecode(state, tenant, headers, body, Endpoint::V1).await
}

async fn devicecode(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    endpoint: Endpoint,
) -> Response {
    let form: DeviceCodeForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    match start(&state, &tenant, &form, endpoint).await {
        Ok(body) => {
            let mut response = Json(body).into_response();
            super::error::no_store(&mut response);
            response
        }
        Err(e) => e.into_response_at(state.now(), &correlation_id(&headers)),
    }
}

async fn start(
    state: &AppState,
    tenant_segment: &str,
    form: &DeviceCodeForm,
    endpoint: Endpoint,
) -> Result<serde_json::Value, StsError> {
    let (tenant, client_id) = public_client_of(
        state,
        tenant_segment,
        form.client_id.as_deref().filter(|c| !c.is_empty()),
    )?;
    requested_resource(
        state,
        tenant,
        endpoint,
        form.scope.as_deref(),
        form.resource.as_deref(),
    )?;
    let now = state.now();
    let device_code = wid_core::secret::generate().map_err(internal)?;
    let verification = format!("{}/devicelogin", state.cloud.public_url);
    // A user code is short; a clash with a live one is retried with another.
    for _ in 0..4 {
        let random = wid_core::seal::random_bytes(16).map_err(internal)?;
        let user_code = session::user_code(&random);
        let record = DeviceCode {
            code_hash: wid_core::secret::hash(&device_code),
            user_code: user_code.clone(),
            tenant_id: tenant.id.clone(),
            client_id: client_id.clone(),
            scope: form
                .scope
                .clone()
                .or_else(|| form.resource.clone())
                .unwrap_or_default(),
            created_at: now,
            expires_at: now + session::DEVICE_CODE_LIFETIME_SECS,
            state: DeviceCodeState::Pending,
        };
        match state.store.insert_device_code(&record).await {
            Ok(()) => {}
            Err(wid_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(internal(e)),
        }
        let message = format!("To sign in, use a web browser to open the page {verification} and enter the code {user_code} to authenticate.");
        let lifetime = session::DEVICE_CODE_LIFETIME_SECS;
        let interval = session::DEVICE_CODE_INTERVAL_SECS;
        return Ok(match endpoint {
            Endpoint::V2 => json!({
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": verification,
                "expires_in": lifetime,
                "interval": interval,
                "message": message,
            }),
            Endpoint::V1 => json!({
                "user_code": user_code,
                "device_code": device_code,
                "verification_url": verification,
                "expires_in": lifetime.to_string(),
                "interval": interval.to_string(),
                "message": message,
            }),
        });
    }
    Err(internal("no free user code"))
}
