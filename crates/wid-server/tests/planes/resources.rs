//! `GET …/resources` (Microsoft.Resources): every resource wid hosts in ARM's generic shape,
//! with the `$filter` forms clients send, paging, and only what the caller may read.

use super::authz::{assign, unassign};
use super::exchange::Federation;
use super::{arm_code, error_code, Wid};
use reqwest::Method;
use serde_json::{json, Value};

const RESOURCES: &str = "api-version=2021-04-01";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const KV_CONTRIBUTOR: &str = "f25e0fa2-a7c8-4377-a976-54943a77a395";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

/// Groups `rg-a` and `rg-b`, each with an identity and a vault, tagged by group, and a vault
/// in `rg-b` that is soft-deleted; the federation's own `rg` holds a cluster and an identity.
async fn estate(wid: &Wid) {
    for rg in ["rg-a", "rg-b"] {
        wid.group(rg).await;
        let tags = json!({"team": rg, "Cost-Center": "42"});
        wid.arm(
            Method::PUT,
            &wid.sub_path(&format!(
                "/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{rg}?{}",
                super::MSI
            )),
            Some(json!({"location": "westus", "tags": tags})),
        )
        .await
        .unwrap();
        for vault in [format!("kv-{rg}"), format!("kv-{rg}-gone")] {
            let path = wid.sub_path(&format!(
                "/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}?api-version=2024-11-01"
            ));
            wid.arm(
                Method::PUT,
                &path,
                Some(json!({"location": "eastus", "tags": tags, "properties": {
                    "tenantId": wid.creds.tenant_id, "sku": {"family": "A", "name": "standard"}}})),
            )
            .await
            .unwrap();
            if vault.ends_with("-gone") {
                wid.arm(Method::DELETE, &path, None).await.unwrap();
            }
        }
    }
}

fn names(page: &Value) -> Vec<String> {
    let mut out: Vec<String> = page["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn list_path(wid: &Wid, rg: Option<&str>, query: &str) -> String {
    let scope = rg.map_or(String::new(), |rg| format!("/resourceGroups/{rg}"));
    wid.sub_path(&format!("{scope}/resources?{RESOURCES}{query}"))
}

async fn list(wid: &Wid, rg: Option<&str>, query: &str) -> Value {
    wid.arm(Method::GET, &list_path(wid, rg, query), None)
        .await
        .unwrap()
        .body
        .unwrap()
}

#[tokio::test]
async fn every_resource_in_the_generic_shape_filtered_and_paged() {
    let wid = Federation::start(None, None).await.wid;
    estate(&wid).await;
    let all = list(&wid, None, "").await;
    assert_eq!(
        names(&all),
        ["aks", "app", "id-rg-a", "id-rg-b", "kv-rg-a", "kv-rg-b"],
        "soft-deleted vaults and child resources are not listed"
    );
    let vault = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "kv-rg-a")
        .unwrap();
    assert_eq!(
        vault,
        &json!({
            "id": wid.sub_path("/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv-rg-a"),
            "name": "kv-rg-a",
            "type": "Microsoft.KeyVault/vaults",
            "location": "eastus",
            "tags": {"team": "rg-a", "Cost-Center": "42"},
        })
    );
    let types: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for t in [
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }

    let filtered = |f: &str| format!("&$filter={}", urlencode(f));
    let cases: &[(&str, &[&str])] = &[
        ("resourceType eq 'Microsoft.KeyVault/vaults'", &["kv-rg-a", "kv-rg-b"]),
        ("resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'KV-RG-B'", &["kv-rg-b"]),
        ("resourceGroup eq 'rg-a' and resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'", &["id-rg-a"]),
        ("tagName eq 'team' and tagValue eq 'rg-b'", &["id-rg-b", "kv-rg-b"]),
        ("substringof('rg-a', name) or name eq 'aks'", &["aks", "id-rg-a", "kv-rg-a"]),
        ("startswith(tagName, 'cost')", &["id-rg-a", "id-rg-b", "kv-rg-a", "kv-rg-b"]),
        ("location eq 'West US'", &["id-rg-a", "id-rg-b"]),
        ("resourceType eq 'Microsoft.Storage/storageAccounts'", &[]),
    ];
    for (f, expected) in cases {
        assert_eq!(
            names(&list(&wid, None, &filtered(f)).await),
            *expected,
            "{f}"
        );
    }
    // ARM leaves tags out of a listing filtered by tag.
    let by_tag = list(&wid, None, &filtered("tagName eq 'team'")).await;
    assert!(by_tag["value"][0].get("tags").is_none(), "{by_tag}");
    // An empty filter is none (az resource list sends one); $expand adds the times.
    let expanded = list(
        &wid,
        None,
        "&$filter=&$expand=createdTime,provisioningState",
    )
    .await;
    assert_eq!(names(&expanded), names(&all));
    assert_eq!(expanded["value"][0]["provisioningState"], "Succeeded");
    assert!(expanded["value"][0]["createdTime"].is_string());
    assert!(expanded["value"][0].get("changedTime").is_none());

    for bad in [
        "identity eq 'x'",
        "name eq",
        "(name eq 'a')",
        "tagValue eq 'x'",
    ] {
        let (status, code) = arm_code(
            wid.arm(Method::GET, &list_path(&wid, None, &filtered(bad)), None)
                .await,
        );
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidFilterInQueryString"),
            "{bad}"
        );
    }
    let (status, code) = arm_code(
        wid.arm(
            Method::GET,
            &wid.sub_path("/resources?api-version=2019-01-02"),
            None,
        )
        .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));

    // One group's resources.
    assert_eq!(
        names(&list(&wid, Some("rg-b"), "").await),
        ["id-rg-b", "kv-rg-b"]
    );
    assert_eq!(
        names(
            &list(
                &wid,
                Some("rg-b"),
                &filtered("resourceType eq 'Microsoft.KeyVault/vaults'")
            )
            .await
        ),
        ["kv-rg-b"]
    );
    assert_eq!(
        arm_code(
            wid.arm(Method::GET, &list_path(&wid, Some("rg-none"), ""), None)
                .await
        ),
        (404, "ResourceGroupNotFound".into())
    );

    // Paging: absolute nextLinks that keep the filter, every resource once.
    for (top, filter, expected) in [
        (2, String::new(), names(&all)),
        (
            1,
            filtered("resourceType ne 'Microsoft.ContainerService/managedClusters'"),
            vec!["app", "id-rg-a", "id-rg-b", "kv-rg-a", "kv-rg-b"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
    ] {
        let query = format!("&$top={top}{filter}");
        let mut seen = Vec::new();
        let mut next = Some(list_path(&wid, None, &query));
        let mut pages = 0;
        while let Some(url) = next {
            let page = wid
                .arm(Method::GET, &url, None)
                .await
                .unwrap()
                .body
                .unwrap();
            pages += 1;
            seen.extend(names(&page));
            next = page["nextLink"].as_str().map(str::to_owned);
            if let Some(link) = &next {
                assert!(link.starts_with(&wid.info().url), "{link}");
            }
        }
        seen.sort();
        assert_eq!(seen, expected, "{query}");
        assert_eq!(pages, expected.len().div_ceil(top), "{query}");
    }
}

/// Percent-encodes a query value the way SDKs do.
fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn each_caller_sees_only_what_it_may_read() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    estate(wid).await;
    let (status, answer) = f.exchange(&f.sign(&f.claims())).await;
    assert_eq!(status, 200, "{answer}");
    let mi = answer["access_token"].as_str().unwrap().to_owned();
    let get = |rg: Option<&'static str>| {
        let path = list_path(wid, rg, "");
        let mi = mi.clone();
        async move { wid.raw(Method::GET, &path, Some(&mi), None).await }
    };

    // No role anywhere: refused, and a missing group looks like any other.
    for rg in [None, Some("rg-a"), Some("rg-none")] {
        let (status, answer) = get(rg).await;
        assert_eq!(
            (status, error_code(&answer)),
            (403, "AuthorizationFailed"),
            "{rg:?}: {answer}"
        );
    }
    let (_, answer) = get(None).await;
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Resources/subscriptions/resources/read"));

    // Reader on one group: that group's resources, in the subscription's list too.
    let rg_a = wid.sub_path("/resourceGroups/rg-a");
    assign(
        wid,
        &rg_a,
        "dddddddd-0000-4000-8000-000000000001",
        READER,
        &f.principal_id,
    )
    .await;
    let (status, page) = get(None).await;
    assert_eq!(
        (status, names(&page)),
        (200, vec!["id-rg-a".to_owned(), "kv-rg-a".to_owned()])
    );
    assert_eq!(names(&get(Some("rg-a")).await.1), ["id-rg-a", "kv-rg-a"]);
    for rg in [Some("rg-b"), Some("rg-none")] {
        assert_eq!(get(rg).await.0, 403, "{rg:?}");
    }
    unassign(wid, &rg_a, "dddddddd-0000-4000-8000-000000000001").await;

    // Key Vault Contributor on one vault: that vault, in the group's list and the subscription's.
    let kv_b = wid.sub_path("/resourceGroups/rg-b/providers/Microsoft.KeyVault/vaults/kv-rg-b");
    assign(
        wid,
        &kv_b,
        "dddddddd-0000-4000-8000-000000000002",
        KV_CONTRIBUTOR,
        &f.principal_id,
    )
    .await;
    assert_eq!(names(&get(None).await.1), ["kv-rg-b"]);
    assert_eq!(names(&get(Some("rg-b")).await.1), ["kv-rg-b"]);
    assert_eq!(get(Some("rg-a")).await.0, 403);
    unassign(wid, &kv_b, "dddddddd-0000-4000-8000-000000000002").await;

    // A data role at the subscription grants no management read: nothing to list.
    let sub = wid.sub_path("");
    assign(
        wid,
        &sub,
        "dddddddd-0000-4000-8000-000000000003",
        SECRETS_USER,
        &f.principal_id,
    )
    .await;
    assert_eq!(get(None).await.0, 403);
    unassign(wid, &sub, "dddddddd-0000-4000-8000-000000000003").await;

    // Reader on the subscription: everything, and a missing group is reported as missing.
    assign(
        wid,
        &sub,
        "dddddddd-0000-4000-8000-000000000004",
        READER,
        &f.principal_id,
    )
    .await;
    assert_eq!(names(&get(None).await.1), names(&list(wid, None, "").await));
    let (status, answer) = get(Some("rg-none")).await;
    assert_eq!(
        (status, error_code(&answer)),
        (404, "ResourceGroupNotFound")
    );
}
