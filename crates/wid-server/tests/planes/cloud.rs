//! How clients find wid (ARM's cloud metadata) and the tokens they get for Microsoft's
//! first-party resources, which wid issues but never accepts on its own planes.

use super::{error_code, temp_dir, Wid, T0};
use reqwest::Method;
use serde_json::{json, Value};
use wid_client::WidClient;
use wid_core::clock::ManualClock;

#[tokio::test]
async fn cloud_metadata_is_anonymous_and_shaped_by_api_version() {
    let wid = Wid::start().await;
    let url = wid.info().url.clone();
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let cloud = json!({
        "name": "wid",
        "authentication": {
            "loginEndpoint": url,
            "audiences": [wid.info().management_resource],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "resourceManager": format!("{url}/"),
        "graph": format!("https://graph.wid.localhost:{port}/"),
        "graphAudience": format!("https://graph.wid.localhost:{port}/"),
        "microsoftGraphResourceId": format!("https://graph.wid.localhost:{port}/"),
        "suffixes": {"keyVaultDns": format!("vault.wid.localhost:{port}")},
    });
    for (path, expected) in [
        ("/metadata/endpoints?api-version=2022-09-01", cloud.clone()),
        // What az asks for when the ARM URL ends in a slash.
        ("//metadata/endpoints?api-version=2022-09-01", cloud.clone()),
        ("/metadata/endpoints?API-VERSION=2022-09-01", cloud.clone()),
        ("/metadata/endpoints?api-version=2031-01-01", cloud.clone()),
        ("/metadata/endpoints?api-version=2020-06-01", json!([cloud])),
        (
            "//metadata/endpoints?api-version=2019-05-01",
            json!([cloud]),
        ),
        ("/metadata/endpoints?api-version=2019-10-01", json!([cloud])),
        (
            "/metadata/endpoints?api-version=1.0",
            json!({"authentication": cloud["authentication"]}),
        ),
    ] {
        let (status, body) = wid.raw(Method::GET, path, None, None).await;
        assert_eq!((status, &body), (200, &expected), "{path}");
    }
    for (path, status, code) in [
        ("/metadata/endpoints", 400, "MissingApiVersionParameter"),
        (
            "/metadata/endpoints?api-version=",
            400,
            "MissingApiVersionParameter",
        ),
        (
            "//metadata/endpoints?api-version=2021-01-01",
            400,
            "InvalidApiVersionParameter",
        ),
        (
            "/metadata/endpoints?api-version=2022-9-1",
            400,
            "InvalidApiVersionParameter",
        ),
        (
            "/metadata/endpoints?api-version=latest",
            400,
            "InvalidApiVersionParameter",
        ),
    ] {
        let (got, body) = wid.raw(Method::GET, path, None, None).await;
        assert_eq!((got, error_code(&body)), (status, code), "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    // Refusals made before the handler answer in ARM's shape too.
    let (status, body) = wid
        .raw(
            Method::POST,
            "/metadata/endpoints?api-version=2022-09-01",
            None,
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!((status, error_code(&body)), (405, "MethodNotAllowed"));
    let big = "x".repeat(40 * 1024);
    let response = wid
        .client
        .http()
        .get(
            wid.client
                .url("//metadata/endpoints?api-version=2022-09-01"),
        )
        .header("x-padding", big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 431);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "RequestHeaderFieldsTooLarge");
    wid.stop().await;
}

/// A v2.0 token request with the admin's secret: status and body.
async fn token(wid: &Wid, scope: &str) -> (u16, Value) {
    let tenant = wid.creds.tenant_id.clone();
    wid.post_form(
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &wid.creds.client_id),
            ("client_secret", &wid.creds.client_secret),
            ("scope", scope),
        ],
    )
    .await
}

fn claims(body: &Value) -> Value {
    let jwt = wid_jose::decode(body["access_token"].as_str().unwrap()).unwrap();
    jwt.claims().unwrap()
}

#[tokio::test]
async fn first_party_resources_get_tokens_with_entras_audience() {
    let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
        c.resources = vec!["api://contoso-orders".into()];
    })
    .await;
    for (scope, aud) in [
        (
            "https://storage.azure.com/.default",
            "https://storage.azure.com",
        ),
        (
            "https://vault.azure.net/.default",
            "https://vault.azure.net",
        ),
        (
            "https://management.azure.com/.default",
            "https://management.azure.com",
        ),
        (
            "https://management.azure.com//.default",
            "https://management.azure.com/",
        ),
        (
            "https://management.core.windows.net//.default",
            "https://management.core.windows.net/",
        ),
        (
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com",
        ),
        (
            "https://database.windows.net//.default",
            "https://database.windows.net/",
        ),
        (
            "6dae42f8-4368-4678-94ff-3960e28e3630/.default",
            "6dae42f8-4368-4678-94ff-3960e28e3630",
        ),
        (
            "e406a681-f3d4-42a8-90b6-c2b029497af1/.default",
            "e406a681-f3d4-42a8-90b6-c2b029497af1",
        ),
        ("api://contoso-orders/.default", "api://contoso-orders"),
    ] {
        let (status, body) = token(&wid, scope).await;
        assert_eq!(status, 200, "{scope}: {body}");
        let c = claims(&body);
        assert_eq!(c["aud"], aud, "{scope}");
        assert_eq!(
            (&c["ver"], &c["appid"], &c["tid"]),
            (
                &json!("1.0"),
                &json!(wid.creds.client_id),
                &json!(wid.creds.tenant_id)
            ),
            "{scope}"
        );
    }
    // The v1.0 endpoint names the resource itself, and echoes it.
    let tenant = wid.creds.tenant_id.clone();
    let (status, body) = wid
        .post_form(
            &format!("/{tenant}/oauth2/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &wid.creds.client_id),
                ("client_secret", &wid.creds.client_secret),
                ("resource", "https://storage.azure.com/"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "https://storage.azure.com/");
    assert_eq!(claims(&body)["aud"], "https://storage.azure.com/");
    // Anything else is still a resource no tenant has.
    for scope in [
        "https://storage.azure.com.evil.example/.default",
        "https://myaccount.blob.core.windows.net/.default",
        "api://contoso-orders-2/.default",
        "00000000-0000-0000-0000-000000000000/.default",
    ] {
        let (status, body) = token(&wid, scope).await;
        assert_eq!(
            (status, &body["error"], &body["error_codes"]),
            (400, &json!("invalid_resource"), &json!([500011])),
            "{scope}: {body}"
        );
    }
    wid.stop().await;
}

/// A token for Microsoft's ARM or Key Vault opens neither of wid's: each plane accepts only
/// its own audience.
#[tokio::test]
async fn wids_planes_refuse_first_party_audiences() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let groups = wid.sub_path("/resourcegroups?api-version=2024-11-01");
    let admin = format!("/v1.0/servicePrincipals/{}", wid.creds.object_id);
    for scope in [
        "https://management.azure.com/.default",
        "https://management.azure.com//.default",
        "https://management.core.windows.net//.default",
        "https://vault.azure.net/.default",
        "https://graph.microsoft.com/.default",
    ] {
        let (status, body) = token(&wid, scope).await;
        assert_eq!(status, 200, "{body}");
        let foreign = body["access_token"].as_str().unwrap().to_owned();
        let (status, body) = wid.raw(Method::GET, &groups, Some(&foreign), None).await;
        assert_eq!(
            (status, error_code(&body)),
            (401, "InvalidAuthenticationTokenAudience"),
            "{scope}"
        );
        // wid's Graph takes its own audience only, not Microsoft Graph's.
        let (status, body) = wid.raw(Method::GET, &admin, Some(&foreign), None).await;
        assert_eq!(
            (status, error_code(&body)),
            (401, "InvalidAuthenticationToken"),
            "{scope} on the directory"
        );
    }
    let own = wid.token().await;
    let (status, _) = wid.raw(Method::GET, &groups, Some(&own), None).await;
    assert_eq!(status, 200);
    // Nor the management plane's, as Microsoft Graph refuses ARM tokens.
    let (status, body) = wid.raw(Method::GET, &admin, Some(&own), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );
    let graph = wid.graph_token().await;
    let (status, body) = wid.raw(Method::GET, &admin, Some(&graph), None).await;
    assert_eq!(
        (status, body["id"].as_str()),
        (200, Some(wid.creds.object_id.as_str()))
    );

    let sub = wid.info().subscription_id.clone();
    let vault = wid
        .arm(
            Method::PUT,
            &wid.sub_path("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-fp?api-version=2024-11-01"),
            Some(json!({"location": "eastus", "properties": {"tenantId": wid.creds.tenant_id, "sku": {"name": "standard"}, "enableRbacAuthorization": true}})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/5e5e5e5e-0000-4000-8000-0000000000f1?api-version=2022-04-01"),
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),
            "principalId": wid.creds.object_id, "principalType": "ServicePrincipal"}})),
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
    let kv = WidClient::with_resolve(
        &vault_uri,
        &ca,
        &[(host, wid.server.as_ref().unwrap().local_addr)],
    )
    .unwrap();
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let (_, own) = token(
        &wid,
        &format!("https://vault.wid.localhost:{port}/.default"),
    )
    .await;
    let own = own["access_token"].as_str().unwrap().to_owned();
    kv.arm(
        Method::PUT,
        "/secrets/s1?api-version=7.5",
        &own,
        Some(&json!({"value": "v1"})),
        &[],
    )
    .await
    .unwrap();
    for scope in [
        "https://vault.azure.net/.default",
        "https://vault.azure.net//.default",
        "cfa8b339-82a2-471a-a3c9-0fc0be7a4093/.default",
        "https://management.azure.com/.default",
    ] {
        let (_, body) = token(&wid, scope).await;
        let foreign = body["access_token"].as_str().unwrap();
        let response = kv
            .http()
            .get(kv.url("/secrets/s1?api-version=7.5"))
            .bearer_auth(foreign)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{scope}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(&format!("resource=\"https://vault.wid.localhost:{port}\"")),
            "{scope}"
        );
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Invalid audience"), "{scope}: {message}");
    }
    let read = kv
        .arm(Method::GET, "/secrets/s1?api-version=7.5", &own, None, &[])
        .await
        .unwrap();
    assert_eq!(read.body.unwrap()["value"], "v1");
    wid.stop().await;
}
