//! Managed clusters as AKS clients use them: the complete resource and its round trip, tags
//! by PATCH, long-running operations with the status and result URLs pollers follow, and
//! the kubeconfig of an attached API server, sealed at rest.

use super::{arm_code, Wid};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

const AKS: &str = "api-version=2026-06-01";
const SSH_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 azureuser@wid";

fn cluster_path(wid: &Wid, name: &str, rest: &str) -> String {
    wid.sub_path(&format!(
        "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}{rest}?{AKS}"
    ))
}

/// What `az aks create … --node-count 1 --enable-oidc-issuer --enable-workload-identity
/// --generate-ssh-keys` sends, in substance.
fn az_create_body() -> Value {
    json!({
        "location": "eastus",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "kubernetesVersion": "",
            "dnsPrefix": "myAKSClust-rg-5e1f00",
            "agentPoolProfiles": [{"count": 1, "vmSize": "", "osType": "Linux", "mode": "System",
                "name": "nodepool1", "type": "VirtualMachineScaleSets", "enableNodePublicIP": false}],
            "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": SSH_KEY}]}},
            "enableRBAC": true,
            "networkProfile": {},
            "oidcIssuerProfile": {"enabled": true},
            "securityProfile": {"workloadIdentity": {"enabled": true}},
        },
    })
}

/// The id in an operation URL (`…/operations/{id}?api-version=…`).
fn operation_id(url: &str) -> String {
    let rest = url.rsplit('/').next().unwrap();
    rest.split('?').next().unwrap().to_owned()
}

async fn follow(wid: &Wid, url: &str) -> (u16, Value) {
    let path = url
        .strip_prefix(wid.info().url.as_str())
        .unwrap_or_else(|| panic!("{url} is not on wid's URL"));
    wid.raw(Method::GET, path, Some(&wid.token().await), None)
        .await
}

#[tokio::test]
async fn put_answers_with_the_complete_cluster_and_its_own_body_round_trips() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let path = cluster_path(&wid, "myAKSCluster", "");
    let made = wid
        .arm(Method::PUT, &path, Some(az_create_body()))
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    let status_url = made.header("azure-asyncoperation").unwrap().to_owned();
    assert!(
        status_url.starts_with(&format!(
            "{}/subscriptions/{}/providers/Microsoft.ContainerService/locations/eastus/operations/",
            wid.info().url,
            wid.info().subscription_id
        )),
        "{status_url}"
    );
    let body = made.body.unwrap();
    let p = &body["properties"];
    assert_eq!(p["provisioningState"], "Succeeded");
    assert_eq!(p["powerState"]["code"], "Running");
    assert_eq!(p["agentPoolProfiles"][0]["count"], 1);
    assert_eq!(p["agentPoolProfiles"][0]["vmSize"], "Standard_DS2_v2");
    assert_eq!(p["agentPoolProfiles"][0]["provisioningState"], "Succeeded");
    assert_eq!(
        p["linuxProfile"]["ssh"]["publicKeys"][0]["keyData"],
        SSH_KEY
    );
    assert_eq!(p["servicePrincipalProfile"]["clientId"], "msi");
    assert_eq!(p["networkProfile"]["networkPlugin"], "azure");
    assert_eq!(p["networkProfile"]["dnsServiceIP"], "10.0.0.10");
    assert_eq!(p["kubernetesVersion"], "1.33");
    assert_eq!(p["currentKubernetesVersion"], "1.33.0");
    assert_eq!(p["nodeResourceGroup"], "MC_rg_myAKSCluster_eastus");
    assert!(p["fqdn"]
        .as_str()
        .unwrap()
        .starts_with("myaksclust-rg-5e1f00-"));
    assert!(p["oidcIssuerProfile"]["issuerURL"].is_string());
    assert_eq!(p["securityProfile"]["workloadIdentity"]["enabled"], true);
    let kubelet = &p["identityProfile"]["kubeletidentity"];
    assert!(kubelet["resourceId"]
        .as_str()
        .unwrap()
        .ends_with("/resourceGroups/MC_rg_myAKSCluster_eastus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myAKSCluster-agentpool"));
    for id in [
        &kubelet["clientId"],
        &kubelet["objectId"],
        &body["identity"]["principalId"],
    ] {
        assert!(wid_core::names::is_guid(id.as_str().unwrap()), "{id}");
    }
    assert_eq!(body["identity"]["tenantId"], wid.creds.tenant_id.as_str());

    let (status, op) = follow(&wid, &status_url).await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["status"], "Succeeded");
    assert_eq!(op["name"], operation_id(&status_url).as_str());
    assert_eq!(op["resourceId"], body["id"]);

    // The GET's body, sent back as it is, read-only fields and all: 200 and no change.
    let got = wid
        .arm(Method::GET, &path, None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(got, body);
    let again = wid
        .arm(Method::PUT, &path, Some(got.clone()))
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    assert!(again.header("azure-asyncoperation").is_some());
    assert_eq!(again.body.unwrap(), got);
    assert_eq!(
        wid.arm(Method::GET, &path, None)
            .await
            .unwrap()
            .body
            .unwrap(),
        got
    );

    // az aks update --disable-workload-identity, then enable again: the GET's body with
    // one field changed.
    for enabled in [false, true] {
        let mut body = got.clone();
        body["properties"]["securityProfile"]["workloadIdentity"]["enabled"] = json!(enabled);
        let answer = wid.arm(Method::PUT, &path, Some(body)).await.unwrap();
        assert_eq!(answer.status, 200);
        let now = wid
            .arm(Method::GET, &path, None)
            .await
            .unwrap()
            .body
            .unwrap();
        assert_eq!(
            now["properties"]["securityProfile"]["workloadIdentity"]["enabled"],
            enabled
        );
        assert_eq!(
            now["properties"]["identityProfile"],
            got["properties"]["identityProfile"]
        );
    }

    // What AKS refuses to change.
    for (pointer, value, code) in [
        (
            "/properties/dnsPrefix",
            json!("other"),
            "PropertyChangeNotAllowed",
        ),
        ("/location", json!("westus"), "PropertyChangeNotAllowed"),
        (
            "/properties/networkProfile/serviceCidr",
            json!("10.9.0.0/16"),
            "PropertyChangeNotAllowed",
        ),
        (
            "/properties/agentPoolProfiles/0/count",
            json!(-1),
            "InvalidParameter",
        ),
        (
            "/properties/linuxProfile/ssh/publicKeys/0/keyData",
            json!("not a key"),
            "InvalidParameter",
        ),
    ] {
        let mut body = got.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            arm_code(wid.arm(Method::PUT, &path, Some(body)).await),
            (400, code.to_owned()),
            "{pointer}"
        );
    }
    assert_eq!(
        wid.arm(Method::GET, &path, None)
            .await
            .unwrap()
            .body
            .unwrap()["properties"],
        got["properties"],
        "refused requests changed nothing"
    );
    wid.stop().await;
}

#[tokio::test]
async fn patch_replaces_the_tags_and_nothing_else() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let path = cluster_path(&wid, "aks", "");
    let made = wid
        .arm(Method::PUT, &path, Some(az_create_body()))
        .await
        .unwrap()
        .body
        .unwrap();
    let patched = wid
        .arm(
            Method::PATCH,
            &path,
            Some(json!({"tags": {"env": "test", "team": "wid"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200);
    let url = patched.header("azure-asyncoperation").unwrap().to_owned();
    assert_eq!(follow(&wid, &url).await.1["status"], "Succeeded");
    let body = patched.body.unwrap();
    assert_eq!(body["tags"], json!({"env": "test", "team": "wid"}));
    assert_eq!(body["properties"], made["properties"]);
    let got = wid
        .arm(Method::GET, &path, None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(got["tags"], body["tags"]);
    assert_eq!(
        arm_code(
            wid.arm(
                Method::PATCH,
                &cluster_path(&wid, "missing", ""),
                Some(json!({"tags": {}}))
            )
            .await
        ),
        (404, "ResourceNotFound".to_owned())
    );
    wid.stop().await;
}

#[tokio::test]
async fn delete_and_rotation_answer_202_with_the_urls_pollers_follow() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let path = cluster_path(&wid, "aks", "");
    wid.arm(Method::PUT, &path, Some(az_create_body()))
        .await
        .unwrap();

    let rotated = wid
        .arm(
            Method::POST,
            &cluster_path(&wid, "aks", "/rotateServiceAccountSigningKeys"),
            None,
        )
        .await
        .unwrap();
    assert_eq!((rotated.status, &rotated.body), (202, &None));
    let status_url = rotated.header("azure-asyncoperation").unwrap().to_owned();
    let result_url = rotated.header("location").unwrap().to_owned();
    assert_eq!(operation_id(&status_url), operation_id(&result_url));
    assert!(result_url.contains("/locations/eastus/operationresults/"));
    assert_eq!(follow(&wid, &status_url).await.1["status"], "Succeeded");
    assert_eq!(follow(&wid, &result_url).await.0, 204);
    let keys = wid
        .arm(Method::GET, &cluster_path(&wid, "aks", "/issuerKeys"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(keys["value"].as_array().unwrap().len(), 2);

    let deleted = wid.arm(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(deleted.status, 202);
    let status_url = deleted.header("azure-asyncoperation").unwrap().to_owned();
    assert!(deleted.header("location").is_some());
    let (status, op) = follow(&wid, &status_url).await;
    assert_eq!((status, op["status"].as_str()), (200, Some("Succeeded")));
    assert_eq!(
        arm_code(wid.arm(Method::GET, &path, None).await),
        (404, "ResourceNotFound".to_owned())
    );
    let again = wid.arm(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(again.status, 204, "nothing left to delete");
    assert!(again.header("azure-asyncoperation").is_none());

    // Unknown, foreign and expired operations are not found.
    let sub = &wid.info().subscription_id;
    let id = operation_id(&status_url);
    for path in [
        format!("/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/eastus/operations/00000000-0000-4000-8000-000000000000?{AKS}"),
        format!("/subscriptions/00000000-0000-4000-8000-000000000009/providers/Microsoft.ContainerService/locations/eastus/operations/{id}?{AKS}"),
    ] {
        let (status, answer) = wid
            .raw(Method::GET, &path, Some(&wid.token().await), None)
            .await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    wid.clock.advance(3601);
    let (status, answer) = follow(&wid, &status_url).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("NotFound"))
    );
    wid.stop().await;
}

fn database_bytes(wid: &Wid) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&wid.dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("wid.db")
        {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn credentials_come_from_an_attached_kubeconfig_sealed_at_rest() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let path = cluster_path(&wid, "aks", "");
    let user = cluster_path(&wid, "aks", "/listClusterUserCredential");
    let admin = cluster_path(&wid, "aks", "/listClusterAdminCredential");
    wid.arm(Method::PUT, &path, Some(az_create_body()))
        .await
        .unwrap();
    match wid.arm(Method::POST, &user, None).await {
        Err(wid_client::ClientError::Arm { status, error }) => {
            assert_eq!((status, error.code.as_str()), (409, "OperationNotAllowed"));
            assert!(
                error.message.contains("--attach-kubeconfig"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }

    let secret = format!("wid-test-token-{}", uuid::Uuid::new_v4().simple());
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: aks\n  context: {{cluster: aks, user: u}}\ncurrent-context: aks\nusers:\n- name: u\n  user:\n    token: {secret}\n"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&kubeconfig);
    let mut body = wid
        .arm(Method::GET, &path, None)
        .await
        .unwrap()
        .body
        .unwrap();
    body["properties"]["attachedKubeconfig"] = json!(b64);
    let attached = wid.arm(Method::PUT, &path, Some(body)).await.unwrap();
    assert_eq!(attached.status, 200);
    let shown = attached.body.unwrap();
    assert!(shown["properties"].get("attachedKubeconfig").is_none());
    assert!(!shown.to_string().contains(&secret));

    for (url, name) in [(&user, "clusterUser"), (&admin, "clusterAdmin")] {
        let creds = wid
            .arm(Method::POST, url, None)
            .await
            .unwrap()
            .body
            .unwrap();
        assert_eq!(creds["kubeconfigs"][0]["name"], name);
        let value = base64::engine::general_purpose::STANDARD
            .decode(creds["kubeconfigs"][0]["value"].as_str().unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(value).unwrap(), kubeconfig);
    }
    let raw = database_bytes(&wid);
    assert!(
        contains(&raw, b"myAKSClust-rg-5e1f00"),
        "the database was read"
    );
    assert!(
        !contains(&raw, secret.as_bytes()),
        "the kubeconfig is in clear"
    );
    assert!(
        !contains(&raw, b64.as_bytes()),
        "the kubeconfig is in base64"
    );

    // A round trip of the GET keeps it; an empty value detaches it; bad values are refused.
    let got = wid
        .arm(Method::GET, &path, None)
        .await
        .unwrap()
        .body
        .unwrap();
    wid.arm(Method::PUT, &path, Some(got.clone()))
        .await
        .unwrap();
    assert_eq!(
        wid.arm(Method::POST, &user, None).await.unwrap().status,
        200
    );
    let mut bad = got.clone();
    bad["properties"]["attachedKubeconfig"] = json!("%%% not base64");
    assert_eq!(
        arm_code(wid.arm(Method::PUT, &path, Some(bad)).await),
        (400, "InvalidParameter".to_owned())
    );
    let mut detach = got.clone();
    detach["properties"]["attachedKubeconfig"] = json!("");
    wid.arm(Method::PUT, &path, Some(detach)).await.unwrap();
    assert_eq!(
        arm_code(wid.arm(Method::POST, &user, None).await),
        (409, "OperationNotAllowed".to_owned())
    );
    wid.stop().await;
}
