//! Key Vault's `AuditEvent` for one data-plane request (`wid_core::vault_audit`), built by
//! the guard that authorizes it: the guard alone sees the operation, the caller, the decision
//! and the answer of every route.

use super::auth::VaultCaller;
use crate::request_log::RequestIds;
use crate::state::AppState;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use std::net::SocketAddr;
use std::time::Instant;
use wid_core::model::Vault;
use wid_core::vault_access::VaultOp;
use wid_core::vault_audit::{self, AuditEvent, Decision};

/// What the request said about itself, taken before the guard consumes it.
pub(super) struct Audit {
    started: Instant,
    operation: &'static str,
    api_version: String,
    request_uri: String,
    correlation: String,
    caller_ip: String,
    client_info: String,
    item: Option<(String, Option<String>)>,
    caller: Option<(String, String)>,
    decision: Option<Decision>,
}

impl Audit {
    /// `None` when the vault audit log is off, so a request then pays for nothing here.
    pub(super) fn begin(state: &AppState, parts: &Parts, op: VaultOp) -> Option<Self> {
        if !state.vault_events.enabled() {
            return None;
        }
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let query = parts.uri.query();
        let api_version = query
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "api-version")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default();
        let request_uri = vault_audit::truncate(
            parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            MAX_URI,
        )
        .to_owned();
        Some(Self {
            started: Instant::now(),
            operation: vault_audit::operation_name(op, parts.method.as_str(), false),
            api_version: vault_audit::truncate(&api_version, 32).to_owned(),
            request_uri,
            correlation: parts
                .extensions
                .get::<RequestIds>()
                .map(|ids| ids.correlation.clone())
                .unwrap_or_default(),
            caller_ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string())
                .unwrap_or_default(),
            client_info: vault_audit::truncate(header("user-agent"), vault_audit::MAX_CLIENT_INFO)
                .to_owned(),
            item: None,
            caller: None,
            decision: None,
        })
    }

    /// The item the route captured (name, and version when it has one), which also tells a
    /// list of versions from a list of items.
    pub(super) fn item(&mut self, op: VaultOp, method: &str, name: &str, version: Option<&str>) {
        self.operation = vault_audit::operation_name(op, method, true);
        self.item = Some((name.to_owned(), version.map(str::to_owned)));
    }

    pub(super) fn caller(&mut self, caller: &VaultCaller) {
        self.caller = Some((caller.object_id.clone(), caller.app_id.clone()));
    }

    pub(super) fn decided(&mut self, decision: Decision) {
        self.decision = Some(decision);
    }

    /// The event, answered with `status` (and the refusal's message, if any).
    pub(super) fn finish(
        self,
        state: &AppState,
        vault: &Vault,
        collection: &str,
        status: u16,
        description: Option<String>,
    ) -> AuditEvent {
        let item_id = self.item.map(|(name, version)| {
            let base = super::base_url(state, &vault.name);
            match version {
                Some(v) if !v.is_empty() => format!("{base}/{collection}/{name}/{v}"),
                _ => format!("{base}/{collection}/{name}"),
            }
        });
        let (object_id, app_id) = self.caller.unzip();
        let now_ms = state.now_ms();
        AuditEvent {
            id: wid_core::ids::time_ordered_uuid(now_ms).to_string(),
            created_at_ms: now_ms,
            tenant_id: vault.tenant_id.clone(),
            vault_id: wid_core::resource_id::vault(
                &vault.subscription_id,
                &vault.resource_group,
                &vault.name,
            ),
            operation_name: self.operation.to_owned(),
            operation_version: self.api_version,
            http_status: status,
            result_description: description,
            duration_ms: self.started.elapsed().as_millis() as u64,
            caller_ip: self.caller_ip,
            correlation_id: self.correlation,
            object_id,
            app_id,
            request_uri: self.request_uri,
            item_id,
            decision: self.decision,
            client_info: self.client_info,
            replica: state.replica.clone(),
        }
    }
}

/// A request's path and query are kept to this many bytes.
const MAX_URI: usize = 2048;
