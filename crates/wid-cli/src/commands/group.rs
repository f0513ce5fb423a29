//! `wid group …` (az group).

use super::parse_tags;
use crate::context::Context;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use wid_client::Method;

const API: &str = "2024-11-01";

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Create a new resource group (or update its tags).
    Create {
        #[command(flatten)]
        name: GroupName,
        #[arg(short = 'l', long)]
        location: String,
        /// Space-separated tags: key[=value].
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        #[arg(long)]
        managed_by: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Get a resource group.
    Show {
        #[command(flatten)]
        name: GroupName,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// List resource groups.
    List {
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Delete a resource group and everything in it.
    Delete {
        #[command(flatten)]
        name: GroupName,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Accepted for az compatibility; deletion completes before the command returns.
        #[arg(long)]
        no_wait: bool,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Check if a resource group exists.
    Exists {
        #[command(flatten)]
        name: GroupName,
        #[arg(long)]
        subscription: Option<String>,
    },
}

#[derive(Args)]
pub struct GroupName {
    /// Name of the resource group.
    #[arg(
        short = 'n',
        long = "name",
        visible_alias = "resource-group",
        short_alias = 'g'
    )]
    name: String,
}

fn path(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{name}?api-version={API}")
}

/// az prints `managedBy` and `tags` as null when unset.
fn az_shape(mut group: Value) -> Value {
    if let Value::Object(map) = &mut group {
        map.entry("managedBy").or_insert(Value::Null);
        map.entry("tags").or_insert(Value::Null);
    }
    group
}

pub async fn run(command: GroupCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        GroupCommand::Create {
            name,
            location,
            tags,
            managed_by,
            subscription,
        } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let mut body = json!({ "location": location });
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            if let Some(m) = managed_by {
                body["managedBy"] = Value::String(m);
            }
            let group = ctx
                .arm_value(Method::PUT, &path(&sub, &name.name), Some(&body))
                .await?;
            Ok(Some(az_shape(group)))
        }
        GroupCommand::Show { name, subscription } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            Ok(Some(az_shape(
                ctx.arm_value(Method::GET, &path(&sub, &name.name), None)
                    .await?,
            )))
        }
        GroupCommand::List { subscription } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let groups = ctx
                .arm_list(&format!(
                    "/subscriptions/{sub}/resourcegroups?api-version={API}"
                ))
                .await?;
            Ok(Some(Value::Array(
                groups.into_iter().map(az_shape).collect(),
            )))
        }
        GroupCommand::Delete {
            name,
            yes,
            no_wait: _,
            subscription,
        } => {
            if !yes && !confirm("Are you sure you want to perform this operation? (y/n): ")? {
                return Ok(None);
            }
            let sub = ctx.subscription(subscription.as_deref())?;
            ctx.arm(Method::DELETE, &path(&sub, &name.name), None)
                .await?;
            Ok(None)
        }
        GroupCommand::Exists { name, subscription } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let exists = match ctx.arm(Method::HEAD, &path(&sub, &name.name), None).await {
                Ok(r) => r.status == 204 || r.status == 200,
                Err(e) => match e.downcast_ref::<wid_client::ClientError>() {
                    Some(wid_client::ClientError::Arm { status: 404, .. }) => false,
                    _ => return Err(e),
                },
            };
            Ok(Some(Value::Bool(exists)))
        }
    }
}

/// az asks before destructive operations unless `--yes`; without a terminal it refuses.
pub fn confirm(prompt: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("the command requires confirmation; pass --yes to run it non-interactively");
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
