//! Refusals made before any handler runs carry the shape of the plane that was asked.

use super::{temp_dir, Wid, T0};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wid_core::clock::ManualClock;

/// Sends `head` (and `body`, after `pause`) on one TLS connection and returns the status
/// and JSON body of the answer.
async fn exchange(wid: &Wid, head: String, body: &[u8], pause: Duration) -> (u16, Value) {
    let ca = std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap();
    let config = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[&ca]))
        .unwrap()
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(wid.server.as_ref().unwrap().local_addr)
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let _ = tls.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn head(method: &str, host: &str, path: &str, length: usize, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n{extra}\r\n")
}

fn azure_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_plane_refuses_in_its_own_shape() {
    let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
        c.limits.max_body_bytes = 1024;
        c.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let vault = format!("kv1.vault.{}:{port}", wid.info().dns_suffix);
    wid.group("rg").await;
    wid.arm(
        reqwest::Method::PUT,
        &wid.sub_path(
            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1?api-version=2024-11-01",
        ),
        Some(
            serde_json::json!({"location": "eastus", "properties": {"tenantId": wid.creds.tenant_id,
            "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
        ),
    )
    .await
    .unwrap();
    super::authz::assign(
        &wid,
        &wid.sub_path(""),
        "ffffffff-0000-4000-8000-000000000001",
        super::authz::KV_ADMIN,
        &wid.creds.object_id,
    )
    .await;
    // Refusals after authorization: the planes answer 401 and 403 first: the planes answer 401 to anonymous requests first.
    let kv_auth = format!(
        "authorization: Bearer {}\r\n",
        wid.token_for(&format!(
            "https://vault.{}:{port}/.default",
            wid.info().dns_suffix
        ))
        .await
    );
    let arm_auth = format!("authorization: Bearer {}\r\n", wid.token().await);
    let arm = wid.sub_path("/resourceGroups/rg?api-version=2021-04-01");
    let token = format!("/{}/oauth2/v2.0/token", wid.creds.tenant_id);
    let big = vec![b'x'; 4096];
    for (host, method, path, auth) in [
        (
            vault.as_str(),
            "PUT",
            "/secrets/s1?api-version=7.5",
            &kv_auth,
        ),
        ("localhost", "PUT", arm.as_str(), &arm_auth),
    ] {
        // Finding 8: a body over the limit.
        let (status, body) = exchange(
            &wid,
            head(method, host, path, big.len(), auth),
            &big,
            Duration::ZERO,
        )
        .await;
        assert_eq!(
            (status, azure_code(&body)),
            (413, "RequestContentTooLarge"),
            "{host}{path}: {body}"
        );
        // Headers too large.
        let extra = format!("{auth}x-padding: {}\r\n", "p".repeat(40 * 1024));
        let (status, body) = exchange(
            &wid,
            head(method, host, path, 2, &extra),
            b"{}",
            Duration::ZERO,
        )
        .await;
        assert_eq!(
            (status, azure_code(&body)),
            (431, "RequestHeaderFieldsTooLarge"),
            "{host}{path}: {body}"
        );
        // A body that does not arrive in time.
        let (status, body) = exchange(
            &wid,
            head(method, host, path, 10, auth),
            b"{}",
            Duration::from_millis(2500),
        )
        .await;
        assert_eq!(
            (status, azure_code(&body)),
            (408, "RequestTimeout"),
            "{host}{path}: {body}"
        );
    }
    // The token service, whose own limit is 64 KiB: OAuth's shape.
    let big = vec![b'x'; 70 * 1024];
    let (status, body) = exchange(
        &wid,
        head("POST", "localhost", &token, big.len(), "")
            .replace("application/json", "application/x-www-form-urlencoded"),
        &big,
        Duration::ZERO,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    // Paths and methods no route has.
    for (host, method, path, status, auth) in [
        (
            vault.as_str(),
            "GET",
            "/nothing/here?api-version=7.5",
            404,
            &kv_auth,
        ),
        (
            "localhost",
            "GET",
            "/subscriptions/x/nothing/here",
            404,
            &arm_auth,
        ),
        (
            vault.as_str(),
            "POST",
            "/secrets/s1?api-version=7.5",
            405,
            &kv_auth,
        ),
        ("localhost", "POST", arm.as_str(), 405, &arm_auth),
    ] {
        let (got, body) =
            exchange(&wid, head(method, host, path, 0, auth), b"", Duration::ZERO).await;
        assert_eq!(got, status, "{host}{path}: {body}");
        assert!(!azure_code(&body).is_empty(), "{host}{path}: {body}");
    }
    wid.stop().await;
}
