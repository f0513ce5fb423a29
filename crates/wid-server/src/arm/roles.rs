//! `Microsoft.Authorization`: role assignments at any scope (subscription, group, resource,
//! a single Key Vault secret, certificate or key) and the built-in role definitions. Their routes are registered
//! at every kind of scope (see `role_routes!` in the plane's router); the scope a request
//! names is the one its route's guard authorized, built from the route's captures.

use super::auth::Caller;
use super::error::ArmError;
use super::request::{ArmJson, ArmQuery};
use super::routes::Authorized;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wid_core::model::{Audit, RoleAssignment};
use wid_core::rbac::{self, BuiltInRole};
use wid_types::arm::Page;
use wid_types::resources as wire;

/// What every request here shares: the scope the guard authorized (the id the assignments
/// hang off, in ARM's casing), the caller, and the item the path names, if any.
struct Target {
    scope: String,
    caller: Caller,
    name: Option<String>,
}

impl Target {
    fn new(
        state: &AppState,
        auth: Authorized,
        captures: &[(String, String)],
        item: &str,
    ) -> Result<Self, ArmError> {
        let capture = |key: &str| {
            captures
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        super::subscription(state, &auth.caller, &capture("sub").unwrap_or_default())?;
        Ok(Self {
            scope: auth.scope.ok_or_else(ArmError::internal)?,
            caller: auth.caller,
            name: capture(item),
        })
    }

    /// A request naming one assignment (`{assignment}`).
    fn assignment(
        state: &AppState,
        auth: Authorized,
        captures: &[(String, String)],
    ) -> Result<Self, ArmError> {
        Self::new(state, auth, captures, "assignment")
    }

    fn name(&self) -> Result<&str, ArmError> {
        self.name.as_deref().ok_or_else(ArmError::internal)
    }
}

type Captures = Path<Vec<(String, String)>>;

pub async fn list_definitions(
    State(state): State<AppState>,
    auth: Authorized,
    query: ArmQuery,
    Path(captures): Captures,
) -> Result<Response, ArmError> {
    let t = Target::new(&state, auth, &captures, "")?;
    let filter = Filter::parse(query.get("$filter"))?;
    let value = rbac::BUILT_IN_ROLES
        .iter()
        .filter(|r| {
            filter
                .role_name
                .as_deref()
                .is_none_or(|n| r.name.eq_ignore_ascii_case(n))
        })
        .map(|r| definition(&t.scope, r))
        .collect();
    Ok(Json(Page::complete(value)).into_response())
}

pub async fn show_definition(
    State(state): State<AppState>,
    auth: Authorized,
    Path(captures): Captures,
) -> Result<Response, ArmError> {
    let t = Target::new(&state, auth, &captures, "definition")?;
    let name = t.name()?;
    rbac::builtin_by_id(name)
        .map(|r| Json(definition(&t.scope, r)).into_response())
        .ok_or_else(|| role_definition_not_found(name))
}

/// Assignments at, above and below the scope (`atScope()`: at and above only), optionally
/// of one principal, as ARM lists them.
pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Authorized,
    query: ArmQuery,
    Path(captures): Captures,
) -> Result<Response, ArmError> {
    let t = Target::new(&state, auth, &captures, "")?;
    let filter = Filter::parse(query.get("$filter"))?;
    let all = state.store.role_assignments(&t.caller.tenant_id).await?;
    let value = all
        .iter()
        .filter(|a| {
            let above = rbac::scope_covers(&a.scope, &t.scope);
            let below = rbac::scope_covers(&t.scope, &a.scope);
            (above || (below && !filter.at_scope))
                && filter
                    .principal_id
                    .as_deref()
                    .is_none_or(|p| a.principal_id.eq_ignore_ascii_case(p))
        })
        .map(render)
        .collect();
    Ok(Json(Page::complete(value)).into_response())
}

/// An assignment is found only at the scope it was made at, as ARM finds it: naming it
/// under another scope (one the caller may manage, say) reaches nothing.
async fn assignment_at(
    state: &AppState,
    scope: &str,
    name: &str,
) -> Result<Option<RoleAssignment>, ArmError> {
    Ok(state
        .store
        .role_assignment(name)
        .await?
        .filter(|a| same_scope(&a.scope, scope)))
}

fn same_scope(a: &str, b: &str) -> bool {
    rbac::scope_covers(a, b) && rbac::scope_covers(b, a)
}

pub async fn show_assignment(
    State(state): State<AppState>,
    auth: Authorized,
    Path(captures): Captures,
) -> Result<Response, ArmError> {
    let t = Target::assignment(&state, auth, &captures)?;
    match assignment_at(&state, &t.scope, t.name()?).await? {
        Some(a) => Ok(Json(render(&a)).into_response()),
        None => Err(assignment_not_found()),
    }
}

/// ARM answers 204 for an assignment that is not at this scope, whether it exists
/// elsewhere or not: a delete only ever removes what its path names.
pub async fn delete_assignment(
    State(state): State<AppState>,
    auth: Authorized,
    Path(captures): Captures,
) -> Result<Response, ArmError> {
    let t = Target::assignment(&state, auth, &captures)?;
    match state
        .store
        .delete_role_assignment(t.name()?, &t.scope)
        .await?
    {
        Some(a) => Ok(Json(render(&a)).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

pub async fn create_assignment(
    State(state): State<AppState>,
    auth: Authorized,
    Path(captures): Captures,
    ArmJson(body): ArmJson<wire::RoleAssignmentCreate>,
) -> Result<Response, ArmError> {
    let t = Target::assignment(&state, auth, &captures)?;
    create(&state, &t.caller, &t.scope, t.name()?, body.properties).await
}

/// What a client may name as principal: a managed identity, a user or a service principal.
async fn principal_exists(state: &AppState, tenant_id: &str, id: &str) -> Result<bool, ArmError> {
    if state.store.identity_by_principal_id(id).await?.is_some()
        || state
            .store
            .user_by_object_id(tenant_id, id)
            .await?
            .is_some()
    {
        return Ok(true);
    }
    Ok(state
        .store
        .service_principal_by_object_id(tenant_id, id)
        .await?
        .is_some()
        || state
            .store
            .app_service_principal(tenant_id, id)
            .await?
            .is_some())
}

async fn create(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    name: &str,
    props: wire::RoleAssignmentCreateProperties,
) -> Result<Response, ArmError> {
    if !wid_core::names::is_guid(name) {
        return Err(ArmError::code(
            StatusCode::BAD_REQUEST,
            "InvalidRoleAssignmentId",
            format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
        ));
    }
    let role = rbac::builtin_by_definition_id(&props.role_definition_id).ok_or_else(|| {
        ArmError::code(
            StatusCode::BAD_REQUEST,
            "RoleDefinitionDoesNotExist",
            format!(
                "The specified role definition with ID '{}' does not exist.",
                props.role_definition_id
            ),
        )
    })?;
    let principal_type = props.principal_type.unwrap_or_else(|| "User".to_owned());
    if ![
        "User",
        "Group",
        "ServicePrincipal",
        "ForeignGroup",
        "Device",
    ]
    .contains(&principal_type.as_str())
    {
        return Err(ArmError::invalid_parameter(format!(
            "The principal type '{principal_type}' is not valid. Allowed values are User, Group, ServicePrincipal, ForeignGroup and Device."
        )));
    }
    if !wid_core::names::is_guid(&props.principal_id)
        || !principal_exists(state, &caller.tenant_id, &props.principal_id).await?
    {
        return Err(ArmError::code(
            StatusCode::BAD_REQUEST,
            "PrincipalNotFound",
            format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID.", props.principal_id, caller.tenant_id),
        ));
    }
    if let Some(existing) = state.store.role_assignment(name).await? {
        let same = rbac::scope_covers(&existing.scope, scope)
            && rbac::scope_covers(scope, &existing.scope)
            && existing
                .principal_id
                .eq_ignore_ascii_case(&props.principal_id)
            && rbac::builtin_by_definition_id(&existing.role_definition_id).map(|r| r.id)
                == Some(role.id);
        return if same {
            Ok((StatusCode::CREATED, Json(render(&existing))).into_response())
        } else {
            Err(ArmError::code(
                StatusCode::CONFLICT,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            ))
        };
    }
    let now = state.now();
    let assignment = RoleAssignment {
        name: name.to_owned(),
        tenant_id: caller.tenant_id.clone(),
        scope: scope.trim_end_matches('/').to_owned(),
        role_definition_id: props.role_definition_id,
        principal_id: props.principal_id,
        principal_type,
        description: props.description,
        audit: Audit {
            created_by: caller.object_id.clone(),
            created_at: now,
            modified_by: caller.object_id.clone(),
            modified_at: now,
        },
    };
    match state.store.insert_role_assignment(&assignment).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(render(&assignment))).into_response()),
        Err(wid_store::StoreError::RoleAssignmentExists) => Err(ArmError::code(
            StatusCode::CONFLICT,
            "RoleAssignmentExists",
            "The role assignment already exists.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The OData filters az and the SDKs send: `atScope()`, `principalId eq '…'`,
/// `assignedTo('…')`, `roleName eq '…'`, `type eq 'BuiltInRole'`, joined by `and`.
#[derive(Default)]
struct Filter {
    at_scope: bool,
    principal_id: Option<String>,
    role_name: Option<String>,
}

impl Filter {
    fn parse(text: Option<&str>) -> Result<Self, ArmError> {
        let mut filter = Filter::default();
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(filter);
        };
        for clause in text.split(" and ") {
            let clause = clause.trim();
            let quoted = |prefix: &str| {
                clause
                    .strip_prefix(prefix)
                    .map(|v| v.trim().trim_end_matches(')').trim_matches('\'').to_owned())
            };
            if clause.eq_ignore_ascii_case("atScope()") {
                filter.at_scope = true;
            } else if let Some(v) = quoted("principalId eq ").or_else(|| quoted("assignedTo(")) {
                filter.principal_id = Some(v);
            } else if let Some(v) = quoted("roleName eq ") {
                filter.role_name = Some(v);
            } else if quoted("type eq ").is_none() {
                return Err(ArmError::code(
                    StatusCode::BAD_REQUEST,
                    "UnsupportedQuery",
                    format!("The filter '{text}' is not supported."),
                ));
            }
        }
        Ok(filter)
    }
}

fn render(a: &RoleAssignment) -> wire::RoleAssignment {
    wire::RoleAssignment {
        id: format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            a.scope, a.name
        ),
        name: a.name.clone(),
        kind: "Microsoft.Authorization/roleAssignments".to_owned(),
        properties: wire::RoleAssignmentProperties {
            role_definition_id: a.role_definition_id.clone(),
            principal_id: a.principal_id.clone(),
            principal_type: a.principal_type.clone(),
            scope: a.scope.clone(),
            description: a.description.clone(),
            created_on: wid_core::timefmt::rfc3339(a.audit.created_at),
            updated_on: wid_core::timefmt::rfc3339(a.audit.modified_at),
            created_by: a.audit.created_by.clone(),
            updated_by: a.audit.modified_by.clone(),
        },
    }
}

/// Built-in definitions are shown under the subscription of the request, as ARM does.
fn definition(scope: &str, r: &BuiltInRole) -> wire::RoleDefinition {
    let subscription: String = scope.split('/').take(3).collect::<Vec<_>>().join("/");
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    wire::RoleDefinition {
        id: format!(
            "{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
            r.id
        ),
        name: r.id.to_owned(),
        kind: "Microsoft.Authorization/roleDefinitions".to_owned(),
        properties: wire::RoleDefinitionProperties {
            role_name: r.name.to_owned(),
            kind: "BuiltInRole".to_owned(),
            description: r.description.to_owned(),
            assignable_scopes: vec!["/".to_owned()],
            permissions: vec![wire::RolePermissions {
                actions: list(r.permissions.actions),
                not_actions: list(r.permissions.not_actions),
                data_actions: list(r.permissions.data_actions),
                not_data_actions: list(r.permissions.not_data_actions),
            }],
        },
    }
}

fn role_definition_not_found(name: &str) -> ArmError {
    ArmError::code(
        StatusCode::NOT_FOUND,
        "RoleDefinitionDoesNotExist",
        format!("The specified role definition with ID '{name}' does not exist."),
    )
}

fn assignment_not_found() -> ArmError {
    ArmError::code(
        StatusCode::NOT_FOUND,
        "RoleAssignmentNotFound",
        "The role assignment does not exist.",
    )
}
