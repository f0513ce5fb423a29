//! The resource plane: a Key Vault-compatible data plane at
//! `https://{vault}.vault.{suffix}:{port}/` (contracts.md §4). Requests are told apart from
//! the other planes by their host name. Each collection (secrets, keys, certificates) has its
//! own module and route list; this module composes them behind one guard per route.

mod audit;
mod auth;
mod certificates;
pub mod error;
mod keys;
mod secrets;
mod versioned;

use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use error::VaultError;
use serde::Deserialize;
use serde_json::{json, Value};
use wid_core::vault_access::VaultOp;

pub use auth::{open_data_key, OpenVault};

/// The vault a request is for, from its host name (lower-cased).
#[derive(Debug, Clone)]
pub struct VaultHost(pub String);

const DEFAULT_PAGE: usize = 25;
const DAY: i64 = 86_400;

/// `Some(vault)` when `host` (with or without port) is `{vault}.vault.{suffix}`.
pub fn vault_of_host(state: &AppState, host: &str) -> Option<String> {
    vault_name(host, &state.cloud.dns_suffix)
}

fn strip_suffix_ignore_case<'a>(s: &'a str, tail: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(tail.len())?;
    let (head, end) = (s.get(..cut)?, s.get(cut..)?);
    end.eq_ignore_ascii_case(tail).then_some(head)
}

/// The vault a `Host` (with or without its port) names: `{vault}.vault.{dns_suffix}`,
/// lowercased. Every request is asked this, so it allocates only for the name it returns.
fn vault_name(host: &str, dns_suffix: &str) -> Option<String> {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let vault = strip_suffix_ignore_case(name, dns_suffix)
        .and_then(|rest| strip_suffix_ignore_case(rest, ".vault."))?;
    (!vault.is_empty() && !vault.contains('.')).then(|| vault.to_ascii_lowercase())
}

/// One data-plane route: its method and template, the operation its guard decides, and the
/// handler that runs only once the guard allowed it. A route cannot be declared without an
/// operation, so none exists without an authorization decision.
pub(crate) struct Route {
    method: Method,
    path: &'static str,
    op: VaultOp,
    handler: MethodRouter<AppState>,
}

pub(crate) fn route<H, T>(
    method: Method,
    path: &'static str,
    op: impl Into<VaultOp>,
    handler: H,
) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| unreachable!("vault routes use standard methods: {method}"));
    Route {
        method,
        path,
        op: op.into(),
        handler: on(filter, handler),
    }
}

fn routes() -> Vec<Route> {
    let mut r = secrets::routes();
    r.extend(certificates::routes());
    r.extend(keys::routes());
    r
}

/// The vault plane's routes and the RBAC data action each requires, for tests that walk
/// them.
pub fn route_table() -> Vec<(Method, &'static str, VaultOp)> {
    routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.op))
        .collect()
}

pub fn router(state: &AppState) -> Router<AppState> {
    let guard = auth::GuardState(state.clone());
    routes()
        .into_iter()
        .fold(Router::new(), |router, r| {
            let op = r.op;
            router.route(
                r.path,
                r.handler
                    .route_layer(axum::middleware::from_fn(move |req, next| {
                        auth::guard(op, req, next)
                    })),
            )
        })
        .fallback(unknown_path)
        .layer(axum::middleware::from_fn(check_api_version))
        .layer(axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                req.extensions_mut().insert(guard.clone());
                next.run(req)
            },
        ))
}

/// A path no route serves: a caller without a valid token gets the challenge, as from every
/// Key Vault path (clients learn the authority from it before anything else), and only an
/// authenticated caller learns that the path does not exist.
async fn unknown_path(req: Request) -> VaultError {
    let (mut parts, _) = req.into_parts();
    match auth::authenticate_only(&mut parts).await {
        Ok(()) => VaultError::not_found_route(),
        Err(e) => e,
    }
}

/// Key Vault refuses a request without a version it serves before anything else, naming the
/// version to use.
async fn check_api_version(req: Request, next: Next) -> Response {
    let requested = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned())
    });
    match requested {
        None => VaultError::bad_parameter("The api-version query parameter is missing.")
            .into_response(),
        Some(v) if !wid_core::vault_access::serves_api_version(&v) => {
            VaultError::bad_parameter(format!(
                "The specified version ({v}) is not recognized. Consider using the latest supported version ({}).",
                wid_core::vault_access::LATEST_STABLE_API_VERSION
            ))
            .into_response()
        }
        Some(_) => next.run(req).await,
    }
}

pub(crate) fn base_url(state: &AppState, vault: &str) -> String {
    crate::arm::vault_uri(state, vault)
        .trim_end_matches('/')
        .to_owned()
}

pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, VaultError> {
    serde_json::from_slice(body)
        .map_err(|e| VaultError::bad_parameter(format!("The request body is invalid: {e}")))
}

/// A list request's paging parameters; the next page keeps the caller's api-version.
#[derive(Deserialize, Default)]
pub(crate) struct Paging {
    maxresults: Option<String>,
    #[serde(rename = "$skiptoken")]
    skiptoken: Option<String>,
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

/// One page of `items`, with an absolute `nextLink` while more remain. The skip token is
/// the offset of the next page.
pub(crate) fn page(
    state: &AppState,
    open: &OpenVault,
    path: &str,
    paging: &Paging,
    items: Vec<Value>,
) -> Result<Json<Value>, VaultError> {
    let size = match &paging.maxresults {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=25).contains(n))
            .ok_or_else(|| {
                VaultError::bad_parameter(format!(
                    "The value '{v}' of maxresults is invalid: it must be between 1 and 25."
                ))
            })?,
    };
    let start = match &paging.skiptoken {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| VaultError::bad_parameter("The skip token is invalid."))?,
    };
    let end = (start + size).min(items.len());
    let value: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let next = (end < items.len()).then(|| {
        let version = paging
            .api_version
            .as_deref()
            .unwrap_or(wid_core::vault_access::LATEST_STABLE_API_VERSION);
        let version: String = url::form_urlencoded::byte_serialize(version.as_bytes()).collect();
        format!(
            "{}{path}?api-version={version}&maxresults={size}&$skiptoken={end}",
            base_url(state, &open.vault.name)
        )
    });
    Ok(Json(json!({"value": value, "nextLink": next})))
}

/// RSA key generation and a PFX's key derivation take up to seconds of CPU: they run off
/// the async workers, so other requests keep being served meanwhile.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, VaultError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| VaultError::internal())
}

#[cfg(test)]
mod tests {
    use super::vault_name;

    #[test]
    fn hosts_name_a_vault_only_directly_under_the_suffix() {
        let suffix = "localhost";
        for (host, expected) in [
            ("myvault.vault.localhost", Some("myvault")),
            ("MyVault.Vault.LocalHost:8443", Some("myvault")),
            ("myvault.vault.localhost:", Some("myvault")),
            ("a.b.vault.localhost", None),
            (".vault.localhost", None),
            ("vault.localhost", None),
            ("myvault.vault.localhost.evil", None),
            ("myvaultxvault.localhost", None),
            ("localhost:8443", None),
            ("ü.vault.localhost", Some("ü")),
            ("é", None),
            ("", None),
        ] {
            assert_eq!(vault_name(host, suffix).as_deref(), expected, "{host}");
        }
    }
}
