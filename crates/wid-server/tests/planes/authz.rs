//! Authorization of the management plane, attacked: a workload identity tries every route
//! under every role and scope, with resources named like ARM's keywords; and the findings
//! of the security review, each replayed as it was reported.

use super::exchange::Federation;
use super::{error_code, Wid};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const RBAC_ADMIN: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const MI_CONTRIBUTOR: &str = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59";
const KV_CONTRIBUTOR: &str = "f25e0fa2-a7c8-4377-a976-54943a77a395";
const AUTHZ: &str = "api-version=2022-04-01";
/// A well-formed api-version no resource type has: a request that passes authorization with
/// it is refused by the guard's version check before its handler changes anything.
const NO_VERSION: &str = "api-version=1999-01-01";

/// What a route does, in the test's own words, independent of the server's declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Read,
    Write,
    Delete,
    /// A POST operation on a resource.
    Act,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Resources,
    Msi,
    Clusters,
    Vaults,
    Authorization,
    /// Reading a resource's logs (`Microsoft.Insights/logs/*/read`): not in the
    /// service-specific contributor roles.
    Insights,
    Wid,
}

/// Where the request acts: what a role assignment must sit on (or above) to reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Subscription,
    Group,
    Identity,
    Credential,
    Cluster,
    Vault,
    Secret,
    Certificate,
    Key,
}

/// The matrix's entry for each declared route: a route the table does not know fails.
fn entry(method: &Method, template: &str) -> Option<(Verb, Provider, At)> {
    use At::*;
    use Provider::*;
    use Verb::*;
    let verb = match *method {
        Method::GET | Method::HEAD => Read,
        Method::PUT | Method::PATCH => Write,
        Method::DELETE => Delete,
        Method::POST => Act,
        _ => return None,
    };
    let t = template;
    let role_scope = |rest: &str| -> Option<At> {
        let scope = t.strip_suffix(rest)?;
        Some(match scope {
            "/subscriptions/{sub}" => Subscription,
            "/subscriptions/{sub}/resourceGroups/{rg}" => Group,
            s if s.ends_with("userAssignedIdentities/{name}") => Identity,
            s if s.ends_with("managedClusters/{name}") => Cluster,
            s if s.ends_with("vaults/{name}") => Vault,
            s if s.ends_with("vaults/{name}/secrets/{secret}") => Secret,
            s if s.ends_with("vaults/{name}/certificates/{certificate}") => Certificate,
            s if s.ends_with("vaults/{name}/keys/{key}") => Key,
            _ => return None,
        })
    };
    for rest in [
        "/providers/Microsoft.Authorization/roleAssignments",
        "/providers/Microsoft.Authorization/roleAssignments/{assignment}",
        "/providers/Microsoft.Authorization/roleDefinitions",
        "/providers/Microsoft.Authorization/roleDefinitions/{definition}",
    ] {
        if let Some(at) = role_scope(rest) {
            return Some((verb, Authorization, at));
        }
    }
    let groups = "/subscriptions/{sub}/resourceGroups";
    let row = match t {
        "/tenants" | "/subscriptions" => return None,
        "/subscriptions/{sub}/providers/Microsoft.KeyVault/checkNameAvailability" => {
            return Some((Read, Vaults, Subscription))
        }
        "/subscriptions/{sub}" => (Resources, Subscription),
        "/subscriptions/{sub}/providers/Microsoft.Wid/rotateKeyEncryptionKey" => {
            (Wid, Subscription)
        }
        "/subscriptions/{sub}/locations"
        | "/subscriptions/{sub}/providers"
        | "/subscriptions/{sub}/providers/{namespace}"
        | "/subscriptions/{sub}/providers/{namespace}/register" => (Resources, Subscription),
        _ if t == groups => (Resources, Subscription),
        "/subscriptions/{sub}/resourceGroups/{rg}" => (Resources, Group),
        _ if t.ends_with("/federatedIdentityCredentials/{fic}") => (Msi, Credential),
        _ if t.ends_with("/federatedIdentityCredentials") => (Msi, At::Identity),
        _ if t.ends_with("userAssignedIdentities/{name}") => (Msi, At::Identity),
        _ if t.ends_with("managedClusters/{name}") || t.contains("managedClusters/{name}/") => {
            (Clusters, Cluster)
        }
        // An operation's status is for whoever may read what it acted on.
        _ if t.contains("/Microsoft.ContainerService/locations/{location}/operation") => {
            (Clusters, Cluster)
        }
        _ if t.ends_with("vaults/{name}/auditEvents") => (Insights, Vault),
        _ if t.ends_with("vaults/{name}/secrets/{secret}") => (Vaults, Secret),
        _ if t.ends_with("vaults/{name}/secrets") => (Vaults, Vault),
        _ if t.ends_with("vaults/{name}") || t.ends_with("/accessPolicies/{kind}") => {
            (Vaults, Vault)
        }
        _ if t.contains("deletedVaults") || t.ends_with("deletedManagedHSMs") => {
            (Vaults, Subscription)
        }
        _ if t.starts_with("/subscriptions/{sub}/providers/") && !t.contains("{rg}") => {
            let provider = if t.ends_with("userAssignedIdentities") {
                Msi
            } else if t.ends_with("managedClusters") {
                Clusters
            } else if t.ends_with("vaults") {
                Vaults
            } else {
                return None;
            };
            (provider, Subscription)
        }
        _ if t.starts_with("/subscriptions/{sub}/resourceGroups/{rg}/providers/") => {
            let provider = if t.ends_with("userAssignedIdentities") {
                Msi
            } else if t.ends_with("managedClusters") {
                Clusters
            } else if t.ends_with("vaults") {
                Vaults
            } else {
                return None;
            };
            (provider, Group)
        }
        _ => return None,
    };
    Some((verb, row.0, row.1))
}

/// What each role lets its holder do, stated from Azure's role descriptions.
fn role_permits(role: &str, verb: Verb, provider: Provider, template: &str) -> bool {
    let authz_write = provider == Provider::Authorization && verb != Verb::Read;
    match role {
        OWNER => true,
        CONTRIBUTOR => !authz_write,
        READER => verb == Verb::Read,
        RBAC_ADMIN => {
            verb == Verb::Read
                || (authz_write && template.contains("roleAssignments") && verb != Verb::Act)
        }
        MI_CONTRIBUTOR => {
            (provider == Provider::Msi)
                || (verb == Verb::Read
                    && (provider == Provider::Authorization || group_read(template)))
        }
        KV_CONTRIBUTOR => {
            (provider == Provider::Vaults && !template.ends_with("/purge"))
                || (verb == Verb::Read
                    && (provider == Provider::Authorization || group_read(template)))
        }
        other => panic!("no expectations for role {other}"),
    }
}

/// `Microsoft.Resources/subscriptions/resourceGroups/read`: a group, or the list of them.
fn group_read(template: &str) -> bool {
    template.starts_with("/subscriptions/{sub}/resourceGroups") && !template.contains("/providers/")
}

/// The resources the matrix works on, named as hostile clients name them.
struct Names {
    group: &'static str,
    sibling: &'static str,
    identity: &'static str,
    credential: &'static str,
    cluster: &'static str,
    vault: &'static str,
    secret: &'static str,
    certificate: &'static str,
    key: &'static str,
}

const KEYWORDS: Names = Names {
    group: "providers",
    sibling: "subscriptions",
    identity: "providers",
    credential: "providers",
    cluster: "resourceGroups",
    vault: "providers",
    secret: "roleAssignments",
    certificate: "providers",
    key: "roleAssignments",
};

const ORDINARY: Names = Names {
    group: "rg-one",
    sibling: "rg-two",
    identity: "Id_one-1",
    credential: "fic-1",
    cluster: "c1",
    vault: "vault-one",
    secret: "s-1",
    certificate: "c-1",
    key: "k-1",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Subscription,
    Group,
    Identity,
    Cluster,
    Vault,
    Sibling,
}

struct Matrix<'a> {
    f: &'a Federation,
    names: &'a Names,
    sub: String,
    actor: String,
    token: String,
    /// The long-running operation that created the cluster.
    operation: String,
}

impl Matrix<'_> {
    fn id(&self, at: At) -> String {
        let n = self.names;
        let group = format!("/subscriptions/{}/resourceGroups/{}", self.sub, n.group);
        let identity = format!(
            "{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            n.identity
        );
        let vault = format!("{group}/providers/Microsoft.KeyVault/vaults/{}", n.vault);
        match at {
            At::Subscription => format!("/subscriptions/{}", self.sub),
            At::Group => group,
            At::Identity => identity,
            At::Credential => format!("{identity}/federatedIdentityCredentials/{}", n.credential),
            At::Cluster => format!(
                "{group}/providers/Microsoft.ContainerService/managedClusters/{}",
                n.cluster
            ),
            At::Vault => vault.clone(),
            At::Secret => format!("{vault}/secrets/{}", n.secret),
            At::Certificate => format!("{vault}/certificates/{}", n.certificate),
            At::Key => format!("{vault}/keys/{}", n.key),
        }
    }

    fn placement_scope(&self, p: Placement) -> String {
        match p {
            Placement::Subscription => self.id(At::Subscription),
            Placement::Group => self.id(At::Group),
            Placement::Identity => self.id(At::Identity),
            Placement::Cluster => self.id(At::Cluster),
            Placement::Vault => self.id(At::Vault),
            Placement::Sibling => format!(
                "/subscriptions/{}/resourceGroups/{}",
                self.sub, self.names.sibling
            ),
        }
    }

    /// Whether an assignment at `p` reaches what a request at `at` acts on: the test's own
    /// notion of ARM scope inheritance.
    fn covers(&self, p: Placement, at: At) -> bool {
        let scope = self.placement_scope(p).to_lowercase();
        let target = self.id(at).to_lowercase();
        target == scope || target.starts_with(&format!("{scope}/"))
    }

    /// The concrete path for a template: names filled in, an existing victim assignment for
    /// assignment routes, and the query.
    fn path(&self, method: &Method, template: &str, api_version: &str) -> String {
        let n = self.names;
        let name = if template.contains("userAssignedIdentities/{name}") {
            n.identity
        } else if template.contains("managedClusters/{name}") {
            n.cluster
        } else {
            n.vault
        };
        let assignment = match entry(method, template) {
            _ if *method == Method::PUT => "aaaaaaaa-0000-4000-8000-00000000beef".to_owned(),
            Some((_, _, at)) => victim(at),
            None => String::new(),
        };
        let path = template
            .replace("{sub}", &self.sub)
            .replace("{rg}", n.group)
            .replace("{name}", &percent(name))
            .replace("{fic}", n.credential)
            .replace("{kid}", "kid-1")
            .replace("{kind}", "add")
            .replace("{location}", "eastus")
            .replace("{operation}", &self.operation)
            .replace("{assignment}", &assignment)
            .replace("{definition}", READER)
            .replace("{secret}", n.secret)
            .replace("{certificate}", n.certificate)
            .replace("{key}", n.key)
            .replace("{namespace}", "Microsoft.KeyVault");
        format!("{path}?{api_version}")
    }

    /// A body that would change something if the request were let through.
    fn body(&self, method: &Method, template: &str) -> Option<Value> {
        let tenant = &self.f.wid.creds.tenant_id;
        Some(match *method {
            Method::GET | Method::HEAD | Method::DELETE => return None,
            Method::PATCH => json!({"tags": {"taken": "yes"}}),
            Method::POST if template.ends_with("/issuerKeys") => {
                json!({"publicKeyPem": "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"})
            }
            Method::POST if template.ends_with("/serviceAccountToken") => {
                json!({"namespace": "default", "serviceAccountName": "victim"})
            }
            Method::POST => json!({}),
            _ if template.contains("roleAssignments") => json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}", self.sub),
                "principalId": self.actor,
                "principalType": "ServicePrincipal",
            }}),
            _ if template.ends_with("/federatedIdentityCredentials/{fic}") => {
                json!({"properties": {
                    "issuer": "https://attacker.example/",
                    "subject": "system:serviceaccount:default:attacker",
                    "audiences": ["api://AzureADTokenExchange"],
                }})
            }
            _ if template.ends_with("/accessPolicies/{kind}") => json!({"properties": {
                "accessPolicies": [{"tenantId": tenant, "objectId": self.actor,
                    "permissions": {"secrets": ["all"]}}],
            }}),
            _ if template.ends_with("vaults/{name}") => json!({"location": "eastus",
                "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}}}),
            _ => json!({"location": "eastus"}),
        })
    }
}

fn percent(name: &str) -> String {
    name.replace('(', "%28").replace(')', "%29")
}

/// The assignment the admin made at each scope: what a delete names.
fn victim(at: At) -> String {
    format!("bbbbbbbb-0000-4000-8000-0000000000{:02}", at as u8)
}

pub(super) async fn assign(wid: &Wid, scope: &str, name: &str, role: &str, principal: &str) {
    let made = wid
        .arm(
            Method::PUT,
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?{AUTHZ}"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", wid.info().subscription_id),
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }})),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201, "{scope}");
}

pub(super) async fn unassign(wid: &Wid, scope: &str, name: &str) {
    let gone = wid
        .arm(
            Method::DELETE,
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?{AUTHZ}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(gone.status, 200, "{scope}");
}

/// The database's content, less what background jobs and the activity logs write.
pub(super) async fn snapshot(wid: &Wid) -> String {
    let store =
        wid_store::Store::connect(&format!("sqlite://{}", wid.dir.join("wid.db").display()))
            .await
            .unwrap();
    let mut out = Vec::new();
    store.backup(&mut out).await.unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| {
            ![
                "\"leases\"",
                "\"change_generations\"",
                // The activity logs record every request, refused ones too, by design; the
                // row count at the end counts them.
                "\"table\":\"sign_ins\"",
                "\"table\":\"vault_events\"",
                "{\"end\":",
            ]
            .iter()
            .any(|skip| l.contains(skip))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes the resources the matrix acts on; returns the id of the cluster's creation.
async fn fixtures(m: &Matrix<'_>) -> String {
    let wid = &m.f.wid;
    let n = m.names;
    for group in [n.group, n.sibling] {
        wid.group(group).await;
    }
    let put = |path: String, body: Value| async move {
        let made = wid.arm(Method::PUT, &path, Some(body)).await.unwrap();
        assert!(made.status == 200 || made.status == 201, "{path}");
        made.body.unwrap()
    };
    let identity = put(
        format!("{}?{}", percent(&m.id(At::Identity)), super::MSI),
        json!({"location": "eastus"}),
    )
    .await;
    put(
        format!("{}?{}", percent(&m.id(At::Credential)), super::MSI),
        json!({"properties": {"issuer": "https://issuer.example/", "subject": "s",
            "audiences": ["api://AzureADTokenExchange"]}}),
    )
    .await;
    let cluster = wid
        .arm(
            Method::PUT,
            &format!("{}?api-version=2025-01-01", m.id(At::Cluster)),
            Some(json!({"location": "eastus", "properties": {"oidcIssuerProfile": {"enabled": true}}})),
        )
        .await
        .unwrap();
    assert_eq!(cluster.status, 201);
    let operation = cluster
        .header("azure-asyncoperation")
        .and_then(|url| url.split("/operations/").nth(1))
        .and_then(|rest| rest.split('?').next())
        .expect("an operation URL")
        .to_owned();
    put(
        format!("{}?api-version=2024-11-01", m.id(At::Vault)),
        json!({"location": "eastus", "properties": {"tenantId": wid.creds.tenant_id,
            "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
    )
    .await;
    let bystander = identity["properties"]["principalId"].as_str().unwrap();
    for at in [
        At::Subscription,
        At::Group,
        At::Identity,
        At::Cluster,
        At::Vault,
        At::Secret,
        At::Certificate,
        At::Key,
    ] {
        assign(wid, &percent(&m.id(at)), &victim(at), READER, bystander).await;
    }
    operation
}

async fn run_matrix(names: &Names) {
    let f = Federation::start(None, None).await;
    let (status, answer) = f.exchange(&f.sign(&f.claims())).await;
    assert_eq!(status, 200, "{answer}");
    let mut m = Matrix {
        f: &f,
        names,
        sub: f.wid.info().subscription_id.clone(),
        actor: f.principal_id.clone(),
        token: answer["access_token"].as_str().unwrap().to_owned(),
        operation: String::new(),
    };
    m.operation = fixtures(&m).await;
    let table = wid_server::arm::route_table();
    let mut unknown = BTreeSet::new();
    for d in &table {
        if d.template != "/tenants"
            && d.template != "/subscriptions"
            && !is_listing(d.template)
            && entry(&d.method, d.template).is_none()
        {
            unknown.insert(format!("{} {}", d.method, d.template));
        }
    }
    assert!(
        unknown.is_empty(),
        "routes without a matrix entry: {unknown:#?}"
    );

    let roles = [
        OWNER,
        CONTRIBUTOR,
        READER,
        RBAC_ADMIN,
        MI_CONTRIBUTOR,
        KV_CONTRIBUTOR,
    ];
    let placements = [
        Placement::Subscription,
        Placement::Group,
        Placement::Identity,
        Placement::Cluster,
        Placement::Vault,
        Placement::Sibling,
    ];
    let mut cases: Vec<Option<(&str, Placement)>> = vec![None];
    for role in roles {
        for p in placements {
            cases.push(Some((role, p)));
        }
    }
    let grant = "cccccccc-0000-4000-8000-00000000d00d";
    let mut checked = 0;
    for case in cases {
        if let Some((role, p)) = case {
            assign(
                &f.wid,
                &percent(&m.placement_scope(p)),
                grant,
                role,
                &m.actor,
            )
            .await;
        }
        let before = snapshot(&f.wid).await;
        for d in table.iter().filter(|d| !is_listing(d.template)) {
            let expected = match entry(&d.method, d.template) {
                None => true,
                Some((verb, provider, at)) => case.is_some_and(|(role, p)| {
                    m.covers(p, at) && role_permits(role, verb, provider, d.template)
                }),
            };
            // Reads are sent as they are; a change is sent for real when it must be
            // refused, and with an api-version its handler refuses when it must pass.
            let (path, body) = if d.method == Method::GET || d.method == Method::HEAD || !expected {
                (
                    m.path(&d.method, d.template, version_for(d.template)),
                    m.body(&d.method, d.template),
                )
            } else {
                (
                    m.path(&d.method, d.template, NO_VERSION),
                    m.body(&d.method, d.template),
                )
            };
            let (status, answer) = f
                .wid
                .raw(
                    d.method.clone(),
                    &path,
                    Some(&m.token),
                    body.map(|b| b.to_string().into_bytes()),
                )
                .await;
            let refused = status == 403
                && (d.method == Method::HEAD || error_code(&answer) == "AuthorizationFailed");
            assert_eq!(
                !refused, expected,
                "{case:?} {} {path}: {status} {answer}",
                d.method
            );
            checked += 1;
        }
        assert_eq!(
            snapshot(&f.wid).await,
            before,
            "{case:?}: a request changed stored data"
        );
        if let Some((_, p)) = case {
            unassign(&f.wid, &percent(&m.placement_scope(p)), grant).await;
        }
    }
    assert!(checked > 1000, "{checked}");
    f.wid.stop().await;
}

/// `…/resources`, which answers every caller with what it may read (or refuses one that
/// may read nothing there): `resources.rs` tests it per caller, not this matrix.
fn is_listing(template: &str) -> bool {
    matches!(
        template,
        "/subscriptions/{sub}/resources" | "/subscriptions/{sub}/resourceGroups/{rg}/resources"
    )
}

fn version_for(template: &str) -> &'static str {
    if template.contains("Microsoft.Authorization") {
        AUTHZ
    } else if template.contains("Microsoft.ManagedIdentity") {
        super::MSI
    } else if template.contains("Microsoft.ContainerService") {
        "api-version=2025-01-01"
    } else if template.contains("Microsoft.KeyVault") {
        "api-version=2024-11-01"
    } else {
        "api-version=2021-04-01"
    }
}

#[tokio::test]
async fn every_route_under_every_role_and_scope_with_keyword_names() {
    run_matrix(&KEYWORDS).await;
}

#[tokio::test]
async fn every_route_under_every_role_and_scope_with_ordinary_names() {
    run_matrix(&ORDINARY).await;
}

/// One HTTP/1.1 request with its path sent byte for byte, as no URL library would send it
/// (`..` segments and their percent-encodings are resolved by every client's URL parser).
async fn verbatim(wid: &Wid, method: &str, path: &str, token: &str, body: &str) -> u16 {
    send(wid, "localhost", method, path, token, body).await.0
}

/// [`verbatim`] to any host wid serves, with the answer's body.
pub(super) async fn send(
    wid: &Wid,
    host: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap();
    let config = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[&ca]))
        .unwrap()
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let addr = wid.server.as_ref().unwrap().local_addr;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Finding 1: a workload with no role anywhere created a federated credential named
/// `providers` on another identity, then signed in as that identity.
#[tokio::test]
async fn a_credential_named_like_a_keyword_needs_the_role_every_other_name_needs() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let mi = f.exchange(&f.sign(&f.claims())).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let victim_path = wid.sub_path(
        "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idB",
    );
    let victim = wid
        .arm(
            Method::PUT,
            &format!("{victim_path}?{}", super::MSI),
            Some(json!({"location": "eastus"})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let victim_client = victim["properties"]["clientId"].as_str().unwrap();
    let claims = f.claims();
    let own = json!({"properties": {
        "issuer": claims["iss"], "subject": claims["sub"], "audiences": ["api://AzureADTokenExchange"],
    }})
    .to_string();
    for name in [
        "providers",
        "Providers",
        "%70roviders",
        "resourceGroups",
        "subscriptions",
        "Microsoft.ManagedIdentity",
        "..",
        "%2e%2e",
        "x%2Fproviders",
    ] {
        let path = format!(
            "{victim_path}/federatedIdentityCredentials/{name}?{}",
            super::MSI
        );
        let status = verbatim(wid, "PUT", &path, &mi, &own).await;
        assert_eq!(status, 403, "credential {name}");
    }
    let listed = wid
        .arm(
            Method::GET,
            &format!("{victim_path}/federatedIdentityCredentials?{}", super::MSI),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(listed["value"], json!([]), "{listed}");
    let tenant = wid.creds.tenant_id.clone();
    let (status, answer) = f
        .exchange_as(
            &tenant,
            victim_client,
            &f.sign(&claims),
            &format!("{}.default", wid.info().management_resource),
        )
        .await;
    assert_eq!(status, 400, "{answer}");

    // Groups, identities and vaults named like keywords: refused like any other name.
    let body = json!({"location": "eastus"}).to_string();
    let kv = json!({"location": "eastus", "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}}}).to_string();
    let sub = wid.sub_path("");
    for (method, path, body) in [
        ("PUT", format!("{sub}/resourceGroups/providers?api-version=2021-04-01"), &body),
        ("PUT", format!("{sub}/resourceGroups/..?api-version=2021-04-01"), &body),
        ("PUT", format!("{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/providers?{}", super::MSI), &body),
        ("DELETE", format!("{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/providers?{}", super::MSI), &String::new()),
        ("PUT", format!("{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/providers?api-version=2024-11-01"), &kv),
        ("PUT", format!("{sub}/resourceGroups/providers/providers/Microsoft.KeyVault/vaults/providers?api-version=2024-11-01"), &kv),
    ] {
        assert_eq!(verbatim(wid, method, &path, &mi, body).await, 403, "{method} {path}");
    }
    let groups = wid
        .arm(
            Method::GET,
            &wid.sub_path("/resourcegroups?api-version=2021-04-01"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let names: Vec<&str> = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rg"]);
    f.wid.stop().await;
}

/// Finding 2: an administrator of one group deleted assignments elsewhere by naming them
/// under its own group.
#[tokio::test]
async fn an_assignment_is_read_and_deleted_only_at_its_own_scope() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    for group in ["rg1", "rg2"] {
        wid.group(group).await;
    }
    let rg2 = wid.sub_path("/resourceGroups/rg2");
    assign(
        wid,
        &rg2,
        "dddddddd-0000-4000-8000-000000000001",
        RBAC_ADMIN,
        &f.principal_id,
    )
    .await;
    let vault = wid.rbac_vault("rg1", "kv1").await;
    let other = "dddddddd-0000-4000-8000-000000000002";
    assign(wid, &vault, other, READER, &f.principal_id).await;
    let every_assignment = || async {
        wid.arm(
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?{AUTHZ}",
                wid.sub_path("")
            ),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap()
    };
    let all = every_assignment().await;
    let owner = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .ends_with(OWNER)
                && a["properties"]["scope"] == wid.sub_path("").as_str()
        })
        .expect("the installation admin's Owner assignment")["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let mi = f.exchange(&f.sign(&f.claims())).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let under_rg2 = |name: &str| {
        format!("{rg2}/providers/Microsoft.Authorization/roleAssignments/{name}?{AUTHZ}")
    };
    for name in [owner.as_str(), other] {
        let (status, _) = wid
            .raw(Method::GET, &under_rg2(name), Some(&mi), None)
            .await;
        assert_eq!(status, 404, "{name}");
        let (status, answer) = wid
            .raw(Method::DELETE, &under_rg2(name), Some(&mi), None)
            .await;
        assert_eq!(status, 204, "{name}: {answer}");
    }
    let after = every_assignment().await;
    assert_eq!(after["value"], all["value"], "nothing was deleted");
    // At its own scope, the administrator's assignment is its to delete.
    let (status, _) = wid
        .raw(
            Method::DELETE,
            &under_rg2("dddddddd-0000-4000-8000-000000000001"),
            Some(&mi),
            None,
        )
        .await;
    assert_eq!(status, 200);
    f.wid.stop().await;
}

/// Finding 7: any principal mapped client ids to identities' ARM ids through Graph.
#[tokio::test]
async fn graph_reads_need_a_directory_role_except_of_oneself() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let victim = wid
        .arm(
            Method::PUT,
            &wid.sub_path(&format!("/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idB?{}", super::MSI)),
            Some(json!({"location": "eastus"})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let tenant = wid.creds.tenant_id.clone();
    let graph_scope = format!("{}.default", wid.graph_resource());
    let mi = f
        .exchange_as(&tenant, &f.client_id, &f.sign(&f.claims()), &graph_scope)
        .await
        .1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = wid.graph_token().await;
    let sp = |id: &str| format!("/v1.0/servicePrincipals/{id}");
    let victim_client = victim["properties"]["clientId"].as_str().unwrap();
    let victim_principal = victim["properties"]["principalId"].as_str().unwrap();
    let by_name = format!(
        "/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c%20eq%20'{victim_client}')"
    );
    for path in [
        sp(victim_client),
        sp(victim_principal),
        sp(&wid.creds.object_id),
        sp("00000000-0000-4000-8000-000000000000"),
        by_name.clone(),
        "/v1.0/users".to_owned(),
        "/v1.0/applications".to_owned(),
    ] {
        let (status, answer) = wid.raw(Method::GET, &path, Some(&mi), None).await;
        assert_eq!(
            (status, error_code(&answer)),
            (403, "Authorization_RequestDenied"),
            "{path}: {answer}"
        );
    }
    let (status, me) = wid
        .raw(Method::GET, &sp(&f.principal_id), Some(&mi), None)
        .await;
    assert_eq!(
        (
            status,
            me["id"].as_str(),
            me["servicePrincipalType"].as_str()
        ),
        (200, Some(f.principal_id.as_str()), Some("ManagedIdentity"))
    );
    // With the directory role, by object id; a client id is no object id, as in Graph.
    let (status, found) = wid
        .raw(Method::GET, &sp(victim_principal), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["appId"], victim["properties"]["clientId"]);
    let (status, answer) = wid
        .raw(Method::GET, &sp(victim_client), Some(&admin), None)
        .await;
    assert_eq!(
        (status, error_code(&answer)),
        (404, "Request_ResourceNotFound")
    );
    let (status, listed) = wid.raw(Method::GET, &by_name, Some(&admin), None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        listed["value"][0]["id"],
        victim["properties"]["principalId"]
    );
    f.wid.stop().await;
}

pub(super) const KV_ADMIN: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
const KV_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const KV_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const KV_READER: &str = "21090545-7ca7-4776-b22c-e363652d74d2";

/// Every Key Vault secrets operation: method, path, and what it needs in the test's words
/// (`read`: the value; `meta`: names and attributes; `write`: anything that changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Value,
    Meta,
    Change,
}

/// Every secrets route of the vault plane, as templates: `{name}` is the live secret `s1`
/// under `/secrets` and the deleted `gone` under `/deletedsecrets`. Destructive operations
/// name `ghost` when they must be let through (they then find nothing).
fn vault_operations(blob: &str) -> Vec<(&'static str, &'static str, Need, String)> {
    let set = json!({"value": "taken"}).to_string();
    let patch = json!({"tags": {"taken": "yes"}}).to_string();
    let none = String::new;
    vec![
        ("GET", "/secrets", Need::Meta, none()),
        ("GET", "/secrets/{name}", Need::Value, none()),
        ("GET", "/secrets/{name}/", Need::Value, none()),
        ("GET", "/secrets/{name}/{version}", Need::Value, none()),
        ("GET", "/secrets/{name}/versions", Need::Meta, none()),
        ("GET", "/deletedsecrets", Need::Meta, none()),
        ("GET", "/deletedsecrets/{name}", Need::Meta, none()),
        ("POST", "/secrets/{name}/backup", Need::Change, none()),
        ("PUT", "/secrets/{name}", Need::Change, set),
        ("PATCH", "/secrets/{name}/", Need::Change, patch.clone()),
        ("PATCH", "/secrets/{name}/{version}", Need::Change, patch),
        ("DELETE", "/secrets/{name}", Need::Change, none()),
        (
            "POST",
            "/deletedsecrets/{name}/recover",
            Need::Change,
            none(),
        ),
        ("DELETE", "/deletedsecrets/{name}", Need::Change, none()),
        (
            "POST",
            "/secrets/restore",
            Need::Change,
            json!({ "value": blob }).to_string(),
        ),
    ]
}

fn vault_role_permits(role: &str, need: Need) -> bool {
    match role {
        KV_ADMIN | KV_SECRETS_OFFICER => true,
        KV_SECRETS_USER => need != Need::Change,
        KV_READER => need == Need::Meta,
        // Management roles grant no data actions.
        OWNER | CONTRIBUTOR | READER => false,
        other => panic!("no expectations for role {other}"),
    }
}

/// Every secrets operation under the management and Key Vault roles at every scope, on a
/// vault with RBAC authorization; denied requests change nothing.
#[tokio::test]
async fn every_vault_operation_under_every_role_and_scope() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let admin = wid.creds.clone();
    for group in ["rg1", "rg2"] {
        wid.group(group).await;
    }
    let sub = wid.sub_path("");
    let vault = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1");
    wid.arm(
        Method::PUT,
        &format!("{vault}?api-version=2024-11-01"),
        Some(
            json!({"location": "eastus", "properties": {"tenantId": admin.tenant_id,
            "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
        ),
    )
    .await
    .unwrap();
    let admin_oid = admin.object_id.clone();
    assign(
        wid,
        &sub,
        "eeeeeeee-0000-4000-8000-000000000001",
        KV_ADMIN,
        &admin_oid,
    )
    .await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let host = format!("kv1.vault.{}:{port}", wid.info().dns_suffix);
    let kv_scope = format!("https://vault.{}:{port}/.default", wid.info().dns_suffix);
    let kv_token = wid.token_for(&kv_scope).await;
    let admin_send = |method: &'static str, path: &'static str, body: String| {
        let (host, token) = (host.clone(), kv_token.clone());
        async move { send(wid, &host, method, path, &token, &body).await }
    };
    let (status, made) = admin_send(
        "PUT",
        "/secrets/s1?api-version=7.5",
        json!({"value": "v"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let version = made["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (status, _) = admin_send(
        "PUT",
        "/secrets/gone?api-version=7.5",
        json!({"value": "g"}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        admin_send("DELETE", "/secrets/gone?api-version=7.5", String::new())
            .await
            .0,
        200
    );
    let (status, blob) =
        admin_send("POST", "/secrets/s1/backup?api-version=7.5", String::new()).await;
    assert_eq!(status, 200);
    let blob = blob["value"].as_str().unwrap().to_owned();

    let (status, answer) = f
        .exchange_as(
            &admin.tenant_id,
            &f.client_id,
            &f.sign(&f.claims()),
            &kv_scope,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let mi = answer["access_token"].as_str().unwrap().to_owned();

    // Generated from the route table: a secrets route the matrix does not send fails here.
    let declared: BTreeSet<String> = wid_server::vault_route_table()
        .iter()
        .filter(|(_, _, op)| matches!(op, wid_core::vault_access::VaultOp::Secret(_)))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    let sent: BTreeSet<String> = vault_operations(&blob)
        .iter()
        .map(|(method, path, _, _)| format!("{method} {path}"))
        .collect();
    assert_eq!(sent, declared, "the matrix sends every vault route");
    let scopes = [
        (sub.clone(), true),
        (format!("{sub}/resourceGroups/rg1"), true),
        (vault.clone(), true),
        (format!("{vault}/secrets/s1"), true),
        (format!("{vault}/secrets/other"), false),
        (format!("{sub}/resourceGroups/rg2"), false),
    ];
    let mut cases: Vec<Option<(&str, &str, bool)>> = vec![None];
    for role in [
        OWNER,
        CONTRIBUTOR,
        READER,
        KV_ADMIN,
        KV_SECRETS_OFFICER,
        KV_SECRETS_USER,
        KV_READER,
    ] {
        for (scope, covers_s1) in &scopes {
            cases.push(Some((role, scope, *covers_s1)));
        }
    }
    let grant = "eeeeeeee-0000-4000-8000-000000000002";
    let mut checked = 0;
    for case in cases {
        if let Some((role, scope, _)) = case {
            assign(wid, scope, grant, role, &f.principal_id).await;
        }
        let before = snapshot(wid).await;
        for (method, template, need, body) in vault_operations(&blob) {
            let name = if template.starts_with("/deletedsecrets") {
                "gone"
            } else {
                "s1"
            };
            let path = format!(
                "{}?api-version=7.5",
                template
                    .replace("{name}", name)
                    .replace("{version}", &version)
            );
            // A secret-level assignment reaches only that secret: not the vault's lists,
            // nor a restore (checked on the vault), nor other secrets.
            let on_s1 = name == "s1" && template.contains("{name}");
            let expected = case.is_some_and(|(role, scope, covers_s1)| {
                let secret_level = scope.contains("/secrets/");
                covers_s1 && (!secret_level || on_s1) && vault_role_permits(role, need)
            });
            // Let through, a change must find nothing to change: deletes name a secret
            // that does not exist (which an assignment on `s1` does not reach), writes
            // carry a body that does not parse.
            let secret_level = case.is_some_and(|(_, scope, _)| scope.contains("/secrets/"));
            let (path, body, expected) = match (expected, method) {
                (true, "DELETE") => (
                    path.replace("/s1?", "/ghost?").replace("/gone?", "/ghost?"),
                    body,
                    !secret_level,
                ),
                (true, "POST") if path.contains("/recover") => {
                    (path.replace("/gone/", "/ghost/"), body, true)
                }
                (true, "PUT" | "PATCH") => (path, "{".to_owned(), true),
                _ => (path, body, expected),
            };
            let (status, answer) = send(wid, &host, method, &path, &mi, &body).await;
            let refused = status == 403 && answer["error"]["code"] == "Forbidden";
            assert_eq!(
                !refused, expected,
                "{case:?} {method} {path}: {status} {answer}"
            );
            checked += 1;
        }
        assert_eq!(
            snapshot(wid).await,
            before,
            "{case:?}: a request changed stored data"
        );
        if let Some((_, scope, _)) = case {
            unassign(wid, scope, grant).await;
        }
    }
    assert!(checked > 500, "{checked}");
    f.wid.stop().await;
}
