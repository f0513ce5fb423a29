//! `wid monitor sign-ins`: the sign-in log (Graph's `auditLogs/signIns`), newest first, one
//! flat row per token request so that `-o table` shows what failed and the credential to
//! fix. The whole Graph records are what `wid rest` (or `az rest`) on
//! `/beta/auditLogs/signIns` returns. Reading the log takes a reporting directory role
//! (Reports Reader, Security Reader, Global Reader) or the installation's admin.
//!
//! `wid monitor key-vault-events`: a vault's data-plane audit log (Key Vault's `AuditEvent`
//! records at the vault's `auditEvents`), one row per request: who read or wrote which item,
//! allowed or refused and why. Reading it takes a role that may read the vault's logs
//! (Reader and above on the vault).

use super::directory::{eq_filter, filtered};
use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};
use wid_core::clock::{Clock, SystemClock};

#[derive(Subcommand)]
pub enum MonitorCommand {
    /// List token requests, granted and refused.
    SignIns {
        /// Only refused requests.
        #[arg(long)]
        failed: bool,
        /// Only requests of this client (managed identity client id or application id).
        #[arg(long)]
        client_id: Option<String>,
        /// Only requests in this past span: `30m`, `24h`, `168h`.
        #[arg(long, value_parser = super::up::seconds)]
        since: Option<i64>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 100)]
        top: usize,
    },
    /// List a vault's data-plane requests, allowed and refused.
    KeyVaultEvents {
        #[command(flatten)]
        vault: super::keyvault::VaultName,
        /// Only refused or failed requests.
        #[arg(long)]
        failed: bool,
        /// Only requests in this past span: `30m`, `24h`, `168h`.
        #[arg(long, value_parser = super::up::seconds)]
        since: Option<i64>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 100)]
        top: usize,
    },
}

/// The `$filter` clauses of a vault's events for the flags.
fn event_filters(failed: bool, since: Option<i64>, now: i64) -> Vec<String> {
    let mut filters = Vec::new();
    if failed {
        filters.push("httpStatusCode ge 400".to_owned());
    }
    if let Some(span) = since {
        filters.push(format!(
            "time ge {}",
            wid_core::timefmt::rfc3339(now - span)
        ));
    }
    filters
}

/// One row of a vault's events: when, who, what on which item, and the answer.
fn event_row(e: &Value) -> Value {
    let claim = &e["identity"]["claim"];
    let description = e["resultDescription"].as_str().filter(|d| !d.is_empty());
    json!({
        "time": e["time"],
        "operationName": e["operationName"],
        "item": e["properties"]["id"],
        "resultType": e["resultType"],
        "httpStatusCode": e["properties"]["httpStatusCode"],
        "appId": claim["appid"],
        "objectId": claim["http://schemas.microsoft.com/identity/claims/objectidentifier"],
        "callerIpAddress": e["callerIpAddress"],
        "explanation": description,
        "correlationId": e["correlationId"],
    })
}

/// The `$filter` of the flags.
fn filters(failed: bool, client_id: Option<&str>, since: Option<i64>, now: i64) -> Vec<String> {
    let mut filters = Vec::new();
    if let Some(id) = client_id {
        filters.push(eq_filter("appId", id));
    }
    if failed {
        filters.push("status/errorCode ne 0".to_owned());
    }
    if let Some(span) = since {
        filters.push(format!(
            "createdDateTime ge {}",
            wid_core::timefmt::rfc3339(now - span)
        ));
    }
    filters
}

/// One row: when, who, what for, the result and, for a refusal, why and what to change.
fn row(s: &Value) -> Value {
    let credential = &s["wid"]["federatedCredential"];
    let failed = s["status"]["errorCode"].as_u64().unwrap_or(0) != 0;
    json!({
        "createdDateTime": s["createdDateTime"],
        "appDisplayName": s["appDisplayName"],
        "appId": s["appId"],
        "kind": s["signInEventTypes"][0],
        "resource": s["resourceId"],
        "result": if failed { "failure" } else { "success" },
        "errorCode": s["status"]["errorCode"],
        "federatedCredential": credential["credential"],
        "assertionSubject": s["wid"]["assertionSubject"],
        "explanation": if failed {
            s["status"]["additionalDetails"].as_str().or(s["status"]["failureReason"].as_str())
        } else {
            None
        },
        "correlationId": s["correlationId"],
        "id": s["id"],
    })
}

pub async fn run(command: MonitorCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        MonitorCommand::SignIns {
            failed,
            client_id,
            since,
            top,
        } => {
            let top = top.max(1);
            let filters = filters(failed, client_id.as_deref(), since, SystemClock.now_unix());
            let path = filtered("/beta/auditLogs/signIns", &filters);
            let separator = if path.contains('?') { '&' } else { '?' };
            let mut rows = Vec::new();
            let mut next = Some(format!("{path}{separator}$top={}", top.min(1000)));
            while let Some(url) = next.take() {
                let page = ctx.graph_value(wid_client::Method::GET, &url, None).await?;
                if let Some(Value::Array(items)) = page.get("value") {
                    rows.extend(items.iter().map(row));
                }
                if rows.len() < top {
                    next = page["@odata.nextLink"].as_str().map(str::to_owned);
                }
            }
            rows.truncate(top);
            Ok(Some(Value::Array(rows)))
        }
        MonitorCommand::KeyVaultEvents {
            vault,
            failed,
            since,
            top,
        } => {
            let top = top.max(1);
            let id = super::keyvault::find_vault(ctx, &vault).await?;
            let filters = event_filters(failed, since, SystemClock.now_unix());
            let path = filtered(&format!("{id}/auditEvents"), &filters);
            let separator = if path.contains('?') { '&' } else { '?' };
            let mut next = Some(format!(
                "{path}{separator}api-version={}&$top={}",
                super::keyvault::API,
                top.min(1000)
            ));
            let mut rows = Vec::new();
            while let Some(url) = next.take() {
                let page = ctx.arm_value(wid_client::Method::GET, &url, None).await?;
                if let Some(Value::Array(items)) = page.get("value") {
                    rows.extend(items.iter().map(event_row));
                }
                if rows.len() < top {
                    next = page["nextLink"].as_str().map(str::to_owned);
                }
            }
            rows.truncate(top);
            Ok(Some(Value::Array(rows)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_graph_filters() {
        type Case<'a> = (bool, Option<&'a str>, Option<i64>, Vec<&'a str>);
        let now = 1_795_516_140;
        let cases: [Case; 4] = [
            (false, None, None, vec![]),
            (true, None, None, vec!["status/errorCode ne 0"]),
            (
                false,
                Some("it's"),
                Some(3600),
                vec![
                    "appId eq 'it''s'",
                    "createdDateTime ge 2026-11-24T09:29:00Z",
                ],
            ),
            (
                true,
                Some("c"),
                None,
                vec!["appId eq 'c'", "status/errorCode ne 0"],
            ),
        ];
        for (failed, client, since, want) in cases {
            assert_eq!(filters(failed, client, since, now), want);
        }
    }

    #[test]
    fn vault_event_flags_become_a_filter() {
        let now = 1_795_516_140;
        assert!(event_filters(false, None, now).is_empty());
        assert_eq!(
            event_filters(true, Some(60), now),
            ["httpStatusCode ge 400", "time ge 2026-11-24T10:28:00Z"]
        );
    }

    #[test]
    fn a_vault_event_row_names_the_caller_and_the_item() {
        let event = json!({
            "time": "2026-11-24T10:29:00.007Z", "operationName": "SecretGet", "resultType": "Failure",
            "resultDescription": "Caller is not authorized", "callerIpAddress": "10.0.0.1",
            "correlationId": "c", "identity": {"claim": {"appid": "app",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": "oid"}},
            "properties": {"id": "https://kv.vault.localhost/secrets/s", "httpStatusCode": 403},
        });
        let r = event_row(&event);
        assert_eq!(
            (
                &r["appId"],
                &r["objectId"],
                &r["item"],
                &r["httpStatusCode"],
                &r["explanation"]
            ),
            (
                &json!("app"),
                &json!("oid"),
                &json!("https://kv.vault.localhost/secrets/s"),
                &json!(403),
                &json!("Caller is not authorized")
            )
        );
        let mut ok = event.clone();
        ok["resultDescription"] = json!("");
        assert_eq!(event_row(&ok)["explanation"], Value::Null);
    }

    #[test]
    fn a_refusal_row_explains_itself() {
        let record = json!({
            "createdDateTime": "2026-11-24T10:29:00.007Z", "appId": "c", "appDisplayName": "app",
            "signInEventTypes": ["managedIdentity"], "resourceId": "https://vault.azure.net",
            "status": {"errorCode": 700213, "failureReason": "No match.", "additionalDetails": "Closest: 'fic'."},
            "wid": {"federatedCredential": {"credential": "fic"}, "assertionSubject": "system:serviceaccount:b:a"},
            "correlationId": "corr", "id": "i",
        });
        let r = row(&record);
        assert_eq!(r["result"], "failure");
        assert_eq!(r["explanation"], "Closest: 'fic'.");
        assert_eq!(r["federatedCredential"], "fic");
        assert_eq!(r["kind"], "managedIdentity");
        let mut ok = record.clone();
        ok["status"] =
            json!({"errorCode": 0, "failureReason": null, "additionalDetails": "matched"});
        assert_eq!(row(&ok)["explanation"], Value::Null);
        assert_eq!(row(&ok)["result"], "success");
    }
}
