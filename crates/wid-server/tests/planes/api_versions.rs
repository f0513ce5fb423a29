//! The api-version policy as clients meet it: a version newer than any wid knows is served,
//! an unknown older or ill-formed one is refused in ARM's shape before anything changes, and
//! the providers document lists exactly what the routes serve.

use super::{error_code, Wid};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn newer_versions_are_served_and_unknown_ones_refused() {
    let wid = Wid::start().await;
    let token = wid.token().await;
    wid.group("rg1").await;
    // One identity per version tried, read back with a listed version.
    let identity = |version: &str, read_with: &str| {
        wid.sub_path(&format!(
            "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{}?api-version={read_with}",
            version.to_lowercase()
        ))
    };
    for (version, status, code) in [
        // Newer than the newest listed, stable and preview: a client released after wid.
        ("2099-01-01", 201, ""),
        ("2031-06-30-preview", 201, ""),
        ("2022-01-31-PREVIEW", 201, ""),
        // Older and not listed: the provider has no such version.
        ("2019-01-01", 400, "NoRegisteredProviderFound"),
        ("2024-11-30-preview", 400, "NoRegisteredProviderFound"),
        // Not a version at all.
        ("2099-02-30", 400, "InvalidApiVersionParameter"),
        ("latest", 400, "InvalidApiVersionParameter"),
        ("2099-01-01-", 400, "InvalidApiVersionParameter"),
    ] {
        let body = br#"{"location": "eastus"}"#.to_vec();
        let put = identity(version, version);
        let (got, answer) = wid.raw(Method::PUT, &put, Some(&token), Some(body)).await;
        assert_eq!(
            (got, error_code(&answer)),
            (status, code),
            "{version}: {answer}"
        );
        let read = identity(version, "2024-11-30");
        let (shown, _) = wid.raw(Method::GET, &read, Some(&token), None).await;
        assert_eq!(shown, if status == 201 { 200 } else { 404 }, "{version}");
    }
    let (got, answer) = wid
        .raw(
            Method::GET,
            &wid.sub_path("/resourceGroups/rg1?api-version=2099-12-31"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(got, 200, "{answer}");
    let (got, answer) = wid
        .raw(
            Method::GET,
            &wid.sub_path("/resourceGroups/rg1?api-version=2016-05-05"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (got, error_code(&answer)),
        (400, "InvalidApiVersionParameter"),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2025-04-01"),
        "the refusal lists the supported versions: {answer}"
    );
}

#[tokio::test]
async fn providers_and_locations_are_listed() {
    let wid = Wid::start().await;
    let sub = wid.info().subscription_id.clone();
    let list = wid
        .arm(
            Method::GET,
            &wid.sub_path("/providers?api-version=2021-04-01"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let namespaces: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["namespace"].as_str().unwrap())
        .collect();
    for expected in [
        "Microsoft.Resources",
        "Microsoft.ManagedIdentity",
        "Microsoft.ContainerService",
        "Microsoft.KeyVault",
        "Microsoft.Authorization",
    ] {
        assert!(namespaces.contains(&expected), "{namespaces:?}");
    }
    // Any casing of the namespace, and registering (a no-op: it is registered).
    for (method, path) in [
        (
            Method::GET,
            "/providers/microsoft.containerservice?api-version=2021-04-01",
        ),
        (
            Method::POST,
            "/providers/Microsoft.ContainerService/register?api-version=2021-04-01",
        ),
    ] {
        let p = wid
            .arm(method, &wid.sub_path(path), Some(json!({})))
            .await
            .unwrap()
            .body
            .unwrap();
        assert_eq!(
            p["id"],
            format!("/subscriptions/{sub}/providers/Microsoft.ContainerService")
        );
        assert_eq!(p["registrationState"], "Registered");
        let clusters = p["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["resourceType"] == "managedClusters")
            .unwrap();
        let versions: Vec<&str> = clusters["apiVersions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        // What azure-cli 2.91.0 and azure-mgmt-containerservice 41.8.0 send, newest first.
        assert!(versions.contains(&"2026-06-01") && versions.contains(&"2026-08-01"));
        assert!(versions.windows(2).all(|w| w[0] >= w[1]), "{versions:?}");
        assert!(clusters["locations"]
            .as_array()
            .unwrap()
            .contains(&json!("East US")));
    }
    let (status, answer) = wid
        .raw(
            Method::GET,
            &wid.sub_path("/providers/Microsoft.Storage?api-version=2021-04-01"),
            Some(&wid.token().await),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&answer)),
        (404, "InvalidResourceNamespace")
    );
    let locations = wid
        .arm(
            Method::GET,
            &wid.sub_path("/locations?api-version=2022-12-01"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let eastus = locations["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "eastus")
        .unwrap();
    assert_eq!(eastus["displayName"], "East US");
    assert_eq!(
        eastus["id"],
        format!("/subscriptions/{sub}/locations/eastus")
    );
}
