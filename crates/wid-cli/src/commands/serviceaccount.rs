//! `wid serviceaccount create`, as `azwi serviceaccount create` does it: a workload identity
//! for a cluster's service account, in phases run in azwi's order:
//!
//! - `aad-application` (`app`): find the application of `--aad-application-name` or create it,
//!   and its service principal (applications only);
//! - `service-account` (`sa`): the ServiceAccount annotated with the client id, printed or
//!   applied through `--kubeconfig`;
//! - `federated-identity` (`fi`): the federated credential for the service account's subject,
//!   on the application (Graph) or on the managed identity (ARM);
//! - `role-assignment` (`ra`): `--azure-role` at `--azure-scope` for the principal.
//!
//! The principal is an application (`--aad-application-*`) or, wid's own mode, a managed
//! identity (`--identity-name -g`).

use super::identity::API as MSI_API;
use crate::context::Context;
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wid_client::Method;

/// The phases of `create`, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Find or create the application and its service principal.
    #[value(name = "aad-application", alias = "app")]
    AadApplication,
    /// Print or apply the annotated ServiceAccount.
    #[value(name = "service-account", alias = "sa")]
    ServiceAccount,
    /// Create the federated credential for the service account.
    #[value(name = "federated-identity", alias = "fi")]
    FederatedIdentity,
    /// Assign --azure-role at --azure-scope to the principal.
    #[value(name = "role-assignment", alias = "ra")]
    RoleAssignment,
}

const PHASES: [Phase; 4] = [
    Phase::AadApplication,
    Phase::ServiceAccount,
    Phase::FederatedIdentity,
    Phase::RoleAssignment,
];

#[derive(clap::Subcommand)]
pub enum ServiceAccountCommand {
    /// Create a workload identity. Phases, in order: aad-application (find or create the
    /// application and its service principal), service-account (print or apply the annotated
    /// ServiceAccount), federated-identity (the credential trusting the service account's
    /// tokens), role-assignment (--azure-role at --azure-scope, when given).
    Create(Box<CreateArgs>),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The service account.
    #[arg(long, visible_alias = "service-account-name")]
    name: String,
    #[arg(
        long,
        visible_alias = "service-account-namespace",
        default_value = "default"
    )]
    namespace: String,
    /// A managed identity the service account acts as (with -g), instead of an application.
    #[arg(long, conflicts_with_all = ["aad_application_name", "aad_application_object_id", "aad_application_client_id"])]
    identity_name: Option<String>,
    /// Resource group of the identity and of --cluster.
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    /// The application the service account acts as: found by display name, or created with
    /// its service principal by the aad-application phase.
    #[arg(long)]
    aad_application_name: Option<String>,
    /// Object id of the application (skips looking it up by name).
    #[arg(long)]
    aad_application_object_id: Option<String>,
    /// Client id of the application (skips looking it up by name).
    #[arg(long)]
    aad_application_client_id: Option<String>,
    /// The cluster whose issuer signs the service account's tokens (with -g).
    #[arg(long, conflicts_with = "service_account_issuer_url")]
    cluster: Option<String>,
    /// The issuer of the service account's tokens, instead of --cluster.
    #[arg(long)]
    service_account_issuer_url: Option<String>,
    /// Name of the federated credential (default: for an identity NAMESPACE-NAME; for an
    /// application the SHA-256 of namespace, name and issuer in hex, as azwi hashes them).
    #[arg(long)]
    federated_credential_name: Option<String>,
    /// Role the role-assignment phase gives the principal (the phase is skipped without it).
    #[arg(long, requires = "azure_scope")]
    azure_role: Option<String>,
    /// Scope of the role assignment (an ARM id).
    #[arg(long)]
    azure_scope: Option<String>,
    /// Phases not to run (comma-separated): aad-application, service-account,
    /// federated-identity, role-assignment.
    #[arg(long, value_enum, value_delimiter = ',', visible_alias = "skip-phase")]
    skip_phases: Vec<Phase>,
    /// Run only this phase (azwi's `serviceaccount create phase NAME`).
    #[arg(long, value_enum, conflicts_with = "skip_phases")]
    phase: Option<Phase>,
    /// Apply the ServiceAccount through this kubeconfig instead of printing it.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[arg(long)]
    subscription: Option<String>,
}

/// The principal the service account acts as.
enum Principal {
    Identity { name: String, group: String },
    Application,
}

/// Which phases run: `--phase` alone, else all but the skipped ones, in azwi's order. The
/// aad-application phase means nothing for an identity and is left out unless asked for.
pub fn active_phases(only: Option<Phase>, skip: &[Phase], application: bool) -> Vec<Phase> {
    match only {
        Some(p) => vec![p],
        None => PHASES
            .into_iter()
            .filter(|p| !skip.contains(p))
            .filter(|p| application || *p != Phase::AadApplication)
            .collect(),
    }
}

/// The default name of an application's federated credential: like azwi's, the SHA-256 of
/// `namespace-name-issuer`, so one service account of one issuer has one credential and a
/// second run finds it. azwi writes the digest in padded base64url, whose `=` (and a leading
/// `-` or `_`) break the name rule wid applies to every federated credential (3-120
/// letters, digits, `-`, `_`, starting alphanumeric); hex keeps the same identity within it.
pub fn application_credential_name(namespace: &str, name: &str, issuer: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{namespace}-{name}-{issuer}").as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// wid's name of an identity's federated credential: ARM's name rules allow letters,
/// digits, '-' and '_'.
pub fn identity_credential_name(namespace: &str, name: &str) -> String {
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
}

/// The ServiceAccount manifest the service-account phase prints: labelled for the webhook and
/// annotated with the client and tenant ids, as azwi makes it.
pub fn manifest(name: &str, namespace: &str, client_id: &str, tenant_id: &str) -> String {
    use wid_webhook::mutate::{CLIENT_ID_ANNOTATION, TENANT_ID_ANNOTATION, USE_LABEL};
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    {CLIENT_ID_ANNOTATION}: \"{client_id}\"\n    {TENANT_ID_ANNOTATION}: \"{tenant_id}\"\n  labels:\n    {USE_LABEL}: \"true\"\n  name: \"{name}\"\n  namespace: \"{namespace}\"\n"
    )
}

/// Whether a refusal says the object is already there (azwi goes on with a warning).
fn already_exists(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<wid_client::ClientError>() {
        Some(wid_client::ClientError::Arm { status, error }) => {
            *status == 409
                || error.code == "Request_MultipleObjectsWithSameKeyValue"
                || error.code == "RoleAssignmentExists"
        }
        _ => false,
    }
}

/// What the phases learn and share, filled as they run.
struct Run<'a> {
    ctx: &'a Context,
    args: &'a CreateArgs,
    subscription: String,
    application: Option<Value>,
    service_principal_id: Option<String>,
}

impl Run<'_> {
    async fn application(&mut self) -> Result<&Value> {
        if self.application.is_none() {
            let a = self.args;
            let found = if let Some(oid) = &a.aad_application_object_id {
                Some(
                    self.ctx
                        .graph_value(Method::GET, &format!("/v1.0/applications/{oid}"), None)
                        .await?,
                )
            } else if let Some(cid) = &a.aad_application_client_id {
                super::directory::find_application(self.ctx, cid).await?
            } else {
                self.application_by_name().await?
            };
            let name = a.aad_application_name.as_deref().unwrap_or_default();
            self.application = Some(found.ok_or_else(|| {
                anyhow!(
                    "application '{name}' not found: run the aad-application phase to create it"
                )
            })?);
        }
        Ok(self.application.as_ref().expect("set above"))
    }

    /// azwi's `GetApplication`: the first application of that display name.
    async fn application_by_name(&self) -> Result<Option<Value>> {
        let Some(name) = &self.args.aad_application_name else {
            bail!("--aad-application-name, --aad-application-object-id or --aad-application-client-id is required");
        };
        let path = super::directory::filtered(
            "/v1.0/applications",
            &[super::directory::eq_filter("displayName", name)],
        );
        Ok(self.ctx.graph_list(&path).await?.into_iter().next())
    }

    async fn aad_application(&mut self) -> Result<()> {
        let Some(name) = self.args.aad_application_name.clone() else {
            bail!("--aad-application-name is required by the aad-application phase");
        };
        let app = match self.application_by_name().await? {
            Some(app) => app,
            None => {
                self.ctx
                    .graph_value(
                        Method::POST,
                        "/v1.0/applications",
                        Some(&json!({ "displayName": name })),
                    )
                    .await?
            }
        };
        eprintln!(
            "aad-application: application name={name} clientID={} objectID={}",
            app["appId"].as_str().unwrap_or_default(),
            app["id"].as_str().unwrap_or_default()
        );
        let app_id = app["appId"].as_str().unwrap_or_default().to_owned();
        self.application = Some(app);
        let path = super::directory::filtered(
            "/v1.0/servicePrincipals",
            &[super::directory::eq_filter("appId", &app_id)],
        );
        let sp = match self.ctx.graph_list(&path).await?.into_iter().next() {
            Some(sp) => sp,
            None => {
                let tags = [format!(
                    "wid serviceaccount create, version {}",
                    env!("CARGO_PKG_VERSION")
                )];
                self.ctx
                    .graph_value(
                        Method::POST,
                        "/v1.0/servicePrincipals",
                        Some(&json!({ "appId": app_id, "tags": tags })),
                    )
                    .await?
            }
        };
        eprintln!(
            "aad-application: service principal clientID={app_id} objectID={}",
            sp["id"].as_str().unwrap_or_default()
        );
        self.service_principal_id = sp["id"].as_str().map(str::to_owned);
        Ok(())
    }

    async fn identity(&self, name: &str, group: &str) -> Result<Value> {
        let sub = &self.subscription;
        self.ctx
            .arm_value(Method::GET, &format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version={MSI_API}"), None)
            .await
    }

    async fn client_id(&mut self, principal: &Principal) -> Result<String> {
        let id = match principal {
            Principal::Identity { name, group } => {
                self.identity(name, group).await?["properties"]["clientId"].clone()
            }
            Principal::Application => match &self.args.aad_application_client_id {
                Some(cid) => json!(cid),
                None => self.application().await?["appId"].clone(),
            },
        };
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the principal has no client id"))
    }

    async fn issuer(&self) -> Result<String> {
        let a = self.args;
        if let Some(issuer) = &a.service_account_issuer_url {
            return Ok(issuer.clone());
        }
        let (Some(cluster), Some(group)) = (&a.cluster, &a.resource_group) else {
            bail!("--service-account-issuer-url, or --cluster with -g, is required by the federated-identity phase");
        };
        let sub = &self.subscription;
        let aks = self
            .ctx
            .arm_value(
                Method::GET,
                &format!(
                    "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}?api-version={}",
                    super::aks::API
                ),
                None,
            )
            .await?;
        aks["properties"]["oidcIssuerProfile"]["issuerURL"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the cluster '{cluster}' has no OIDC issuer: enable it with `wid aks update --enable-oidc-issuer`"))
    }

    async fn service_account(&mut self, principal: &Principal) -> Result<()> {
        let client_id = self.client_id(principal).await?;
        let tenant_id = self.ctx.server.tenant_id.as_str();
        let a = self.args;
        match &a.kubeconfig {
            Some(path) => {
                let client = wid_webhook::kube::KubeClient::from_kubeconfig(path)?;
                use wid_webhook::mutate::{CLIENT_ID_ANNOTATION, TENANT_ID_ANNOTATION, USE_LABEL};
                let labels = BTreeMap::from([(USE_LABEL.to_owned(), "true".to_owned())]);
                let annotations = BTreeMap::from([
                    (CLIENT_ID_ANNOTATION.to_owned(), client_id),
                    (TENANT_ID_ANNOTATION.to_owned(), tenant_id.to_owned()),
                ]);
                let created = client
                    .apply_service_account(&a.namespace, &a.name, &labels, &annotations)
                    .await?;
                eprintln!(
                    "serviceaccount/{} {}",
                    a.name,
                    if created { "created" } else { "configured" }
                );
            }
            None => print!("{}", manifest(&a.name, &a.namespace, &client_id, tenant_id)),
        }
        Ok(())
    }

    async fn federated_identity(&mut self, principal: &Principal) -> Result<()> {
        let a = self.args;
        let issuer = self.issuer().await?;
        let subject = format!("system:serviceaccount:{}:{}", a.namespace, a.name);
        match principal {
            Principal::Identity { name, group } => {
                let fic = a
                    .federated_credential_name
                    .clone()
                    .unwrap_or_else(|| identity_credential_name(&a.namespace, &a.name));
                let body = json!({"properties": {
                    "issuer": issuer,
                    "subject": subject,
                    "audiences": [wid_core::federation::DEFAULT_AUDIENCE],
                }});
                let sub = &self.subscription;
                self.ctx
                    .arm_value(
                        Method::PUT,
                        &format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}?api-version={MSI_API}"),
                        Some(&body),
                    )
                    .await?;
            }
            Principal::Application => {
                let fic = a
                    .federated_credential_name
                    .clone()
                    .unwrap_or_else(|| application_credential_name(&a.namespace, &a.name, &issuer));
                let oid = match &a.aad_application_object_id {
                    Some(oid) => oid.clone(),
                    None => self.application().await?["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                };
                let body = json!({
                    "name": fic,
                    "issuer": issuer,
                    "subject": subject,
                    "description": format!("Federated Service Account for {}/{}", a.namespace, a.name),
                    "audiences": [wid_core::federation::DEFAULT_AUDIENCE],
                });
                let created = self
                    .ctx
                    .graph_value(
                        Method::POST,
                        &format!("/v1.0/applications/{oid}/federatedIdentityCredentials"),
                        Some(&body),
                    )
                    .await;
                match created {
                    Ok(_) => {}
                    Err(e) if already_exists(&e) => {
                        eprintln!("federated-identity: the federated credential was created before: {e:#}");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        eprintln!("federated-identity: added federated credential subject={subject}");
        Ok(())
    }

    async fn principal_object_id(&mut self, principal: &Principal) -> Result<String> {
        let id = match principal {
            Principal::Identity { name, group } => {
                self.identity(name, group).await?["properties"]["principalId"].clone()
            }
            Principal::Application => match &self.service_principal_id {
                Some(id) => json!(id),
                None => {
                    let app_id = self.client_id(principal).await?;
                    json!(super::directory::resolve_service_principal(self.ctx, &app_id).await?)
                }
            },
        };
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the principal has no object id"))
    }

    async fn role_assignment(&mut self, principal: &Principal, explicit: bool) -> Result<()> {
        let a = self.args;
        let (Some(role), Some(scope)) = (&a.azure_role, &a.azure_scope) else {
            if explicit {
                bail!("--azure-role and --azure-scope are required by the role-assignment phase");
            }
            return Ok(());
        };
        let principal_id = self.principal_object_id(principal).await?;
        match super::role::assign(self.ctx, scope, role, &principal_id, "ServicePrincipal").await {
            Ok(_) => eprintln!("role-assignment: assigned '{role}' at {scope} to {principal_id}"),
            Err(e) if already_exists(&e) => {
                eprintln!("role-assignment: the role assignment exists already")
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

pub async fn run(command: ServiceAccountCommand, ctx: &Context) -> Result<Option<Value>> {
    let ServiceAccountCommand::Create(args) = command;
    let principal = match (&args.identity_name, &args.resource_group) {
        (Some(name), Some(group)) => Principal::Identity {
            name: name.clone(),
            group: group.clone(),
        },
        (Some(_), None) => bail!("--identity-name needs -g/--resource-group"),
        (None, _)
            if args.aad_application_name.is_some()
                || args.aad_application_object_id.is_some()
                || args.aad_application_client_id.is_some() =>
        {
            Principal::Application
        }
        (None, _) => bail!(
            "name the principal: --aad-application-name (an application) or --identity-name with -g (a managed identity)"
        ),
    };
    let is_application = matches!(principal, Principal::Application);
    let phases = active_phases(args.phase, &args.skip_phases, is_application);
    if phases.contains(&Phase::AadApplication) && !is_application {
        bail!("the aad-application phase is for applications, not managed identities");
    }
    let mut run = Run {
        ctx,
        args: &args,
        subscription: ctx.subscription(args.subscription.as_deref())?,
        application: None,
        service_principal_id: None,
    };
    for phase in phases {
        match phase {
            Phase::AadApplication => run.aad_application().await?,
            Phase::ServiceAccount => run.service_account(&principal).await?,
            Phase::FederatedIdentity => run.federated_identity(&principal).await?,
            Phase::RoleAssignment => {
                run.role_assignment(&principal, args.phase.is_some())
                    .await?
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Phase::*;

    #[test]
    fn phases_run_in_azwi_order_minus_skipped() {
        assert_eq!(
            active_phases(None, &[], true),
            vec![
                AadApplication,
                ServiceAccount,
                FederatedIdentity,
                RoleAssignment
            ]
        );
        assert_eq!(
            active_phases(None, &[ServiceAccount, RoleAssignment], true),
            vec![AadApplication, FederatedIdentity]
        );
        assert_eq!(
            active_phases(None, &[], false),
            vec![ServiceAccount, FederatedIdentity, RoleAssignment]
        );
        assert_eq!(
            active_phases(Some(FederatedIdentity), &[], true),
            vec![FederatedIdentity]
        );
    }

    #[test]
    fn phase_names_and_azwi_aliases_parse() {
        use clap::ValueEnum;
        for (text, phase) in [
            ("aad-application", AadApplication),
            ("app", AadApplication),
            ("sa", ServiceAccount),
            ("federated-identity", FederatedIdentity),
            ("fi", FederatedIdentity),
            ("ra", RoleAssignment),
        ] {
            assert_eq!(Phase::from_str(text, false).unwrap(), phase);
        }
    }

    #[test]
    fn credential_names() {
        // Python: hashlib.sha256(b"default-sa-https://issuer/").hexdigest()
        let n = application_credential_name("default", "sa", "https://issuer/");
        assert_eq!(
            n,
            "57df7fde8781310bdaf80ab6a032979f2369575eb08b908e6ea2e0b1c421c49d"
        );
        assert!(wid_core::names::federated_credential(&n).is_ok());
        assert_eq!(identity_credential_name("my.ns", "web"), "my-ns-web");
    }

    #[test]
    fn manifest_carries_the_client_and_tenant_ids_and_the_label() {
        let m = manifest("web", "apps", "cid", "tid");
        for line in [
            "    azure.workload.identity/client-id: \"cid\"",
            "    azure.workload.identity/tenant-id: \"tid\"",
            "  labels:\n    azure.workload.identity/use: \"true\"",
        ] {
            assert!(m.contains(line), "{line} in {m}");
        }
        assert!(m.contains("name: \"web\"") && m.contains("namespace: \"apps\""));
    }
}
