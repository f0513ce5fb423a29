//! The command tree. Each command returns the JSON value az would print (or nothing); the
//! output format and `--query` are applied once, in `main`.

mod account;
mod ad;
mod admin;
mod aks;
mod cloud;
mod directory;
mod group;
mod hosts;
mod identity;
mod jwks;
mod keyvault;
mod kubeconfig;
mod login;
mod monitor;
mod proxy;
mod proxy_init;
mod rest;
mod role;
mod run;
mod serviceaccount;
mod up;
mod webhook;

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Run the wid server in the foreground.
    Up(up::UpArgs),
    /// Manage resource groups.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Manage user-assigned managed identities.
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Manage the subscription in use and get access tokens.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Show the endpoints of this wid installation.
    #[command(subcommand)]
    Cloud(cloud::CloudCommand),
    /// Invoke a custom request against the management plane.
    Rest(rest::RestArgs),
    /// Manage clusters whose OIDC issuers wid hosts, and their service-account tokens.
    #[command(subcommand)]
    Aks(aks::AksCommand),
    /// Log in as a user (-u UPN -p PASSWORD) or a service principal or managed identity.
    Login(login::LoginArgs),
    /// Log out, back to the installation's admin.
    Logout,
    /// Run a command as a pod with workload identity runs.
    Run(run::RunArgs),
    /// Manage role assignments and show role definitions.
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Manage the directory: users, applications, service principals, directory roles.
    #[command(subcommand)]
    Ad(ad::AdCommand),
    /// Manage key vaults, their access policies and secrets.
    #[command(subcommand)]
    Keyvault(keyvault::KeyvaultCommand),
    /// Print (or write into /etc/hosts) the lines that make vault host names resolve.
    Hosts(hosts::HostsArgs),
    /// Operate the installation (key-encryption key rotation).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Print the JWKS of service-account keys, as `azwi jwks` does.
    Jwks(jwks::JwksArgs),
    /// Run the mutating admission webhook for pods that use workload identity.
    Webhook(Box<webhook::WebhookArgs>),
    /// Answer IMDS managed-identity token requests with workload identity (the sidecar).
    Proxy(proxy::ProxyArgs),
    /// Redirect IMDS traffic to the proxy (the proxy's init container; needs NET_ADMIN).
    ProxyInit(proxy_init::ProxyInitArgs),
    /// Federate a cluster's service account with an identity or an application, as azwi does.
    #[command(subcommand)]
    Serviceaccount(serviceaccount::ServiceAccountCommand),
    /// The sign-in log: every token request, granted or refused.
    #[command(subcommand)]
    Monitor(monitor::MonitorCommand),
}

pub async fn run(command: Command, data_dir: PathBuf) -> Result<Option<Value>> {
    match command {
        Command::Up(args) => return up::run(args, data_dir).await.map(|()| None),
        Command::Jwks(args) => return jwks::run(args).map(|()| None),
        Command::Webhook(args) => return webhook::run(*args).await.map(|()| None),
        Command::Proxy(args) => return proxy::run(args).await.map(|()| None),
        Command::ProxyInit(args) => return proxy_init::run(args).map(|()| None),
        Command::Admin(c) if c.is_offline() => return admin::run_offline(c, &data_dir).await,
        _ => {}
    }
    let ctx = Context::load(&data_dir)?;
    match command {
        Command::Up(_)
        | Command::Jwks(_)
        | Command::Webhook(_)
        | Command::Proxy(_)
        | Command::ProxyInit(_) => {
            unreachable!("handled above")
        }
        Command::Group(c) => group::run(c, &ctx).await,
        Command::Identity(c) => identity::run(c, &ctx).await,
        Command::Account(c) => account::run(c, &ctx).await,
        Command::Cloud(c) => cloud::run(c, &ctx),
        Command::Rest(args) => rest::run(args, &ctx).await,
        Command::Aks(c) => aks::run(c, &ctx).await,
        Command::Login(args) => login::login(args, &ctx).await,
        Command::Logout => login::logout(&ctx),
        Command::Run(args) => run::run(args, &ctx).await,
        Command::Role(c) => role::run(c, &ctx).await,
        Command::Ad(c) => ad::run(c, &ctx).await,
        Command::Keyvault(c) => keyvault::run(c, &ctx).await,
        Command::Hosts(args) => hosts::run(args, &ctx).await,
        Command::Admin(c) => admin::run(c, &ctx).await,
        Command::Serviceaccount(c) => serviceaccount::run(c, &ctx).await,
        Command::Monitor(c) => monitor::run(c, &ctx).await,
    }
}

/// `--tags a=b c=d` as az parses them: `key=value`, or `key` alone for an empty value.
pub fn parse_tags(tags: &[String]) -> Value {
    let map: serde_json::Map<String, Value> = tags
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_owned(), Value::String(v.to_owned())),
            None => (t.clone(), Value::String(String::new())),
        })
        .collect();
    Value::Object(map)
}

/// The resource group segment of an ARM id, as az adds it to flattened output.
pub fn resource_group_of(id: &str) -> Option<String> {
    let segments: Vec<&str> = id.split('/').collect();
    segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("resourcegroups"))
        .and_then(|i| segments.get(i + 1))
        .map(|s| (*s).to_owned())
}

/// az's flattened view of a provider resource: `properties` merged into the top level and
/// `resourceGroup` added, as the az CLI prints identities and credentials.
pub fn flatten(mut resource: Value) -> Value {
    let Value::Object(map) = &mut resource else {
        return resource;
    };
    if let Some(Value::Object(props)) = map.remove("properties") {
        for (k, v) in props {
            map.entry(k).or_insert(v);
        }
    }
    if let Some(rg) = map
        .get("id")
        .and_then(Value::as_str)
        .and_then(resource_group_of)
    {
        map.insert("resourceGroup".to_owned(), Value::String(rg));
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_merges_properties_and_adds_group() {
        let v = flatten(
            json!({"id": "/subscriptions/s/resourcegroups/RG1/providers/x/y/n", "name": "n", "properties": {"clientId": "c"}}),
        );
        assert_eq!(
            v,
            json!({"id": "/subscriptions/s/resourcegroups/RG1/providers/x/y/n", "name": "n", "clientId": "c", "resourceGroup": "RG1"})
        );
    }

    #[test]
    fn tags() {
        assert_eq!(
            parse_tags(&["a=b".into(), "c".into(), "d=e=f".into()]),
            json!({"a": "b", "c": "", "d": "e=f"})
        );
    }
}
