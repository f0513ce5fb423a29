//! `wid serviceaccount create`, as `azwi serviceaccount create` does it: the identity's
//! federated credential for a cluster's service account, and the annotated ServiceAccount
//! manifest of the seeds, printed or applied.

use super::identity::API as MSI_API;
use crate::context::Context;
use anyhow::{anyhow, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wid_client::Method;

#[derive(clap::Subcommand)]
pub enum ServiceAccountCommand {
    Create {
        /// The service account.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The managed identity the service account acts as.
        #[arg(long)]
        identity_name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        /// The cluster whose issuer signs the service account's tokens.
        #[arg(long)]
        cluster: String,
        /// Name of the federated credential (default: NAMESPACE-NAME).
        #[arg(long)]
        federated_credential_name: Option<String>,
        /// Apply the ServiceAccount through this kubeconfig instead of printing it.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        #[arg(long)]
        subscription: Option<String>,
    },
}

pub async fn run(command: ServiceAccountCommand, ctx: &Context) -> Result<Option<Value>> {
    let ServiceAccountCommand::Create {
        name,
        namespace,
        identity_name,
        resource_group,
        cluster,
        federated_credential_name,
        kubeconfig,
        subscription,
    } = command;
    let sub = ctx.subscription(subscription.as_deref())?;
    let base = format!("/subscriptions/{sub}/resourceGroups/{resource_group}/providers");
    let identity = ctx
        .arm_value(Method::GET, &format!("{base}/Microsoft.ManagedIdentity/userAssignedIdentities/{identity_name}?api-version={MSI_API}"), None)
        .await?;
    let client_id = identity["properties"]["clientId"]
        .as_str()
        .ok_or_else(|| anyhow!("the identity has no client id"))?
        .to_owned();
    let aks = ctx
        .arm_value(
            Method::GET,
            &format!(
                "{base}/Microsoft.ContainerService/managedClusters/{cluster}?api-version={}",
                super::aks::API
            ),
            None,
        )
        .await?;
    let issuer = aks["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .ok_or_else(|| anyhow!("the cluster '{cluster}' has no OIDC issuer: enable it with `wid aks update --enable-oidc-issuer`"))?;
    let fic_name = federated_credential_name.unwrap_or_else(|| {
        format!("{namespace}-{name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    });
    let body = serde_json::json!({"properties": {
        "issuer": issuer,
        "subject": format!("system:serviceaccount:{namespace}:{name}"),
        "audiences": [wid_core::federation::DEFAULT_AUDIENCE],
    }});
    ctx.arm_value(
        Method::PUT,
        &format!("{base}/Microsoft.ManagedIdentity/userAssignedIdentities/{identity_name}/federatedIdentityCredentials/{fic_name}?api-version={MSI_API}"),
        Some(&body),
    )
    .await?;
    match kubeconfig {
        Some(path) => {
            let client = wid_webhook::kube::KubeClient::from_kubeconfig(&path)?;
            let annotations = BTreeMap::from([(wid_webhook::mutate::CLIENT_ID_ANNOTATION.to_owned(), client_id)]);
            let created = client.apply_service_account(&namespace, &name, &annotations).await?;
            eprintln!("serviceaccount/{name} {}", if created { "created" } else { "configured" });
        }
        None => print!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    {}: \"{client_id}\"\n  name: \"{name}\"\n  namespace: \"{namespace}\"\n",
            wid_webhook::mutate::CLIENT_ID_ANNOTATION
        ),
    }
    Ok(None)
}
