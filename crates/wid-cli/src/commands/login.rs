//! `wid login --service-principal` and `wid logout` (az login / az logout): act as another
//! principal of the tenant, by client secret or by federated token.

use crate::context::{token_as, Context, Login};
use anyhow::{bail, Result};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct LoginArgs {
    /// Log in as a service principal or managed identity (the only kind wid has).
    #[arg(long)]
    service_principal: bool,
    /// Client id of the principal.
    #[arg(short = 'u', long)]
    username: String,
    #[arg(short = 't', long)]
    tenant: String,
    /// Client secret.
    #[arg(short = 'p', long, conflicts_with = "federated_token")]
    password: Option<String>,
    /// A federated token (e.g. from `wid aks create-token`) to exchange.
    #[arg(long)]
    federated_token: Option<String>,
}

pub async fn login(args: LoginArgs, ctx: &Context) -> Result<Option<Value>> {
    if !args.service_principal {
        bail!("wid has no interactive users: use --service-principal with -p or --federated-token");
    }
    if args.password.is_none() && args.federated_token.is_none() {
        bail!("give the principal's secret with -p/--password or a token with --federated-token");
    }
    let login = Login {
        client_id: args.username,
        tenant_id: args.tenant,
        client_secret: args.password,
        federated_token: args.federated_token,
    };
    // Prove the credential works before keeping it, as az does.
    let scope = format!("{}.default", ctx.server.management_resource);
    token_as(&ctx.client, &login, &scope).await?;
    let mut profile = ctx.profile()?;
    profile.login = Some(login.clone());
    ctx.save_profile(&profile)?;
    Ok(Some(json!([{
        "cloudName": "wid",
        "homeTenantId": login.tenant_id,
        "id": ctx.server.subscription_id,
        "isDefault": true,
        "name": "wid",
        "state": "Enabled",
        "tenantId": login.tenant_id,
        "user": { "name": login.client_id, "type": "servicePrincipal" },
    }])))
}

pub fn logout(ctx: &Context) -> Result<Option<Value>> {
    let mut profile = ctx.profile()?;
    profile.login = None;
    ctx.save_profile(&profile)?;
    Ok(None)
}
