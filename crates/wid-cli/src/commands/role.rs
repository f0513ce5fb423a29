//! `wid role assignment …` and `wid role definition list` (az role). Assignees are found in
//! the directory over Graph as az finds them ([`super::directory`]).

use super::directory;
use super::flatten;
use crate::context::Context;
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use wid_client::Method;

const API: &str = "2022-04-01";

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Manage role assignments.
    #[command(subcommand)]
    Assignment(AssignmentCommand),
    /// Show role definitions.
    #[command(subcommand)]
    Definition(DefinitionCommand),
}

#[derive(clap::Args)]
pub struct ScopeArgs {
    /// Scope of the assignment (an ARM id); default: the resource group, else the subscription.
    #[arg(long)]
    scope: Option<String>,
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    #[arg(long)]
    subscription: Option<String>,
}

#[derive(Subcommand)]
pub enum AssignmentCommand {
    Create {
        /// Role name (e.g. "Key Vault Secrets User") or definition id.
        #[arg(long)]
        role: String,
        /// The principal: a user's UPN, a client id or other service principal name, or an
        /// object id; its principalType comes from the directory.
        #[arg(long, conflicts_with = "assignee_object_id")]
        assignee: Option<String>,
        /// Object id of the principal, used as given, without a directory lookup.
        #[arg(long)]
        assignee_object_id: Option<String>,
        /// User, Group, ServicePrincipal, ForeignGroup or Device (default with
        /// --assignee: the directory object's type).
        #[arg(long)]
        assignee_principal_type: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    List {
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    Delete {
        /// Full ids of the assignments to delete.
        #[arg(long, num_args = 1..)]
        ids: Vec<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Subcommand)]
pub enum DefinitionCommand {
    List {
        /// Only the role of this name.
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
}

fn scope_of(ctx: &Context, s: &ScopeArgs) -> Result<String> {
    if let Some(scope) = &s.scope {
        return Ok(scope.trim_end_matches('/').to_owned());
    }
    let sub = ctx.subscription(s.subscription.as_deref())?;
    Ok(match &s.resource_group {
        Some(rg) => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
        None => format!("/subscriptions/{sub}"),
    })
}

/// A role definition id from a role name or id, looked up at the scope as az does.
async fn role_id(ctx: &Context, scope: &str, role: &str) -> Result<String> {
    if wid_core::names::is_guid(role) {
        let sub: String = scope.split('/').take(3).collect::<Vec<_>>().join("/");
        return Ok(format!(
            "{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ));
    }
    if role.contains("/roleDefinitions/") {
        return Ok(role.to_owned());
    }
    let filter = format!("roleName eq '{role}'");
    let url = format!(
        "{scope}/providers/Microsoft.Authorization/roleDefinitions?api-version={API}&$filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    ctx.arm_list(&url)
        .await?
        .first()
        .and_then(|d| d["id"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow!("Role '{role}' doesn't exist."))
}

/// az's view: properties flattened, plus the role's name.
fn az_assignment(mut a: Value) -> Value {
    let role_name = a["properties"]["roleDefinitionId"]
        .as_str()
        .and_then(wid_core::rbac::builtin_by_definition_id)
        .map(|r| r.name);
    let mut v = flatten(a.take());
    if let Some(name) = role_name {
        v["roleDefinitionName"] = json!(name);
    }
    v
}

async fn assignments(
    ctx: &Context,
    scope: &str,
    assignee: Option<&str>,
    role: Option<&str>,
) -> Result<Vec<Value>> {
    let mut url =
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={API}");
    if let Some(a) = assignee {
        let filter = format!(
            "principalId eq '{}'",
            directory::resolve_assignee(ctx, a).await?
        );
        url.push_str("&$filter=");
        url.extend(url::form_urlencoded::byte_serialize(filter.as_bytes()));
    }
    let role = match role {
        Some(r) => Some(role_id(ctx, scope, r).await?),
        None => None,
    };
    let guid = |id: &str| {
        id.rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    Ok(ctx
        .arm_list(&url)
        .await?
        .into_iter()
        .filter(|a| {
            role.as_deref().is_none_or(|r| {
                guid(
                    a["properties"]["roleDefinitionId"]
                        .as_str()
                        .unwrap_or_default(),
                ) == guid(r)
            })
        })
        .collect())
}

/// A new role assignment of `role` (name or id) at `scope` to the principal `principal_id`.
async fn put_assignment(
    ctx: &Context,
    scope: &str,
    role: &str,
    principal_id: &str,
    principal_type: Option<&str>,
    description: Option<&str>,
) -> Result<Value> {
    let mut properties = json!({
        "roleDefinitionId": role_id(ctx, scope, role).await?,
        "principalId": principal_id,
        "description": description,
    });
    if let Some(t) = principal_type {
        properties["principalType"] = json!(t);
    }
    let body = json!({ "properties": properties });
    let name = uuid_v4();
    let url = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={API}"
    );
    ctx.arm_value(Method::PUT, &url, Some(&body)).await
}

/// `role` at `scope` for a principal whose type is known (azwi's role-assignment phase).
pub async fn assign(
    ctx: &Context,
    scope: &str,
    role: &str,
    principal_id: &str,
    principal_type: &str,
) -> Result<Value> {
    put_assignment(ctx, scope, role, principal_id, Some(principal_type), None).await
}

/// az's `principalName` on listed assignments, from one `getByIds` for all their principals.
/// A caller who may not read the directory still gets the list, without names, as with az.
async fn add_principal_names(ctx: &Context, shown: &mut [Value]) -> Result<()> {
    let mut ids: Vec<String> = shown
        .iter()
        .filter_map(|a| a["principalId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    let objects = match directory::objects_by_ids(ctx, &ids).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("WARNING: cannot read principal names from the directory: {e:#}");
            return Ok(());
        }
    };
    for a in shown.iter_mut() {
        let name = objects
            .iter()
            .find(|o| {
                o["id"].as_str().is_some_and(|id| {
                    a["principalId"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(id))
                })
            })
            .map(directory::displayable_name);
        if let Some(name) = name {
            a["principalName"] = json!(name);
        }
    }
    Ok(())
}

pub async fn run(command: RoleCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        RoleCommand::Assignment(AssignmentCommand::Create {
            role,
            assignee,
            assignee_object_id,
            assignee_principal_type,
            description,
            scope,
        }) => {
            let scope = scope_of(ctx, &scope)?;
            let (principal, principal_type) = match (assignee_object_id, assignee) {
                (Some(id), _) => (id, assignee_principal_type),
                (None, Some(a)) => {
                    let id = directory::resolve_assignee(ctx, &a).await?;
                    let kind = match assignee_principal_type {
                        Some(t) => Some(t),
                        None => directory::objects_by_ids(ctx, std::slice::from_ref(&id))
                            .await?
                            .first()
                            .and_then(directory::principal_type)
                            .map(str::to_owned),
                    };
                    (id, kind)
                }
                (None, None) => bail!("usage error: --assignee STRING | --assignee-object-id GUID"),
            };
            let created = put_assignment(
                ctx,
                &scope,
                &role,
                &principal,
                principal_type.as_deref(),
                description.as_deref(),
            )
            .await?;
            Ok(Some(az_assignment(created)))
        }
        RoleCommand::Assignment(AssignmentCommand::List {
            assignee,
            role,
            scope,
        }) => {
            let scope = scope_of(ctx, &scope)?;
            let found = assignments(ctx, &scope, assignee.as_deref(), role.as_deref()).await?;
            let mut shown: Vec<Value> = found.into_iter().map(az_assignment).collect();
            add_principal_names(ctx, &mut shown).await?;
            Ok(Some(Value::Array(shown)))
        }
        RoleCommand::Assignment(AssignmentCommand::Delete {
            ids,
            assignee,
            role,
            scope,
        }) => {
            let ids = if ids.is_empty() {
                let scope = scope_of(ctx, &scope)?;
                assignments(ctx, &scope, assignee.as_deref(), role.as_deref())
                    .await?
                    .into_iter()
                    .filter(|a| {
                        a["properties"]["scope"]
                            .as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(&scope))
                    })
                    .filter_map(|a| a["id"].as_str().map(str::to_owned))
                    .collect()
            } else {
                ids
            };
            for id in ids {
                ctx.arm(Method::DELETE, &format!("{id}?api-version={API}"), None)
                    .await?;
            }
            Ok(None)
        }
        RoleCommand::Definition(DefinitionCommand::List {
            name,
            scope,
            subscription,
        }) => {
            let scope = match scope {
                Some(s) => s,
                None => format!(
                    "/subscriptions/{}",
                    ctx.subscription(subscription.as_deref())?
                ),
            };
            let mut url = format!(
                "{scope}/providers/Microsoft.Authorization/roleDefinitions?api-version={API}"
            );
            if let Some(n) = name {
                let filter = format!("roleName eq '{n}'");
                url.push_str("&$filter=");
                url.extend(url::form_urlencoded::byte_serialize(filter.as_bytes()));
            }
            let defs = ctx.arm_list(&url).await?;
            Ok(Some(Value::Array(
                defs.into_iter()
                    .map(|mut d| {
                        let role_type = d["properties"]["type"].take();
                        let mut v = flatten(d);
                        v["roleType"] = role_type;
                        v
                    })
                    .collect(),
            )))
        }
    }
}

fn uuid_v4() -> String {
    wid_core::ids::random_uuid().to_string()
}
