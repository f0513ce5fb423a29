//! `wid keyvault key …` (az keyvault key): keys and their cryptographic operations through the
//! vault's own data plane, printed in az's shapes.

use super::{parse_tags, DataPlane};
use crate::context::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use wid_client::Method;

#[derive(clap::Args)]
pub struct KeyName {
    #[arg(long)]
    vault_name: String,
    #[arg(short = 'n', long)]
    name: String,
}

#[derive(clap::Args)]
pub struct KeyVersion {
    #[command(flatten)]
    key: KeyName,
    /// The key version; the current one when absent.
    #[arg(short = 'v', long)]
    version: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Protection {
    Software,
    Hsm,
}

/// How az reads and prints the value of `encrypt`/`decrypt`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataType {
    Base64,
    Plaintext,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a new key, or a new version of it, and return its parameters.
    Create {
        #[command(flatten)]
        key: KeyName,
        #[arg(long)]
        kty: Option<String>,
        #[arg(long)]
        size: Option<u32>,
        #[arg(long)]
        curve: Option<String>,
        #[arg(long, num_args = 1..)]
        ops: Vec<String>,
        #[arg(long, value_enum)]
        protection: Option<Protection>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// Get a key's attributes and, if it is a public key, its public material.
    Show {
        #[command(flatten)]
        key: KeyVersion,
    },
    /// List the keys of a vault.
    List {
        #[arg(long)]
        vault_name: String,
    },
    /// List the versions of a key.
    ListVersions {
        #[command(flatten)]
        key: KeyName,
    },
    /// List the deleted keys of a vault, recoverable or purgeable.
    ListDeleted {
        #[arg(long)]
        vault_name: String,
    },
    /// Delete a key of any type, soft-deleted until its scheduled purge date.
    Delete {
        #[command(flatten)]
        key: KeyName,
    },
    /// Recover a deleted key to its latest version.
    Recover {
        #[command(flatten)]
        key: KeyName,
    },
    /// Permanently delete a deleted key (refused under purge protection).
    Purge {
        #[command(flatten)]
        key: KeyName,
    },
    /// Create a signature of a digest with a key, in the vault.
    Sign {
        #[command(flatten)]
        key: KeyVersion,
        #[arg(short = 'a', long)]
        algorithm: String,
        /// The digest to sign, base64.
        #[arg(long)]
        digest: String,
    },
    /// Verify a signature of a digest with a key, in the vault.
    Verify {
        #[command(flatten)]
        key: KeyVersion,
        #[arg(short = 'a', long)]
        algorithm: String,
        #[arg(long)]
        digest: String,
        #[arg(long)]
        signature: String,
    },
    /// Encrypt a value with a key, in the vault.
    Encrypt {
        #[command(flatten)]
        key: KeyVersion,
        #[arg(short = 'a', long)]
        algorithm: String,
        #[arg(long)]
        value: String,
        #[arg(long, value_enum, default_value = "base64")]
        data_type: DataType,
    },
    /// Decrypt a value with a key, in the vault.
    Decrypt {
        #[command(flatten)]
        key: KeyVersion,
        #[arg(short = 'a', long)]
        algorithm: String,
        /// The ciphertext, base64 as `encrypt` printed it.
        #[arg(long)]
        value: String,
        #[arg(long, value_enum, default_value = "base64")]
        data_type: DataType,
    },
}

fn time(v: &Value) -> Value {
    v.as_i64()
        .map(|t| json!(wid_core::timefmt::rfc3339(t)))
        .unwrap_or(Value::Null)
}

/// The JWK members az prints; binary ones become standard base64, as az's serializer writes bytes.
const JWK_BINARY: [&str; 12] = [
    "n", "e", "d", "dp", "dq", "qi", "p", "q", "k", "t", "x", "y",
];

fn az_jwk(k: &Value) -> Value {
    let mut out = Map::new();
    for m in JWK_BINARY {
        let v = k[m]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
            .map(|b| json!(STANDARD.encode(b)))
            .unwrap_or(Value::Null);
        out.insert(m.to_owned(), v);
    }
    out.insert("crv".to_owned(), k["crv"].clone());
    out.insert("keyOps".to_owned(), k["key_ops"].clone());
    out.insert("kid".to_owned(), k["kid"].clone());
    out.insert("kty".to_owned(), k["kty"].clone());
    Value::Object(out)
}

fn key_size(k: &Value) -> Value {
    k["n"]
        .as_str()
        .and_then(|n| URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok())
        .map(|n| json!(n.iter().skip_while(|b| **b == 0).count() * 8))
        .unwrap_or(Value::Null)
}

/// az's view of a key bundle (transform_key_output).
fn az_key(b: &Value) -> Value {
    let a = &b["attributes"];
    let mut out = json!({
        "attributes": {
            "created": time(&a["created"]), "enabled": a["enabled"], "expires": time(&a["exp"]),
            "exportable": a.get("exportable").cloned().unwrap_or(Value::Null),
            "hsmPlatform": a.get("hsmPlatform").cloned().unwrap_or(Value::Null),
            "keySize": key_size(&b["key"]),
            "notBefore": time(&a["nbf"]), "recoverableDays": a["recoverableDays"],
            "recoveryLevel": a["recoveryLevel"], "updated": time(&a["updated"]),
        },
        "key": az_jwk(&b["key"]),
        "managed": b.get("managed").cloned().unwrap_or(Value::Null),
        "releasePolicy": b.get("release_policy").cloned().unwrap_or(Value::Null),
        "tags": b.get("tags").cloned().unwrap_or(Value::Null),
    });
    deleted_fields(b, &mut out);
    out
}

fn deleted_fields(b: &Value, out: &mut Value) {
    if let Some(r) = b.get("recoveryId") {
        out["recoveryId"] = r.clone();
        out["deletedDate"] = time(&b["deletedDate"]);
        out["scheduledPurgeDate"] = time(&b["scheduledPurgeDate"]);
    }
}

/// The name in a key id (`…/keys/{name}/…` or `…/deletedkeys/{name}`).
fn name_of(kid: &str) -> &str {
    kid.split("/keys/")
        .nth(1)
        .or_else(|| kid.split("/deletedkeys/").nth(1))
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
}

/// az's view of a key list item (transform_key_list_output).
fn az_key_item(b: &Value) -> Value {
    let a = &b["attributes"];
    let kid = b["kid"].as_str().unwrap_or_default();
    let mut out = json!({
        "attributes": {
            "created": time(&a["created"]), "enabled": a["enabled"], "expires": time(&a["exp"]),
            "exportable": a.get("exportable").cloned().unwrap_or(Value::Null),
            "notBefore": time(&a["nbf"]), "recoverableDays": a["recoverableDays"],
            "recoveryLevel": a["recoveryLevel"], "updated": time(&a["updated"]),
        },
        "kid": kid, "name": name_of(kid), "keySize": Value::Null,
        "managed": b.get("managed").cloned().unwrap_or(Value::Null),
        "releasePolicy": Value::Null,
        "tags": b.get("tags").cloned().unwrap_or(Value::Null),
    });
    deleted_fields(b, &mut out);
    out
}

/// The key type az asks for: `--protection hsm` names the HSM flavour of `--kty` (RSA by default).
fn key_type(kty: Option<String>, protection: Option<Protection>) -> String {
    let kty = kty.unwrap_or_else(|| "RSA".to_owned());
    match protection {
        Some(Protection::Hsm) if !kty.ends_with("-HSM") => format!("{kty}-HSM"),
        _ => kty,
    }
}

fn b64(what: &str, v: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(v.trim())
        .with_context(|| format!("{what} is not base64"))
}

fn op_path(key: &KeyVersion, op: &str) -> String {
    format!(
        "/keys/{}/{}/{op}",
        key.key.name,
        key.version.as_deref().unwrap_or_default()
    )
}

/// The bytes of a base64url member of an operation's answer.
fn result_bytes(r: &Value) -> Result<Vec<u8>> {
    let v = r["value"]
        .as_str()
        .ok_or_else(|| anyhow!("the vault returned no value"))?;
    URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .context("the vault returned a value that is not base64url")
}

pub(super) async fn run(command: KeyCommand, ctx: &Context) -> Result<Option<Value>> {
    let plane = DataPlane::new(ctx).await?;
    let call = |vault: String, method: Method, path: String, body: Option<Value>| {
        plane.call(vault, method, path, body)
    };
    let list = |vault: String, path: String| plane.list(vault, path);
    let one = |v: Option<Value>| Ok(Some(az_key(&v.unwrap_or(Value::Null))));
    let many = |v: Vec<Value>| Ok(Some(Value::Array(v.iter().map(az_key_item).collect())));
    match command {
        KeyCommand::Create {
            key,
            kty,
            size,
            curve,
            ops,
            protection,
            disabled,
            tags,
        } => {
            let mut body = json!({
                "kty": key_type(kty, protection),
                "attributes": {"enabled": !disabled.unwrap_or(false)},
            });
            if let Some(size) = size {
                body["key_size"] = json!(size);
            }
            if let Some(crv) = curve {
                body["crv"] = json!(crv);
            }
            if !ops.is_empty() {
                body["key_ops"] = json!(ops);
            }
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            one(call(
                key.vault_name,
                Method::POST,
                format!("/keys/{}/create", key.name),
                Some(body),
            )
            .await?)
        }
        KeyCommand::Show { key } => one(call(
            key.key.vault_name,
            Method::GET,
            format!("/keys/{}/{}", key.key.name, key.version.unwrap_or_default()),
            None,
        )
        .await?),
        KeyCommand::List { vault_name } => many(list(vault_name, "/keys".to_owned()).await?),
        KeyCommand::ListVersions { key } => {
            many(list(key.vault_name, format!("/keys/{}/versions", key.name)).await?)
        }
        KeyCommand::ListDeleted { vault_name } => {
            many(list(vault_name, "/deletedkeys".to_owned()).await?)
        }
        KeyCommand::Delete { key } => one(call(
            key.vault_name,
            Method::DELETE,
            format!("/keys/{}", key.name),
            None,
        )
        .await?),
        KeyCommand::Recover { key } => one(call(
            key.vault_name,
            Method::POST,
            format!("/deletedkeys/{}/recover", key.name),
            None,
        )
        .await?),
        KeyCommand::Purge { key } => {
            call(
                key.vault_name,
                Method::DELETE,
                format!("/deletedkeys/{}", key.name),
                None,
            )
            .await?;
            Ok(None)
        }
        KeyCommand::Sign {
            key,
            algorithm,
            digest,
        } => {
            let digest = b64("--digest", &digest)?;
            let body = json!({"alg": algorithm, "value": URL_SAFE_NO_PAD.encode(digest)});
            let r = call(
                key.key.vault_name.clone(),
                Method::POST,
                op_path(&key, "sign"),
                Some(body),
            )
            .await?
            .unwrap_or(Value::Null);
            Ok(Some(json!({
                "algorithm": algorithm, "keyId": r["kid"],
                "signature": STANDARD.encode(result_bytes(&r)?),
            })))
        }
        KeyCommand::Verify {
            key,
            algorithm,
            digest,
            signature,
        } => {
            let body = json!({
                "alg": algorithm,
                "digest": URL_SAFE_NO_PAD.encode(b64("--digest", &digest)?),
                "value": URL_SAFE_NO_PAD.encode(b64("--signature", &signature)?),
            });
            let r = call(
                key.key.vault_name.clone(),
                Method::POST,
                op_path(&key, "verify"),
                Some(body),
            )
            .await?
            .unwrap_or(Value::Null);
            // The verify answer names no key; az prints the id it asked.
            let kid = ctx.vault_client(&key.key.vault_name)?.url(&format!(
                "/keys/{}/{}",
                key.key.name,
                key.version.as_deref().unwrap_or_default()
            ));
            Ok(Some(json!({
                "algorithm": algorithm, "isValid": r["value"], "keyId": kid.trim_end_matches('/'),
            })))
        }
        KeyCommand::Encrypt {
            key,
            algorithm,
            value,
            data_type,
        } => {
            let plain = match data_type {
                DataType::Base64 => b64("--value", &value)?,
                DataType::Plaintext => value.into_bytes(),
            };
            let body = json!({"alg": algorithm, "value": URL_SAFE_NO_PAD.encode(plain)});
            let r = call(
                key.key.vault_name.clone(),
                Method::POST,
                op_path(&key, "encrypt"),
                Some(body),
            )
            .await?
            .unwrap_or(Value::Null);
            Ok(Some(json!({
                "aad": Value::Null, "algorithm": algorithm, "iv": Value::Null, "kid": r["kid"],
                "result": STANDARD.encode(result_bytes(&r)?), "tag": Value::Null,
            })))
        }
        KeyCommand::Decrypt {
            key,
            algorithm,
            value,
            data_type,
        } => {
            let body = json!({
                "alg": algorithm,
                "value": URL_SAFE_NO_PAD.encode(b64("--value", &value)?),
            });
            let r = call(
                key.key.vault_name.clone(),
                Method::POST,
                op_path(&key, "decrypt"),
                Some(body),
            )
            .await?
            .unwrap_or(Value::Null);
            let plain = result_bytes(&r)?;
            let result = match data_type {
                DataType::Base64 => STANDARD.encode(plain),
                DataType::Plaintext => match String::from_utf8(plain) {
                    Ok(s) => s,
                    Err(_) => {
                        bail!("the decrypted value is not UTF-8 text; use --data-type base64")
                    }
                },
            };
            Ok(Some(
                json!({"algorithm": algorithm, "kid": r["kid"], "result": result}),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_hsm_names_the_hsm_key_type() {
        for (kty, protection, want) in [
            (None, None, "RSA"),
            (Some("EC"), None, "EC"),
            (None, Some(Protection::Hsm), "RSA-HSM"),
            (Some("EC"), Some(Protection::Hsm), "EC-HSM"),
            (Some("RSA-HSM"), Some(Protection::Hsm), "RSA-HSM"),
            (Some("EC"), Some(Protection::Software), "EC"),
        ] {
            assert_eq!(key_type(kty.map(str::to_owned), protection), want);
        }
    }

    #[test]
    fn jwk_members_print_as_standard_base64_and_size_counts_modulus_bits() {
        let n = URL_SAFE_NO_PAD.encode([0xffu8; 256]);
        let k = json!({"kty": "RSA", "n": n, "e": "AQAB", "key_ops": ["sign"], "kid": "x"});
        let out = az_jwk(&k);
        assert_eq!(out["e"], "AQAB");
        assert_eq!(out["n"], STANDARD.encode([0xffu8; 256]));
        assert_eq!(out["keyOps"], json!(["sign"]));
        assert_eq!(out["d"], Value::Null);
        assert_eq!(key_size(&k), json!(2048));
    }

    #[test]
    fn names_come_from_key_and_deleted_key_ids() {
        assert_eq!(name_of("https://v.vault.example/keys/k1/abc"), "k1");
        assert_eq!(name_of("https://v.vault.example/deletedkeys/k2"), "k2");
    }
}
