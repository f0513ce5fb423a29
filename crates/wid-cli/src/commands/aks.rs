//! `wid aks …`: clusters with an OIDC issuer wid hosts (az aks), their issuer keys,
//! service-account tokens as the cluster's API server would issue them, and the kubeconfig
//! of the API server a cluster record is attached to.

use super::group::confirm;
use super::kubeconfig;
use super::{flatten, parse_tags};
use crate::context::Context;
use anyhow::{bail, Context as _, Result};
use base64::Engine;
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
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
        /// Nodes of the first agent pool, as AKS records them (wid runs no nodes).
        #[arg(short = 'c', long)]
        node_count: Option<i64>,
        #[arg(short = 's', long)]
        node_vm_size: Option<String>,
        #[arg(short = 'k', long)]
        kubernetes_version: Option<String>,
        #[arg(short = 'p', long)]
        dns_name_prefix: Option<String>,
        /// Use ~/.ssh/id_rsa.pub, creating the key pair first if it is missing (as az).
        #[arg(long)]
        generate_ssh_keys: bool,
        /// A public key, or the file that holds one (default: ~/.ssh/id_rsa.pub if present).
        #[arg(long)]
        ssh_key_value: Option<String>,
        /// Create the cluster without a linuxProfile.
        #[arg(long, conflicts_with_all = ["generate_ssh_keys", "ssh_key_value"])]
        no_ssh_key: bool,
        /// The kubeconfig of the real API server this cluster stands for; served by
        /// `get-credentials`, sealed at rest.
        #[arg(long, value_name = "FILE")]
        attach_kubeconfig: Option<PathBuf>,
        /// PEM public key the cluster signs with (repeatable). wid then holds no private
        /// key for this issuer and only publishes these.
        #[arg(long = "service-account-public-key-file")]
        public_keys: Vec<PathBuf>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        /// Print nothing; wid completes the operation before answering either way.
        #[arg(long)]
        no_wait: bool,
    },
    /// Update a cluster's OIDC issuer, workload identity, tags or attached kubeconfig.
    Update {
        #[command(flatten)]
        cluster: ClusterName,
        #[arg(long)]
        enable_oidc_issuer: bool,
        #[arg(long, conflicts_with = "disable_workload_identity")]
        enable_workload_identity: bool,
        #[arg(long)]
        disable_workload_identity: bool,
        /// Replace the tags (`--tags` alone removes them all).
        #[arg(long, num_args = 0..)]
        tags: Option<Vec<String>>,
        #[arg(long, value_name = "FILE", conflicts_with = "detach_kubeconfig")]
        attach_kubeconfig: Option<PathBuf>,
        #[arg(long)]
        detach_kubeconfig: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// Write the attached API server's kubeconfig into ~/.kube/config (or --file).
    GetCredentials {
        #[command(flatten)]
        cluster: ClusterName,
        /// The kubeconfig to merge into; `-` prints it.
        #[arg(short = 'f', long)]
        file: Option<String>,
        #[arg(long)]
        overwrite_existing: bool,
        #[arg(short = 'a', long)]
        admin: bool,
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

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set")
}

/// The public key az's flags name: `--ssh-key-value` as a key or a file, else
/// ~/.ssh/id_rsa.pub, made first (with its private key) under `--generate-ssh-keys`.
fn ssh_public_key(value: Option<&str>, generate: bool) -> Result<Option<String>> {
    if let Some(v) = value {
        if wid_core::cluster_spec::is_ssh_public_key(v) {
            return Ok(Some(v.trim().to_owned()));
        }
        let text =
            std::fs::read_to_string(v).with_context(|| format!("reading the SSH key {v}"))?;
        if !wid_core::cluster_spec::is_ssh_public_key(&text) {
            bail!("{v} does not hold an OpenSSH public key");
        }
        return Ok(Some(text.trim().to_owned()));
    }
    // Without a home and without --generate-ssh-keys there is simply no key to send.
    let dir = match home() {
        Ok(h) => h.join(".ssh"),
        Err(_) if !generate => return Ok(None),
        Err(e) => return Err(e),
    };
    let public = dir.join("id_rsa.pub");
    match std::fs::read_to_string(&public) {
        Ok(text) if wid_core::cluster_spec::is_ssh_public_key(&text) => {
            Ok(Some(text.trim().to_owned()))
        }
        Ok(_) if generate => bail!(
            "{} does not hold an OpenSSH public key; give --ssh-key-value",
            public.display()
        ),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && generate => {
            let private = dir.join("id_rsa");
            if private.exists() {
                bail!(
                    "{} exists without {}; give --ssh-key-value",
                    private.display(),
                    public.display()
                );
            }
            let (key, pkcs8) = wid_jose::SigningKey::generate_rsa()?;
            let jwk = key.verifying_key().to_jwk();
            let part = |v: Option<String>| -> Result<Vec<u8>> {
                Ok(wid_jose::b64::decode(&v.context("an RSA key")?)?)
            };
            let line = kubeconfig::ssh_rsa_public_key(&part(jwk.n)?, &part(jwk.e)?, "wid");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            wid_server::datadir::write_atomic(
                &private,
                wid_jose::pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
                0o600,
            )?;
            wid_server::datadir::write_atomic(&public, format!("{line}\n").as_bytes(), 0o644)?;
            eprintln!(
                "SSH key files '{}' and '{}' have been generated under ~/.ssh to allow SSH access to the VM.",
                private.display(),
                public.display()
            );
            Ok(Some(line))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", public.display())),
    }
}

/// A kubeconfig file as the body carries it: checked, then base64.
fn kubeconfig_value(file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the kubeconfig {}", file.display()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let text = kubeconfig::inline_files(&text, |named| Ok(std::fs::read(dir.join(named))?))
        .with_context(|| format!("{} is not usable", file.display()))?;
    kubeconfig::validate(&text).with_context(|| format!("{} is not usable", file.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(text))
}

/// Where get-credentials writes by default: the first file of $KUBECONFIG, as az does, or
/// ~/.kube/config.
fn default_kubeconfig() -> Result<PathBuf> {
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).next())
        .filter(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    Ok(home()?.join(".kube").join("config"))
}

pub async fn run(command: AksCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AksCommand::Create {
            cluster,
            location,
            enable_oidc_issuer,
            enable_workload_identity,
            node_count,
            node_vm_size,
            kubernetes_version,
            dns_name_prefix,
            generate_ssh_keys,
            ssh_key_value,
            no_ssh_key,
            attach_kubeconfig,
            public_keys,
            tags,
            no_wait,
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
            let mut pool = json!({
                "name": "nodepool1",
                "mode": "System",
                "osType": "Linux",
                "count": node_count.unwrap_or(wid_core::cluster_spec::DEFAULT_NODE_COUNT),
            });
            if let Some(size) = node_vm_size {
                pool["vmSize"] = json!(size);
            }
            let mut properties = json!({
                "agentPoolProfiles": [pool],
                "oidcIssuerProfile": oidc,
                "securityProfile": { "workloadIdentity": { "enabled": enable_workload_identity } },
            });
            if let Some(v) = kubernetes_version {
                properties["kubernetesVersion"] = json!(v);
            }
            if let Some(p) = dns_name_prefix {
                properties["dnsPrefix"] = json!(p);
            }
            let key = if no_ssh_key {
                None
            } else {
                ssh_public_key(ssh_key_value.as_deref(), generate_ssh_keys)?
            };
            if let Some(key) = key {
                properties["linuxProfile"] = json!({
                    "adminUsername": "azureuser",
                    "ssh": { "publicKeys": [{ "keyData": key }] },
                });
            }
            if let Some(file) = attach_kubeconfig {
                properties["attachedKubeconfig"] = json!(kubeconfig_value(&file)?);
            }
            let body = json!({
                "location": location,
                "tags": parse_tags(&tags),
                "identity": { "type": "SystemAssigned" },
                "properties": properties,
            });
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            let made = az_shape(ctx.arm_value(Method::PUT, &url, Some(&body)).await?);
            Ok((!no_wait).then_some(made))
        }
        AksCommand::Update {
            cluster,
            enable_oidc_issuer,
            enable_workload_identity,
            disable_workload_identity,
            tags,
            attach_kubeconfig,
            detach_kubeconfig,
            no_wait,
        } => {
            let url = format!("{}?api-version={API}", path(ctx, &cluster)?);
            // As az does: the cluster as it is, with the requested changes, PUT back.
            let mut body = ctx.arm_value(Method::GET, &url, None).await?;
            let props = &mut body["properties"];
            if enable_oidc_issuer {
                props["oidcIssuerProfile"]["enabled"] = json!(true);
            }
            if enable_workload_identity || disable_workload_identity {
                props["securityProfile"]["workloadIdentity"] =
                    json!({ "enabled": enable_workload_identity });
            }
            if let Some(file) = attach_kubeconfig {
                props["attachedKubeconfig"] = json!(kubeconfig_value(&file)?);
            }
            if detach_kubeconfig {
                props["attachedKubeconfig"] = json!("");
            }
            if let Some(tags) = tags {
                body["tags"] = parse_tags(&tags);
            }
            let updated = az_shape(ctx.arm_value(Method::PUT, &url, Some(&body)).await?);
            Ok((!no_wait).then_some(updated))
        }
        AksCommand::GetCredentials {
            cluster,
            file,
            overwrite_existing,
            admin,
        } => {
            let action = if admin {
                "listClusterAdminCredential"
            } else {
                "listClusterUserCredential"
            };
            let url = format!("{}/{action}?api-version={API}", path(ctx, &cluster)?);
            let answer = ctx.arm_value(Method::POST, &url, None).await?;
            let value = answer["kubeconfigs"][0]["value"]
                .as_str()
                .context("No Kubernetes credentials found.")?;
            let text = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .context("the credentials are not base64")?,
            )
            .context("the kubeconfig is not UTF-8")?;
            let target = match file.as_deref() {
                Some("-") => {
                    print!("{text}");
                    return Ok(None);
                }
                Some(f) => PathBuf::from(f),
                None => default_kubeconfig()?,
            };
            let existing = match std::fs::read_to_string(&target) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e).with_context(|| format!("reading {}", target.display())),
            };
            let merged = kubeconfig::merge(&existing, &text, overwrite_existing)?;
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            wid_server::datadir::write_atomic(&target, merged.as_bytes(), 0o600)
                .with_context(|| format!("writing {}", target.display()))?;
            eprintln!(
                "Merged \"{}\" as current context in {}",
                cluster.name,
                target.display()
            );
            Ok(None)
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
            // A long-running action that wid has finished when it answers 202.
            ctx.arm(Method::POST, &url, None).await?;
            let keys = format!("{}/issuerKeys?api-version={API}", path(ctx, &cluster)?);
            Ok(Some(Value::Array(ctx.arm_list(&keys).await?)))
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
