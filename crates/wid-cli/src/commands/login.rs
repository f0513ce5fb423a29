//! `wid login` and `wid logout` (az login / az logout): act as another principal of the
//! tenant: a service principal or managed identity (by client secret or federated token), or
//! a user (by password, then by the refresh token it earned).

use crate::context::{token_as, Context, Login};
use anyhow::{bail, Result};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct LoginArgs {
    /// Log in as a service principal or managed identity instead of a user.
    #[arg(long)]
    service_principal: bool,
    /// A user's principal name, or with --service-principal the principal's client id.
    #[arg(short = 'u', long)]
    username: String,
    /// Tenant to sign in to (default: the installation's; required with --service-principal).
    #[arg(short = 't', long)]
    tenant: Option<String>,
    /// The user's password, or with --service-principal the client secret.
    #[arg(short = 'p', long, conflicts_with = "federated_token")]
    password: Option<String>,
    /// A federated token (e.g. from `wid aks create-token`) to exchange; with --service-principal.
    #[arg(long, requires = "service_principal")]
    federated_token: Option<String>,
}

/// az's account entry for a login.
fn account(ctx: &Context, tenant: &str, user: &str, user_type: &str) -> Value {
    json!([{
        "cloudName": "wid",
        "homeTenantId": tenant,
        "id": ctx.server.subscription_id,
        "isDefault": true,
        "name": "wid",
        "state": "Enabled",
        "tenantId": tenant,
        "user": { "name": user, "type": user_type },
    }])
}

pub async fn login(args: LoginArgs, ctx: &Context) -> Result<Option<Value>> {
    if !args.service_principal {
        let Some(password) = args.password else {
            bail!("give the user's password with -p/--password (wid has no interactive browser login)");
        };
        let tenant = args.tenant.unwrap_or_else(|| ctx.server.tenant_id.clone());
        crate::user_tokens::sign_in(ctx, &tenant, &args.username, &password).await?;
        let mut profile = ctx.profile()?;
        profile.login = Some(Login {
            client_id: wid_client::AZ_CLIENT_ID.to_owned(),
            tenant_id: tenant.clone(),
            client_secret: None,
            federated_token: None,
            user_principal_name: Some(args.username.clone()),
        });
        ctx.save_profile(&profile)?;
        return Ok(Some(account(ctx, &tenant, &args.username, "user")));
    }
    let Some(tenant) = args.tenant else {
        bail!("usage error: --service-principal --username NAME --password SECRET --tenant TENANT");
    };
    if args.password.is_none() && args.federated_token.is_none() {
        bail!("give the principal's secret with -p/--password or a token with --federated-token");
    }
    let login = Login {
        client_id: args.username,
        tenant_id: tenant,
        client_secret: args.password,
        federated_token: args.federated_token,
        user_principal_name: None,
    };
    // Prove the credential works before keeping it, as az does.
    let scope = format!("{}.default", ctx.server.management_resource);
    token_as(&ctx.client, &login, &scope).await?;
    let mut profile = ctx.profile()?;
    profile.login = Some(login.clone());
    ctx.save_profile(&profile)?;
    crate::user_tokens::forget(&ctx.data_dir)?;
    Ok(Some(account(
        ctx,
        &login.tenant_id,
        &login.client_id,
        "servicePrincipal",
    )))
}

pub fn logout(ctx: &Context) -> Result<Option<Value>> {
    let mut profile = ctx.profile()?;
    profile.login = None;
    ctx.save_profile(&profile)?;
    crate::user_tokens::forget(&ctx.data_dir)?;
    Ok(None)
}
