//! The keys collection of the vault plane over HTTPS: create, import, read, update, the
//! crypto operations (also on an unversioned key id), soft delete, backup and restore,
//! rotation and rotation policies.

use super::Wid;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

async fn kv(wid: &Wid, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let host = format!("kv-keys.vault.{}:{port}", wid.info().dns_suffix);
    let sep = if path.contains('?') { '&' } else { '?' };
    let path = format!("{path}{sep}api-version=7.5");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    super::authz::send(wid, &host, method, &path, token, &body).await
}

#[tokio::test]
async fn keys_are_created_used_deleted_and_restored() {
    let wid = Wid::start().await;
    wid.group("rg").await;
    let vault_id = wid.rbac_vault("rg", "kv-keys").await;
    let admin = wid.creds.object_id.clone();
    super::authz::assign(
        &wid,
        &vault_id,
        "aaaaaaaa-0000-4000-8000-0000000000b1",
        super::authz::KV_ADMIN,
        &admin,
    )
    .await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let t = wid
        .token_for(&format!(
            "https://vault.{}:{port}/.default",
            wid.info().dns_suffix
        ))
        .await;
    let t = t.as_str();

    let (status, made) = kv(
        &wid,
        t,
        "POST",
        "/keys/rsa1/create",
        json!({"kty": "RSA", "key_size": 3072, "tags": {"a": "b"}}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let kid = made["key"]["kid"].as_str().unwrap().to_owned();
    assert!(
        kid.starts_with(&format!(
            "https://kv-keys.vault.{}:{port}/keys/rsa1/",
            wid.info().dns_suffix
        )),
        "{kid}"
    );
    assert_eq!(made["key"]["kty"], "RSA");
    assert_eq!(
        made["key"]["key_ops"],
        json!([
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey"
        ])
    );
    assert_eq!(
        B64.decode(made["key"]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        384
    );
    assert_eq!(made["key"]["e"], "AQAB");
    assert_eq!(made["attributes"]["exportable"], false);
    assert_eq!(made["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(made["tags"], json!({"a": "b"}));
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(made["key"].get(member).is_none(), "{member} in {made}");
    }
    let version = kid.rsplit('/').next().unwrap().to_owned();

    // An operation on the unversioned id (an empty version segment) uses the newest version.
    let digest = B64.encode([9u8; 32]);
    for path in [
        "/keys/rsa1//sign".to_owned(),
        format!("/keys/rsa1/{version}/sign"),
    ] {
        let (status, signed) = kv(
            &wid,
            t,
            "POST",
            &path,
            json!({"alg": "PS256", "value": digest}),
        )
        .await;
        assert_eq!(status, 200, "{path}: {signed}");
        assert_eq!(signed["kid"], kid.as_str());
        let (status, ok) = kv(
            &wid,
            t,
            "POST",
            "/keys/rsa1//verify",
            json!({"alg": "PS256", "digest": digest, "value": signed["value"]}),
        )
        .await;
        assert_eq!((status, &ok["value"]), (200, &json!(true)), "{ok}");
        let (_, bad) = kv(
            &wid,
            t,
            "POST",
            "/keys/rsa1//verify",
            json!({"alg": "PS256", "digest": B64.encode([8u8; 32]), "value": signed["value"]}),
        )
        .await;
        assert_eq!(bad["value"], false);
    }
    let (status, short) = kv(
        &wid,
        t,
        "POST",
        "/keys/rsa1//sign",
        json!({"alg": "RS384", "value": digest}),
    )
    .await;
    assert_eq!(
        (status, short["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{short}"
    );
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        let (op, back) = if alg == "RSA1_5" {
            ("wrapkey", "unwrapkey")
        } else {
            ("encrypt", "decrypt")
        };
        let (status, sealed) = kv(
            &wid,
            t,
            "POST",
            &format!("/keys/rsa1/{version}/{op}"),
            json!({"alg": alg, "value": B64.encode(b"plain")}),
        )
        .await;
        assert_eq!(status, 200, "{sealed}");
        let (status, opened) = kv(
            &wid,
            t,
            "POST",
            &format!("/keys/rsa1//{back}"),
            json!({"alg": alg, "value": sealed["value"]}),
        )
        .await;
        assert_eq!(
            (status, opened["value"].as_str()),
            (200, Some(B64.encode(b"plain").as_str())),
            "{alg}"
        );
    }

    // EC keys sign with the algorithm of their curve only; a public-only import is refused.
    let (status, ec) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1/create",
        json!({"kty": "EC-HSM", "crv": "P-384"}),
    )
    .await;
    assert_eq!(status, 200, "{ec}");
    assert_eq!(
        (ec["key"]["kty"].as_str(), ec["key"]["crv"].as_str()),
        (Some("EC-HSM"), Some("P-384"))
    );
    assert_eq!(ec["key"]["key_ops"], json!(["sign", "verify"]));
    let (status, _) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1//sign",
        json!({"alg": "ES384", "value": B64.encode([1u8; 48])}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1//sign",
        json!({"alg": "ES256", "value": digest}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, refused) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1//encrypt",
        json!({"alg": "RSA-OAEP", "value": digest}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["innererror"]["code"].as_str()),
        (403, Some("KeyOperationForbidden")),
        "{refused}"
    );
    let public =
        json!({"key": {"kty": "EC", "crv": "P-384", "x": ec["key"]["x"], "y": ec["key"]["y"]}});
    let (status, refused) = kv(&wid, t, "PUT", "/keys/imported", public).await;
    assert_eq!(status, 400, "{refused}");
    for (kty, crv) in [("oct", None), ("EC", Some("P-256K"))] {
        let (status, _) = kv(
            &wid,
            t,
            "POST",
            "/keys/bad/create",
            json!({"kty": kty, "crv": crv}),
        )
        .await;
        assert_eq!(status, 400, "{kty}");
    }

    // Disabled or expired keys refuse crypto operations; get still reads them.
    let (status, patched) = kv(
        &wid,
        t,
        "PATCH",
        &format!("/keys/rsa1/{version}"),
        json!({"attributes": {"enabled": false}, "key_ops": ["sign"]}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["key"]["key_ops"], json!(["sign"]));
    let (status, refused) = kv(
        &wid,
        t,
        "POST",
        "/keys/rsa1//sign",
        json!({"alg": "PS256", "value": digest}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["innererror"]["code"].as_str()),
        (403, Some("KeyDisabled"))
    );
    kv(
        &wid,
        t,
        "PATCH",
        "/keys/rsa1/",
        json!({"attributes": {"enabled": true, "exp": super::T0 - 1}}),
    )
    .await;
    let (status, refused) = kv(
        &wid,
        t,
        "POST",
        "/keys/rsa1//sign",
        json!({"alg": "PS256", "value": digest}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["innererror"]["code"].as_str()),
        (403, Some("KeyExpired"))
    );
    assert_eq!(kv(&wid, t, "GET", "/keys/rsa1", Value::Null).await.0, 200);

    // Rotation adds a version like the newest; versions and lists page.
    let (status, rotated) = kv(&wid, t, "POST", "/keys/rsa1/rotate", Value::Null).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["key"]["kid"], kid.as_str());
    assert_eq!(rotated["key"]["key_ops"], json!(["sign"]));
    assert_eq!(
        B64.decode(rotated["key"]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        384
    );
    let (_, versions) = kv(
        &wid,
        t,
        "GET",
        "/keys/rsa1/versions?maxresults=1",
        Value::Null,
    )
    .await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
    assert!(versions["nextLink"].is_string(), "{versions}");
    let (_, listed) = kv(&wid, t, "GET", "/keys", Value::Null).await;
    let kids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{listed}");
    assert!(
        kids[0].ends_with("/keys/ec1") && kids[1].ends_with("/keys/rsa1"),
        "{kids:?}"
    );
    let (_, policy) = kv(&wid, t, "GET", "/keys/rsa1/rotationpolicy", Value::Null).await;
    assert_eq!(
        policy["lifetimeActions"][0]["action"]["type"], "Notify",
        "{policy}"
    );
    let set = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}], "attributes": {"expiryTime": "P1Y"}});
    let (status, policy) = kv(&wid, t, "PUT", "/keys/rsa1/rotationpolicy", set).await;
    assert_eq!(status, 200, "{policy}");
    let (_, policy) = kv(&wid, t, "GET", "/keys/rsa1/rotationpolicy", Value::Null).await;
    assert_eq!(
        policy["lifetimeActions"][0]["trigger"]["timeAfterCreate"],
        "P90D"
    );
    assert_eq!(policy["attributes"]["expiryTime"], "P1Y");

    // Backup, delete, purge, restore: the restored key signs as the original did.
    let (status, blob) = kv(&wid, t, "POST", "/keys/ec1/backup", Value::Null).await;
    assert_eq!(status, 200);
    let (status, gone) = kv(&wid, t, "DELETE", "/keys/ec1", Value::Null).await;
    assert_eq!(status, 200);
    assert!(gone["recoveryId"]
        .as_str()
        .unwrap()
        .ends_with("/deletedkeys/ec1"));
    assert_eq!(
        kv(&wid, t, "GET", "/keys/ec1", Value::Null).await.1["error"]["code"],
        "KeyNotFound"
    );
    let (status, _) = kv(&wid, t, "POST", "/keys/ec1/create", json!({"kty": "EC"})).await;
    assert_eq!(status, 409);
    assert_eq!(
        kv(&wid, t, "GET", "/deletedkeys/ec1", Value::Null).await.0,
        200
    );
    assert_eq!(
        kv(&wid, t, "POST", "/deletedkeys/ec1/recover", Value::Null)
            .await
            .0,
        200
    );
    kv(&wid, t, "DELETE", "/keys/ec1", Value::Null).await;
    assert_eq!(
        kv(&wid, t, "GET", "/deletedkeys", Value::Null).await.1["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        kv(&wid, t, "DELETE", "/deletedkeys/ec1", Value::Null)
            .await
            .0,
        204
    );
    let (status, restored) = kv(
        &wid,
        t,
        "POST",
        "/keys/restore",
        json!({"value": blob["value"]}),
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["key"]["x"], ec["key"]["x"]);
    let (status, signed) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1//sign",
        json!({"alg": "ES384", "value": B64.encode([1u8; 48])}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, ok) = kv(
        &wid,
        t,
        "POST",
        "/keys/ec1//verify",
        json!({"alg": "ES384", "digest": B64.encode([1u8; 48]), "value": signed["value"]}),
    )
    .await;
    assert_eq!(ok["value"], true);
    let (status, _) = kv(
        &wid,
        t,
        "POST",
        "/keys/restore",
        json!({"value": blob["value"]}),
    )
    .await;
    assert_eq!(status, 409, "restore only creates keys that do not exist");
}
