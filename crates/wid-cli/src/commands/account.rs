//! `wid account …` (az account): the subscription in use and access tokens.

use crate::context::Context;
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

const API: &str = "2022-12-01";

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Show the subscription in use.
    Show {
        #[arg(
            short = 's',
            long = "subscription",
            visible_alias = "name",
            short_alias = 'n'
        )]
        subscription: Option<String>,
    },
    /// List the subscriptions of the signed-in principal.
    List {
        /// Accepted for az compatibility.
        #[arg(long)]
        all: bool,
    },
    /// Set the subscription in use.
    Set {
        #[arg(
            short = 's',
            long = "subscription",
            visible_alias = "name",
            short_alias = 'n'
        )]
        subscription: String,
    },
    /// Get an access token for the signed-in principal.
    GetAccessToken {
        /// Resource the token is for (default: the management plane).
        #[arg(long)]
        resource: Option<String>,
        /// Scope the token is for, instead of --resource.
        #[arg(long, conflicts_with = "resource", num_args = 1..)]
        scope: Option<Vec<String>>,
        #[arg(
            short = 's',
            long = "subscription",
            visible_alias = "name",
            short_alias = 'n'
        )]
        subscription: Option<String>,
        #[arg(short = 't', long)]
        tenant: Option<String>,
    },
}

/// The `az account show` shape of one subscription.
fn account(ctx: &Context, sub: &Value, default_id: &str) -> Value {
    let id = sub
        .get("subscriptionId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({
        "environmentName": "wid",
        "homeTenantId": sub.get("tenantId"),
        "id": id,
        "isDefault": id.eq_ignore_ascii_case(default_id),
        "managedByTenants": sub.get("managedByTenants").cloned().unwrap_or_else(|| json!([])),
        "name": sub.get("displayName"),
        "state": sub.get("state"),
        "tenantId": sub.get("tenantId"),
        "user": {
            "name": ctx.user_name().unwrap_or_else(|_| ctx.credentials.client_id.clone()),
            "type": ctx.user_type().unwrap_or("servicePrincipal"),
        },
    })
}

async fn subscriptions(ctx: &Context) -> Result<Vec<Value>> {
    ctx.arm_list(&format!("/subscriptions?api-version={API}"))
        .await
}

/// A subscription named by id or display name, as az accepts either.
fn find<'a>(subs: &'a [Value], wanted: &str) -> Option<&'a Value> {
    subs.iter().find(|s| {
        ["subscriptionId", "displayName"].iter().any(|k| {
            s.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        })
    })
}

pub async fn run(command: AccountCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AccountCommand::Show { subscription } => {
            let current = ctx.subscription(None)?;
            let subs = subscriptions(ctx).await?;
            let wanted = subscription.unwrap_or_else(|| current.clone());
            match find(&subs, &wanted) {
                Some(s) => Ok(Some(account(ctx, s, &current))),
                None => bail!("Subscription '{wanted}' not found. Check the spelling and casing and try again."),
            }
        }
        AccountCommand::List { all: _ } => {
            let current = ctx.subscription(None)?;
            let subs = subscriptions(ctx).await?;
            Ok(Some(Value::Array(
                subs.iter().map(|s| account(ctx, s, &current)).collect(),
            )))
        }
        AccountCommand::Set { subscription } => {
            let subs = subscriptions(ctx).await?;
            let Some(found) = find(&subs, &subscription) else {
                bail!("The subscription of '{subscription}' doesn't exist in cloud 'wid'.");
            };
            let id = found
                .get("subscriptionId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut profile = ctx.profile()?;
            profile.subscription_id = Some(id);
            ctx.save_profile(&profile)?;
            Ok(None)
        }
        AccountCommand::GetAccessToken {
            resource,
            scope,
            subscription,
            tenant,
        } => {
            let scope = match (scope, resource) {
                (Some(scopes), _) => scopes.join(" "),
                (None, Some(r)) => format!("{}/.default", r.trim_end_matches('/')),
                (None, None) => format!("{}.default", ctx.server.management_resource),
            };
            if let Some(t) = tenant.filter(|t| !t.eq_ignore_ascii_case(&ctx.credentials.tenant_id))
            {
                bail!(
                    "the signed-in principal belongs to tenant {}, not {t}",
                    ctx.credentials.tenant_id
                );
            }
            let sub = ctx.subscription(subscription.as_deref())?;
            let token = ctx.token_for(&scope).await?;
            let expires_on = token.expires_on;
            Ok(Some(json!({
                "accessToken": token.token,
                "expiresOn": wid_core::timefmt::az_expires_on(expires_on),
                "expires_on": expires_on,
                "subscription": sub,
                "tenant": ctx.credentials.tenant_id,
                "tokenType": token.token_type,
            })))
        }
    }
}
