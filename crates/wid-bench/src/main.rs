//! Benchmarks against a running `wid up`: requests per second and latency percentiles over
//! HTTPS keep-alive, printed as numbers. The load generator shares the machine with the
//! server, as the issues' goals assume.

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wid_client::WidClient;

#[derive(Parser)]
struct Cli {
    /// Data directory of the running wid.
    #[arg(long, env = "WID_DATA_DIR")]
    data_dir: PathBuf,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Authenticated GET of a managed identity, and durable PUT of federated credentials.
    Arm,
}

struct Target {
    client: WidClient,
    token: String,
    subscription: String,
}

async fn connect(data_dir: &std::path::Path) -> Result<Target> {
    let read = |name: &str| -> Result<Value> {
        let path = data_dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let server = read("server.json")?;
    let creds = read("credentials.json")?;
    let field = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("missing {k}"))
    };
    let ca = std::fs::read(field(&server, "caBundle")?)?;
    let client = WidClient::new(&field(&server, "url")?, &ca)?;
    let scope = format!("{}.default", field(&server, "managementResource")?);
    let token = client
        .token_with_secret(
            &field(&creds, "tenantId")?,
            &field(&creds, "clientId")?,
            &field(&creds, "clientSecret")?,
            &scope,
        )
        .await?
        .access_token;
    Ok(Target {
        client,
        token,
        subscription: field(&server, "subscriptionId")?,
    })
}

struct Report {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Report {
    fn print(&mut self, name: &str, concurrency: usize) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let n = self.latencies_us.len();
            if n == 0 {
                return 0.0;
            }
            self.latencies_us[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0
        };
        println!(
            "{name}: {:.0} req/s ({} requests, {} errors, {:.1} s, concurrency {concurrency}); latency ms p50 {:.2} p90 {:.2} p99 {:.2}",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            self.requests,
            self.errors,
            self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.90),
            pct(0.99)
        );
    }
}

/// Runs `op(worker, sequence)` from `concurrency` workers until `duration` has passed.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let op = op.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !op(w, seq).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_micros() as u64);
                seq += 1;
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for w in workers {
        latencies_us.extend(w.await.unwrap_or_default());
    }
    Report {
        requests: latencies_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies_us,
    }
}

async fn arm(target: Arc<Target>, concurrency: usize, seconds: u64) -> Result<()> {
    let rg = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let sub = &target.subscription;
    let rg_path = format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2024-11-01");
    target
        .client
        .arm(
            Method::PUT,
            &rg_path,
            &target.token,
            Some(&json!({"location": "eastus"})),
            &[],
        )
        .await?;
    let identity = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities");
    let get_path = format!("{identity}/bench-read?api-version=2024-11-30");
    target
        .client
        .arm(
            Method::PUT,
            &get_path,
            &target.token,
            Some(&json!({"location": "eastus"})),
            &[],
        )
        .await?;

    let t = target.clone();
    let mut report = drive(concurrency, Duration::from_secs(seconds), move |_, _| {
        let t = t.clone();
        let path = get_path.clone();
        async move {
            t.client
                .arm(Method::GET, &path, &t.token, None, &[])
                .await
                .is_ok()
        }
    })
    .await;
    report.print("GET identity", concurrency);

    // Each worker writes credentials under identities of its own (at most 20 per identity).
    for w in 0..concurrency {
        let path = format!("{identity}/bench-w{w}?api-version=2024-11-30");
        target
            .client
            .arm(
                Method::PUT,
                &path,
                &target.token,
                Some(&json!({"location": "eastus"})),
                &[],
            )
            .await?;
    }
    let t = target.clone();
    let mut report = drive(concurrency, Duration::from_secs(seconds), move |w, seq| {
        let t = t.clone();
        let identity = identity.clone();
        async move {
            let path = format!(
                "{identity}/bench-w{w}/federatedIdentityCredentials/fic{}?api-version=2024-11-30",
                seq % 20
            );
            let body = json!({"properties": {
                "issuer": "https://bench.example/issuer/",
                "subject": format!("system:serviceaccount:bench:sa{seq}"),
                "audiences": ["api://AzureADTokenExchange"],
            }});
            t.client
                .arm(Method::PUT, &path, &t.token, Some(&body), &[])
                .await
                .is_ok()
        }
    })
    .await;
    report.print("PUT federated credential (durable)", concurrency);
    target
        .client
        .arm(Method::DELETE, &rg_path, &target.token, None, &[])
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let target = Arc::new(connect(&cli.data_dir).await?);
    match cli.bench {
        Bench::Arm => arm(target, cli.concurrency, cli.seconds).await,
    }
}
