//! The management plane's route table. Every route is registered together with what it
//! requires: the ARM action it performs and the scope it acts on, written as a template over
//! the route's own captured segments. Authorization runs on those typed values before the
//! handler, so what is decided is exactly what the router matched; nothing re-reads the raw
//! path, and a resource named `providers` or `resourceGroups` is an ordinary name.
//!
//! [`Routes::add`] is the only way to register a route, and it takes an [`Access`], so a route
//! without a requirement cannot be written. A handler reached any other way finds no
//! [`Authorized`] decision and its [`Caller`] extractor refuses (fail closed).

use super::api_versions::{self, Policy};
use super::auth::{self, Caller};
use super::error::ArmError;
use super::request::ArmQuery;
use crate::access_token;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use std::sync::Arc;
use wid_core::model::RoleAssignment;

/// What a route requires of its caller, declared where the route is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated principal of the tenant. Only for listing tenants and
    /// subscriptions, which ARM filters by access (wid has one of each).
    AnyPrincipal,
    /// `action` on the ARM id `scope`: a template in ARM's canonical casing whose `{name}`
    /// placeholders are the route's captures, e.g. `/subscriptions/{sub}/resourceGroups/{rg}`.
    Action {
        action: &'static str,
        scope: &'static str,
    },
    /// `action` on the resource that the long-running operation in the route's `{operation}`
    /// capture acted on, as its record says; the route must capture `{sub}` and
    /// `{operation}`. An operation of another subscription, or an expired one, is not found.
    /// Operation ids are unguessable, and still they give nothing to whoever cannot read
    /// the resource itself.
    Operation { action: &'static str },
    /// A listing of the resources under `scope` (a template as for [`Access::Action`]) that
    /// shows each one only to callers who may read it, as ARM's `…/resources` does: a
    /// `Reader` on one group sees that group's resources in the subscription's list. The
    /// guard authenticates and hands the handler a [`Visibility`]; callers who see nothing
    /// and do not hold `action` on the scope are refused.
    Listing {
        action: &'static str,
        scope: &'static str,
    },
}

/// Shorthand for [`Access::Action`].
pub const fn action(action: &'static str, scope: &'static str) -> Access {
    Access::Action { action, scope }
}

/// Shorthand for [`Access::Listing`].
pub const fn listing(action: &'static str, scope: &'static str) -> Access {
    Access::Listing { action, scope }
}

/// One registered route: what the authorization matrix test walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub method: Method,
    /// The template as registered, in ARM's canonical casing (routing matches it
    /// case-insensitively in its fixed segments, see [`super::normalize_path`]).
    pub template: &'static str,
    pub access: Access,
}

/// The decision the guard made, handed to the handler: who called, and the scope the
/// requirement was checked on (role assignments are created and listed at that scope).
#[derive(Debug, Clone)]
pub struct Authorized {
    pub caller: Caller,
    pub scope: Option<String>,
}

/// What a [`Access::Listing`] route's guard hands its handler: the caller's role assignments,
/// to decide each listed resource. Only that guard makes one, so a handler taking it cannot
/// be reached unguarded, and no other route's handler can list past its requirement.
#[derive(Debug, Clone)]
pub struct Visibility {
    pub caller: Caller,
    action: &'static str,
    scope: String,
    assignments: Arc<Vec<RoleAssignment>>,
}

impl Visibility {
    /// Whether the caller may read the resource `id` of `resource_type` (`{type}/read`).
    pub fn may_read(&self, resource_type: &str, id: &str) -> bool {
        access_token::allows(
            &self.assignments,
            id,
            &format!("{resource_type}/read"),
            false,
        )
    }

    /// Whether the caller holds the listing action on the whole scope; one who does not
    /// learns nothing, not even whether the scope exists, unless it sees something in it.
    pub fn lists_scope(&self) -> bool {
        access_token::allows(&self.assignments, &self.scope, self.action, false)
    }

    /// The answer for a caller who may list nothing here.
    pub fn refusal(&self) -> ArmError {
        ArmError::authorization_failed(&self.caller, self.action, &self.scope)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visibility {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ArmError> {
        parts.extensions.get::<Visibility>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a listing handler ran without its guard");
            ArmError::code(
                axum::http::StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                "The request was not authorized.",
            )
        })
    }
}

/// The state the guard needs, put into every management request by the plane's router.
#[derive(Clone)]
pub(super) struct GuardState(pub AppState);

pub(super) struct Routes {
    router: Router<AppState>,
    declared: Vec<Declared>,
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            declared: Vec::new(),
        }
    }

    /// Registers `handler` for `method` on `template`, behind the guard for `access` and
    /// the api-version policy of the template's resource type.
    ///
    /// Panics when the scope names a placeholder the template does not capture, or the
    /// resource type has no version policy: programming errors that every test building the
    /// router finds.
    pub fn add<H, T>(
        mut self,
        method: Method,
        template: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let captured = placeholders(template);
        let needed = match access {
            Access::AnyPrincipal => Vec::new(),
            Access::Action { scope, .. } | Access::Listing { scope, .. } => placeholders(scope),
            Access::Operation { .. } => vec!["sub", "operation"],
        };
        for name in needed {
            assert!(
                captured.contains(&name),
                "route {template}: its access {access:?} names {{{name}}}, which the route does not capture"
            );
        }
        let versions = api_versions::for_template(template);
        let filter = MethodFilter::try_from(method.clone()).expect("an HTTP method ARM uses");
        let guarded = on(filter, handler).route_layer(axum::middleware::from_fn(
            move |req: Request, next: Next| guard(access, versions, req, next),
        ));
        self.router = self.router.route(&template.to_ascii_lowercase(), guarded);
        self.declared.push(Declared {
            method,
            template,
            access,
        });
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<Declared>) {
        (self.router, self.declared)
    }
}

fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The ARM id `template` names for these captures. A capture is one segment of the id even
/// when it holds `/` once percent-decoded: `%` and `/` are escaped again, so no name can
/// shift the id's structure (the handler then refuses the name as ARM would).
pub fn scope_of(template: &str, captures: &[(String, String)]) -> Result<String, ArmError> {
    let mut out = String::with_capacity(template.len() + 64);
    for segment in template.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let value = captures
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(ArmError::internal)?;
                out.push_str(&wid_core::resource_id::segment(value));
            }
            None => out.push_str(segment),
        }
    }
    Ok(out)
}

/// Authenticates, checks the api-version and the route's requirement on the scope its
/// captures name, and hands the decision to the handler.
async fn guard(access: Access, versions: Policy, req: Request, next: Next) -> Response {
    match decide(access, versions, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn decide(access: Access, versions: Policy, req: Request) -> Result<Request, ArmError> {
    let (mut parts, body) = req.into_parts();
    let state = parts
        .extensions
        .get::<GuardState>()
        .map(|s| s.0.clone())
        .ok_or_else(ArmError::internal)?;
    let caller = auth::bearer_caller(&state, &parts.headers)?;
    let (action, scope) = match access {
        Access::AnyPrincipal => {
            check_version(&mut parts, versions).await?;
            parts.extensions.insert(Authorized {
                caller,
                scope: None,
            });
            return Ok(Request::from_parts(parts, body));
        }
        Access::Listing { action, scope } => {
            let scope = scope_of(scope, &captures(&mut parts).await?)?;
            let assignments = access_token::assignments_of(&state, &caller.object_id).await?;
            check_version(&mut parts, versions).await?;
            parts.extensions.insert(Visibility {
                caller,
                action,
                scope,
                assignments,
            });
            return Ok(Request::from_parts(parts, body));
        }
        Access::Action { action, scope } => {
            (action, scope_of(scope, &captures(&mut parts).await?)?)
        }
        Access::Operation { action } => {
            let captures = captures(&mut parts).await?;
            let capture = |name: &str| {
                captures
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(ArmError::internal)
            };
            let (sub, id) = (capture("sub")?, capture("operation")?);
            let op = state
                .store
                .operation(id, state.now())
                .await?
                .filter(|op| op.subscription_id.eq_ignore_ascii_case(sub))
                .ok_or_else(|| ArmError::operation_not_found(id))?;
            (action, op.resource_id)
        }
    };
    let assignments = access_token::assignments_of(&state, &caller.object_id).await?;
    if !access_token::allows(&assignments, &scope, action, false) {
        return Err(ArmError::authorization_failed(&caller, action, &scope));
    }
    check_version(&mut parts, versions).await?;
    parts.extensions.insert(Authorized {
        caller,
        scope: Some(scope),
    });
    Ok(Request::from_parts(parts, body))
}

/// After authorization, so that a caller without access learns nothing of the resource
/// type, and a refused version never reaches a handler.
async fn check_version(parts: &mut Parts, versions: Policy) -> Result<(), ArmError> {
    let query = ArmQuery::from_request_parts(parts, &()).await?;
    versions.check(query.get("api-version")).map(|_| ())
}

async fn captures(parts: &mut Parts) -> Result<Vec<(String, String)>, ArmError> {
    let Path(captures) =
        <Path<Vec<(String, String)>> as FromRequestParts<()>>::from_request_parts(parts, &())
            .await
            .map_err(|_| ArmError::bad_request("The request path could not be decoded."))?;
    Ok(captures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn scopes_are_built_from_captures_and_keywords_are_names() {
        let template = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}";
        for (name, fic) in [
            ("idB", "providers"),
            ("providers", "resourceGroups"),
            ("subscriptions", "Microsoft.KeyVault"),
            ("..", "."),
            ("Microsoft.Authorization", "x y"),
        ] {
            let c = captures(&[("sub", "S"), ("rg", "rg1"), ("name", name), ("fic", fic)]);
            assert_eq!(
                scope_of(template, &c).unwrap(),
                format!("/subscriptions/S/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}")
            );
        }
    }

    #[test]
    fn a_capture_stays_one_segment() {
        let template = "/subscriptions/{sub}/resourceGroups/{rg}";
        for (rg, scope_rg) in [
            ("a/b", "a%2Fb"),
            ("../..", "..%2F.."),
            (
                "rg1/providers/Microsoft.Authorization",
                "rg1%2Fproviders%2FMicrosoft.Authorization",
            ),
            ("a%2Fb", "a%252Fb"),
        ] {
            let c = captures(&[("sub", "S"), ("rg", rg)]);
            assert_eq!(
                scope_of(template, &c).unwrap(),
                format!("/subscriptions/S/resourceGroups/{scope_rg}")
            );
        }
    }

    #[tokio::test]
    async fn a_handler_reached_without_the_guard_refuses() {
        use tower::ServiceExt;
        let app: Router = Router::new()
            .route("/x", axum::routing::get(|_: Caller| async { "served" }))
            .route("/y", axum::routing::get(|_: Authorized| async { "served" }))
            .route("/z", axum::routing::get(|_: Visibility| async { "served" }));
        for path in ["/x", "/y", "/z"] {
            let response = app
                .clone()
                .oneshot(
                    Request::builder()
                        .uri(path)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                axum::http::StatusCode::FORBIDDEN,
                "{path}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "does not capture")]
    fn a_scope_naming_an_uncaptured_segment_does_not_register() {
        let _ = Routes::new().add(
            Method::GET,
            "/subscriptions/{sub}",
            action(
                "Microsoft.Resources/subscriptions/read",
                "/subscriptions/{sub}/resourceGroups/{rg}",
            ),
            || async {},
        );
    }
}
