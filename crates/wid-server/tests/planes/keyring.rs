//! Rotating the key-encryption key while serving: everything sealed is re-sealed under the
//! new key, so the old one can be thrown away.

use super::Wid;
use reqwest::Method;
use serde_json::json;
use wid_client::WidClient;

#[tokio::test]
async fn rotation_reseals_everything_and_the_old_key_can_go() {
    let wid = Wid::start().await;
    let sub = wid.info().subscription_id.clone();
    wid.group("rg").await;
    let vault = wid
        .arm(
            Method::PUT,
            &wid.sub_path("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/rotated?api-version=2024-11-01"),
            Some(json!({"location": "eastus", "properties": {"tenantId": wid.creds.tenant_id, "sku": {"name": "standard"}, "enableRbacAuthorization": true}})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/5e5e5e5e-0000-4000-8000-000000000001?api-version=2022-04-01"),
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),
            "principalId": wid.creds.object_id, "principalType": "ServicePrincipal"}})),
    )
    .await
    .unwrap();
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks?api-version=2025-01-01"),
        Some(json!({"location": "eastus", "properties": {"oidcIssuerProfile": {"enabled": true}}})),
    )
    .await
    .unwrap();
    let vault_uri = vault["properties"]["vaultUri"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let host = url::Url::parse(&vault_uri)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    let ca = std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap();
    let addr = wid.server.as_ref().unwrap().local_addr;
    let kv = WidClient::with_resolve(&vault_uri, &ca, &[(host, addr)]).unwrap();
    let kv_token = |wid: &Wid| {
        let port = wid.server.as_ref().unwrap().local_addr.port();
        let scope = format!("https://vault.wid.localhost:{port}/.default");
        let wid_client = wid.client.clone();
        let c = wid.creds.clone();
        async move {
            wid_client
                .token_with_secret(&c.tenant_id, &c.client_id, &c.client_secret, &scope)
                .await
                .unwrap()
                .access_token
        }
    };
    let token = kv_token(&wid).await;
    kv.arm(
        Method::PUT,
        "/secrets/kept?api-version=7.5",
        &token,
        Some(&json!({"value": "still here"})),
        &[],
    )
    .await
    .unwrap();
    let old_kek = std::fs::read_to_string(wid.dir.join("kek")).unwrap();

    let rotated = wid
        .arm(
            Method::POST,
            &wid.sub_path("/providers/Microsoft.Wid/rotateKeyEncryptionKey?api-version=2021-04-01"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    // The tenant's signing key, the cluster's issuer key, the vault's data key and the CA key.
    assert_eq!(rotated["resealed"], 4, "{rotated}");
    assert_ne!(
        std::fs::read_to_string(wid.dir.join("kek")).unwrap(),
        old_kek
    );
    let read = kv
        .arm(
            Method::GET,
            "/secrets/kept/?api-version=7.5",
            &token,
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(read.body.unwrap()["value"], "still here");

    // Without the old key, a restart still opens everything.
    let (dir, clock) = wid.stop().await;
    std::fs::remove_file(dir.join("kek.previous")).unwrap();
    let wid = Wid::start_in(dir, clock).await;
    let addr = wid.server.as_ref().unwrap().local_addr;
    let vault_uri = vault_uri.replace(
        &format!(":{}", url::Url::parse(&vault_uri).unwrap().port().unwrap()),
        &format!(":{}", addr.port()),
    );
    let host = url::Url::parse(&vault_uri)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    let kv = WidClient::with_resolve(&vault_uri, &ca, &[(host, addr)]).unwrap();
    let token = kv_token(&wid).await;
    let read = kv
        .arm(
            Method::GET,
            "/secrets/kept/?api-version=7.5",
            &token,
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(read.body.unwrap()["value"], "still here");
    let sa = wid
        .arm(
            Method::POST,
            &wid.sub_path("/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/serviceAccountToken?api-version=2025-01-01"),
            Some(json!({"namespace": "default", "serviceAccountName": "sa"})),
        )
        .await
        .unwrap();
    assert!(sa.body.unwrap()["token"].is_string());
}
