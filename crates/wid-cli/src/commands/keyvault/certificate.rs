//! `wid keyvault certificate …` (az keyvault certificate): certificates through the vault's own
//! data plane. Policies are read and printed in az's camelCase shape (`get-default-policy`) and
//! translated to and from Key Vault's wire shape as az does.

use super::{parse_tags, DataPlane};
use crate::context::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use wid_client::Method;

/// The largest policy or certificate file the CLI reads (Key Vault refuses larger imports anyway).
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// How long `create` waits for the vault to finish issuing, in polls of [`POLL`].
const MAX_POLLS: u32 = 600;
const POLL: Duration = Duration::from_millis(500);

#[derive(clap::Args)]
pub struct CertificateName {
    #[arg(long)]
    vault_name: String,
    #[arg(short = 'n', long)]
    name: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    #[value(name = "PEM")]
    Pem,
    #[value(name = "DER")]
    Der,
}

#[derive(Subcommand)]
pub enum CertificateCommand {
    /// Print the default policy az prints, for `create -p`.
    GetDefaultPolicy,
    /// Create a certificate under a policy (self-signed), waiting for the operation to end.
    Create {
        #[command(flatten)]
        certificate: CertificateName,
        /// The policy: az's JSON (camelCase, as get-default-policy prints it) or `@file`.
        #[arg(short = 'p', long)]
        policy: String,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// Get a certificate's information.
    Show {
        #[command(flatten)]
        certificate: CertificateName,
        #[arg(short = 'v', long)]
        version: Option<String>,
    },
    /// List the certificates of a vault.
    List {
        #[arg(long)]
        vault_name: String,
    },
    /// Import a certificate with its private key (PEM or PFX).
    Import {
        #[command(flatten)]
        certificate: CertificateName,
        /// A PEM or PFX file with the certificate and its private key.
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        password: Option<String>,
        #[arg(short = 'p', long)]
        policy: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        disabled: Option<bool>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// Download the public part of a certificate (PEM or DER).
    Download {
        #[command(flatten)]
        certificate: CertificateName,
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(short = 'e', long, value_enum, default_value = "PEM")]
        encoding: Encoding,
        #[arg(short = 'v', long)]
        version: Option<String>,
    },
    /// Delete a certificate with its backing secret and key, soft-deleted.
    Delete {
        #[command(flatten)]
        certificate: CertificateName,
    },
}

/// az's `get-default-policy`, key for key.
fn default_policy() -> Value {
    json!({
        "issuerParameters": {"certificateTransparency": null, "name": "Self"},
        "keyProperties": {"curve": null, "exportable": true, "keySize": 2048, "keyType": "RSA", "reuseKey": true},
        "lifetimeActions": [{"action": {"actionType": "AutoRenew"}, "trigger": {"daysBeforeExpiry": 90}}],
        "secretProperties": {"contentType": "application/x-pkcs12"},
        "x509CertificateProperties": {
            "keyUsage": ["cRLSign", "dataEncipherment", "digitalSignature", "keyEncipherment", "keyAgreement", "keyCertSign"],
            "subject": "CN=CLIGetDefaultPolicy",
            "validityInMonths": 12,
        },
    })
}

fn read_bounded(path: &std::path::Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_FILE_BYTES {
        bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// A JSON argument as az reads it: inline, or `@file`.
fn json_arg(arg: &str) -> Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => String::from_utf8(read_bounded(path.as_ref())?)
            .with_context(|| format!("{path} is not UTF-8"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).context("the policy is not valid JSON")
}

/// az accepts its policy keys in camelCase (as it prints them) or snake_case (its models'
/// names); both become snake_case.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn snake_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (snake(k), snake_keys(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(snake_keys).collect()),
        other => other.clone(),
    }
}

/// `members` of `from` (az's names) under Key Vault's names, nulls left out.
fn pick(from: &Value, members: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (az, wire) in members {
        if let Some(v) = from.get(*az).filter(|v| !v.is_null()) {
            out.insert((*wire).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// az's policy (build_certificate_policy's reading of it) in Key Vault's wire shape.
fn wire_policy(az: &Value) -> Result<Value> {
    let p = snake_keys(az);
    if !p.is_object() {
        bail!("incorrect usage: policy should be a JSON encoded string or can use @{{file}} to load from a file(e.g.@my_policy.json).");
    }
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            out.insert(k.to_owned(), v);
        }
    };
    put(
        "key_props",
        pick(
            &p["key_properties"],
            &[
                ("exportable", "exportable"),
                ("key_type", "kty"),
                ("key_size", "key_size"),
                ("reuse_key", "reuse_key"),
                ("curve", "crv"),
            ],
        ),
    );
    put(
        "secret_props",
        pick(&p["secret_properties"], &[("content_type", "contentType")]),
    );
    let x = &p["x509_certificate_properties"];
    let mut x509 = pick(
        x,
        &[
            ("subject", "subject"),
            ("ekus", "ekus"),
            ("key_usage", "key_usage"),
            ("validity_in_months", "validity_months"),
        ],
    );
    let sans = pick(
        &x["subject_alternative_names"],
        &[
            ("emails", "emails"),
            ("upns", "upns"),
            ("dns_names", "dns_names"),
        ],
    );
    if sans.as_object().is_some_and(|o| !o.is_empty()) {
        x509["sans"] = sans;
    }
    put("x509_props", x509);
    put(
        "issuer",
        pick(
            &p["issuer_parameters"],
            &[
                ("name", "name"),
                ("certificate_type", "cty"),
                ("certificate_transparency", "cert_transparency"),
            ],
        ),
    );
    put(
        "attributes",
        pick(
            &p["attributes"],
            &[
                ("enabled", "enabled"),
                ("not_before", "nbf"),
                ("expires_on", "exp"),
            ],
        ),
    );
    if let Some(actions) = p["lifetime_actions"].as_array() {
        let actions: Vec<Value> = actions
            .iter()
            .map(|a| {
                json!({
                    "trigger": pick(&a["trigger"], &[("lifetime_percentage", "lifetime_percentage"), ("days_before_expiry", "days_before_expiry")]),
                    "action": pick(&a["action"], &[("action_type", "action_type")]),
                })
            })
            .collect();
        out.insert("lifetime_actions".to_owned(), Value::Array(actions));
    }
    Ok(Value::Object(out))
}

fn time(v: &Value) -> Value {
    v.as_i64()
        .map(|t| json!(wid_core::timefmt::rfc3339(t)))
        .unwrap_or(Value::Null)
}

fn or_null(v: &Value) -> Value {
    v.clone()
}

/// A wire policy in az's shape (transform_certificate_policy).
fn az_policy(p: &Value) -> Value {
    if p.is_null() {
        return Value::Null;
    }
    let (k, s, x, i, a) = (
        &p["key_props"],
        &p["secret_props"],
        &p["x509_props"],
        &p["issuer"],
        &p["attributes"],
    );
    let actions: Vec<Value> = p["lifetime_actions"]
        .as_array()
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|l| {
            json!({
                "action": {"actionType": or_null(&l["action"]["action_type"])},
                "trigger": {"daysBeforeExpiry": or_null(&l["trigger"]["days_before_expiry"]),
                            "lifetimePercentage": or_null(&l["trigger"]["lifetime_percentage"])},
            })
        })
        .collect();
    json!({
        "attributes": {
            "created": time(&a["created"]), "enabled": or_null(&a["enabled"]), "expires": time(&a["exp"]),
            "notBefore": time(&a["nbf"]), "recoveryLevel": or_null(&a["recoveryLevel"]),
            "updated": time(&a["updated"]),
        },
        "id": or_null(&p["id"]),
        "issuerParameters": {
            "certificateTransparency": or_null(&i["cert_transparency"]),
            "certificateType": or_null(&i["cty"]), "name": or_null(&i["name"]),
        },
        "keyProperties": {
            "curve": or_null(&k["crv"]), "exportable": or_null(&k["exportable"]),
            "keySize": or_null(&k["key_size"]), "keyType": or_null(&k["kty"]),
            "reuseKey": or_null(&k["reuse_key"]),
        },
        "lifetimeActions": actions,
        "secretProperties": {"contentType": or_null(&s["contentType"])},
        "x509CertificateProperties": {
            "ekus": or_null(&x["ekus"]), "keyUsage": or_null(&x["key_usage"]),
            "subject": or_null(&x["subject"]),
            "subjectAlternativeNames": {
                "emails": or_null(&x["sans"]["emails"]), "upns": or_null(&x["sans"]["upns"]),
                "dnsNames": or_null(&x["sans"]["dns_names"]),
            },
            "validityInMonths": or_null(&x["validity_months"]),
        },
    })
}

/// The name in a certificate id (`…/certificates/{name}/…` or `…/deletedcertificates/{name}`).
fn name_of(id: &str) -> &str {
    id.split("/certificates/")
        .nth(1)
        .or_else(|| id.split("/deletedcertificates/").nth(1))
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
}

/// az's view of certificate properties (transform_certificate_properties): the thumbprint in
/// standard base64 and in upper-case hex.
fn az_properties(b: &Value) -> Value {
    let a = &b["attributes"];
    let id = b["id"].as_str().unwrap_or_default();
    let x5t = b["x5t"]
        .as_str()
        .and_then(|t| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')).ok());
    let mut out = json!({
        "attributes": {
            "created": time(&a["created"]), "enabled": or_null(&a["enabled"]), "expires": time(&a["exp"]),
            "notBefore": time(&a["nbf"]), "recoveryLevel": or_null(&a["recoveryLevel"]),
            "updated": time(&a["updated"]),
        },
        "id": id, "name": name_of(id), "subject": "",
        "tags": or_null(&b["tags"]),
        "x509Thumbprint": x5t.as_ref().map(|t| json!(STANDARD.encode(t))).unwrap_or(Value::Null),
        "x509ThumbprintHex": x5t.as_ref().map(|t| json!(t.iter().map(|b| format!("{b:02X}")).collect::<String>())).unwrap_or(Value::Null),
    });
    if let Some(r) = b.get("recoveryId") {
        out["recoveryId"] = r.clone();
        out["deletedDate"] = time(&b["deletedDate"]);
        out["scheduledPurgeDate"] = time(&b["scheduledPurgeDate"]);
    }
    out
}

/// az's view of a whole certificate (transform_certificate_show).
fn az_certificate(b: &Value) -> Value {
    let mut out = az_properties(b);
    if let Some(o) = out.as_object_mut() {
        o.remove("subject");
    }
    out["cer"] = or_null(&b["cer"]);
    out["contentType"] = or_null(&b["contentType"]);
    out["kid"] = or_null(&b["kid"]);
    out["sid"] = or_null(&b["sid"]);
    out["policy"] = az_policy(&b["policy"]);
    out
}

/// az's view of a certificate operation (transform_certificate_create).
fn az_operation(o: &Value) -> Value {
    let id = o["id"].as_str().unwrap_or_default();
    json!({
        "cancellationRequested": or_null(&o["cancellation_requested"]),
        "csr": or_null(&o["csr"]),
        "error": or_null(&o["error"]),
        "id": id,
        "issuerParameters": {
            "certificateTransparency": or_null(&o["issuer"]["cert_transparency"]),
            "certificateType": or_null(&o["issuer"]["cty"]),
            "name": or_null(&o["issuer"]["name"]),
        },
        "name": name_of(id),
        "requestId": or_null(&o["request_id"]),
        "status": or_null(&o["status"]),
        "statusDetails": or_null(&o["status_details"]),
        "target": or_null(&o["target"]),
    })
}

/// az's PEM: base64 in lines of 76, as Python's `base64.encodebytes` writes it.
fn pem(der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn is_pem(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| s.contains("-----BEGIN CERTIFICATE-----"))
}

pub(super) async fn run(command: CertificateCommand, ctx: &Context) -> Result<Option<Value>> {
    if let CertificateCommand::GetDefaultPolicy = command {
        return Ok(Some(default_policy()));
    }
    let plane = DataPlane::new(ctx).await?;
    let call = |vault: String, method: Method, path: String, body: Option<Value>| {
        plane.call(vault, method, path, body)
    };
    match command {
        CertificateCommand::GetDefaultPolicy => Ok(Some(default_policy())),
        CertificateCommand::Create {
            certificate: c,
            policy,
            disabled,
            tags,
        } => {
            let policy = wire_policy(&json_arg(&policy)?)?;
            let mut body =
                json!({"policy": policy, "attributes": {"enabled": !disabled.unwrap_or(false)}});
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            let pending = |c: &CertificateName| {
                call(
                    c.vault_name.clone(),
                    Method::GET,
                    format!("/certificates/{}/pending", c.name),
                    None,
                )
            };
            let mut op = call(
                c.vault_name.clone(),
                Method::POST,
                format!("/certificates/{}/create", c.name),
                Some(body),
            )
            .await?
            .unwrap_or(Value::Null);
            // As az: an `Unknown` issuer's operation waits for a merge, so it returns at once;
            // otherwise wait until the vault has finished.
            let unknown = policy["issuer"]["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("unknown"));
            let mut polls = 0;
            while !unknown && op["status"].as_str() == Some("inProgress") {
                polls += 1;
                if polls > MAX_POLLS {
                    bail!("the certificate '{}' is still being created", c.name);
                }
                tokio::time::sleep(POLL).await;
                op = pending(&c).await?.unwrap_or(Value::Null);
            }
            if !unknown {
                op = pending(&c).await?.unwrap_or(Value::Null);
            }
            Ok(Some(az_operation(&op)))
        }
        CertificateCommand::Show {
            certificate: c,
            version,
        } => Ok(Some(az_certificate(
            &call(
                c.vault_name,
                Method::GET,
                format!("/certificates/{}/{}", c.name, version.unwrap_or_default()),
                None,
            )
            .await?
            .unwrap_or(Value::Null),
        ))),
        CertificateCommand::List { vault_name } => Ok(Some(Value::Array(
            plane
                .list(vault_name, "/certificates".to_owned())
                .await?
                .iter()
                .map(az_properties)
                .collect(),
        ))),
        CertificateCommand::Import {
            certificate: c,
            file,
            password,
            policy,
            disabled,
            tags,
        } => {
            let bytes = read_bounded(&file)?;
            let mut policy = match policy {
                Some(p) => wire_policy(&json_arg(&p)?)?,
                None => json!({}),
            };
            if policy["secret_props"]["contentType"].is_null() {
                // As az: the file's own format names the content type.
                let ct = if is_pem(&bytes) {
                    wid_core::vault_certificate::PEM
                } else {
                    wid_core::vault_certificate::PKCS12
                };
                policy["secret_props"] = json!({"contentType": ct});
            }
            let mut body = json!({
                "value": STANDARD.encode(&bytes),
                "policy": policy,
                "attributes": {"enabled": !disabled.unwrap_or(false)},
            });
            if let Some(pwd) = password {
                body["pwd"] = json!(pwd);
            }
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            Ok(Some(az_certificate(
                &call(
                    c.vault_name,
                    Method::POST,
                    format!("/certificates/{}/import", c.name),
                    Some(body),
                )
                .await?
                .unwrap_or(Value::Null),
            )))
        }
        CertificateCommand::Download {
            certificate: c,
            file,
            encoding,
            version,
        } => {
            if file.exists() {
                bail!(
                    "File or directory named '{}' already exists.",
                    file.display()
                );
            }
            let b = call(
                c.vault_name,
                Method::GET,
                format!("/certificates/{}/{}", c.name, version.unwrap_or_default()),
                None,
            )
            .await?
            .unwrap_or(Value::Null);
            let der = STANDARD
                .decode(
                    b["cer"]
                        .as_str()
                        .ok_or_else(|| anyhow!("the vault returned no certificate"))?,
                )
                .context("the vault returned a certificate that is not base64")?;
            let out = match encoding {
                Encoding::Der => der,
                Encoding::Pem => pem(&der).into_bytes(),
            };
            wid_server::datadir::write_atomic(&file, &out, 0o644)?;
            Ok(None)
        }
        CertificateCommand::Delete { certificate: c } => {
            let b = call(
                c.vault_name,
                Method::DELETE,
                format!("/certificates/{}", c.name),
                None,
            )
            .await?
            .unwrap_or(Value::Null);
            Ok(Some(az_certificate(&b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_translates_to_the_wire_shape() {
        let wire = wire_policy(&default_policy()).unwrap();
        assert_eq!(
            wire,
            json!({
                "key_props": {"exportable": true, "kty": "RSA", "key_size": 2048, "reuse_key": true},
                "secret_props": {"contentType": "application/x-pkcs12"},
                "x509_props": {
                    "subject": "CN=CLIGetDefaultPolicy", "validity_months": 12,
                    "key_usage": ["cRLSign", "dataEncipherment", "digitalSignature", "keyEncipherment", "keyAgreement", "keyCertSign"],
                },
                "issuer": {"name": "Self"},
                "lifetime_actions": [{"trigger": {"days_before_expiry": 90}, "action": {"action_type": "AutoRenew"}}],
            })
        );
    }

    #[test]
    fn snake_case_policies_and_sans_translate_too() {
        let wire = wire_policy(&json!({
            "issuer_parameters": {"name": "Self", "certificateType": "x"},
            "x509CertificateProperties": {"subjectAlternativeNames": {"dnsNames": ["a.example"]}},
        }))
        .unwrap();
        assert_eq!(wire["issuer"], json!({"name": "Self", "cty": "x"}));
        assert_eq!(
            wire["x509_props"]["sans"],
            json!({"dns_names": ["a.example"]})
        );
        assert!(wire_policy(&json!([1])).is_err());
    }

    #[test]
    fn camel_case_keys_become_snake_case() {
        for (camel, want) in [
            ("x509CertificateProperties", "x509_certificate_properties"),
            ("keyUsage", "key_usage"),
            ("key_usage", "key_usage"),
            ("name", "name"),
        ] {
            assert_eq!(snake(camel), want);
        }
    }

    #[test]
    fn the_thumbprint_prints_as_base64_and_upper_hex() {
        let t = [0xabu8; 20];
        let out = az_properties(&json!({
            "id": "https://v.vault.example/certificates/c1/123",
            "x5t": URL_SAFE_NO_PAD.encode(t),
        }));
        assert_eq!(out["x509ThumbprintHex"], "AB".repeat(20));
        assert_eq!(out["x509Thumbprint"], STANDARD.encode(t));
        assert_eq!(out["name"], "c1");
    }

    #[test]
    fn pem_lines_are_76_characters() {
        let p = pem(&[7u8; 120]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 76);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
    }
}
