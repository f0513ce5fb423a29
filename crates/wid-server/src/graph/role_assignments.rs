//! `/roleManagement/directory/roleAssignments`: directory roles held by principals
//! (Graph's `unifiedRoleAssignment`), by Entra's role template ids, tenant-wide.

use super::error::GraphError;
use super::odata::{entity_context, GraphJson, ListQuery};
use super::render;
use super::Authorized;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use wid_core::directory::DirectoryRole;
use wid_core::graph_filter::Shape;
use wid_core::model::DirectoryRoleAssignment;

const PATH: &str = "roleManagement/directory/roleAssignments";
const FILTERABLE: &[(&str, Shape)] = &[
    ("principalId", Shape::Single),
    ("roleDefinitionId", Shape::Single),
    ("directoryScopeId", Shape::Single),
];

fn render(a: &DirectoryRoleAssignment) -> Value {
    json!({
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_definition_id,
        "directoryScopeId": a.directory_scope_id,
    })
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    q: ListQuery,
) -> Result<Json<Value>, GraphError> {
    let items = state
        .store
        .directory_role_assignments(&auth.caller.tenant_id, None)
        .await?
        .iter()
        .map(render)
        .collect();
    Ok(Json(q.page(&state, PATH, FILTERABLE, items)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAssignment {
    principal_id: Option<String>,
    role_definition_id: Option<String>,
    directory_scope_id: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    GraphJson(body): GraphJson<NewAssignment>,
) -> Result<Response, GraphError> {
    let tenant = &auth.caller.tenant_id;
    let role_id = body.role_definition_id.unwrap_or_default();
    let role = DirectoryRole::from_template_id(&role_id).ok_or_else(|| {
        GraphError::bad_request(format!(
            "The role definition '{role_id}' is not a directory role this directory knows."
        ))
    })?;
    let scope = body.directory_scope_id.unwrap_or_else(|| "/".to_owned());
    if scope != "/" {
        return Err(GraphError::bad_request(
            "Only the tenant-wide directory scope '/' is supported.",
        ));
    }
    let principal = body.principal_id.unwrap_or_default();
    let Some((kind, _)) = render::directory_object(&state, tenant, &principal).await? else {
        return Err(GraphError::bad_request(format!(
            "The principal '{principal}' does not exist in the directory."
        )));
    };
    if kind == render::APPLICATION_TYPE {
        return Err(GraphError::bad_request(
            "Roles are assigned to users and service principals, not to applications.",
        ));
    }
    let assignment = DirectoryRoleAssignment {
        id: wid_core::ids::random_uuid().to_string(),
        tenant_id: tenant.clone(),
        principal_id: principal,
        role_definition_id: role.template_id().to_owned(),
        directory_scope_id: scope,
    };
    state
        .store
        .insert_directory_role_assignment(&assignment)
        .await
        .map_err(|e| match e {
            wid_store::StoreError::Conflict(_) => GraphError {
                status: StatusCode::CONFLICT,
                code: "Request_BadRequest",
                message: "A conflicting object with one or more of the specified property values is present in the directory.".into(),
            },
            other => other.into(),
        })?;
    let mut body = render(&assignment);
    body["@odata.context"] = entity_context(&state, PATH).into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    if state
        .store
        .delete_directory_role_assignment(&auth.caller.tenant_id, &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(GraphError::not_found(&id))
    }
}
