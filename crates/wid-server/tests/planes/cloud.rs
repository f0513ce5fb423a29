//! How clients find wid: ARM's cloud metadata.

use super::{error_code, Wid};
use reqwest::Method;
use serde_json::{json, Value};

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
