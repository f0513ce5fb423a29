//! Key Vault's certificates collection: its authorization by the shared matrix
//! (`vault_matrix`), with what each certificates route needs stated from Key Vault's RBAC
//! guide and access-policy reference; the backing secret a certificate manages; and the
//! create operation under concurrent polls and cancellation.

use super::authz::{snapshot, KV_ADMIN};
use super::vault_matrix::{
    self, need, put_vault, Collection, Need, Vault, KV_READER, KV_SECRETS_OFFICER, OWNER,
};
use super::Wid;
use serde_json::{json, Value};
use wid_core::vault_access::VaultOp;

const KV_CERTIFICATES_OFFICER: &str = "a4417e6f-fecd-4de8-b567-7b0420556985";
const KV_CERTIFICATE_USER: &str = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba";

/// Every access-policy certificate permission wid knows, each tried alone.
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
    "managecontacts",
    "getissuers",
    "manageissuers",
];

const READ: &str = "Microsoft.KeyVault/vaults/certificates/read";
const UPDATE: &str = "Microsoft.KeyVault/vaults/certificates/update/action";
const DELETE: &str = "Microsoft.KeyVault/vaults/certificates/delete";
const CONTACTS: &str = "Microsoft.KeyVault/vaults/certificatecontacts/write";
const CAS_READ: &str = "Microsoft.KeyVault/vaults/certificatecas/read";
const CAS_WRITE: &str = "Microsoft.KeyVault/vaults/certificatecas/write";

fn needs() -> Vec<Need> {
    vec![
        need("GET", "/certificates", READ, "list"),
        need("GET", "/certificates/contacts", CONTACTS, "managecontacts"),
        need("PUT", "/certificates/contacts", CONTACTS, "managecontacts"),
        need(
            "DELETE",
            "/certificates/contacts",
            CONTACTS,
            "managecontacts",
        ),
        need("GET", "/certificates/issuers", CAS_READ, "getissuers"),
        need(
            "GET",
            "/certificates/issuers/{issuer}",
            CAS_READ,
            "getissuers",
        ),
        need(
            "PUT",
            "/certificates/issuers/{issuer}",
            CAS_WRITE,
            "manageissuers",
        ),
        need(
            "PATCH",
            "/certificates/issuers/{issuer}",
            CAS_WRITE,
            "manageissuers",
        ),
        need(
            "DELETE",
            "/certificates/issuers/{issuer}",
            CAS_WRITE,
            "manageissuers",
        ),
        need("GET", "/certificates/{name}", READ, "get"),
        need("GET", "/certificates/{name}/", READ, "get"),
        need("GET", "/certificates/{name}/{version}", READ, "get"),
        need("GET", "/certificates/{name}/versions", READ, "list"),
        need("GET", "/certificates/{name}/policy", READ, "get"),
        need("GET", "/certificates/{name}/pending", READ, "get"),
        need("PATCH", "/certificates/{name}/", UPDATE, "update"),
        need("PATCH", "/certificates/{name}/{version}", UPDATE, "update"),
        need("PATCH", "/certificates/{name}/policy", UPDATE, "update"),
        need("PATCH", "/certificates/{name}/pending", UPDATE, "update"),
        need("DELETE", "/certificates/{name}/pending", DELETE, "delete"),
        need("DELETE", "/certificates/{name}", DELETE, "delete"),
        need(
            "POST",
            "/certificates/{name}/create",
            "Microsoft.KeyVault/vaults/certificates/create/action",
            "create",
        ),
        need(
            "POST",
            "/certificates/{name}/import",
            "Microsoft.KeyVault/vaults/certificates/import/action",
            "import",
        ),
        need(
            "POST",
            "/certificates/{name}/backup",
            "Microsoft.KeyVault/vaults/certificates/backup/action",
            "backup",
        ),
        need(
            "POST",
            "/certificates/restore",
            "Microsoft.KeyVault/vaults/certificates/restore/action",
            "restore",
        ),
        need("GET", "/deletedcertificates", READ, "list"),
        need("GET", "/deletedcertificates/{name}", READ, "get"),
        need(
            "POST",
            "/deletedcertificates/{name}/recover",
            "Microsoft.KeyVault/vaults/certificates/recover/action",
            "recover",
        ),
        need(
            "DELETE",
            "/deletedcertificates/{name}",
            "Microsoft.KeyVault/vaults/certificates/purge/action",
            "purge",
        ),
    ]
}

/// What each role's data actions grant, in the roles' own terms (Azure's built-in role
/// definitions).
fn role_permits(role: &str, action: &str) -> bool {
    match role {
        KV_ADMIN => true,
        KV_CERTIFICATES_OFFICER => {
            action.starts_with("Microsoft.KeyVault/vaults/certificates/")
                || action.starts_with("Microsoft.KeyVault/vaults/certificatecas/")
                || action == CONTACTS
        }
        KV_CERTIFICATE_USER => action == READ,
        // `Microsoft.KeyVault/vaults/*/read`.
        KV_READER => action.ends_with("/read"),
        // Secrets only; a management role grants no data actions.
        KV_SECRETS_OFFICER | OWNER => false,
        other => panic!("no expectations for role {other}"),
    }
}

/// A self-signed EC certificate: quick to issue.
fn policy(subject: &str) -> String {
    json!({"policy": {
        "key_props": {"exportable": true, "kty": "EC", "crv": "P-256", "reuse_key": false},
        "secret_props": {"contentType": "application/x-pem-file"},
        "x509_props": {"subject": subject, "validity_months": 12},
        "issuer": {"name": "Self"},
    }})
    .to_string()
}

struct Certificates;

impl Collection for Certificates {
    const PATH: &'static str = "certificates";
    const DELETED_PATH: &'static str = "/deletedcertificates";
    const OBJECT: &'static str = "c1";
    const ROLES: &'static [&'static str] = &[
        KV_CERTIFICATES_OFFICER,
        KV_CERTIFICATE_USER,
        KV_READER,
        KV_ADMIN,
        KV_SECRETS_OFFICER,
        OWNER,
    ];
    const PERMISSIONS: &'static [&'static str] = PERMISSIONS;
    const AT_LEAST: usize = 700;

    fn needs() -> Vec<Need> {
        needs()
    }

    fn role_permits(role: &str, action: &str) -> bool {
        role_permits(role, action)
    }

    fn declares(op: &VaultOp) -> bool {
        matches!(op, VaultOp::Certificate(_))
    }

    /// Issues `c1` (its create operation completed) and the deleted `gone`; returns `c1`'s
    /// version.
    async fn fixtures(vault: &Vault<'_>) -> String {
        for name in ["c1", "gone"] {
            let (status, answer) = vault
                .admin(
                    "POST",
                    &format!("/certificates/{name}/create?api-version=7.5"),
                    &policy(&format!("CN={name}")),
                )
                .await;
            assert_eq!(status, 202, "{answer}");
            let (status, answer) = vault
                .admin(
                    "GET",
                    &format!("/certificates/{name}/pending?api-version=7.5"),
                    "",
                )
                .await;
            assert_eq!(answer["status"], "completed", "{status} {answer}");
        }
        let (status, answer) = vault
            .admin("DELETE", "/certificates/gone?api-version=7.5", "")
            .await;
        assert_eq!(status, 200, "{answer}");
        let (status, answer) = vault
            .admin("GET", "/certificates/c1?api-version=7.5", "")
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }
}

/// Every certificates route under each certificate-relevant role at the vault, at the
/// certificate it names, at another certificate and at another group; then under each
/// access-policy permission alone. Refused requests change nothing.
#[tokio::test]
async fn every_certificate_route_under_every_role_scope_and_permission() {
    vault_matrix::run::<Certificates>().await;
}

/// A certificate's backing secret carries the certificate's key id and `managed`; Key Vault
/// refuses to set, update or delete it through the secrets collection, and a certificate
/// cannot take the name of a secret that backs none.
#[tokio::test]
async fn the_backing_secret_is_managed_by_its_certificate() {
    let wid = Wid::start().await;
    let sub = wid.sub_path("");
    wid.group("rg1").await;
    let id = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1");
    let admin_policy = json!({"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id,
        "permissions": {"certificates": ["all"], "secrets": ["all"]}});
    put_vault(&wid, &id, false, json!([admin_policy])).await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let suffix = wid.info().dns_suffix.clone();
    let vault = Vault {
        wid: &wid,
        host: format!("kv1.vault.{suffix}:{port}"),
        admin: wid
            .token_for(&format!("https://vault.{suffix}:{port}/.default"))
            .await,
    };
    let version = Certificates::fixtures(&vault).await;
    let base = format!("https://kv1.vault.{suffix}:{port}");

    let (status, secret) = vault.admin("GET", "/secrets/c1?api-version=7.5", "").await;
    assert_eq!(status, 200, "{secret}");
    assert_eq!(secret["managed"], true);
    assert_eq!(secret["kid"], format!("{base}/keys/c1/{version}"));
    assert_eq!(secret["id"], format!("{base}/secrets/c1/{version}"));
    assert!(secret["value"]
        .as_str()
        .unwrap()
        .contains("-----BEGIN PRIVATE KEY-----"));

    let before = snapshot(&wid).await;
    for (method, path, body, operation) in [
        ("PUT", "/secrets/c1", json!({"value": "x"}), "set"),
        (
            "PATCH",
            "/secrets/c1/",
            json!({"tags": {"t": "1"}}),
            "update",
        ),
        (
            "PATCH",
            &format!("/secrets/c1/{version}") as &str,
            json!({"tags": {"t": "1"}}),
            "update",
        ),
        ("DELETE", "/secrets/c1", Value::Null, "delete"),
    ] {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (status, answer) = vault
            .admin(method, &format!("{path}?api-version=7.5"), &body)
            .await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "Forbidden");
        assert_eq!(
            answer["error"]["innererror"]["code"],
            "SecretManagedByKeyVault"
        );
        assert_eq!(
            answer["error"]["message"],
            format!("Operation \"{operation}\" is not allowed as this object's lifetime is managed by Key Vault.")
        );
    }
    assert_eq!(
        snapshot(&wid).await,
        before,
        "a refused request changed data"
    );

    // A plain secret keeps its name; it is neither managed nor taken over.
    let (status, plain) = vault
        .admin(
            "PUT",
            "/secrets/plain?api-version=7.5",
            &json!({"value": "v"}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        plain.get("managed").is_none() && plain.get("kid").is_none(),
        "{plain}"
    );
    let (status, answer) = vault
        .admin(
            "POST",
            "/certificates/plain/create?api-version=7.5",
            &policy("CN=plain"),
        )
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (409, &json!("Conflict")),
        "{answer}"
    );

    // Deleting the certificate deletes its backing secret; the secret stays managed.
    let (status, _) = vault
        .admin("DELETE", "/certificates/c1?api-version=7.5", "")
        .await;
    assert_eq!(status, 200);
    let (status, deleted) = vault
        .admin("GET", "/deletedsecrets/c1?api-version=7.5", "")
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["managed"], true);
    let (status, answer) = vault
        .admin(
            "POST",
            "/certificates/c1/create?api-version=7.5",
            &policy("CN=c1"),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );
    assert_eq!(
        answer["error"]["message"],
        "Certificate c1 is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged."
    );
    wid.stop().await;
}

/// Polls that arrive together while a create is pending issue the certificate once: every
/// poll answers in progress or completed, and the certificate has one version. A create
/// cancelled before its first poll ends cancelled, with no version.
#[tokio::test]
async fn a_pending_certificate_is_issued_once_or_cancelled() {
    let wid = Wid::start().await;
    let sub = wid.sub_path("");
    wid.group("rg1").await;
    let id = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1");
    let admin_policy = json!({"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id,
        "permissions": {"certificates": ["all"]}});
    put_vault(&wid, &id, false, json!([admin_policy])).await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let suffix = wid.info().dns_suffix.clone();
    let vault = Vault {
        wid: &wid,
        host: format!("kv1.vault.{suffix}:{port}"),
        admin: wid
            .token_for(&format!("https://vault.{suffix}:{port}/.default"))
            .await,
    };
    // RSA keys take long enough to generate that the polls overlap the issuance.
    let rsa = json!({"policy": {
        "key_props": {"exportable": true, "kty": "RSA", "key_size": 2048, "reuse_key": false},
        "secret_props": {"contentType": "application/x-pkcs12"},
        "x509_props": {"subject": "CN=race", "validity_months": 12},
        "issuer": {"name": "Self"},
    }});
    let (status, answer) = vault
        .admin(
            "POST",
            "/certificates/race/create?api-version=7.5",
            &rsa.to_string(),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let polls = futures_util::future::join_all(
        (0..8).map(|_| vault.admin("GET", "/certificates/race/pending?api-version=7.5", "")),
    )
    .await;
    for (status, answer) in &polls {
        assert_eq!(*status, 200, "{answer}");
        assert!(
            answer["status"] == "inProgress" || answer["status"] == "completed",
            "{answer}"
        );
    }
    let mut done = false;
    for _ in 0..100 {
        let (_, answer) = vault
            .admin("GET", "/certificates/race/pending?api-version=7.5", "")
            .await;
        if answer["status"] == "completed" {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the operation never completed");
    let (status, versions) = vault
        .admin("GET", "/certificates/race/versions?api-version=7.5", "")
        .await;
    assert_eq!(status, 200, "{versions}");
    assert_eq!(
        versions["value"].as_array().map(Vec::len),
        Some(1),
        "{versions}"
    );

    // A cancellation before the first poll: the poll records it and issues nothing.
    let (status, answer) = vault
        .admin(
            "POST",
            "/certificates/stopped/create?api-version=7.5",
            &rsa.to_string(),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = vault
        .admin(
            "PATCH",
            "/certificates/stopped/pending?api-version=7.5",
            &json!({"cancellation_requested": true}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cancellation_requested"], true, "{answer}");
    let (status, answer) = vault
        .admin("GET", "/certificates/stopped/pending?api-version=7.5", "")
        .await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("cancelled")),
        "{answer}"
    );
    let (status, answer) = vault
        .admin("GET", "/certificates/stopped?api-version=7.5", "")
        .await;
    assert_eq!(status, 404, "a cancelled create issued a version: {answer}");
    let (_, answer) = vault
        .admin("GET", "/certificates/stopped/pending?api-version=7.5", "")
        .await;
    assert_eq!(answer["status"], "cancelled", "{answer}");
}
