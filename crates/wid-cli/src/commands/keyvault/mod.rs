//! `wid keyvault …` (az keyvault): vaults through the management plane, their access
//! policies (GET then PUT of the vault, as az does it), and secrets through the vault's own
//! data plane.

use super::{directory, parse_tags, resource_group_of};
use crate::context::Context;
use anyhow::{anyhow, bail, Result};
use certificate::CertificateCommand;
use clap::Subcommand;
use key::KeyCommand;
use secret::SecretCommand;
use serde_json::{json, Value};
use wid_client::Method;

mod certificate;
mod key;
mod secret;

pub(super) const API: &str = "2024-11-01";
/// The data-plane version wid's CLI speaks.
const DATA_API: &str = "7.5";

#[derive(clap::Args)]
pub struct VaultName {
    #[arg(short = 'n', long)]
    name: String,
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    #[arg(long)]
    subscription: Option<String>,
}

#[derive(Subcommand)]
pub enum KeyvaultCommand {
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Authorize data-plane access with Azure RBAC instead of access policies.
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        enable_rbac_authorization: Option<bool>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        enable_purge_protection: Option<bool>,
        /// Days deleted vaults and secrets are kept (7-90).
        #[arg(long)]
        retention_days: Option<i64>,
        #[arg(long, default_value = "standard")]
        sku: String,
        /// Do not give the caller an access policy on the new vault.
        #[arg(long)]
        no_self_perms: bool,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    Show {
        #[command(flatten)]
        vault: VaultName,
    },
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    Delete {
        #[command(flatten)]
        vault: VaultName,
    },
    /// Purge a deleted vault.
    Purge {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Recover a deleted vault.
    Recover {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Grant a principal permissions through the vault's access policies.
    SetPolicy {
        #[command(flatten)]
        vault: VaultName,
        #[command(flatten)]
        principal: PolicyPrincipal,
        #[arg(long, num_args = 1..)]
        secret_permissions: Vec<String>,
        #[arg(long, num_args = 1..)]
        key_permissions: Vec<String>,
        #[arg(long, num_args = 1..)]
        certificate_permissions: Vec<String>,
    },
    DeletePolicy {
        #[command(flatten)]
        vault: VaultName,
        #[command(flatten)]
        principal: PolicyPrincipal,
    },
    /// Manage secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Manage keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage certificates.
    #[command(subcommand)]
    Certificate(CertificateCommand),
}

#[derive(clap::Args)]
pub struct PolicyPrincipal {
    /// A service principal name (a client id) of a service principal or managed identity.
    #[arg(long)]
    spn: Option<String>,
    /// Object id of the principal, used as given.
    #[arg(long)]
    object_id: Option<String>,
    /// A user's principal name.
    #[arg(long)]
    upn: Option<String>,
}

pub(super) async fn find_vault(ctx: &Context, v: &VaultName) -> Result<String> {
    let sub = ctx.subscription(v.subscription.as_deref())?;
    if let Some(rg) = &v.resource_group {
        return Ok(wid_core::resource_id::vault(&sub, rg, &v.name));
    }
    // As az does without -g: find the vault by name in the subscription.
    let url = format!(
        "/subscriptions/{sub}/providers/{}?api-version={API}",
        wid_core::resource_id::VAULT_TYPE
    );
    ctx.arm_list(&url)
        .await?
        .iter()
        .find(|x| {
            x["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&v.name))
        })
        .and_then(|x| x["id"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow!("The Vault '{}' not found within subscription.", v.name))
}

async fn deleted_vault(ctx: &Context, name: &str, subscription: Option<&str>) -> Result<Value> {
    let sub = ctx.subscription(subscription)?;
    let url = format!(
        "/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults?api-version={API}"
    );
    ctx.arm_list(&url)
        .await?
        .into_iter()
        .find(|x| {
            x["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| anyhow!("No deleted vault named '{name}' was found."))
}

/// The object id a policy is for, found as az finds it: `--spn` among service principals'
/// names (client id), `--upn` among users' principal names, `--object-id` as given.
async fn principal_object_id(ctx: &Context, p: &PolicyPrincipal) -> Result<String> {
    let object = match (&p.object_id, &p.spn, &p.upn) {
        (Some(id), _, _) => return Ok(id.clone()),
        (None, Some(spn), _) => directory::service_principal_by_name(ctx, spn).await?,
        (None, None, Some(upn)) => directory::user_by_principal_name(ctx, upn).await?,
        (None, None, None) => bail!("usage error: --object-id ID | --spn SPN | --upn UPN"),
    };
    object["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the directory object has no id"))
}

/// az prints vaults with their `properties` nested (`--query properties.vaultUri`), plus
/// the resource group.
fn az_vault(mut v: Value) -> Value {
    if let Some(rg) = v["id"].as_str().and_then(resource_group_of) {
        v["resourceGroup"] = json!(rg);
    }
    v
}

/// az's GET, edit, PUT of the whole vault.
async fn edit_policies(
    ctx: &Context,
    vault: &VaultName,
    edit: impl FnOnce(&mut Vec<Value>, &str),
) -> Result<Value> {
    let id = find_vault(ctx, vault).await?;
    let url = format!("{id}?api-version={API}");
    let current = ctx.arm_value(Method::GET, &url, None).await?;
    let tenant = current["properties"]["tenantId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut policies = current["properties"]["accessPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    edit(&mut policies, &tenant);
    let mut properties = current["properties"].clone();
    properties["accessPolicies"] = Value::Array(policies);
    let body =
        json!({"location": current["location"], "tags": current["tags"], "properties": properties});
    Ok(az_vault(
        ctx.arm_value(Method::PUT, &url, Some(&body)).await?,
    ))
}

pub async fn run(command: KeyvaultCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        KeyvaultCommand::Create {
            name,
            resource_group,
            location,
            enable_rbac_authorization,
            enable_purge_protection,
            retention_days,
            sku,
            no_self_perms,
            tags,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let location = match location {
                Some(l) => l,
                None => {
                    let rg = ctx.arm_value(Method::GET, &format!("/subscriptions/{sub}/resourcegroups/{resource_group}?api-version=2021-04-01"), None).await?;
                    rg["location"].as_str().unwrap_or_default().to_owned()
                }
            };
            let rbac = enable_rbac_authorization.unwrap_or(false);
            let mut policies = Vec::new();
            if !rbac && !no_self_perms {
                // az gives the creator full access through an access policy: `all` of each kind.
                let me = directory::signed_in_object(ctx).await?;
                policies.push(json!({"tenantId": ctx.server.tenant_id, "objectId": me["id"],
                    "permissions": {"secrets": ["all"], "keys": ["all"], "certificates": ["all"], "storage": ["all"]}}));
            }
            let mut properties = json!({
                "tenantId": ctx.server.tenant_id,
                "sku": {"family": "A", "name": sku},
                "enableRbacAuthorization": rbac,
                "accessPolicies": policies,
            });
            if let Some(p) = enable_purge_protection {
                properties["enablePurgeProtection"] = json!(p);
            }
            if let Some(days) = retention_days {
                properties["softDeleteRetentionInDays"] = json!(days);
            }
            let body =
                json!({"location": location, "tags": parse_tags(&tags), "properties": properties});
            let url = format!("/subscriptions/{sub}/resourceGroups/{resource_group}/providers/Microsoft.KeyVault/vaults/{name}?api-version={API}");
            let made = az_vault(ctx.arm_value(Method::PUT, &url, Some(&body)).await?);
            eprintln!(
                "The vault's host name does not resolve by itself: SDK clients need it in /etc/hosts \
                 (`wid hosts` prints the line, `sudo wid hosts --write` adds it). wid's own CLI needs nothing."
            );
            Ok(Some(made))
        }
        KeyvaultCommand::Show { vault } => {
            let id = find_vault(ctx, &vault).await?;
            Ok(Some(az_vault(
                ctx.arm_value(Method::GET, &format!("{id}?api-version={API}"), None)
                    .await?,
            )))
        }
        KeyvaultCommand::List {
            resource_group,
            subscription,
        } => ctx
            .list_resources(
                subscription.as_deref(),
                resource_group.as_deref(),
                wid_core::resource_id::VAULT_TYPE,
                API,
                az_vault,
            )
            .await
            .map(Some),
        KeyvaultCommand::Delete { vault } => {
            let id = find_vault(ctx, &vault).await?;
            ctx.arm(Method::DELETE, &format!("{id}?api-version={API}"), None)
                .await?;
            Ok(None)
        }
        KeyvaultCommand::Purge {
            name,
            location,
            subscription,
        } => {
            let deleted = deleted_vault(ctx, &name, subscription.as_deref()).await?;
            let location = location.unwrap_or_else(|| {
                deleted["properties"]["location"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            });
            let sub = ctx.subscription(subscription.as_deref())?;
            let url = format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}/purge?api-version={API}");
            ctx.arm(Method::POST, &url, None).await?;
            Ok(None)
        }
        KeyvaultCommand::Recover {
            name, subscription, ..
        } => {
            let deleted = deleted_vault(ctx, &name, subscription.as_deref()).await?;
            let vault_id = deleted["properties"]["vaultId"]
                .as_str()
                .ok_or_else(|| anyhow!("the deleted vault has no id"))?;
            let body = json!({"location": deleted["properties"]["location"], "properties": {"createMode": "recover"}});
            Ok(Some(az_vault(
                ctx.arm_value(
                    Method::PUT,
                    &format!("{vault_id}?api-version={API}"),
                    Some(&body),
                )
                .await?,
            )))
        }
        KeyvaultCommand::SetPolicy {
            vault,
            principal,
            secret_permissions,
            key_permissions,
            certificate_permissions,
        } => {
            let object_id = principal_object_id(ctx, &principal).await?;
            let edited = edit_policies(ctx, &vault, |policies, tenant| {
                let found = policies.iter_mut().find(|p| {
                    p["objectId"].as_str().is_some_and(|o| o.eq_ignore_ascii_case(&object_id))
                        && p["tenantId"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(tenant))
                });
                let permissions = json!({"secrets": secret_permissions, "keys": key_permissions, "certificates": certificate_permissions, "storage": []});
                match found {
                    Some(p) => {
                        for kind in ["secrets", "keys", "certificates"] {
                            if !permissions[kind].as_array().is_some_and(Vec::is_empty) {
                                p["permissions"][kind] = permissions[kind].clone();
                            }
                        }
                    }
                    None => policies.push(json!({"tenantId": tenant, "objectId": object_id, "permissions": permissions})),
                }
            })
            .await?;
            Ok(Some(edited))
        }
        KeyvaultCommand::DeletePolicy { vault, principal } => {
            let object_id = principal_object_id(ctx, &principal).await?;
            let edited = edit_policies(ctx, &vault, |policies, _| {
                policies.retain(|p| {
                    !p["objectId"]
                        .as_str()
                        .is_some_and(|o| o.eq_ignore_ascii_case(&object_id))
                });
            })
            .await?;
            Ok(Some(edited))
        }
        KeyvaultCommand::Secret(command) => secret::run(command, ctx).await,
        KeyvaultCommand::Key(command) => key::run(command, ctx).await,
        KeyvaultCommand::Certificate(command) => certificate::run(command, ctx).await,
    }
}

/// A caller of vaults' data planes: one Key Vault token, the CLI's data-plane api-version.
pub(crate) struct DataPlane<'a> {
    ctx: &'a Context,
    token: String,
}

impl<'a> DataPlane<'a> {
    pub(crate) async fn new(ctx: &'a Context) -> Result<Self> {
        let token = ctx
            .token_for(&format!("{}/.default", ctx.cloud().keyvault_resource()))
            .await?
            .token;
        Ok(Self { ctx, token })
    }

    /// One request to `path` of `vault`; the body of the answer, if any.
    pub(crate) async fn call(
        &self,
        vault: String,
        method: Method,
        path: String,
        body: Option<Value>,
    ) -> Result<Option<Value>> {
        let client = self.ctx.vault_client(&vault)?;
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{path}{sep}api-version={DATA_API}");
        Ok(client
            .arm(method, &url, &self.token, body.as_ref(), &[])
            .await?
            .body)
    }

    /// Every item of a paged list, following `nextLink`.
    pub(crate) async fn list(&self, vault: String, path: String) -> Result<Vec<Value>> {
        let client = self.ctx.vault_client(&vault)?;
        let mut items = Vec::new();
        let mut next = Some(format!("{path}?api-version={DATA_API}"));
        while let Some(url) = next.take() {
            let page = client
                .arm(Method::GET, &url, &self.token, None, &[])
                .await?
                .body
                .unwrap_or(Value::Null);
            items.extend(page["value"].as_array().cloned().unwrap_or_default());
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        Ok(items)
    }
}
