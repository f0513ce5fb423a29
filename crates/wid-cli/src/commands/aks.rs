//! `wid aks …`: clusters with an OIDC issuer wid hosts (az aks), their issuer keys, and
//! service-account tokens as the cluster's API server would issue them.

use super::group::confirm;
use super::{flatten, parse_tags};
use crate::context::Context;
use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;
use wid_client::Method;

pub const API: &str = "2025-01-01";

#[derive(clap::Args)]
pub struct ClusterName {
    #[arg(short = 'n', long)]
    pub name: String,
    #[arg(short = 'g', long)]
    pub resource_group: String,
    #[arg(long)]
    pub subscription: Option<String>,
}

#[derive(Subcommand)]
pub enum AksCommand {
    /// Create a cluster record whose OIDC issuer wid hosts.
    Create {
        #[command(flatten)]
        cluster: ClusterName,
        /// Location (default: the resource group's).
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(long)]
        enable_oidc_issuer: bool,
        #[arg(long)]
        enable_workload_identity: bool,
        /// PEM public key the cluster signs with (repeatable). wid then holds no private
        /// key for this issuer and only publishes these.
        #[arg(long = "service-account-public-key-file")]
        public_keys: Vec<PathBuf>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// Update a cluster's OIDC issuer and workload identity settings.
    Update {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long)]
        enable_oidc_issuer: bool,
        #[arg(long, conflicts_with = "disable_workload_identity")]
        enable_workload_identity: bool,
        #[arg(long)]
        disable_workload_identity: bool,
    },
    Show {
        #[command(flatten)]
        cluster: ClusterName,
    },
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    Delete {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(short = 'y', long)]
        yes: bool,
        /// Accepted for az compatibility; deletion completes before the command returns.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print a service-account token signed by the cluster's issuer (as `kubectl create token`).
    CreateToken {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long, default_value = "default")]
        namespace: String,
        #[arg(long)]
        service_account: String,
        #[arg(long, default_value = wid_core::cluster::TOKEN_EXCHANGE_AUDIENCE)]
        audience: Vec<String>,
        /// Lifetime as a Go duration (10m to 48h).
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Bind the token to a pod of this name, as projected volumes do.
        #[arg(long)]
        pod: Option<String>,
    },
    /// Manage the keys of the cluster's OIDC issuer.
    #[command(subcommand)]
    OidcIssuer(IssuerCommand),
}

#[derive(Subcommand)]
pub enum IssuerCommand {
    /// Publish a new signing key and sign with it; old keys stay published until removed.
    RotateSigningKeys {
        #[command(flatten)]
        cluster: ClusterName,
    },
    /// List the published keys.
    ListKeys {
        #[command(flatten)]
        cluster: ClusterName,
    },
    /// Publish a public key the cluster signs with (its private key stays in the cluster).
    AddKey {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long)]
        public_key_file: PathBuf,
    },
    /// Stop publishing a key: tokens it signed stop working.
    RemoveKey {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long)]
        kid: String,
    },
    /// Write the signing key for a self-managed kube-apiserver (possible once per key).
    ExportSigningKey {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long)]
        output_dir: PathBuf,
    },
}

fn path(ctx: &Context, c: &ClusterName) -> Result<String> {
    Ok(format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
        ctx.subscription(c.subscription.as_deref())?,
        c.resource_group,
        c.name
    ))
}

/// az's view of a cluster: properties flattened, and the SDK's `issuerUrl` spelling.
fn az_shape(cluster: Value) -> Value {
    let mut v = flatten(cluster);
    if let Some(profile) = v
        .get_mut("oidcIssuerProfile")
        .and_then(Value::as_object_mut)
    {
        let url = profile.remove("issuerURL").unwrap_or(Value::Null);
        profile.insert("issuerUrl".to_owned(), url);
    }
    v
}

async fn group_location(ctx: &Context, sub: &str, rg: &str) -> Result<String> {
    let group = ctx
        .arm_value(
            Method::GET,
            &format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2021-04-01"),
            None,
        )
        .await?;
    Ok(group["location"].as_str().unwrap_or_default().to_owned())
}

pub async fn run(command: AksCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AksCommand::Create {
            cluster,
            location,
            enable_oidc_issuer,
            enable_workload_identity,
            public_keys,
            tags,
        } => {
            let sub = ctx.subscription(cluster.subscription.as_deref())?;
            let location = match location {
                Some(l) => l,
                None => group_location(ctx, &sub, &cluster.resource_group).await?,
            };
            let mut oidc = json!({ "enabled": enable_oidc_issuer });
            if !public_keys.is_empty() {
                let pems = public_keys
                    .iter()
                    .map(|p| {
                        std::fs::read_to_string(p)
                            .with_context(|| format!("reading {}", p.display()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                oidc["serviceAccountPublicKeys"] = json!(pems);
            }
            let body = json!({
                "location": location,
                "tags": parse_tags(&tags),
                "properties": {
                    "oidcIssuerProfile": oidc,
                    "securityProfile": { "workloadIdentity": { "enabled": enable_workload_identity } },
                },
            });
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            Ok(Some(az_shape(
                ctx.arm_value(Method::PUT, &url, Some(&body)).await?,
            )))
        }
        AksCommand::Update {
            cluster,
            enable_oidc_issuer,
            enable_workload_identity,
            disable_workload_identity,
        } => {
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            let current = ctx.arm_value(Method::GET, &url, None).await?;
            let mut body = json!({
                "location": current["location"],
                "tags": current["tags"],
                "properties": {},
            });
            if enable_oidc_issuer {
                body["properties"]["oidcIssuerProfile"] = json!({ "enabled": true });
            }
            if enable_workload_identity || disable_workload_identity {
                body["properties"]["securityProfile"] =
                    json!({ "workloadIdentity": { "enabled": enable_workload_identity } });
            }
            Ok(Some(az_shape(
                ctx.arm_value(Method::PUT, &url, Some(&body)).await?,
            )))
        }
        AksCommand::Show { cluster } => {
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            Ok(Some(az_shape(
                ctx.arm_value(Method::GET, &url, None).await?,
            )))
        }
        AksCommand::List {
            resource_group,
            subscription,
        } => ctx
            .list_resources(
                subscription.as_deref(),
                resource_group.as_deref(),
                "Microsoft.ContainerService/managedClusters",
                API,
                az_shape,
            )
            .await
            .map(Some),
        AksCommand::Delete { cluster, yes, .. } => {
            if !yes
                && !confirm(&format!(
                    "Are you sure you want to perform this operation? Cluster '{}'",
                    cluster.name
                ))?
            {
                return Ok(None);
            }
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            ctx.arm(Method::DELETE, &url, None).await?;
            Ok(None)
        }
        AksCommand::CreateToken {
            cluster,
            namespace,
            service_account,
            audience,
            duration,
            pod,
        } => {
            let token = create_token(
                ctx,
                &cluster,
                &namespace,
                &service_account,
                &audience,
                &duration,
                pod.as_deref(),
            )
            .await?;
            println!("{token}");
            Ok(None)
        }
        AksCommand::OidcIssuer(command) => issuer(command, ctx).await,
    }
}

/// Used by `wid aks create-token` and `wid run`.
pub async fn create_token(
    ctx: &Context,
    cluster: &ClusterName,
    namespace: &str,
    service_account: &str,
    audiences: &[String],
    duration: &str,
    pod: Option<&str>,
) -> Result<String> {
    let seconds = wid_core::cluster::parse_duration(duration)?;
    let body = json!({
        "namespace": namespace,
        "serviceAccountName": service_account,
        "audiences": audiences,
        "expirationSeconds": seconds,
        "podName": pod,
    });
    let url = format!(
        "{}/serviceAccountToken?api-version={API}",
        path(ctx, cluster)?
    );
    let answer = ctx.arm_value(Method::POST, &url, Some(&body)).await?;
    match answer["token"].as_str() {
        Some(t) => Ok(t.to_owned()),
        None => bail!("the server returned no token"),
    }
}

async fn issuer(command: IssuerCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        IssuerCommand::RotateSigningKeys { cluster } => {
            let url = format!(
                "{}/rotateServiceAccountSigningKeys?api-version={API}",
                path(ctx, &cluster)?
            );
            Ok(Some(
                ctx.arm_value(Method::POST, &url, None).await?["value"].take(),
            ))
        }
        IssuerCommand::ListKeys { cluster } => {
            let url = format!("{}/issuerKeys?api-version={API}", path(ctx, &cluster)?);
            Ok(Some(Value::Array(ctx.arm_list(&url).await?)))
        }
        IssuerCommand::AddKey {
            cluster,
            public_key_file,
        } => {
            let pem = std::fs::read_to_string(&public_key_file)
                .with_context(|| format!("reading {}", public_key_file.display()))?;
            let url = format!("{}/issuerKeys?api-version={API}", path(ctx, &cluster)?);
            let body = json!({ "publicKeyPem": pem });
            Ok(Some(ctx.arm_value(Method::POST, &url, Some(&body)).await?))
        }
        IssuerCommand::RemoveKey { cluster, kid } => {
            let url = format!(
                "{}/issuerKeys/{kid}?api-version={API}",
                path(ctx, &cluster)?
            );
            ctx.arm(Method::DELETE, &url, None).await?;
            Ok(None)
        }
        IssuerCommand::ExportSigningKey {
            cluster,
            output_dir,
        } => {
            let url = format!(
                "{}/exportServiceAccountSigningKey?api-version={API}",
                path(ctx, &cluster)?
            );
            let exported = ctx.arm_value(Method::POST, &url, None).await?;
            std::fs::create_dir_all(&output_dir)
                .with_context(|| format!("creating {}", output_dir.display()))?;
            let private = output_dir.join("sa.key");
            let public = output_dir.join("sa.pub");
            wid_server::datadir::write_atomic(
                &private,
                exported["privateKeyPem"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes(),
                0o600,
            )?;
            wid_server::datadir::write_atomic(
                &public,
                exported["publicKeyPem"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes(),
                0o644,
            )?;
            let issuer = exported["issuer"].as_str().unwrap_or_default();
            eprintln!(
                "Wrote {} (mode 0600) and {}. Start kube-apiserver with:\n  --service-account-issuer={issuer}\n  --service-account-signing-key-file={}\n  --service-account-key-file={}\nand kube-controller-manager with --service-account-private-key-file={}.",
                private.display(),
                public.display(),
                private.display(),
                public.display(),
                private.display(),
            );
            Ok(Some(json!({
                "kid": exported["kid"],
                "issuer": issuer,
                "privateKeyFile": private,
                "publicKeyFile": public,
            })))
        }
    }
}
