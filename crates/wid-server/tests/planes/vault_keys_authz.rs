//! Authorization of Key Vault's keys collection, by the shared matrix (`vault_matrix`):
//! what each keys route needs, stated from Key Vault's RBAC guide and access-policy
//! reference.

use super::authz::KV_ADMIN;
use super::vault_matrix::{
    self, need, Collection, Need, Vault, KV_READER, KV_SECRETS_OFFICER, OWNER,
};
use serde_json::json;
use wid_core::vault_access::VaultOp;

const KV_CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const KV_CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";
const KV_CRYPTO_SERVICE_ENCRYPTION_USER: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

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

struct Keys;

impl Collection for Keys {
    const PATH: &'static str = "keys";
    const DELETED_PATH: &'static str = "/deletedkeys";
    const OBJECT: &'static str = "k1";
    const ROLES: &'static [&'static str] = &[
        KV_CRYPTO_OFFICER,
        KV_CRYPTO_USER,
        KV_CRYPTO_SERVICE_ENCRYPTION_USER,
        KV_READER,
        KV_ADMIN,
        KV_SECRETS_OFFICER,
        OWNER,
    ];
    const PERMISSIONS: &'static [&'static str] = PERMISSIONS;
    const AT_LEAST: usize = 1000;

    fn needs() -> Vec<Need> {
        needs()
    }

    fn role_permits(role: &str, action: &str) -> bool {
        role_permits(role, action)
    }

    fn declares(op: &VaultOp) -> bool {
        matches!(op, VaultOp::Key(_))
    }

    /// Rotation also changes a key without reading a body.
    fn destructive(n: &Need) -> bool {
        n.method == "DELETE" || n.template.ends_with("/recover") || n.template.ends_with("/rotate")
    }

    /// Creates `k1` and the deleted `gone`; returns `k1`'s version.
    async fn fixtures(vault: &Vault<'_>) -> String {
        let body = json!({"kty": "EC", "crv": "P-256"}).to_string();
        let mut version = String::new();
        for name in ["k1", "gone"] {
            let (status, answer) = vault
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
        let (status, answer) = vault
            .admin("DELETE", "/keys/gone?api-version=7.5", "")
            .await;
        assert_eq!(status, 200, "{answer}");
        version
    }
}

/// Every keys route under each key-relevant role at the vault, at the key it names, at
/// another key and at another group; then under each access-policy permission alone.
/// Refused requests change nothing.
#[tokio::test]
async fn every_key_route_under_every_role_scope_and_permission() {
    vault_matrix::run::<Keys>().await;
}
