//! The Graph plane over HTTPS: applications, their service principals, secrets and
//! federated credentials, the app-registration exchange, users, getByIds, directory roles,
//! and the refusals of callers without a role.

use super::exchange::{claims_of, Federation};
use super::{error_code, Wid};
use reqwest::Method;
use serde_json::{json, Value};

const SUBJECT: &str = "system:serviceaccount:default:workload-identity-sa";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";

async fn graph(
    wid: &Wid,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    wid.raw(
        method,
        path,
        Some(token),
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

fn graph_scope(wid: &Wid) -> String {
    format!("{}.default", wid.graph_resource())
}

#[tokio::test]
async fn applications_federate_and_authenticate_like_entra() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let admin = wid.graph_token().await;
    let tenant = wid.creds.tenant_id.clone();
    let (status, app) = graph(
        wid,
        Method::POST,
        "/v1.0/applications",
        &admin,
        Some(json!({"displayName": "build-agent", "identifierUris": ["api://build-agent"]})),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let (app_oid, app_id) = (
        app["id"].as_str().unwrap().to_owned(),
        app["appId"].as_str().unwrap().to_owned(),
    );
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    // az resolves applications by $filter.
    let (status, found) = graph(
        wid,
        Method::GET,
        &format!("/v1.0/applications?$filter=appId%20eq%20'{app_id}'"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (status, found["value"][0]["id"].as_str()),
        (200, Some(app_oid.as_str())),
        "{found}"
    );
    let (status, found) = graph(
        wid,
        Method::GET,
        "/v1.0/applications?$filter=identifierUris/any(s:s%20eq%20'API://BUILD-AGENT')",
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (status, found["value"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, bad) = graph(
        wid,
        Method::GET,
        "/v1.0/applications?$filter=appId%20ne%20'x'",
        &admin,
        None,
    )
    .await;
    assert_eq!((status, error_code(&bad)), (400, "Request_BadRequest"));

    // A federated credential, then the exchange before and after the service principal.
    let fic = json!({"name": "ci-main", "issuer": f.issuer, "subject": SUBJECT, "audiences": ["api://AzureADTokenExchange"]});
    let fics = format!("/v1.0/applications/{app_oid}/federatedIdentityCredentials");
    let (status, created) = graph(wid, Method::POST, &fics, &admin, Some(fic.clone())).await;
    assert_eq!(status, 201, "{created}");
    let assertion = f.sign(&f.claims());
    let (status, refused) = f
        .exchange_as(&tenant, &app_id, &assertion, &graph_scope(wid))
        .await;
    assert_eq!(
        (status, refused["error_codes"][0].as_u64()),
        (400, Some(7000229)),
        "{refused}"
    );
    let (status, sp) = graph(
        wid,
        Method::POST,
        "/v1.0/servicePrincipals",
        &admin,
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(status, 201, "{sp}");
    let sp_oid = sp["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sp["servicePrincipalNames"],
        json!([app_id, "api://build-agent"])
    );
    let (status, again) = graph(
        wid,
        Method::POST,
        "/v1.0/servicePrincipals",
        &admin,
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(
        (status, error_code(&again)),
        (400, "Request_MultipleObjectsWithSameKeyValue")
    );
    let scope = format!("{}.default", wid.info().management_resource);
    let (status, issued) = f.exchange_as(&tenant, &app_id, &assertion, &scope).await;
    assert_eq!(status, 200, "{issued}");
    let claims = claims_of(issued["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["oid"].as_str(), claims["appid"].as_str()),
        (Some(sp_oid.as_str()), Some(app_id.as_str()))
    );
    assert!(claims.get("xms_mirid").is_none(), "{claims}");
    // Role assignments name the application's service principal like any other.
    let sub = wid.info().subscription_id.clone();
    let groups = format!("/subscriptions/{sub}/resourcegroups?api-version=2024-11-01");
    let app_token = issued["access_token"].as_str().unwrap().to_owned();
    let (status, _) = wid.raw(Method::GET, &groups, Some(&app_token), None).await;
    assert_eq!(status, 403, "no role yet");
    let reader = format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7");
    let assign = json!({"properties": {"roleDefinitionId": reader, "principalId": sp_oid, "principalType": "ServicePrincipal"}});
    let (status, body) = wid
        .raw(
            Method::PUT,
            &format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            Some(&wid.token().await),
            Some(assign.to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = wid.raw(Method::GET, &groups, Some(&app_token), None).await;
    assert_eq!(status, 200, "{body}");
    // The same diagnostics as for identities: a subject that matches no credential.
    let mut other = f.claims();
    other["sub"] = json!("system:serviceaccount:default:other");
    let (status, refused) = f
        .exchange_as(&tenant, &app_id, &f.sign(&other), &scope)
        .await;
    assert_eq!(
        (status, refused["error_codes"][0].as_u64()),
        (401, Some(700213)),
        "{refused}"
    );

    // Entra's credential rules: unique issuer and subject, at most twenty, one audience.
    let (status, dup) = graph(wid, Method::POST, &fics, &admin, Some(json!({"name": "ci2", "issuer": f.issuer, "subject": SUBJECT, "audiences": ["api://AzureADTokenExchange"]}))).await;
    assert_eq!(
        (status, error_code(&dup)),
        (400, "Request_MultipleObjectsWithSameKeyValue"),
        "{dup}"
    );
    let (status, two) = graph(
        wid,
        Method::POST,
        &fics,
        &admin,
        Some(json!({"name": "two", "issuer": f.issuer, "subject": "s", "audiences": ["a", "b"]})),
    )
    .await;
    assert_eq!(
        (status, error_code(&two)),
        (400, "Request_BadRequest"),
        "{two}"
    );
    for i in 1..20 {
        let (status, body) = graph(wid, Method::POST, &fics, &admin, Some(json!({"name": format!("fic{i}"), "issuer": f.issuer, "subject": format!("s{i}"), "audiences": ["api://AzureADTokenExchange"]}))).await;
        assert_eq!(status, 201, "{i}: {body}");
    }
    let (status, over) = graph(wid, Method::POST, &fics, &admin, Some(json!({"name": "fic20", "issuer": f.issuer, "subject": "s20", "audiences": ["api://AzureADTokenExchange"]}))).await;
    assert_eq!(
        (status, error_code(&over)),
        (400, "Request_BadRequest"),
        "{over}"
    );
    let (status, page) = graph(wid, Method::GET, &format!("{fics}?$top=15"), &admin, None).await;
    assert_eq!(
        (status, page["value"].as_array().map(Vec::len)),
        (200, Some(15))
    );
    let next = page["@odata.nextLink"].as_str().unwrap();
    let next_path = &next[next.find("/v1.0/").unwrap()..];
    let (_, rest) = graph(wid, Method::GET, next_path, &admin, None).await;
    assert_eq!(rest["value"].as_array().map(Vec::len), Some(5), "{rest}");
    assert!(rest.get("@odata.nextLink").is_none());
    let (status, by_name) = graph(wid, Method::GET, &format!("{fics}/CI-MAIN"), &admin, None).await;
    assert_eq!(
        (status, by_name["id"].as_str()),
        (200, created["id"].as_str())
    );
    // Deleting the credential stops the exchange at once (the client cache is invalidated).
    let (status, _) = graph(
        wid,
        Method::DELETE,
        &format!("{fics}/{}", created["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, refused) = f.exchange_as(&tenant, &app_id, &assertion, &scope).await;
    assert_eq!(
        (status, refused["error_codes"][0].as_u64()),
        (401, Some(700213)),
        "{refused}"
    );

    // Client secrets: returned once, honoured until they expire.
    let (status, password) = graph(wid, Method::POST, &format!("/v1.0/applications/{app_oid}/addPassword"), &admin,
        Some(json!({"passwordCredential": {"displayName": "rbac", "endDateTime": wid_core::timefmt::rfc3339(super::T0 + 600)}}))).await;
    assert_eq!(status, 200, "{password}");
    let secret = password["secretText"].as_str().unwrap().to_owned();
    assert_eq!(password["hint"].as_str(), Some(&secret[..3]));
    let (_, shown) = graph(
        wid,
        Method::GET,
        &format!("/v1.0/applications/{app_oid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(shown["passwordCredentials"][0]["secretText"], Value::Null);
    let token = wid
        .client
        .token_with_secret(&tenant, &app_id, &secret, &scope)
        .await
        .unwrap();
    assert_eq!(
        claims_of(&token.access_token)["oid"].as_str(),
        Some(sp_oid.as_str())
    );
    fn form<'a>(app_id: &'a str, secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", app_id),
            ("client_secret", secret),
            ("scope", scope),
        ]
    }
    let (status, wrong) = wid
        .post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &form(&app_id, "not-it", &scope),
        )
        .await;
    assert_eq!(
        (status, wrong["error_codes"][0].as_u64()),
        (401, Some(7000215))
    );
    wid.clock.advance(601);
    let (status, expired) = wid
        .post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &form(&app_id, &secret, &scope),
        )
        .await;
    assert_eq!(
        (status, expired["error_codes"][0].as_u64()),
        (401, Some(7000222)),
        "{expired}"
    );

    // Deleting the application takes its service principal along.
    let admin = wid.graph_token().await;
    let (status, _) = graph(
        wid,
        Method::DELETE,
        &format!("/v1.0/applications/{app_oid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, gone) = graph(
        wid,
        Method::GET,
        &format!("/v1.0/servicePrincipals/{sp_oid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&gone)),
        (404, "Request_ResourceNotFound")
    );
    f.wid.stop().await;
}

#[tokio::test]
async fn the_directory_is_read_with_a_role_or_of_oneself() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let admin = wid.graph_token().await;
    let tenant = wid.creds.tenant_id.clone();
    let mi = f
        .exchange_as(
            &tenant,
            &f.client_id,
            &f.sign(&f.claims()),
            &graph_scope(wid),
        )
        .await
        .1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // An app-only token has no /me.
    let (status, me) = graph(wid, Method::GET, "/v1.0/me", &admin, None).await;
    assert_eq!((status, error_code(&me)), (400, "BadRequest"));
    // Users, with Entra's password rules and verified domain.
    let (status, users) = graph(wid, Method::GET, "/v1.0/users", &admin, None).await;
    assert_eq!(status, 200, "{users}");
    let probe = json!({"accountEnabled": true, "displayName": "Dev", "mailNickname": "dev", "userPrincipalName": "dev@example.org", "passwordProfile": {"password": "Correct-Horse-7-Battery"}});
    let (status, wrong_domain) = graph(
        wid,
        Method::POST,
        "/v1.0/users",
        &admin,
        Some(probe.clone()),
    )
    .await;
    assert_eq!(
        (status, error_code(&wrong_domain)),
        (400, "Request_BadRequest"),
        "{users}"
    );
    let (status, sp_self) = graph(
        wid,
        Method::GET,
        &format!("/v1.0/servicePrincipals/{}", wid.creds.object_id),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{sp_self}");
    // getByIds names the types az maps to principal types.
    let (status, objects) = graph(wid, Method::POST, "/v1.0/directoryObjects/getByIds", &admin,
        Some(json!({"ids": [f.principal_id, wid.creds.object_id, "00000000-0000-4000-8000-000000000000"], "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]}))).await;
    assert_eq!(status, 200, "{objects}");
    let types: Vec<_> = objects["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["#microsoft.graph.servicePrincipal"; 2]);
    assert_eq!(
        objects["value"][0]["servicePrincipalType"],
        "ManagedIdentity"
    );
    // A workload without a role: refused before any lookup, the same for what exists and
    // what does not; itself it may read.
    for (method, path, body) in [
        (Method::GET, "/v1.0/users".to_owned(), None),
        (Method::GET, "/v1.0/servicePrincipals".to_owned(), None),
        (
            Method::GET,
            format!("/v1.0/servicePrincipals/{}", wid.creds.object_id),
            None,
        ),
        (
            Method::GET,
            "/v1.0/servicePrincipals/00000000-0000-4000-8000-000000000000".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/v1.0/applications".to_owned(),
            Some(json!({"displayName": "x"})),
        ),
        (
            Method::POST,
            "/v1.0/directoryObjects/getByIds".to_owned(),
            Some(json!({"ids": [wid.creds.object_id]})),
        ),
        (
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments".to_owned(),
            Some(
                json!({"principalId": f.principal_id, "roleDefinitionId": DIRECTORY_READERS, "directoryScopeId": "/"}),
            ),
        ),
    ] {
        let (status, answer) = graph(wid, method.clone(), &path, &mi, body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (403, "Authorization_RequestDenied"),
            "{method} {path}: {answer}"
        );
        for field in ["date", "request-id", "client-request-id"] {
            assert!(answer["error"]["innerError"][field].is_string(), "{answer}");
        }
    }
    // Every declared route but /me, on objects that are not the caller, in both versions:
    // refused before the body is read or the object looked up.
    for d in wid_server::graph::route_table() {
        if d.access == wid_server::graph::Access::Caller {
            continue;
        }
        let mut path = d.template.to_owned();
        while let Some(start) = path.find('{') {
            let end = path[start..].find('}').unwrap() + start;
            path.replace_range(start..=end, &uuid::Uuid::new_v4().to_string());
        }
        for version in ["/v1.0", "/beta"] {
            let body = (d.method != Method::GET).then(|| json!({}));
            let (status, answer) = graph(
                wid,
                d.method.clone(),
                &format!("{version}{path}"),
                &mi,
                body,
            )
            .await;
            assert_eq!(
                (status, error_code(&answer)),
                (403, "Authorization_RequestDenied"),
                "{} {version}{path}: {answer}",
                d.method
            );
        }
    }
    let (status, _) = graph(
        wid,
        Method::GET,
        &format!("/v1.0/servicePrincipals/{}", f.principal_id),
        &mi,
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Directory Readers lets it read, and still not write.
    let (status, granted) = graph(wid, Method::POST, "/v1.0/roleManagement/directory/roleAssignments", &admin,
        Some(json!({"principalId": f.principal_id, "roleDefinitionId": DIRECTORY_READERS, "directoryScopeId": "/"}))).await;
    assert_eq!(status, 201, "{granted}");
    let (status, listed) = graph(
        wid,
        Method::GET,
        "/v1.0/servicePrincipals?$filter=servicePrincipalType%20eq%20'Application'",
        &mi,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["value"][0]["id"].as_str(),
        Some(wid.creds.object_id.as_str())
    );
    let (status, denied) = graph(
        wid,
        Method::POST,
        "/v1.0/applications",
        &mi,
        Some(json!({"displayName": "x"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&denied)),
        (403, "Authorization_RequestDenied")
    );
    // An ARM token is not a Graph token, and the refusal carries Graph's challenge.
    let arm = wid.token().await;
    let resp = wid
        .client
        .http()
        .get(wid.client.url("/v1.0/users"))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    f.wid.stop().await;
}

#[test]
fn every_graph_route_declares_access() {
    let table = wid_server::graph::route_table();
    assert!(table
        .iter()
        .any(|d| d.template == "/applications/{id}/federatedIdentityCredentials/{fic}"));
    assert!(table.iter().all(|d| d.template.starts_with('/')));
}
