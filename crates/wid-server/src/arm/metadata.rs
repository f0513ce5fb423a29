//! ARM's cloud metadata, `GET /metadata/endpoints?api-version=…`: where the authority, the
//! management audience and the Key Vault suffix are, so that `az cloud register -n wid
//! --endpoint-resource-manager URL` (and Terraform, PowerShell's `Add-AzEnvironment
//! -AutoDiscover`, …) fill a cloud from the ARM URL alone.
//!
//! Anonymous, as ARM's is: clients fetch it before they have a token, to learn where to get
//! one. That is why it is not in the guarded route table ([`super::routes`]); it tells
//! nothing beyond what the public URL and the DNS suffix already say.

use super::error::ArmError;
use super::request::ArmQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use wid_core::cloud::{metadata_shape, METADATA_API_VERSIONS};

pub fn router() -> Router<AppState> {
    // az appends `/metadata/endpoints` to the ARM URL as the user typed it, so a URL given
    // with its trailing slash (as `az cloud show` prints it) asks for `//metadata/endpoints`.
    Router::new()
        .route("/metadata/endpoints", get(endpoints))
        .route("//metadata/endpoints", get(endpoints))
}

async fn endpoints(
    State(state): State<AppState>,
    query: Result<ArmQuery, ArmError>,
) -> Result<Response, ArmError> {
    let query = query?;
    let version = query
        .get("api-version")
        .filter(|v| !v.is_empty())
        .ok_or_else(ArmError::missing_api_version)?;
    let shape = metadata_shape(version)
        .ok_or_else(|| ArmError::invalid_api_version(version, METADATA_API_VERSIONS))?;
    Ok(Json(state.cloud.metadata_document(shape)).into_response())
}
