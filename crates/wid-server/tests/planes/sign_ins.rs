//! The sign-in log over HTTPS: every token request recorded off the hot path, read through
//! Graph's `auditLogs/signIns` with a reporting role, the failure explained with the
//! credential to fix, no credential kept, the queue stored at shutdown, pruned by count.

use super::exchange::Federation;
use super::{error_code, temp_dir, Wid, T0};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use wid_core::clock::ManualClock;

const SUBJECT: &str = "system:serviceaccount:default:workload-identity-sa";
const OTHER_SUBJECT: &str = "system:serviceaccount:team-b:workload-identity-sa";
const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";

async fn get(wid: &Wid, path: &str, token: &str) -> (u16, Value) {
    wid.raw(Method::GET, path, Some(token), None).await
}

fn encoded(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

/// The records `filter` selects once at least `want` of them are stored (the writer runs
/// beside the requests, so a record appears shortly after its answer).
async fn eventually(wid: &Wid, token: &str, filter: &str, want: usize) -> Vec<Value> {
    let path = format!("/beta/auditLogs/signIns?$filter={}", encoded(filter));
    for _ in 0..200 {
        let (status, page) = get(wid, &path, token).await;
        assert_eq!(status, 200, "{page}");
        let found = page["value"].as_array().unwrap().clone();
        if found.len() >= want {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {want} sign-ins match {filter}");
}

#[tokio::test]
async fn every_token_request_is_recorded_and_a_failure_names_the_credential_to_fix() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let admin = wid.graph_token().await;
    let good = f.sign(&f.claims());
    assert_eq!(f.exchange(&good).await.0, 200);
    let mut claims = f.claims();
    claims["sub"] = json!(OTHER_SUBJECT);
    let wrong = f.sign(&claims);
    let (status, body) = f.exchange(&wrong).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700213))
    );
    let correlation = body["correlation_id"].as_str().unwrap().to_owned();
    let unknown = "00000000-0000-4000-8000-00000000abcd";
    let tenant = wid.creds.tenant_id.clone();
    let scope = format!("{}.default", wid.info().management_resource);
    assert_eq!(f.exchange_as(&tenant, unknown, &good, &scope).await.0, 400);

    let failed = eventually(
        wid,
        &admin,
        &format!("appId eq '{}' and status/errorCode ne 0", f.client_id),
        1,
    )
    .await;
    let s = &failed[0];
    assert_eq!(s["status"]["errorCode"], 700213, "{s}");
    // Graph's failure reason is the message without its code, which is `errorCode`.
    let reason = s["status"]["failureReason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "No matching federated identity record found for presented assertion subject '{OTHER_SUBJECT}'."
        )),
        "{reason}"
    );
    assert_eq!(s["signInEventTypes"], json!(["managedIdentity"]));
    assert_eq!(s["clientCredentialType"], "federatedIdentityCredential");
    assert_eq!(s["servicePrincipalId"], f.principal_id.as_str());
    assert_eq!(s["appDisplayName"], "app");
    assert_eq!(s["ipAddress"], "127.0.0.1");
    assert_eq!(s["correlationId"], correlation.as_str());
    assert_eq!(s["resourceTenantId"], tenant.as_str());
    assert_eq!(
        s["wid"]["federatedCredential"],
        json!({"outcome": "closest", "credential": "fic", "field": "subject",
            "expected": SUBJECT, "difference": "it differs by a few characters"})
    );
    assert_eq!(s["wid"]["assertionSubject"], OTHER_SUBJECT);
    assert_eq!(s["wid"]["assertionIssuer"], f.issuer.as_str());
    assert!(
        s["status"]["additionalDetails"]
            .as_str()
            .unwrap()
            .contains(&format!("'fic', whose subject is '{SUBJECT}'")),
        "{s}"
    );
    assert!(s["managedServiceIdentity"]["associatedResourceId"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(&f.identity_id));

    let granted = eventually(
        wid,
        &admin,
        &format!("appId eq '{}' and status/errorCode eq 0", f.client_id),
        1,
    )
    .await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["federatedCredentialId"], "fic");
    assert_eq!(granted[0]["status"]["failureReason"], Value::Null);
    assert_eq!(
        granted[0]["resourceId"],
        wid.info().management_resource.trim_end_matches('/')
    );

    let unknown_client = eventually(wid, &admin, &format!("appId eq '{unknown}'"), 1).await;
    assert_eq!(unknown_client[0]["status"]["errorCode"], 700016);
    assert_eq!(unknown_client[0]["servicePrincipalId"], Value::Null);

    // The bootstrap principal's secret sign-ins are there too.
    let secrets = eventually(
        wid,
        &admin,
        &format!("appId eq '{}'", wid.creds.client_id),
        2,
    )
    .await;
    assert!(secrets
        .iter()
        .all(|s| s["clientCredentialType"] == "clientSecret"));

    // One record by id; v1.0 without beta's properties.
    let id = s["id"].as_str().unwrap();
    let (status, one) = get(wid, &format!("/v1.0/auditLogs/signIns/{id}"), &admin).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["id"], id);
    assert!(one.get("signInEventTypes").is_none());
    let (status, none) = get(wid, "/v1.0/auditLogs/signIns/nope", &admin).await;
    assert_eq!(
        (status, error_code(&none)),
        (404, "Request_ResourceNotFound")
    );

    // Pages of one, newest first, each record once.
    let (_, everything) = get(wid, "/beta/auditLogs/signIns", &admin).await;
    let all: Vec<&str> = everything["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(all.len() >= 5, "{everything}");
    let mut paged = Vec::new();
    let mut next = Some("/beta/auditLogs/signIns?$top=1".to_owned());
    while let Some(path) = next.take() {
        let (status, page) = get(wid, &path, &admin).await;
        assert_eq!(status, 200, "{page}");
        for s in page["value"].as_array().unwrap() {
            paged.push(s["id"].as_str().unwrap().to_owned());
        }
        next = page["@odata.nextLink"].as_str().map(|link| {
            let at = link.find("/beta/").unwrap();
            link[at..].to_owned()
        });
        if paged.len() > all.len() {
            break;
        }
    }
    // Records written while paging come first in a fresh listing, never in the middle.
    assert!(paged.len() >= all.len(), "{paged:?} vs {all:?}");
    assert_eq!(&paged[paged.len() - all.len()..], all.as_slice());

    // What a listing holds never includes a credential.
    let text = everything.to_string();
    for credential in [&good, &wrong, &wid.creds.client_secret] {
        assert!(!text.contains(credential.as_str()));
        let signature = credential.rsplit('.').next().unwrap();
        assert!(!text.contains(signature));
    }

    for (filter, status) in [
        ("status/errorCode ne '0'", 400),
        ("appDisplayName eq 'app'", 400),
        ("createdDateTime ge 2026-11-24T00:00:00Z", 200),
    ] {
        let (got, answer) = get(
            wid,
            &format!("/beta/auditLogs/signIns?$filter={}", encoded(filter)),
            &admin,
        )
        .await;
        assert_eq!(got, status, "{filter}: {answer}");
    }
    let (status, _) = get(wid, "/beta/auditLogs/signIns?$skiptoken=garbage", &admin).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn sign_ins_are_read_with_a_reporting_role_only() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let admin = wid.graph_token().await;
    let tenant = wid.creds.tenant_id.clone();
    let graph_scope = format!("{}.default", wid.graph_resource());
    let mi_token = || async {
        f.exchange_as(&tenant, &f.client_id, &f.sign(&f.claims()), &graph_scope)
            .await
            .1["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let assign = |role: &'static str| {
        let admin = admin.clone();
        let principal = f.principal_id.clone();
        async move {
            let (status, body) = wid
                .raw(
                    Method::POST,
                    "/v1.0/roleManagement/directory/roleAssignments",
                    Some(&admin),
                    Some(
                        json!({"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"})
                            .to_string()
                            .into_bytes(),
                    ),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    };
    let token = mi_token().await;
    for path in ["/v1.0/auditLogs/signIns", "/beta/auditLogs/signIns/x"] {
        let (status, body) = get(wid, path, &token).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "Authorization_RequestDenied"),
            "{path}"
        );
    }
    assign(DIRECTORY_READERS).await;
    let (status, _) = get(wid, "/v1.0/users", &token).await;
    assert_eq!(status, 200, "Directory Readers read the directory");
    let (status, _) = get(wid, "/v1.0/auditLogs/signIns", &token).await;
    assert_eq!(status, 403, "but not the sign-in log");
    assign(REPORTS_READER).await;
    let (status, page) = get(wid, "/v1.0/auditLogs/signIns", &token).await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = get(wid, "/v1.0/auditLogs/signIns", "not-a-token").await;
    assert_eq!(status, 401);
}

async fn stored(dir: &std::path::Path) -> usize {
    let store = wid_store::Store::open_sqlite(&dir.join(wid_server::datadir::DATABASE))
        .await
        .unwrap();
    store
        .sign_ins(
            &read_tenant(dir),
            &wid_core::sign_in::Query::default(),
            None,
            10_000,
        )
        .await
        .unwrap()
        .len()
}

fn read_tenant(dir: &std::path::Path) -> String {
    let creds: Value =
        serde_json::from_slice(&std::fs::read(dir.join("credentials.json")).unwrap()).unwrap();
    creds["tenantId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn shutdown_stores_what_is_queued_and_off_records_nothing() {
    for enabled in [true, false] {
        let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
            c.sign_in_log.enabled = enabled;
        })
        .await;
        let tenant = wid.creds.tenant_id.clone();
        for _ in 0..20 {
            let (status, _) = wid
                .post_form(
                    &format!("/{tenant}/oauth2/v2.0/token"),
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", "00000000-0000-4000-8000-000000000001"),
                        ("client_secret", "wrong"),
                        ("scope", "https://management.azure.com/.default"),
                    ],
                )
                .await;
            assert_eq!(status, 400);
        }
        let (dir, _) = wid.stop().await;
        assert_eq!(
            stored(&dir).await,
            if enabled { 20 } else { 0 },
            "enabled: {enabled}"
        );
    }
}

#[tokio::test]
async fn the_log_is_pruned_to_its_retention_by_the_job() {
    let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
        c.job_interval = Duration::from_millis(200);
        c.sign_in_log.retention.max_entries = 3;
    })
    .await;
    let admin = wid.graph_token().await;
    for _ in 0..6 {
        wid.graph_token().await;
    }
    for _ in 0..100 {
        let (_, page) = get(&wid, "/v1.0/auditLogs/signIns", &admin).await;
        if page["value"].as_array().unwrap().len() == 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sign-in log was not pruned to 3 records");
}
