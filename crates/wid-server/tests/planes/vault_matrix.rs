//! The authorization matrix of a vault collection (keys, certificates): every declared route
//! of the collection, sent by a workload under each collection-relevant role at the vault,
//! at the object the route names, at another object and at another group; then on an
//! access-policy vault under each of the collection's permissions alone. What each route
//! needs is stated by the collection's own test from Key Vault's RBAC guide and access-policy
//! reference, not read from the server's declarations, so a wrong mapping there fails here.
//! Refused requests must change nothing.

use super::authz::{assign, send, snapshot, unassign, KV_ADMIN};
use super::exchange::Federation;
use super::Wid;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use wid_core::vault_access::VaultOp;

pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const KV_READER: &str = "21090545-7ca7-4776-b22c-e363652d74d2";
pub const KV_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/// One route: the data action RBAC checks and the access-policy permission, as Key Vault
/// documents them.
pub struct Need {
    pub method: &'static str,
    pub template: &'static str,
    pub action: &'static str,
    pub permission: &'static str,
}

pub const fn need(
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

/// A collection under test: its routes' needs, its roles and permissions, and its fixtures.
pub trait Collection {
    /// The collection's path segment (`keys`), also its name in an access policy.
    const PATH: &'static str;
    /// The deleted collection's path (`/deletedkeys`).
    const DELETED_PATH: &'static str;
    /// The live object the fixtures make and the routes name.
    const OBJECT: &'static str;
    /// The built-in roles tried at every scope.
    const ROLES: &'static [&'static str];
    /// Every access-policy permission of the collection, each tried alone.
    const PERMISSIONS: &'static [&'static str];
    /// At least this many requests are sent.
    const AT_LEAST: usize;

    fn needs() -> Vec<Need>;
    /// What `role`'s data actions grant, in the role definition's own terms.
    fn role_permits(role: &str, action: &str) -> bool;
    fn declares(op: &VaultOp) -> bool;

    /// Whether a route changes the object it names without reading a body: let through, it
    /// is sent to `ghost`, which does not exist, so it changes nothing.
    fn destructive(n: &Need) -> bool {
        n.method == "DELETE" || n.template.ends_with("/recover")
    }

    /// Makes `OBJECT` and the deleted `gone`; returns `OBJECT`'s version.
    async fn fixtures(vault: &Vault<'_>) -> String;
}

/// The vault under test and an admin's way into it.
pub struct Vault<'a> {
    pub wid: &'a Wid,
    pub host: String,
    pub admin: String,
}

impl Vault<'_> {
    pub async fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        send(self.wid, &self.host, method, path, &self.admin, body).await
    }
}

pub async fn put_vault(wid: &Wid, id: &str, rbac: bool, policies: Value) {
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

/// The request a route's entry becomes, and whether it names `ghost`. Refused or not, it
/// must change nothing: let through, a destructive route names `ghost`, and any other write
/// carries a body that does not parse.
fn request<C: Collection>(n: &Need, version: &str, let_through: bool) -> (String, String, bool) {
    let name = if n.template.starts_with(C::DELETED_PATH) {
        "gone"
    } else {
        C::OBJECT
    };
    let destructive = C::destructive(n);
    let ghost = let_through && n.template.contains("{name}") && destructive;
    let name = if ghost { "ghost" } else { name };
    let path = format!(
        "{}?api-version=7.5",
        n.template
            .replace("{name}", name)
            .replace("{version}", version)
            .replace("{issuer}", "Self")
    );
    let body = match n.method {
        "PUT" | "PATCH" | "POST" if let_through && !destructive => "{".to_owned(),
        "PUT" | "PATCH" | "POST" => json!({"tags": {"taken": "yes"}}).to_string(),
        _ => String::new(),
    };
    (path, body, ghost)
}

/// Sends every route as the workload; `expected(need)` says whether it may pass. With a
/// grant on the object alone (`on_object`), a destructive route sent to `ghost` is refused.
async fn walk<C: Collection>(
    vault: &Vault<'_>,
    token: &str,
    version: &str,
    case: &str,
    refusal: &str,
    on_object: bool,
    expected: impl Fn(&Need) -> bool,
) -> usize {
    let before = snapshot(vault.wid).await;
    let mut checked = 0;
    for n in C::needs() {
        let (path, body, ghost) = request::<C>(&n, version, expected(&n));
        let allowed = expected(&n) && !(on_object && ghost);
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

/// Runs the whole matrix of collection `C` on a fresh wid.
pub async fn run<C: Collection>() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let sent: BTreeSet<String> = C::needs()
        .iter()
        .map(|n| format!("{} {}", n.method, n.template))
        .collect();
    let declared: BTreeSet<String> = wid_server::vault_route_table()
        .iter()
        .filter(|(_, _, op)| C::declares(op))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert_eq!(sent, declared, "the matrix sends every {} route", C::PATH);

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
    let version = C::fixtures(&kv1).await;
    let mut checked = walk::<C>(
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
    let object_routes = format!("/{}/{{name}}", C::PATH);
    for role in C::ROLES {
        for (scope, reach) in [
            (rbac_vault.clone(), "vault"),
            (format!("{rbac_vault}/{}/{}", C::PATH, C::OBJECT), "object"),
            (format!("{rbac_vault}/{}/other", C::PATH), "none"),
            (format!("{sub}/resourceGroups/rg2"), "none"),
        ] {
            assign(wid, &scope, grant, role, &f.principal_id).await;
            let case = format!("{role} at {scope}");
            checked += walk::<C>(
                &kv1,
                &mi,
                &version,
                &case,
                "ForbiddenByRbac",
                reach == "object",
                |n| {
                    // An assignment on an object reaches routes naming it, and no list, no
                    // deleted object, nothing named on the vault.
                    let reached = match reach {
                        "vault" => true,
                        "object" => n.template.starts_with(&object_routes),
                        _ => false,
                    };
                    reached && C::role_permits(role, n.action)
                },
            )
            .await;
            unassign(wid, &scope, grant).await;
        }
    }

    let policy_vault = format!("{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv2");
    let all = json!({"keys": ["all"], "secrets": ["all"], "certificates": ["all"]});
    let admin_policy = json!({"tenantId": wid.creds.tenant_id, "objectId": wid.creds.object_id,
        "permissions": all});
    put_vault(wid, &policy_vault, false, json!([admin_policy.clone()])).await;
    let kv2 = Vault {
        wid,
        host: format!("kv2.vault.{suffix}:{port}"),
        admin,
    };
    let version = C::fixtures(&kv2).await;
    checked += walk::<C>(
        &kv2,
        &mi,
        &version,
        "no policy",
        "ForbiddenByPolicy",
        false,
        |_| false,
    )
    .await;
    for permission in C::PERMISSIONS {
        // All on the other collections, this permission alone on the one under test.
        let mut permissions = all.clone();
        permissions[C::PATH] = json!([permission]);
        let workload = json!({"tenantId": wid.creds.tenant_id, "objectId": f.principal_id,
            "permissions": permissions});
        put_vault(
            wid,
            &policy_vault,
            false,
            json!([admin_policy.clone(), workload]),
        )
        .await;
        let case = format!("access policy {permission}");
        checked += walk::<C>(
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
    assert!(checked > C::AT_LEAST, "{checked}");
    f.wid.stop().await;
}
