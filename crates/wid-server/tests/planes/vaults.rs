//! Key vaults through ARM: Azure's rules for names, soft delete and purge protection, and
//! access policies.

use super::{arm_code, Wid};
use reqwest::Method;
use serde_json::{json, Value};

const KV: &str = "api-version=2024-11-01";

fn body(wid: &Wid, extra: Value) -> Value {
    let mut properties =
        json!({"tenantId": wid.creds.tenant_id, "sku": {"family": "A", "name": "standard"}});
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
    }
    json!({"location": "eastus", "properties": properties})
}

#[tokio::test]
async fn vaults_follow_azures_rules() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let path = |name: &str| {
        wid.sub_path(&format!(
            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{name}?{KV}"
        ))
    };
    let made = wid
        .arm(
            Method::PUT,
            &path("kv-one"),
            Some(body(
                &wid,
                json!({"enablePurgeProtection": true, "softDeleteRetentionInDays": 7}),
            )),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    let made = made.body.unwrap();
    assert_eq!(
        made["properties"]["vaultUri"],
        format!(
            "https://kv-one.vault.wid.localhost:{}/",
            wid.server.as_ref().unwrap().local_addr.port()
        )
    );
    assert_eq!(made["properties"]["enableSoftDelete"], true);

    for bad in [
        "ab",
        "1kv",
        "kv--x",
        "kv-",
        "kv_x",
        "a-very-long-vault-name-xyz",
    ] {
        assert_eq!(
            arm_code(
                wid.arm(Method::PUT, &path(bad), Some(body(&wid, json!({}))))
                    .await
            ),
            (400, "VaultNameNotValid".into()),
            "{bad}"
        );
    }
    let code = |v: Value| {
        let wid = &wid;
        let path = path("kv-one");
        async move { arm_code(wid.arm(Method::PUT, &path, Some(body(wid, v))).await) }
    };
    assert_eq!(code(json!({"enablePurgeProtection": false})).await.0, 400);
    assert_eq!(code(json!({"enableSoftDelete": false})).await.0, 400);
    assert_eq!(code(json!({"softDeleteRetentionInDays": 30})).await.0, 400);
    assert_eq!(
        arm_code(
            wid.arm(
                Method::PUT,
                &path("kv-two"),
                Some(json!({"location": "eastus", "properties": {"sku": {"name": "standard"}}}))
            )
            .await
        )
        .0,
        400,
        "tenantId is required"
    );

    // Access policies: add, then remove, through the accessPolicies operation.
    let policies = |op: &str| {
        wid.sub_path(&format!("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-one/accessPolicies/{op}?{KV}"))
    };
    let entry = json!({"properties": {"accessPolicies": [{"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id, "permissions": {"secrets": ["get", "list"]}}]}});
    let added = wid
        .arm(Method::PUT, &policies("add"), Some(entry))
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(
        added["properties"]["accessPolicies"][0]["permissions"]["secrets"],
        json!(["get", "list"])
    );
    let remove = json!({"properties": {"accessPolicies": [{"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id, "permissions": {"secrets": ["get", "list"]}}]}});
    let removed = wid
        .arm(Method::PUT, &policies("remove"), Some(remove))
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(removed["properties"]["accessPolicies"], json!([]));

    // Soft delete keeps the name; purge protection keeps the vault until its date.
    assert_eq!(
        wid.arm(Method::DELETE, &path("kv-one"), None)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        arm_code(wid.arm(Method::GET, &path("kv-one"), None).await).0,
        404
    );
    assert_eq!(
        arm_code(
            wid.arm(Method::PUT, &path("kv-one"), Some(body(&wid, json!({}))))
                .await
        ),
        (409, "ConflictError".into())
    );
    let deleted = wid
        .arm(
            Method::GET,
            &wid.sub_path(&format!("/providers/Microsoft.KeyVault/deletedVaults?{KV}")),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(deleted["value"][0]["name"], "kv-one");
    let purge = wid.sub_path(&format!(
        "/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kv-one/purge?{KV}"
    ));
    assert_eq!(arm_code(wid.arm(Method::POST, &purge, None).await).0, 409);
    let recovered = wid
        .arm(
            Method::PUT,
            &path("kv-one"),
            Some(json!({"location": "eastus", "properties": {"createMode": "recover"}})),
        )
        .await
        .unwrap();
    assert_eq!(recovered.status, 200);
    assert_eq!(
        wid.arm(Method::GET, &path("kv-one"), None)
            .await
            .unwrap()
            .status,
        200
    );
    // Past the purge date, purge works.
    wid.arm(Method::DELETE, &path("kv-one"), None)
        .await
        .unwrap();
    wid.clock.advance(8 * 86_400);
    let token = wid.token().await;
    let (status, _) = wid.raw(Method::POST, &purge, Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        wid.arm(Method::PUT, &path("kv-one"), Some(body(&wid, json!({}))))
            .await
            .unwrap()
            .status,
        201
    );

    // Deleting the group soft-deletes its vaults.
    wid.arm(
        Method::DELETE,
        &wid.sub_path("/resourcegroups/rg?api-version=2021-04-01"),
        None,
    )
    .await
    .unwrap();
    let deleted = wid
        .arm(
            Method::GET,
            &wid.sub_path(&format!("/providers/Microsoft.KeyVault/deletedVaults?{KV}")),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(deleted["value"][0]["name"], "kv-one");
}

/// Soft-deleted vaults and secrets go for good once their retention ends, without anyone
/// purging them: one replica's periodic job does it.
#[tokio::test]
async fn retention_ends_in_a_purge() {
    let wid = Wid::start_configured(
        super::temp_dir(),
        wid_core::clock::ManualClock::new(super::T0),
        |c| {
            c.job_interval = std::time::Duration::from_millis(100);
        },
    )
    .await;
    wid.group("rg").await;
    let path = wid.sub_path(&format!(
        "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-short?{KV}"
    ));
    wid.arm(
        Method::PUT,
        &path,
        Some(body(&wid, json!({"softDeleteRetentionInDays": 7}))),
    )
    .await
    .unwrap();
    wid.arm(Method::DELETE, &path, None).await.unwrap();
    let deleted = wid.sub_path(&format!("/providers/Microsoft.KeyVault/deletedVaults?{KV}"));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        deleted_vaults(&wid, &deleted).await,
        1,
        "kept while its retention lasts"
    );
    wid.clock.advance(7 * 86_400 + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while deleted_vaults(&wid, &deleted).await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the vault was not purged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Its name is free again.
    assert_eq!(
        wid.arm(Method::PUT, &path, Some(body(&wid, json!({}))))
            .await
            .unwrap()
            .status,
        201
    );
}

async fn deleted_vaults(wid: &Wid, path: &str) -> usize {
    let token = wid.token().await;
    let (_, body) = wid.raw(Method::GET, path, Some(&token), None).await;
    body["value"].as_array().map_or(0, Vec::len)
}

fn vault_path(wid: &Wid, rg: &str, name: &str, rest: &str, version: &str) -> String {
    wid.sub_path(&format!(
        "/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}{rest}?api-version={version}"
    ))
}

async fn check_name(wid: &Wid, name: &str) -> Value {
    let path = wid.sub_path(&format!(
        "/providers/Microsoft.KeyVault/checkNameAvailability?{KV}"
    ));
    let answer = wid
        .arm(
            Method::POST,
            &path,
            Some(json!({"name": name, "type": "Microsoft.KeyVault/vaults"})),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    answer.body.unwrap()
}

#[tokio::test]
async fn vault_names_are_checked_as_the_key_vault_rp_does() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    assert_eq!(
        check_name(&wid, "kv-free").await,
        json!({"nameAvailable": true})
    );
    let invalid = check_name(&wid, "kv--bad").await;
    assert_eq!(
        (&invalid["nameAvailable"], &invalid["reason"]),
        (&json!(false), &json!("AccountNameInvalid"))
    );
    assert!(invalid["message"]
        .as_str()
        .unwrap()
        .contains("consecutive hyphens"));

    wid.arm(
        Method::PUT,
        &vault_path(&wid, "rg", "kv-taken", "", "2024-11-01"),
        Some(body(&wid, json!({}))),
    )
    .await
    .unwrap();
    // Taken whatever the casing, since the name is a DNS label.
    for name in ["kv-taken", "KV-Taken"] {
        let taken = check_name(&wid, name).await;
        assert_eq!(
            (&taken["nameAvailable"], &taken["reason"]),
            (&json!(false), &json!("AlreadyExists")),
            "{name}"
        );
        assert!(taken["message"]
            .as_str()
            .unwrap()
            .contains("already in use"));
    }
    wid.arm(
        Method::DELETE,
        &vault_path(&wid, "rg", "kv-taken", "", "2024-11-01"),
        None,
    )
    .await
    .unwrap();
    let deleted = check_name(&wid, "kv-taken").await;
    assert_eq!(
        (&deleted["nameAvailable"], &deleted["reason"]),
        (&json!(false), &json!("AlreadyExists"))
    );
    assert!(
        deleted["message"]
            .as_str()
            .unwrap()
            .contains("recoverable state"),
        "{deleted}"
    );
    // Purged, the name is free again.
    let purge = wid.sub_path(&format!(
        "/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kv-taken/purge?{KV}"
    ));
    wid.arm(Method::POST, &purge, None).await.unwrap();
    assert_eq!(
        check_name(&wid, "kv-taken").await,
        json!({"nameAvailable": true})
    );

    let path = wid.sub_path(&format!(
        "/providers/Microsoft.KeyVault/checkNameAvailability?{KV}"
    ));
    for bad in [
        json!({"name": "kv-x", "type": "Microsoft.Storage/storageAccounts"}),
        json!({"name": "kv-x"}),
        json!({"type": "Microsoft.KeyVault/vaults"}),
    ] {
        assert_eq!(
            arm_code(wid.arm(Method::POST, &path, Some(bad.clone())).await),
            (400, "BadRequest".into()),
            "{bad}"
        );
    }
}
