//! The Microsoft Graph plane: the directory (users, applications, service principals and
//! directory roles) in Graph v1.0's shapes, at the Graph resource's URL (`/beta` aliases
//! v1.0 where clients call it).
//!
//! Every route is registered with what it requires of the caller ([`Access`]), through
//! [`Routes::add`], the only way to register one; the guard decides on typed values
//! (`wid_core::directory`) before the handler runs and before any lookup of the object the
//! request names, so a refusal is no existence oracle. A handler reached any other way finds
//! no [`Authorized`] decision and refuses.

mod applications;
mod caller;
mod directory_objects;
pub mod error;
mod odata;
mod render;
mod role_assignments;
mod service_principals;
mod sign_ins;
mod users;

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
pub use caller::GraphCaller;
use error::GraphError;
use wid_core::directory::{self, DirectoryRole, Operation, Standing};

/// What a route requires, declared where it is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated principal of the tenant; the handler serves only the caller
    /// itself (`/me`).
    Caller,
    /// `Operation` on the directory.
    Directory(Operation),
    /// Reading the object the route's capture names: the caller itself without a role,
    /// anything else with [`Operation::Read`].
    ReadOrSelf(&'static str),
}

/// One registered route, for tests that walk the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub method: Method,
    pub template: &'static str,
    pub access: Access,
}

/// The guard's decision, handed to the handler.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub caller: GraphCaller,
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, GraphError> {
        parts
            .extensions
            .get::<Authorized>()
            .cloned()
            .ok_or_else(|| {
                tracing::error!(path = %parts.uri.path(), "a Graph handler ran without its guard");
                GraphError::denied()
            })
    }
}

#[derive(Clone)]
struct GuardState(AppState);

struct Routes {
    router: Router<AppState>,
    declared: Vec<Declared>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            declared: Vec::new(),
        }
    }

    /// Registers `handler` for `method` on `/v1.0{template}` and `/beta{template}` behind
    /// the guard for `access`. Panics when `access` names a capture the template lacks.
    fn add<H, T>(
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
        if let Access::ReadOrSelf(capture) = access {
            assert!(
                template.contains(&format!("{{{capture}}}")),
                "route {template}: its access names {{{capture}}}, which it does not capture"
            );
        }
        let filter = MethodFilter::try_from(method.clone()).expect("an HTTP method Graph uses");
        for version in ["/v1.0", "/beta"] {
            let guarded = on(filter, handler.clone()).route_layer(axum::middleware::from_fn(
                move |req: Request, next: Next| guard(access, req, next),
            ));
            self.router = self.router.route(&format!("{version}{template}"), guarded);
        }
        self.declared.push(Declared {
            method,
            template,
            access,
        });
        self
    }
}

fn routes() -> Routes {
    use Access::{Caller, Directory, ReadOrSelf};
    use Operation::{ManageRoles, Read, ReadAuditLogs, WriteApplications, WriteUsers};
    Routes::new()
        .add(Method::GET, "/me", Caller, users::me)
        .add(Method::GET, "/users", Directory(Read), users::list)
        .add(Method::POST, "/users", Directory(WriteUsers), users::create)
        .add(Method::GET, "/users/{id}", ReadOrSelf("id"), users::get)
        .add(
            Method::PATCH,
            "/users/{id}",
            Directory(WriteUsers),
            users::update,
        )
        .add(
            Method::DELETE,
            "/users/{id}",
            Directory(WriteUsers),
            users::delete,
        )
        .add(
            Method::GET,
            "/servicePrincipals",
            Directory(Read),
            service_principals::list,
        )
        .add(
            Method::POST,
            "/servicePrincipals",
            Directory(WriteApplications),
            service_principals::create,
        )
        .add(
            Method::GET,
            "/servicePrincipals/{id}",
            ReadOrSelf("id"),
            service_principals::get,
        )
        .add(
            Method::DELETE,
            "/servicePrincipals/{id}",
            Directory(WriteApplications),
            service_principals::delete,
        )
        .add(
            Method::POST,
            "/directoryObjects/getByIds",
            Directory(Read),
            directory_objects::get_by_ids,
        )
        .add(
            Method::GET,
            "/applications",
            Directory(Read),
            applications::list,
        )
        .add(
            Method::POST,
            "/applications",
            Directory(WriteApplications),
            applications::create,
        )
        .add(
            Method::GET,
            "/applications/{id}",
            Directory(Read),
            applications::get,
        )
        .add(
            Method::PATCH,
            "/applications/{id}",
            Directory(WriteApplications),
            applications::update,
        )
        .add(
            Method::DELETE,
            "/applications/{id}",
            Directory(WriteApplications),
            applications::delete,
        )
        .add(
            Method::POST,
            "/applications/{id}/addPassword",
            Directory(WriteApplications),
            applications::add_password,
        )
        .add(
            Method::POST,
            "/applications/{id}/removePassword",
            Directory(WriteApplications),
            applications::remove_password,
        )
        .add(
            Method::GET,
            "/applications/{id}/federatedIdentityCredentials",
            Directory(Read),
            applications::list_credentials,
        )
        .add(
            Method::POST,
            "/applications/{id}/federatedIdentityCredentials",
            Directory(WriteApplications),
            applications::create_credential,
        )
        .add(
            Method::GET,
            "/applications/{id}/federatedIdentityCredentials/{fic}",
            Directory(Read),
            applications::get_credential,
        )
        .add(
            Method::PATCH,
            "/applications/{id}/federatedIdentityCredentials/{fic}",
            Directory(WriteApplications),
            applications::update_credential,
        )
        .add(
            Method::DELETE,
            "/applications/{id}/federatedIdentityCredentials/{fic}",
            Directory(WriteApplications),
            applications::delete_credential,
        )
        .add(
            Method::GET,
            "/roleManagement/directory/roleAssignments",
            Directory(Read),
            role_assignments::list,
        )
        .add(
            Method::POST,
            "/roleManagement/directory/roleAssignments",
            Directory(ManageRoles),
            role_assignments::create,
        )
        .add(
            Method::DELETE,
            "/roleManagement/directory/roleAssignments/{id}",
            Directory(ManageRoles),
            role_assignments::delete,
        )
        .add(
            Method::GET,
            "/auditLogs/signIns",
            Directory(ReadAuditLogs),
            sign_ins::list,
        )
        .add(
            Method::GET,
            "/auditLogs/signIns/{id}",
            Directory(ReadAuditLogs),
            sign_ins::get,
        )
}

/// The plane's routes with their requirements.
pub fn route_table() -> Vec<Declared> {
    routes().declared
}

pub fn router(state: &AppState) -> Router<AppState> {
    let guard = GuardState(state.clone());
    routes()
        .router
        .layer(axum::middleware::from_fn(
            move |mut req: Request, next: Next| {
                req.extensions_mut().insert(guard.clone());
                next.run(req)
            },
        ))
        .layer(axum::middleware::from_fn(error::with_request_ids))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
}

async fn guard(access: Access, req: Request, next: Next) -> Response {
    match decide(access, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn decide(access: Access, req: Request) -> Result<Request, GraphError> {
    let (mut parts, body) = req.into_parts();
    let state = parts
        .extensions
        .get::<GuardState>()
        .map(|s| s.0.clone())
        .ok_or_else(GraphError::internal)?;
    let caller = caller::bearer_caller(&state, &parts.headers)?;
    let standing = standing_of(&state, &caller).await?;
    let permitted = match access {
        Access::Caller => true,
        Access::Directory(op) => directory::permits(&standing, op, false),
        Access::ReadOrSelf(name) => {
            let Path(captures) =
                <Path<Vec<(String, String)>> as FromRequestParts<()>>::from_request_parts(
                    &mut parts,
                    &(),
                )
                .await
                .map_err(|_| GraphError::bad_request("The request path could not be decoded."))?;
            let id = captures
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(GraphError::internal)?;
            directory::permits(&standing, Operation::Read, caller.is(id))
        }
    };
    if !permitted {
        return Err(GraphError::denied());
    }
    parts.extensions.insert(Authorized { caller });
    Ok(Request::from_parts(parts, body))
}

/// The caller's standing in the directory: the bootstrap principal, and its directory roles.
async fn standing_of(state: &AppState, caller: &GraphCaller) -> Result<Standing, GraphError> {
    let bootstrap = caller.user.is_none()
        && state
            .store
            .service_principal_by_object_id(&caller.tenant_id, &caller.object_id)
            .await?
            .is_some();
    let roles = state
        .store
        .directory_role_assignments(&caller.tenant_id, Some(&caller.object_id))
        .await?
        .iter()
        .filter_map(|a| DirectoryRole::from_template_id(&a.role_definition_id))
        .collect();
    Ok(Standing { bootstrap, roles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_declares_its_requirement() {
        let table = route_table();
        assert!(table.len() > 20);
        for d in &table {
            let writes = d.method != Method::GET;
            match d.access {
                // Only /me serves whoever calls, and it writes nothing.
                Access::Caller => assert_eq!((d.template, writes), ("/me", false)),
                Access::ReadOrSelf(_) => assert!(!writes, "{d:?}"),
                Access::Directory(Operation::Read) => {
                    assert!(!writes || d.template.ends_with("getByIds"), "{d:?}")
                }
                Access::Directory(Operation::ReadAuditLogs) => {
                    assert!(!writes && d.template.starts_with("/auditLogs/"), "{d:?}")
                }
                Access::Directory(_) => assert!(writes, "{d:?}"),
            }
        }
    }

    #[test]
    #[should_panic(expected = "does not capture")]
    fn a_self_read_of_an_uncaptured_segment_does_not_register() {
        let _ = Routes::new().add(Method::GET, "/users", Access::ReadOrSelf("id"), || async {});
    }
}
