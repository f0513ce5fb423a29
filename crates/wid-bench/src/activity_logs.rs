//! `wid-bench activity-logs`: what recording every request costs. Two replicas of the same
//! build run side by side, one with the sign-in log and the vault audit log on (the default)
//! and one with both off, and are measured in turns on the federated exchange and on the
//! Key Vault secret GET.

use crate::keyvault::{BenchVault, SECRETS_OFFICER};
use crate::peers::{in_turns, Contender, TURNS};
use crate::replicas::Replica;
use crate::{h1, prepare_exchange, Exchanger, Expect, Requests, Target};
use anyhow::Result;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

const OFF: [&str; 4] = ["--sign-in-log", "off", "--vault-audit-log", "off"];

pub async fn run(binary: &Path, concurrency: usize, seconds: u64) -> Result<()> {
    let root = std::env::temp_dir().join(format!("wid-bench-logs-{}", uuid::Uuid::new_v4()));
    let result = compare(binary, &root, concurrency, seconds).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

/// One replica: its process and what loads it.
struct Server {
    replica: Replica,
    target: Arc<Target>,
}

impl Server {
    async fn start(binary: &Path, dir: &Path, flags: &[&str]) -> Result<Server> {
        // `warn` in both, so neither pays for access logs the other skips.
        let mut replica = Replica::start(binary, dir.to_path_buf(), None, None, "warn", flags)?;
        let target = replica.ready().await?;
        Ok(Server { replica, target })
    }
}

async fn compare(binary: &Path, root: &Path, concurrency: usize, seconds: u64) -> Result<()> {
    let on = Server::start(binary, &root.join("on"), &[]).await?;
    let off = Server::start(binary, &root.join("off"), &OFF).await?;
    let seconds = seconds.min(5);

    let workloads = [
        prepare_exchange(&on.target).await?,
        prepare_exchange(&off.target).await?,
    ];
    let exchange = |i: usize| {
        let (server, workload) = ([&on, &off][i], &workloads[i]);
        move || Exchanger::spread(std::slice::from_ref(&server.target), workload, concurrency)
    };
    let rate = on_vs_off(
        "federated exchange",
        [&exchange(0), &exchange(1)],
        &on,
        &off,
        seconds,
    )
    .await?;
    println!("exchange: sign-in log on / off {rate:.2} (median of {TURNS} turns; goal >= 0.95)");

    let vaults = [
        SecretGet::new(&on.target).await?,
        SecretGet::new(&off.target).await?,
    ];
    let get = |i: usize| {
        let vault = &vaults[i];
        move || Ok(vault.senders(concurrency))
    };
    let rate = on_vs_off("secret GET", [&get(0), &get(1)], &on, &off, seconds).await?;
    println!(
        "secret GET: vault audit log on / off {rate:.2} (median of {TURNS} turns; goal >= 0.95)"
    );
    for (vault, server) in vaults.iter().zip([&on, &off]) {
        vault.vault.delete(&server.target).await?;
    }
    Ok(())
}

/// The median rate of `on` over `off`, the same load on each (`senders`, in that order).
async fn on_vs_off(
    what: &str,
    senders: [&dyn Fn() -> Result<Vec<Exchanger>>; 2],
    on: &Server,
    off: &Server,
    seconds: u64,
) -> Result<f64> {
    let turns = in_turns(
        what,
        [
            Contender {
                name: "logs on",
                senders: senders[0],
                pids: vec![on.replica.pid()],
            },
            Contender {
                name: "logs off",
                senders: senders[1],
                pids: vec![off.replica.pid()],
            },
        ],
        seconds,
    )
    .await?;
    Ok(turns.rate)
}

/// A vault with one secret, and the GET that reads it.
struct SecretGet {
    vault: Arc<BenchVault>,
    requests: Arc<Requests>,
}

impl SecretGet {
    async fn new(target: &Target) -> Result<SecretGet> {
        let vault = BenchVault::new(target, SECRETS_OFFICER).await?;
        vault
            .call(
                reqwest::Method::PUT,
                "/secrets/bench?api-version=7.5",
                Some(&json!({"value": "s3cr3t"})),
            )
            .await?;
        let request = h1::Request::get(
            &vault.host_and_port,
            "/secrets/bench/?api-version=7.5",
            &vault.token,
        );
        Ok(SecretGet {
            vault,
            requests: Requests::new(vec![request]),
        })
    }

    fn senders(&self, n: usize) -> Vec<Exchanger> {
        Exchanger::to(
            &format!("https://{}", self.vault.host_and_port),
            Some((self.vault.host.clone(), self.vault.addr)),
            self.vault.tls.clone(),
            self.requests.clone(),
            Expect::Status(200, "\"value\":\"s3cr3t\""),
            n,
        )
    }
}
