//! `wid role assignment …` and `wid role definition list` (az role), and `wid ad …`, the
//! part of `az ad` that finds principals for them.

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
        /// Object id or client id of the principal.
        #[arg(long, conflicts_with = "assignee_object_id")]
        assignee: Option<String>,
        /// Object id of the principal, used as given.
        #[arg(long)]
        assignee_object_id: Option<String>,
        #[arg(long, default_value = "ServicePrincipal")]
        assignee_principal_type: String,
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

#[derive(Subcommand)]
pub enum AdCommand {
    /// The principal the CLI acts as.
    #[command(subcommand)]
    SignedInUser(SignedInUserCommand),
    /// Service principals (including managed identities' ones).
    #[command(subcommand)]
    Sp(SpCommand),
}

#[derive(Subcommand)]
pub enum SignedInUserCommand {
    Show,
}

#[derive(Subcommand)]
pub enum SpCommand {
    Show {
        /// Object id or client (application) id.
        #[arg(long)]
        id: String,
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

/// The object id of a principal named by object id or client id.
async fn principal_id(ctx: &Context, assignee: &str) -> Result<String> {
    let sp = ctx
        .arm_value(
            Method::GET,
            &format!("/v1.0/servicePrincipals/{assignee}"),
            None,
        )
        .await?;
    sp["id"].as_str().map(str::to_owned).ok_or_else(|| {
        anyhow!("Cannot find user or service principal in graph database for '{assignee}'.")
    })
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
        let filter = format!("principalId eq '{}'", principal_id(ctx, a).await?);
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
            let principal = match (assignee_object_id, assignee) {
                (Some(id), _) => id,
                (None, Some(a)) => principal_id(ctx, &a).await?,
                (None, None) => bail!("usage error: --assignee STRING | --assignee-object-id GUID"),
            };
            let body = json!({"properties": {
                "roleDefinitionId": role_id(ctx, &scope, &role).await?,
                "principalId": principal,
                "principalType": assignee_principal_type,
                "description": description,
            }});
            let name = uuid_v4();
            let url = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={API}");
            Ok(Some(az_assignment(
                ctx.arm_value(Method::PUT, &url, Some(&body)).await?,
            )))
        }
        RoleCommand::Assignment(AssignmentCommand::List {
            assignee,
            role,
            scope,
        }) => {
            let scope = scope_of(ctx, &scope)?;
            let found = assignments(ctx, &scope, assignee.as_deref(), role.as_deref()).await?;
            Ok(Some(Value::Array(
                found.into_iter().map(az_assignment).collect(),
            )))
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

pub async fn ad(command: AdCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AdCommand::SignedInUser(SignedInUserCommand::Show) => {
            let token = ctx.management_token().await?;
            let payload = token
                .split('.')
                .nth(1)
                .ok_or_else(|| anyhow!("malformed token"))?;
            let claims: Value = serde_json::from_slice(&wid_jose::b64::decode(payload)?)?;
            let sp = ctx
                .arm_value(
                    Method::GET,
                    &format!(
                        "/v1.0/servicePrincipals/{}",
                        claims["oid"].as_str().unwrap_or_default()
                    ),
                    None,
                )
                .await?;
            Ok(Some(sp))
        }
        AdCommand::Sp(SpCommand::Show { id }) => Ok(Some(
            ctx.arm_value(Method::GET, &format!("/v1.0/servicePrincipals/{id}"), None)
                .await?,
        )),
    }
}

fn uuid_v4() -> String {
    wid_core::ids::random_uuid().to_string()
}
