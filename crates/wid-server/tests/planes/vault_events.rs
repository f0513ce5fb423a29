//! Key Vault's audit events over HTTPS: every data-plane request (written, read, missing,
//! unauthenticated, refused) recorded with who, what, which item and the decision, read
//! through the vault's `auditEvents` by those who may read its logs, never with a value or
//! a token in them; off records nothing.

use super::exchange::Federation;
use super::{temp_dir, Wid, T0};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use wid_core::clock::ManualClock;

const VAULT: &str = "kv-audit";
const VALUE: &str = "the-value-no-log-may-hold";

/// One request a second later than the last, so that the log's newest-first order is the
/// order they were sent in (the tests' clock stands still otherwise).
async fn kv(wid: &Wid, token: &str, method: &str, path: &str, body: Value) -> u16 {
    wid.clock.advance(1);
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let host = format!("{VAULT}.vault.{}:{port}", wid.info().dns_suffix);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    super::authz::send(
        wid,
        &host,
        method,
        &format!("{path}?api-version=7.5"),
        token,
        &body,
    )
    .await
    .0
}

fn vault_scope(wid: &Wid) -> String {
    let port = wid.server.as_ref().unwrap().local_addr.port();
    format!("https://vault.{}:{port}/.default", wid.info().dns_suffix)
}

/// The vault's events once at least `want` are stored (the writer runs beside requests).
async fn events(wid: &Wid, token: &str, vault_id: &str, query: &str, want: usize) -> Vec<Value> {
    let path = format!("{vault_id}/auditEvents?api-version=2024-11-01{query}");
    for _ in 0..200 {
        let (status, page) = wid.raw(Method::GET, &path, Some(token), None).await;
        assert_eq!(status, 200, "{page}");
        let found = page["value"].as_array().unwrap().clone();
        if found.len() >= want {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {want} events at {path}");
}

#[tokio::test]
async fn every_vault_request_is_an_audit_event_with_its_caller_and_decision() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let vault_id = wid.rbac_vault("rg", VAULT).await;
    super::authz::assign(
        wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000c1",
        super::authz::KV_ADMIN,
        &wid.creds.object_id,
    )
    .await;
    let admin = wid.token_for(&vault_scope(wid)).await;
    assert_eq!(
        kv(wid, &admin, "PUT", "/secrets/s1", json!({"value": VALUE})).await,
        200
    );
    assert_eq!(
        kv(wid, &admin, "GET", "/secrets/s1", Value::Null).await,
        200
    );
    assert_eq!(
        kv(wid, &admin, "GET", "/secrets/s1/versions", Value::Null).await,
        200
    );
    assert_eq!(
        kv(wid, &admin, "GET", "/secrets/missing", Value::Null).await,
        404
    );
    assert_eq!(kv(wid, "", "GET", "/secrets/s1", Value::Null).await, 401);
    // The workload's identity has no role on the vault.
    let tenant = wid.creds.tenant_id.clone();
    let (status, answer) = f
        .exchange_as(
            &tenant,
            &f.client_id,
            &f.sign(&f.claims()),
            &vault_scope(wid),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let workload = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        kv(wid, &workload, "GET", "/secrets/s1", Value::Null).await,
        403
    );

    let arm = wid.token().await;
    let all = events(wid, &arm, &vault_id, "", 6).await;
    let ops: Vec<(&str, u64)> = all
        .iter()
        .map(|e| {
            (
                e["operationName"].as_str().unwrap(),
                e["properties"]["httpStatusCode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("SecretGet", 403),
            ("SecretGet", 401),
            ("SecretGet", 404),
            ("SecretListVersions", 200),
            ("SecretGet", 200),
            ("SecretSet", 200),
        ],
        "newest first"
    );
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let base = format!("https://{VAULT}.vault.{}:{port}", wid.info().dns_suffix);
    let read = &all[4];
    assert_eq!(read["category"], "AuditEvent");
    assert_eq!(read["resourceId"], vault_id.to_ascii_uppercase());
    assert_eq!(
        (
            read["resultType"].as_str(),
            read["resultSignature"].as_str()
        ),
        (Some("Success"), Some("OK"))
    );
    assert_eq!(read["operationVersion"], "7.5");
    assert_eq!(read["callerIpAddress"], "127.0.0.1");
    assert_eq!(read["properties"]["id"], format!("{base}/secrets/s1"));
    assert_eq!(
        read["properties"]["requestUri"],
        format!("{base}/secrets/s1?api-version=7.5")
    );
    assert_eq!(read["properties"]["isRbacAuthorized"], true);
    assert_eq!(
        read["identity"]["claim"]["http://schemas.microsoft.com/identity/claims/objectidentifier"],
        wid.creds.object_id.as_str()
    );
    assert_eq!(
        read["identity"]["claim"]["appid"],
        wid.creds.client_id.as_str()
    );
    let anonymous = &all[1];
    assert_eq!(anonymous["resultSignature"], "Unauthorized");
    assert_eq!(anonymous["identity"]["claim"], json!({}));
    assert!(anonymous["properties"].get("isRbacAuthorized").is_none());
    let refused = &all[0];
    assert_eq!(
        (
            refused["resultType"].as_str(),
            refused["resultSignature"].as_str()
        ),
        (Some("Failure"), Some("Forbidden"))
    );
    assert_eq!(refused["properties"]["isRbacAuthorized"], false);
    assert_eq!(refused["identity"]["claim"]["appid"], f.client_id.as_str());
    assert!(
        refused["resultDescription"]
            .as_str()
            .unwrap()
            .starts_with("Caller is not authorized to perform action on resource."),
        "{refused}"
    );
    assert_eq!(all[2]["resultSignature"], "NotFound");
    // No value, no token, in any event.
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(VALUE));
    for token in [&admin, &workload] {
        assert!(!text.contains(token.rsplit('.').next().unwrap()));
    }

    let failures = events(
        wid,
        &arm,
        &vault_id,
        "&$filter=httpStatusCode%20ge%20400",
        3,
    )
    .await;
    assert_eq!(failures.len(), 3);
    let filter: String = url::form_urlencoded::byte_serialize(
        format!(
            "operationName eq 'SecretGet' and appId eq '{}'",
            f.client_id
        )
        .as_bytes(),
    )
    .collect();
    assert_eq!(
        events(wid, &arm, &vault_id, &format!("&$filter={filter}"), 1)
            .await
            .len(),
        1
    );
    // Pages of two follow one another to the same six.
    let mut seen = Vec::new();
    let mut path = format!("{vault_id}/auditEvents?api-version=2024-11-01&$top=2");
    loop {
        let (status, page) = wid.raw(Method::GET, &path, Some(&arm), None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["wid"]["recordId"].clone()),
        );
        match page["nextLink"].as_str() {
            Some(next) => path = next.split_once(&format!(":{port}")).unwrap().1.to_owned(),
            None => break,
        }
    }
    let ids: Vec<Value> = all.iter().map(|e| e["wid"]["recordId"].clone()).collect();
    assert_eq!(seen, ids);
    for bad in [
        "&$filter=resultType%20eq%20'Failure'",
        "&$skiptoken=garbage",
    ] {
        let (status, _) = wid
            .raw(
                Method::GET,
                &format!("{vault_id}/auditEvents?api-version=2024-11-01{bad}"),
                Some(&arm),
                None,
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }

    // Reading the log needs a role on the vault; the workload has none.
    let mgmt = format!("{}.default", wid.info().management_resource);
    let workload_arm = f
        .exchange_as(&tenant, &f.client_id, &f.sign(&f.claims()), &mgmt)
        .await
        .1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = wid
        .raw(
            Method::GET,
            &format!("{vault_id}/auditEvents?api-version=2024-11-01"),
            Some(&workload_arm),
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn vault_audit_off_records_nothing() {
    let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
        c.vault_audit_log.enabled = false;
    })
    .await;
    wid.group("rg").await;
    let vault_id = wid.rbac_vault("rg", VAULT).await;
    let admin = wid.token_for(&vault_scope(&wid)).await;
    assert_eq!(
        kv(&wid, &admin, "GET", "/secrets/s1", Value::Null).await,
        403
    );
    let (dir, _) = wid.stop().await;
    let store = wid_store::Store::open_sqlite(&dir.join(wid_server::datadir::DATABASE))
        .await
        .unwrap();
    let stored = store
        .vault_events(
            &vault_id,
            &wid_core::vault_audit::Query::default(),
            None,
            10,
        )
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}
