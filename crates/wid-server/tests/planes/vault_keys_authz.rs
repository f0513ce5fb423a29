//! Authorization of Key Vault's keys collection: every declared keys route, sent by a
//! workload under every key-relevant role at every scope, and on an access-policy vault
//! under each key permission alone. What each route needs is stated here from Key Vault's
//! RBAC guide and access-policy reference, not read from the server's declarations, so a
//! wrong mapping there fails here.

use super::authz::{assign, send, snapshot, unassign, KV_ADMIN};
use super::exchange::Federation;
use super::Wid;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const KV_CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const KV_CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";
const KV_CRYPTO_SERVICE_ENCRYPTION_USER: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
const KV_READER: &str = "21090545-7ca7-4776-b22c-e363652d74d2";
const KV_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/// Every access-policy key permission wid knows, each tried alone, spelled as Key Vault
/// spells them.
const PERMISSIONS: &[&str] = &[
    "get",
    "list",
    "create",
    "import",
    "update",
    "delete",
    "backup",
    "restore",
    "recover",
    "purge",
    "sign",
    "verify",
    "encrypt",
    "decrypt",
    "wrapKey",
    "unwrapKey",
    "rotate",
    "getrotationpolicy",
    "setrotationpolicy",
];

/// One keys route: the data action RBAC checks and the access-policy permission, as Key
/// Vault documents them.
struct Need {
    method: &'static str,
    template: &'static str,
    action: &'static str,
    permission: &'static str,
}

const fn need(
    method: &'static str,
    template: &'static str,
    action: &'static str,
    permission: &'static str,
) -> Need {
    Need {
        method,
        template,
        action,
        permission,
    }
}

const READ: &str = "Microsoft.KeyVault/vaults/keys/read";
const UPDATE: &str = "Microsoft.KeyVault/vaults/keys/update/action";
const SIGN: &str = "Microsoft.KeyVault/vaults/keys/sign/action";
const VERIFY: &str = "Microsoft.KeyVault/vaults/keys/verify/action";
const ENCRYPT: &str = "Microsoft.KeyVault/vaults/keys/encrypt/action";
const DECRYPT: &str = "Microsoft.KeyVault/vaults/keys/decrypt/action";
const WRAP: &str = "Microsoft.KeyVault/vaults/keys/wrap/action";
const UNWRAP: &str = "Microsoft.KeyVault/vaults/keys/unwrap/action";
const POLICY_READ: &str = "Microsoft.KeyVault/vaults/keyrotationpolicies/read";
const POLICY_WRITE: &str = "Microsoft.KeyVault/vaults/keyrotationpolicies/write";

fn needs() -> Vec<Need> {
    let mut needs = vec![
        need("GET", "/keys", READ, "list"),
        need(
            "POST",
            "/keys/restore",
            "Microsoft.KeyVault/vaults/keys/restore/action",
            "restore",
        ),
        need("GET", "/keys/{name}", READ, "get"),
        need("GET", "/keys/{name}/", READ, "get"),
        need("GET", "/keys/{name}/{version}", READ, "get"),
        need("GET", "/keys/{name}/versions", READ, "list"),
        need(
            "PUT",
            "/keys/{name}",
            "Microsoft.KeyVault/vaults/keys/import/action",
            "import",
        ),
        need(
            "POST",
            "/keys/{name}/create",
            "Microsoft.KeyVault/vaults/keys/create/action",
            "create",
        ),
        need("PATCH", "/keys/{name}/", UPDATE, "update"),
        need("PATCH", "/keys/{name}/{version}", UPDATE, "update"),
        need(
            "DELETE",
            "/keys/{name}",
            "Microsoft.KeyVault/vaults/keys/delete",
            "delete",
        ),
        need(
            "POST",
            "/keys/{name}/backup",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "backup",
        ),
        need(
            "POST",
            "/keys/{name}/rotate",
            "Microsoft.KeyVault/vaults/keys/rotate/action",
            "rotate",
        ),
        need(
            "GET",
            "/keys/{name}/rotationpolicy",
            POLICY_READ,
            "getrotationpolicy",
        ),
        need(
            "PUT",
            "/keys/{name}/rotationpolicy",
            POLICY_WRITE,
            "setrotationpolicy",
        ),
        need("GET", "/deletedkeys", READ, "list"),
        need("GET", "/deletedkeys/{name}", READ, "get"),
        need(
            "POST",
            "/deletedkeys/{name}/recover",
            "Microsoft.KeyVault/vaults/keys/recover/action",
            "recover",
        ),
        need(
            "DELETE",
            "/deletedkeys/{name}",
            "Microsoft.KeyVault/vaults/keys/purge/action",
            "purge",
        ),
    ];
    // Each operation on a version and on the unversioned id (an empty version segment).
    for (template, action, permission) in [
        ("/keys/{name}/{version}/sign", SIGN, "sign"),
        ("/keys/{name}//sign", SIGN, "sign"),
        ("/keys/{name}/{version}/verify", VERIFY, "verify"),
        ("/keys/{name}//verify", VERIFY, "verify"),
        ("/keys/{name}/{version}/encrypt", ENCRYPT, "encrypt"),
        ("/keys/{name}//encrypt", ENCRYPT, "encrypt"),
        ("/keys/{name}/{version}/decrypt", DECRYPT, "decrypt"),
        ("/keys/{name}//decrypt", DECRYPT, "decrypt"),
        ("/keys/{name}/{version}/wrapkey", WRAP, "wrapKey"),
        ("/keys/{name}//wrapkey", WRAP, "wrapKey"),
        ("/keys/{name}/{version}/unwrapkey", UNWRAP, "unwrapKey"),
        ("/keys/{name}//unwrapkey", UNWRAP, "unwrapKey"),
    ] {
        needs.push(need("POST", template, action, permission));
    }
    needs
}

/// What each role's data actions grant, in the roles' own terms (Azure's built-in role
/// definitions).
fn role_permits(role: &str, action: &str) -> bool {
    match role {
        KV_ADMIN => true,
        // `keys/*` and `keyrotationpolicies/*`.
        KV_CRYPTO_OFFICER => {
            action.starts_with("Microsoft.KeyVault/vaults/keys/")
                || action.starts_with("Microsoft.KeyVault/vaults/keyrotationpolicies/")
        }
        KV_CRYPTO_USER => [
            READ,
            UPDATE,
            "Microsoft.KeyVault/vaults/keys/backup/action",
            ENCRYPT,
            DECRYPT,
            WRAP,
            UNWRAP,
            SIGN,
            VERIFY,
        ]
        .contains(&action),
        KV_CRYPTO_SERVICE_ENCRYPTION_USER => [READ, WRAP, UNWRAP].contains(&action),
        // `Microsoft.KeyVault/vaults/*/read`.
        KV_READER => action.ends_with("/read"),
        // Secrets only; a management role grants no data actions.
        KV_SECRETS_OFFICER | OWNER => false,
        other => panic!("no expectations for role {other}"),
    }
}

/// The vault under test and an admin's way into it.
struct Vault<'a> {
    wid: &'a Wid,
    host: String,
    admin: String,
}

impl Vault<'_> {
    async fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        send(self.wid, &self.host, method, path, &self.admin, body).await
    }

    /// Creates `k1` and the deleted `gone`; returns `k1`'s version.
    async fn fixtures(&self) -> String {
        let body = json!({"kty": "EC", "crv": "P-256"}).to_string();
        let mut version = String::new();
        for name in ["k1", "gone"] {
            let (status, answer) = self
                .admin(
                    "POST",
                    &format!("/keys/{name}/create?api-version=7.5"),
                    &body,
                )
                .await;
            assert_eq!(status, 200, "{answer}");
            if name == "k1" {
                version = answer["key"]["kid"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned();
            }
        }
        let (status, answer) = self.admin("DELETE", "/keys/gone?api-version=7.5", "").await;
        assert_eq!(status, 200, "{answer}");
        version
    }
}

/// The request a route's entry becomes, and whether it names `ghost`. Refused or not, it
/// must change nothing: when the caller is let through, a route that changes a key without
/// reading a body (delete, purge, recover, rotate) names `ghost`, which does not exist, and
/// any other write carries a body that does not parse.
fn request(n: &Need, version: &str, let_through: bool) -> (String, String, bool) {
    let name = if n.template.starts_with("/deletedkeys") {
        "gone"
    } else {
        "k1"
    };
    let names_object = n.template.contains("{name}");
    let destructive =
        n.method == "DELETE" || n.template.ends_with("/recover") || n.template.ends_with("/rotate");
    let ghost = let_through && names_object && destructive;
    let name = if ghost { "ghost" } else { name };
    let path = format!(
        "{}?api-version=7.5",
        n.template
            .replace("{name}", name)
            .replace("{version}", version)
    );
    let body = match n.method {
        "PUT" | "PATCH" | "POST" if let_through && !destructive => "{".to_owned(),
        "PUT" | "PATCH" | "POST" => json!({"tags": {"taken": "yes"}}).to_string(),
        _ => String::new(),
    };
    (path, body, ghost)
}

/// Sends every route as the workload; `expected(need)` says whether it may pass. With a
/// grant on `k1` alone (`on_k1`), a destructive route redirected to `ghost` is refused.
async fn walk(
    vault: &Vault<'_>,
    token: &str,
    version: &str,
    case: &str,
    refusal: &str,
    on_k1: bool,
    expected: impl Fn(&Need) -> bool,
) -> usize {
    let before = snapshot(vault.wid).await;
    let mut checked = 0;
    for n in needs() {
        let (path, body, ghost) = request(&n, version, expected(&n));
        let allowed = expected(&n) && !(on_k1 && ghost);
        let (status, answer) = send(vault.wid, &vault.host, n.method, &path, token, &body).await;
        if allowed {
            assert_ne!(
                status, 403,
                "{case}: {} {path} was refused: {answer}",
                n.method
            );
        } else {
            assert_eq!(
                (status, answer["error"]["innererror"]["code"].as_str()),
                (403, Some(refusal)),
                "{case}: {} {path} was let through: {answer}",
                n.method
            );
        }
        checked += 1;
    }
    assert_eq!(
        snapshot(vault.wid).await,
        before,
        "{case}: a request changed stored data"
    );
    checked
}

fn declared() -> BTreeSet<String> {
    wid_server::vault_route_table()
        .iter()
        .filter(|(_, _, op)| matches!(op, wid_core::vault_access::VaultOp::Key(_)))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect()
}

async fn put_vault(wid: &Wid, id: &str, rbac: bool, policies: Value) {
    let made = wid
        .arm(
            Method::PUT,
            &format!("{id}?api-version=2024-11-01"),
            Some(
                json!({"location": "eastus", "properties": {"tenantId": wid.creds.tenant_id,
                "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": rbac,
                "accessPolicies": policies}}),
            ),
        )
        .await
        .unwrap();
    assert!(made.status == 200 || made.status == 201, "{id}");
}

/// Every keys route under each key-relevant role at the vault, at the key it names, at
/// another key and at another group; then under each access-policy permission alone.
/// Refused requests change nothing.
#[tokio::test]
async fn every_key_route_under_every_role_scope_and_permission() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let sent: BTreeSet<String> = needs()
        .iter()
        .map(|n| format!("{} {}", n.method, n.template))
        .collect();
    assert_eq!(sent, declared(), "the matrix sends every keys route");

    for group in ["rg1", "rg2"] {
        wid.group(group).await;
    }
    let sub = wid.sub_path("");
    let rbac_vault = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1");
    put_vault(wid, &rbac_vault, true, json!([])).await;
    assign(
        wid,
        &sub,
        "eeeeeeee-0000-4000-8000-000000000001",
        KV_ADMIN,
        &wid.creds.object_id,
    )
    .await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let suffix = wid.info().dns_suffix.clone();
    let kv_scope = format!("https://vault.{suffix}:{port}/.default");
    let admin = wid.token_for(&kv_scope).await;
    let (status, answer) = f
        .exchange_as(
            &wid.creds.tenant_id,
            &f.client_id,
            &f.sign(&f.claims()),
            &kv_scope,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let mi = answer["access_token"].as_str().unwrap().to_owned();

    let kv1 = Vault {
        wid,
        host: format!("kv1.vault.{suffix}:{port}"),
        admin: admin.clone(),
    };
    let version = kv1.fixtures().await;
    let mut checked = walk(
        &kv1,
        &mi,
        &version,
        "no grant",
        "ForbiddenByRbac",
        false,
        |_| false,
    )
    .await;
    let grant = "eeeeeeee-0000-4000-8000-000000000002";
    for role in [
        KV_CRYPTO_OFFICER,
        KV_CRYPTO_USER,
        KV_CRYPTO_SERVICE_ENCRYPTION_USER,
        KV_READER,
        KV_ADMIN,
        KV_SECRETS_OFFICER,
        OWNER,
    ] {
        for (scope, reach) in [
            (rbac_vault.clone(), "vault"),
            (format!("{rbac_vault}/keys/k1"), "k1"),
            (format!("{rbac_vault}/keys/other"), "none"),
            (format!("{sub}/resourceGroups/rg2"), "none"),
        ] {
            assign(wid, &scope, grant, role, &f.principal_id).await;
            let case = format!("{role} at {scope}");
            checked += walk(
                &kv1,
                &mi,
                &version,
                &case,
                "ForbiddenByRbac",
                reach == "k1",
                |n| {
                    // An assignment on a key reaches routes naming it, and no list, no
                    // deleted key, nothing named on the vault.
                    let reached = match reach {
                        "vault" => true,
                        "k1" => n.template.starts_with("/keys/{name}"),
                        _ => false,
                    };
                    reached && role_permits(role, n.action)
                },
            )
            .await;
            unassign(wid, &scope, grant).await;
        }
    }

    let policy_vault = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv2");
    let admin_policy = json!({"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id,
        "permissions": {"keys": ["all"]}});
    put_vault(wid, &policy_vault, false, json!([admin_policy.clone()])).await;
    let kv2 = Vault {
        wid,
        host: format!("kv2.vault.{suffix}:{port}"),
        admin,
    };
    let version = kv2.fixtures().await;
    checked += walk(
        &kv2,
        &mi,
        &version,
        "no policy",
        "ForbiddenByPolicy",
        false,
        |_| false,
    )
    .await;
    for permission in PERMISSIONS {
        let workload = json!({"tenantId": wid.creds.tenant_id, "objectId": f.principal_id,
            "permissions": {"keys": [permission], "secrets": ["all"], "certificates": ["all"]}});
        put_vault(
            wid,
            &policy_vault,
            false,
            json!([admin_policy.clone(), workload]),
        )
        .await;
        let case = format!("access policy {permission}");
        checked += walk(
            &kv2,
            &mi,
            &version,
            &case,
            "ForbiddenByPolicy",
            false,
            |n| n.permission == *permission,
        )
        .await;
    }
    assert!(checked > 1000, "{checked}");
    f.wid.stop().await;
}
