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
    // No managed HSMs, deleted or not: what az keyvault list-deleted also asks.
    let hsms = wid
        .arm(
            Method::GET,
            &wid.sub_path(&format!(
                "/providers/Microsoft.KeyVault/deletedManagedHSMs?{KV}"
            )),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(hsms, json!({"value": []}));
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

/// The vault plane's answer to `method path` as `token`, on the vault's own host.
async fn data_plane(
    wid: &Wid,
    vault: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let host = format!("{vault}.vault.{}:{port}", wid.info().dns_suffix);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    super::authz::send(wid, &host, method, path, token, &body).await
}

fn vault_scope(wid: &Wid) -> String {
    let port = wid.server.as_ref().unwrap().local_addr.port();
    format!("https://vault.{}:{port}/.default", wid.info().dns_suffix)
}

const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const KV_CONTRIBUTOR: &str = "f25e0fa2-a7c8-4377-a976-54943a77a395";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

#[tokio::test]
async fn secrets_written_through_arm_are_the_data_planes_secrets() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let vault_id = wid.sub_path("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-arm");
    wid.arm(
        Method::PUT,
        &vault_path(&wid, "rg", "kv-arm", "", "2024-11-01"),
        Some(body(&wid, json!({"enableRbacAuthorization": true}))),
    )
    .await
    .unwrap();
    let admin = wid.creds.object_id.clone();
    super::authz::assign(
        &wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000a1",
        SECRETS_OFFICER,
        &admin,
    )
    .await;
    let kv = wid.token_for(&vault_scope(&wid)).await;
    let secret = |name: &str| {
        vault_path(
            &wid,
            "rg",
            "kv-arm",
            &format!("/secrets/{name}"),
            "2024-11-01",
        )
    };
    const FIRST: &str = "first-PLAINTEXT-7f3a91";
    const SECOND: &str = "second-PLAINTEXT-c20e44";

    let made = wid
        .arm(
            Method::PUT,
            &secret("db-password"),
            Some(json!({"tags": {"env": "dev"}, "properties": {
                "value": FIRST, "contentType": "text/plain", "attributes": {"exp": super::T0 + 86_400}}})),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    let made = made.body.unwrap();
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let uri = format!("https://kv-arm.vault.wid.localhost:{port}/secrets/db-password");
    assert_eq!(made["id"], format!("{vault_id}/secrets/db-password"));
    assert_eq!(made["type"], "Microsoft.KeyVault/vaults/secrets");
    assert_eq!(made["location"], "eastus");
    assert_eq!(made["tags"], json!({"env": "dev"}));
    assert_eq!(made["properties"]["secretUri"], uri.as_str());
    assert_eq!(made["properties"]["contentType"], "text/plain");
    assert_eq!(made["properties"]["attributes"]["enabled"], true);
    assert_eq!(made["properties"]["attributes"]["exp"], super::T0 + 86_400);
    let version = made["properties"]["secretUriWithVersion"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("{uri}/"))
        .unwrap()
        .to_owned();
    assert!(
        !made.to_string().contains(FIRST),
        "ARM returned the value: {made}"
    );

    // The data plane reads what ARM wrote, at the version ARM named.
    let (status, read) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, read["value"].as_str()),
        (200, Some(FIRST)),
        "{read}"
    );
    assert_eq!(read["id"], format!("{uri}/{version}"));
    assert_eq!(
        (read["contentType"].as_str(), &read["tags"]),
        (Some("text/plain"), &json!({"env": "dev"}))
    );

    // A second PUT is a new version.
    let again = wid
        .arm(
            Method::PUT,
            &secret("db-password"),
            Some(json!({"properties": {"value": SECOND}})),
        )
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    let (_, versions) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password/versions?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 2, "{versions}");
    let (_, read) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(read["value"], SECOND);
    let (_, old) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        &format!("/secrets/db-password/{version}?api-version=7.5"),
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(old["value"], FIRST);

    // GET never shows the value, wherever it was written.
    let (status, _) = data_plane(
        &wid,
        "kv-arm",
        "PUT",
        "/secrets/from-data?api-version=7.5",
        &kv,
        json!({"value": "data-PLAINTEXT-11aa"}),
    )
    .await;
    assert_eq!(status, 200);
    let shown = wid
        .arm(Method::GET, &secret("from-data"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(shown["name"], "from-data");
    assert!(
        !shown.to_string().contains("data-PLAINTEXT-11aa"),
        "{shown}"
    );
    assert!(shown["properties"].get("value").is_none());

    // A PUT is a whole version: the first version's metadata is not carried over.
    let shown = wid
        .arm(Method::GET, &secret("db-password"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(shown["tags"], json!({}));
    assert!(shown["properties"].get("contentType").is_none(), "{shown}");

    // PATCH: metadata in place, or a new version that keeps the metadata.
    let patched = wid
        .arm(
            Method::PATCH,
            &secret("db-password"),
            Some(json!({"properties": {"contentType": "application/json",
                "attributes": {"enabled": false, "exp": super::T0 + 7200}}})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(patched["properties"]["attributes"]["enabled"], false);
    let (status, refused) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let patched = wid
        .arm(
            Method::PATCH,
            &secret("db-password"),
            Some(json!({"tags": {"env": "prod"}, "properties": {"value": "third-PLAINTEXT-99", "attributes": {"enabled": true}}})),
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(patched["tags"], json!({"env": "prod"}));
    assert_eq!(
        patched["properties"]["contentType"], "application/json",
        "kept from the version before"
    );
    let (_, read) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(read["value"], "third-PLAINTEXT-99");
    assert_eq!(read["attributes"]["exp"], super::T0 + 7200);
    let (_, versions) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password/versions?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 3, "{versions}");

    // Paging over the secrets of the vault, newest version of each.
    for i in 0..3 {
        wid.arm(
            Method::PUT,
            &secret(&format!("page-{i}")),
            Some(json!({"properties": {"value": "p"}})),
        )
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    let mut next = Some(vault_path(&wid, "rg", "kv-arm", "/secrets", "2024-11-01") + "&$top=2");
    let mut pages = 0;
    while let Some(url) = next {
        let page = wid
            .arm(Method::GET, &url, None)
            .await
            .unwrap()
            .body
            .unwrap();
        let items = page["value"].as_array().unwrap();
        assert!(items.len() <= 2);
        assert!(!page.to_string().contains("PLAINTEXT"), "{page}");
        names.extend(items.iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        next = page["nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(
        names,
        ["db-password", "from-data", "page-0", "page-1", "page-2"]
    );
    assert_eq!(pages, 3);

    // A soft-deleted secret is gone from ARM, and its name cannot be written.
    let (status, _) = data_plane(
        &wid,
        "kv-arm",
        "DELETE",
        "/secrets/from-data?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        arm_code(wid.arm(Method::GET, &secret("from-data"), None).await),
        (404, "ResourceNotFound".into())
    );
    let conflict = wid
        .arm(
            Method::PUT,
            &secret("from-data"),
            Some(json!({"properties": {"value": "x"}})),
        )
        .await;
    match conflict {
        Err(wid_client::ClientError::Arm { status, error }) => {
            assert_eq!((status, error.code.as_str()), (409, "Conflict"));
            assert!(
                error.message.contains("deleted but recoverable"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }
    let listed = wid
        .arm(
            Method::GET,
            &vault_path(&wid, "rg", "kv-arm", "/secrets", "2024-11-01"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert!(!listed.to_string().contains("from-data"), "{listed}");

    // Bad input is refused and changes nothing.
    let big = "x".repeat(25 * 1024 + 1);
    for (path, body, status, code) in [
        (
            secret("db-password"),
            json!({"tags": {}}),
            400,
            "BadRequest",
        ),
        (
            secret("db-password"),
            json!({"properties": {"contentType": "x"}}),
            400,
            "BadRequest",
        ),
        (
            secret("db-password"),
            json!({"properties": {"value": big}}),
            400,
            "BadRequest",
        ),
        (
            secret("db-password"),
            json!({"properties": {"value": 5}}),
            400,
            "InvalidRequestContent",
        ),
        (
            secret("bad_name"),
            json!({"properties": {"value": "x"}}),
            400,
            "InvalidResourceName",
        ),
        (
            vault_path(&wid, "rg", "kv-none", "/secrets/s", "2024-11-01"),
            json!({"properties": {"value": "x"}}),
            404,
            "ParentResourceNotFound",
        ),
        (
            vault_path(&wid, "rg-none", "kv-arm", "/secrets/s", "2024-11-01"),
            json!({"properties": {"value": "x"}}),
            404,
            "ResourceGroupNotFound",
        ),
        (
            vault_path(&wid, "rg", "kv-arm", "/secrets/s", "1999-01-01"),
            json!({"properties": {"value": "x"}}),
            400,
            "NoRegisteredProviderFound",
        ),
    ] {
        assert_eq!(
            arm_code(wid.arm(Method::PUT, &path, Some(body.clone())).await),
            (status, code.into()),
            "{path} {}",
            body.to_string().chars().take(80).collect::<String>()
        );
    }
    assert_eq!(
        arm_code(
            wid.arm(
                Method::PATCH,
                &secret("never-made"),
                Some(json!({"tags": {}}))
            )
            .await
        ),
        (404, "ResourceNotFound".into())
    );
    let (_, read) = data_plane(
        &wid,
        "kv-arm",
        "GET",
        "/secrets/db-password?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(read["value"], "third-PLAINTEXT-99");

    // Sealed at rest: no value is in the clear in the database files.
    let mut raw = Vec::new();
    for file in ["wid.db", "wid.db-wal"] {
        if let Ok(bytes) = std::fs::read(wid.dir.join(file)) {
            raw.extend(bytes);
        }
    }
    assert!(raw.len() > 4096);
    for value in [FIRST, SECOND, "third-PLAINTEXT-99", "data-PLAINTEXT-11aa"] {
        assert!(
            !raw.windows(value.len()).any(|w| w == value.as_bytes()),
            "{value} is in the clear on disk"
        );
    }
}

/// ARM's secrets answer to management roles, the data plane to data roles: a Key Vault
/// Contributor sets a value it cannot read back, a Secrets Officer reads and writes through
/// the data plane but not through ARM.
#[tokio::test]
async fn arm_secrets_take_management_actions_not_data_actions() {
    let f = super::exchange::Federation::start(None, None).await;
    let wid = &f.wid;
    let vault_id = wid.sub_path("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-roles");
    wid.arm(
        Method::PUT,
        &vault_path(wid, "rg", "kv-roles", "", "2024-11-01"),
        Some(body(wid, json!({"enableRbacAuthorization": true}))),
    )
    .await
    .unwrap();
    let tenant = wid.creds.tenant_id.clone();
    let assertion = f.sign(&f.claims());
    let token = |scope: String| {
        let (tenant, assertion) = (tenant.clone(), assertion.clone());
        let f = &f;
        async move {
            let (status, answer) = f
                .exchange_as(&tenant, &f.client_id, &assertion, &scope)
                .await;
            assert_eq!(status, 200, "{answer}");
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let arm_token = token(format!("{}.default", wid.info().management_resource)).await;
    let kv_token = token(vault_scope(wid)).await;
    let secret = vault_path(wid, "rg", "kv-roles", "/secrets/s1", "2024-11-01");
    let put = |value: &str| {
        Some(
            json!({"properties": {"value": value}})
                .to_string()
                .into_bytes(),
        )
    };

    // Nothing yet: refused on both planes.
    let (status, answer) = wid
        .raw(Method::PUT, &secret, Some(&arm_token), put("a"))
        .await;
    assert_eq!(
        (status, super::error_code(&answer)),
        (403, "AuthorizationFailed"),
        "{answer}"
    );
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.KeyVault/vaults/secrets/write"));
    assert_eq!(
        wid.raw(Method::GET, &secret, Some(&arm_token), None)
            .await
            .0,
        403
    );

    // Secrets Officer: data plane yes, ARM writes no, ARM reads (its vaults/*/read) yes.
    super::authz::assign(
        wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000b1",
        SECRETS_OFFICER,
        &f.principal_id,
    )
    .await;
    let (status, _) = data_plane(
        wid,
        "kv-roles",
        "PUT",
        "/secrets/s1?api-version=7.5",
        &kv_token,
        json!({"value": "officer-set"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = wid
        .raw(Method::PUT, &secret, Some(&arm_token), put("b"))
        .await;
    assert_eq!(
        (status, super::error_code(&answer)),
        (403, "AuthorizationFailed"),
        "{answer}"
    );
    let (status, shown) = wid.raw(Method::GET, &secret, Some(&arm_token), None).await;
    assert_eq!(status, 200, "{shown}");
    assert!(!shown.to_string().contains("officer-set"));
    super::authz::unassign(wid, &vault_id, "aaaaaaaa-0000-4000-8000-0000000000b1").await;

    // Key Vault Contributor: writes through ARM, reads nothing on the data plane.
    super::authz::assign(
        wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000b2",
        KV_CONTRIBUTOR,
        &f.principal_id,
    )
    .await;
    let (status, answer) = wid
        .raw(
            Method::PUT,
            &secret,
            Some(&arm_token),
            put("contributor-set"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = data_plane(
        wid,
        "kv-roles",
        "GET",
        "/secrets/s1?api-version=7.5",
        &kv_token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    super::authz::unassign(wid, &vault_id, "aaaaaaaa-0000-4000-8000-0000000000b2").await;

    // Secrets User on the one secret reads the value ARM wrote; nothing on ARM.
    super::authz::assign(
        wid,
        &format!("{vault_id}/secrets/s1"),
        "aaaaaaaa-0000-4000-8000-0000000000b3",
        SECRETS_USER,
        &f.principal_id,
    )
    .await;
    let (status, read) = data_plane(
        wid,
        "kv-roles",
        "GET",
        "/secrets/s1?api-version=7.5",
        &kv_token,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, read["value"].as_str()),
        (200, Some("contributor-set")),
        "{read}"
    );
    assert_eq!(
        wid.raw(Method::GET, &secret, Some(&arm_token), None)
            .await
            .0,
        403
    );

    // Reader on the group: ARM metadata, no writes.
    super::authz::assign(
        wid,
        &wid.sub_path("/resourceGroups/rg"),
        "aaaaaaaa-0000-4000-8000-0000000000b4",
        READER,
        &f.principal_id,
    )
    .await;
    assert_eq!(
        wid.raw(Method::GET, &secret, Some(&arm_token), None)
            .await
            .0,
        200
    );
    let listed = vault_path(wid, "rg", "kv-roles", "/secrets", "2024-11-01");
    let (status, page) = wid.raw(Method::GET, &listed, Some(&arm_token), None).await;
    assert_eq!(
        (status, page["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{page}"
    );
    assert_eq!(
        wid.raw(Method::PUT, &secret, Some(&arm_token), put("c"))
            .await
            .0,
        403
    );
    assert_eq!(
        wid.raw(
            Method::PATCH,
            &secret,
            Some(&arm_token),
            Some(b"{\"tags\":{}}".to_vec())
        )
        .await
        .0,
        403
    );
    // And what was refused changed nothing.
    let (_, read) = data_plane(
        wid,
        "kv-roles",
        "GET",
        "/secrets/s1?api-version=7.5",
        &kv_token,
        Value::Null,
    )
    .await;
    assert_eq!(read["value"], "contributor-set");
}

/// Before any route: the api-version, then the challenge. A path no route serves answers the
/// challenge to a caller without a valid token, and Key Vault's 404 only to one with it. A
/// secret's `get` ignores its nbf/exp window (Key Vault's date-time rule); only `disabled`
/// refuses it.
#[tokio::test]
async fn the_data_plane_checks_versions_and_tokens_before_paths_and_reads_outside_the_dates() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let vault_id = wid.sub_path("/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-edge");
    wid.arm(
        Method::PUT,
        &vault_path(&wid, "rg", "kv-edge", "", "2024-11-01"),
        Some(body(&wid, json!({"enableRbacAuthorization": true}))),
    )
    .await
    .unwrap();
    let admin = wid.creds.object_id.clone();
    super::authz::assign(
        &wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000e1",
        SECRETS_OFFICER,
        &admin,
    )
    .await;
    let kv = wid.token_for(&vault_scope(&wid)).await;

    let (status, answer) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/nothing/here?api-version=7.5",
        "",
        Value::Null,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "Unauthorized");
    let (status, answer) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/nothing/here?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "NotFound");

    let (status, answer) = data_plane(&wid, "kv-edge", "GET", "/secrets", &kv, Value::Null).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "BadParameter");
    let (status, answer) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/secrets?api-version=6.0",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("BadParameter"))
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The specified version (6.0) is not recognized"),
        "{answer}"
    );
    for version in ["7.4", "7.6", "7.6-preview.2", "2025-07-01"] {
        let path = format!("/secrets?api-version={version}");
        assert_eq!(
            data_plane(&wid, "kv-edge", "GET", &path, &kv, Value::Null)
                .await
                .0,
            200,
            "{version}"
        );
    }

    let (status, _) = data_plane(
        &wid,
        "kv-edge",
        "PUT",
        "/secrets/later?api-version=7.5",
        &kv,
        json!({"value": "not-yet", "attributes": {"nbf": super::T0 + 86_400}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = data_plane(
        &wid,
        "kv-edge",
        "PUT",
        "/secrets/earlier?api-version=7.5",
        &kv,
        json!({"value": "expired", "attributes": {"exp": super::T0 - 60}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = data_plane(
        &wid,
        "kv-edge",
        "PUT",
        "/secrets/off?api-version=7.5",
        &kv,
        json!({"value": "disabled", "attributes": {"enabled": false}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, read) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/secrets/later?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, read["value"].as_str()),
        (200, Some("not-yet")),
        "{read}"
    );
    let (status, read) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/secrets/earlier?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, read["value"].as_str()),
        (200, Some("expired")),
        "{read}"
    );
    let (status, read) = data_plane(
        &wid,
        "kv-edge",
        "GET",
        "/secrets/off?api-version=7.5",
        &kv,
        Value::Null,
    )
    .await;
    assert_eq!(status, 403, "{read}");
    assert_eq!(read["error"]["innererror"]["code"], "SecretDisabled");
}
