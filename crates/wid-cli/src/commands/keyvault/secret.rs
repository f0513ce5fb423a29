//! `wid keyvault secret …` (az keyvault secret): secrets through the vault's own data plane.

use super::{parse_tags, DataPlane};
use crate::context::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;
use wid_client::Method;

#[derive(clap::Args)]
pub struct SecretName {
    #[arg(long)]
    vault_name: String,
    #[arg(short = 'n', long)]
    name: String,
}

#[derive(Subcommand)]
pub enum SecretCommand {
    Set {
        #[command(flatten)]
        secret: SecretName,
        #[arg(long, conflicts_with = "file")]
        value: Option<String>,
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        #[arg(long)]
        content_type: Option<String>,
        #[arg(long)]
        disabled: bool,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    Show {
        #[command(flatten)]
        secret: SecretName,
        #[arg(long)]
        version: Option<String>,
    },
    List {
        #[arg(long)]
        vault_name: String,
    },
    ListVersions {
        #[command(flatten)]
        secret: SecretName,
    },
    ListDeleted {
        #[arg(long)]
        vault_name: String,
    },
    Delete {
        #[command(flatten)]
        secret: SecretName,
    },
    Recover {
        #[command(flatten)]
        secret: SecretName,
    },
    Purge {
        #[command(flatten)]
        secret: SecretName,
    },
    Backup {
        #[command(flatten)]
        secret: SecretName,
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    Restore {
        #[arg(long)]
        vault_name: String,
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
}

/// az's view of a secret bundle: timestamps as ISO strings, the name split out.
fn az_secret(b: &Value) -> Value {
    let id = b["id"].as_str().unwrap_or_default();
    let name = id
        .split("/secrets/")
        .nth(1)
        .or_else(|| id.split("/deletedsecrets/").nth(1))
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default();
    let a = &b["attributes"];
    let time = |v: &Value| {
        v.as_i64()
            .map(|t| json!(wid_core::timefmt::rfc3339(t)))
            .unwrap_or(Value::Null)
    };
    let mut out = json!({
        "attributes": {
            "created": time(&a["created"]), "enabled": a["enabled"], "expires": time(&a["exp"]),
            "notBefore": time(&a["nbf"]), "recoverableDays": a["recoverableDays"],
            "recoveryLevel": a["recoveryLevel"], "updated": time(&a["updated"]),
        },
        "contentType": b.get("contentType").cloned().unwrap_or(Value::Null),
        "id": id, "kid": b.get("kid").cloned().unwrap_or(Value::Null),
        "managed": b.get("managed").cloned().unwrap_or(Value::Null), "name": name,
        "tags": b.get("tags").cloned().unwrap_or(Value::Null),
    });
    if let Some(v) = b.get("value") {
        out["value"] = v.clone();
    }
    if let Some(r) = b.get("recoveryId") {
        out["recoveryId"] = r.clone();
        out["deletedDate"] = time(&b["deletedDate"]);
        out["scheduledPurgeDate"] = time(&b["scheduledPurgeDate"]);
    }
    out
}

pub(super) async fn run(command: SecretCommand, ctx: &Context) -> Result<Option<Value>> {
    let plane = DataPlane::new(ctx).await?;
    let call = |vault: String, method: Method, path: String, body: Option<Value>| {
        plane.call(vault, method, path, body)
    };
    let list = |vault: String, path: String| plane.list(vault, path);
    let one = |v: Option<Value>| Ok(Some(az_secret(&v.unwrap_or(Value::Null))));
    match command {
        SecretCommand::Set {
            secret,
            value,
            file,
            content_type,
            disabled,
            tags,
        } => {
            let value = match (value, file) {
                (Some(v), _) => v,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
                (None, None) => bail!("usage error: --value VALUE | --file PATH"),
            };
            let mut body = json!({"value": value, "attributes": {"enabled": !disabled}});
            if let Some(ct) = content_type {
                body["contentType"] = json!(ct);
            }
            if !tags.is_empty() {
                body["tags"] = parse_tags(&tags);
            }
            one(call(
                secret.vault_name,
                Method::PUT,
                format!("/secrets/{}", secret.name),
                Some(body),
            )
            .await?)
        }
        SecretCommand::Show { secret, version } => one(call(
            secret.vault_name,
            Method::GET,
            format!("/secrets/{}/{}", secret.name, version.unwrap_or_default()),
            None,
        )
        .await?),
        SecretCommand::List { vault_name } => Ok(Some(Value::Array(
            list(vault_name, "/secrets".to_owned())
                .await?
                .iter()
                .map(az_secret)
                .collect(),
        ))),
        SecretCommand::ListVersions { secret } => Ok(Some(Value::Array(
            list(
                secret.vault_name,
                format!("/secrets/{}/versions", secret.name),
            )
            .await?
            .iter()
            .map(az_secret)
            .collect(),
        ))),
        SecretCommand::ListDeleted { vault_name } => Ok(Some(Value::Array(
            list(vault_name, "/deletedsecrets".to_owned())
                .await?
                .iter()
                .map(az_secret)
                .collect(),
        ))),
        SecretCommand::Delete { secret } => one(call(
            secret.vault_name,
            Method::DELETE,
            format!("/secrets/{}", secret.name),
            None,
        )
        .await?),
        SecretCommand::Recover { secret } => one(call(
            secret.vault_name,
            Method::POST,
            format!("/deletedsecrets/{}/recover", secret.name),
            None,
        )
        .await?),
        SecretCommand::Purge { secret } => {
            call(
                secret.vault_name,
                Method::DELETE,
                format!("/deletedsecrets/{}", secret.name),
                None,
            )
            .await?;
            Ok(None)
        }
        SecretCommand::Backup { secret, file } => {
            let blob = call(
                secret.vault_name,
                Method::POST,
                format!("/secrets/{}/backup", secret.name),
                None,
            )
            .await?
            .unwrap_or(Value::Null);
            let value = blob["value"]
                .as_str()
                .ok_or_else(|| anyhow!("the vault returned no backup"))?;
            wid_server::datadir::write_atomic(&file, value.as_bytes(), 0o600)?;
            Ok(None)
        }
        SecretCommand::Restore { vault_name, file } => {
            let value = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            one(call(
                vault_name,
                Method::POST,
                "/secrets/restore".to_owned(),
                Some(json!({"value": value.trim()})),
            )
            .await?)
        }
    }
}
