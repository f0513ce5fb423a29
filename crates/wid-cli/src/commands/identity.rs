//! `wid identity …` and `wid identity federated-credential …` (az identity).

use super::group::confirm;
use super::{flatten, parse_tags};
use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};
use wid_client::Method;

pub const API: &str = "2024-11-30";
const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create a user-assigned managed identity.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        /// Location (default: the resource group's).
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Show a managed identity.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// List managed identities, in a resource group or the whole subscription.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Delete a managed identity.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Manage federated identity credentials of a managed identity.
    #[command(subcommand)]
    FederatedCredential(CredentialCommand),
}

#[derive(clap::Args)]
pub struct CredentialTarget {
    /// Name of the federated identity credential.
    #[arg(short = 'n', long)]
    name: String,
    #[arg(long)]
    identity_name: String,
    #[arg(short = 'g', long)]
    resource_group: String,
    #[arg(long)]
    subscription: Option<String>,
}

#[derive(clap::Args)]
pub struct CredentialFields {
    /// OpenID Connect issuer URL of the workload's tokens.
    #[arg(long)]
    issuer: Option<String>,
    /// Subject of the workload's tokens, e.g. system:serviceaccount:NS:SA.
    #[arg(long)]
    subject: Option<String>,
    /// Audiences of the workload's tokens (exactly one).
    #[arg(long, visible_alias = "audience", num_args = 1..)]
    audiences: Option<Vec<String>>,
}

#[derive(Subcommand)]
pub enum CredentialCommand {
    /// Create a federated identity credential.
    Create {
        #[command(flatten)]
        target: CredentialTarget,
        #[command(flatten)]
        fields: CredentialFields,
    },
    /// Update a federated identity credential.
    Update {
        #[command(flatten)]
        target: CredentialTarget,
        #[command(flatten)]
        fields: CredentialFields,
    },
    /// Show a federated identity credential.
    Show {
        #[command(flatten)]
        target: CredentialTarget,
    },
    /// List the federated identity credentials of an identity.
    List {
        #[arg(long)]
        identity_name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Delete a federated identity credential.
    Delete {
        #[command(flatten)]
        target: CredentialTarget,
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

fn identity_path(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
}

fn credential_path(ctx: &Context, t: &CredentialTarget) -> Result<String> {
    let sub = ctx.subscription(t.subscription.as_deref())?;
    Ok(format!(
        "{}/federatedIdentityCredentials/{}?api-version={API}",
        identity_path(&sub, &t.resource_group, &t.identity_name),
        t.name
    ))
}

pub async fn run(command: IdentityCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        IdentityCommand::Create {
            name,
            resource_group,
            location,
            tags,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let location = match location {
                Some(l) => l,
                None => {
                    let rg = ctx
                        .arm_value(Method::GET, &format!("/subscriptions/{sub}/resourcegroups/{resource_group}?api-version=2024-11-01"), None)
                        .await?;
                    rg.get("location")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                }
            };
            let mut body = json!({ "location": location });
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            let path = format!(
                "{}?api-version={API}",
                identity_path(&sub, &resource_group, &name)
            );
            Ok(Some(flatten(
                ctx.arm_value(Method::PUT, &path, Some(&body)).await?,
            )))
        }
        IdentityCommand::Show {
            name,
            resource_group,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let path = format!(
                "{}?api-version={API}",
                identity_path(&sub, &resource_group, &name)
            );
            Ok(Some(flatten(
                ctx.arm_value(Method::GET, &path, None).await?,
            )))
        }
        IdentityCommand::List {
            resource_group,
            subscription,
        } => ctx
            .list_resources(
                subscription.as_deref(),
                resource_group.as_deref(),
                wid_core::resource_id::IDENTITY_TYPE,
                API,
                flatten,
            )
            .await
            .map(Some),
        IdentityCommand::Delete {
            name,
            resource_group,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let path = format!(
                "{}?api-version={API}",
                identity_path(&sub, &resource_group, &name)
            );
            ctx.arm(Method::DELETE, &path, None).await?;
            Ok(None)
        }
        IdentityCommand::FederatedCredential(c) => credential(c, ctx).await,
    }
}

async fn credential(command: CredentialCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        CredentialCommand::Create { target, fields } => {
            let body = json!({ "properties": {
                "issuer": fields.issuer.unwrap_or_default(),
                "subject": fields.subject.unwrap_or_default(),
                "audiences": fields.audiences.unwrap_or_else(|| vec![DEFAULT_AUDIENCE.to_owned()]),
            }});
            let path = credential_path(ctx, &target)?;
            Ok(Some(flatten(
                ctx.arm_value(Method::PUT, &path, Some(&body)).await?,
            )))
        }
        CredentialCommand::Update { target, fields } => {
            let path = credential_path(ctx, &target)?;
            let current = ctx.arm_value(Method::GET, &path, None).await?;
            let mut props = current
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(issuer) = fields.issuer {
                props["issuer"] = Value::String(issuer);
            }
            if let Some(subject) = fields.subject {
                props["subject"] = Value::String(subject);
            }
            if let Some(audiences) = fields.audiences {
                props["audiences"] = json!(audiences);
            }
            let body = json!({ "properties": props });
            Ok(Some(flatten(
                ctx.arm_value(Method::PUT, &path, Some(&body)).await?,
            )))
        }
        CredentialCommand::Show { target } => {
            let path = credential_path(ctx, &target)?;
            Ok(Some(flatten(
                ctx.arm_value(Method::GET, &path, None).await?,
            )))
        }
        CredentialCommand::List {
            identity_name,
            resource_group,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let path = format!(
                "{}/federatedIdentityCredentials?api-version={API}",
                identity_path(&sub, &resource_group, &identity_name)
            );
            Ok(Some(Value::Array(
                ctx.arm_list(&path)
                    .await?
                    .into_iter()
                    .map(flatten)
                    .collect(),
            )))
        }
        CredentialCommand::Delete { target, yes } => {
            if !yes && !confirm("Are you sure you want to perform this operation? (y/n): ")? {
                return Ok(None);
            }
            let path = credential_path(ctx, &target)?;
            ctx.arm(Method::DELETE, &path, None).await?;
            Ok(None)
        }
    }
}
