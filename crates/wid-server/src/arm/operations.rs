//! Long-running operations as ARM runs them, for writes wid completes within the request.
//! Clients' pollers (azure-core's ARMPolling, az's) do not look at whether the first answer
//! is already final: they follow `Azure-AsyncOperation` or `Location`, and they accept only
//! 202 or 204 for a DELETE or POST that is long-running. So wid answers as AKS does and
//! keeps a record of each operation behind those URLs.
//!
//! Records, rather than ids that encode the operation: a record names the resource the
//! operation acted on, which is what authorizes its readers (see
//! [`super::routes::Access::Operation`]), and it works the same on every replica. Each
//! record expires after [`RETENTION_SECONDS`] and expired records are deleted whenever one
//! is written, so the table holds at most one retention period's operations; pollers ask
//! within seconds of the request.

use super::error::ArmError;
use super::request::ArmQuery;
use crate::state::AppState;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use wid_core::model::ArmOperation;
use wid_types::resources::OperationStatus;

pub const RETENTION_SECONDS: i64 = 3600;

/// Records a finished, successful operation on `resource_id`.
pub async fn record(
    state: &AppState,
    subscription_id: &str,
    resource_id: &str,
) -> Result<ArmOperation, ArmError> {
    let now = state.now();
    let op = ArmOperation {
        id: wid_core::ids::random_uuid().to_string(),
        subscription_id: subscription_id.to_owned(),
        resource_id: resource_id.to_owned(),
        status: "Succeeded".to_owned(),
        started_at: now,
        ended_at: now,
        expires_at: now + RETENTION_SECONDS,
    };
    state.store.put_operation(&op, now).await?;
    Ok(op)
}

fn operation_path(sub: &str, provider: &str, location: &str, kind: &str, id: &str) -> String {
    format!("/subscriptions/{sub}/providers/{provider}/locations/{location}/{kind}/{id}")
}

/// The status and result URLs of an operation, absolute on wid's public URL and with the
/// api-version of the request that started it, as ARM writes them.
pub struct Links {
    async_operation: String,
    location: String,
}

impl Links {
    pub fn new(
        state: &AppState,
        op: &ArmOperation,
        provider: &str,
        location: &str,
        query: &ArmQuery,
    ) -> Self {
        let version = query.get("api-version").unwrap_or_default();
        let url = |kind| {
            format!(
                "{}{}?api-version={version}",
                state.cloud.public_url,
                operation_path(&op.subscription_id, provider, location, kind, &op.id)
            )
        };
        Self {
            async_operation: url("operations"),
            location: url("operationresults"),
        }
    }

    /// The header of a PUT or PATCH answer, which also carries the resource.
    pub fn async_operation(&self) -> [(HeaderName, String); 1] {
        [(
            HeaderName::from_static("azure-asyncoperation"),
            self.async_operation.clone(),
        )]
    }

    /// A DELETE's or POST action's answer: 202, both URLs, no body.
    pub fn accepted(&self) -> Response {
        (
            StatusCode::ACCEPTED,
            [
                (
                    HeaderName::from_static("azure-asyncoperation"),
                    self.async_operation.clone(),
                ),
                (header::LOCATION, self.location.clone()),
            ],
        )
            .into_response()
    }
}

/// The operation's status in ARM's `OperationStatusResult` shape. The route's guard has
/// found the record and authorized the caller on its resource; an operation that expired
/// since is not found.
pub async fn status(
    state: &AppState,
    sub: &str,
    provider: &str,
    location: &str,
    id: &str,
) -> Result<OperationStatus, ArmError> {
    let op = state
        .store
        .operation(id, state.now())
        .await?
        .filter(|op| op.subscription_id.eq_ignore_ascii_case(sub))
        .ok_or_else(|| ArmError::operation_not_found(id))?;
    Ok(OperationStatus {
        id: operation_path(sub, provider, location, "operations", &op.id),
        name: op.id,
        resource_id: op.resource_id,
        status: op.status,
        percent_complete: 100.0,
        start_time: wid_core::timefmt::rfc3339(op.started_at),
        end_time: wid_core::timefmt::rfc3339(op.ended_at),
    })
}
