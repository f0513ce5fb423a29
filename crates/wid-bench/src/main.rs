//! Benchmarks against a running `wid up`: requests per second and latency percentiles over
//! HTTPS keep-alive, printed as numbers. The load generator shares the machine with the
//! server, as the issues' goals assume.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wid_client::WidClient;

mod activity_logs;
mod h1;
mod keyvault;
mod lean;
mod peers;
mod proxy;
mod replicas;
mod webhook;

#[derive(Parser)]
struct Cli {
    /// Data directory of the running wid (all benches but `webhook`).
    #[arg(long, env = "WID_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
    /// Uncached federated token exchanges next to the machine's RSA ceiling, and the
    /// latency of one exchange at a time.
    Exchange,
    /// Authenticated secret GET (token verification and RBAC on every request) and durable
    /// secret set, on a vault's data plane.
    Keyvault,
    /// RS256 signatures of an RSA-2048 vault key made by the service, next to the machine's
    /// RSA-2048 signing ceiling measured in the same run.
    KeyvaultSign,
    /// AdmissionReviews of a 5 KB pod against `wid webhook` pinned to one core, and its memory.
    Webhook {
        /// The `wid` binary (default: next to this one).
        #[arg(long)]
        wid_bin: Option<PathBuf>,
    },
    /// Token exchanges with two replicas on PostgreSQL against one replica on SQLite, on this
    /// machine, as a ratio. Starts the replicas itself.
    Replicas {
        /// A PostgreSQL database for the two replicas (e.g. from scripts/start-postgres).
        #[arg(long, env = "WID_DATABASE_URL")]
        database_url: String,
        /// The `wid` binary (default: next to this one).
        #[arg(long)]
        wid_bin: Option<PathBuf>,
    },
    /// wid's federated exchange next to node oidc-provider's private_key_jwt client
    /// credentials, a lean axum + rustls reference doing only the RSA work, and the RSA
    /// ceiling, in one run. Starts (and stops) each itself; installs oidc-provider with npm.
    Peers {
        /// The `wid` binary (default: next to this one).
        #[arg(long)]
        wid_bin: Option<PathBuf>,
        /// An earlier `wid`, whose refused exchange's CPU per request is measured too.
        #[arg(long)]
        baseline_wid_bin: Option<PathBuf>,
    },
    /// Exchanges and secret GETs with the sign-in and vault audit logs on, next to the same
    /// build with both off, in turns. Starts (and stops) both itself.
    ActivityLogs {
        /// The `wid` binary (default: next to this one).
        #[arg(long)]
        wid_bin: Option<PathBuf>,
    },
    /// The lean reference server `peers` starts (not for use on its own).
    #[command(hide = true)]
    LeanServer(lean::LeanArgs),
    /// Cached IMDS token requests against `wid proxy` pinned to one core, and its memory.
    Proxy {
        /// The `wid` binary (default: next to this one).
        #[arg(long)]
        wid_bin: Option<PathBuf>,
    },
}

struct Target {
    client: WidClient,
    token: String,
    subscription: String,
    tenant: String,
    /// The management plane's `.default` scope, the resource exchanges ask for.
    scope: String,
    ca: Vec<u8>,
    client_id: String,
    client_secret: String,
    /// The service principal's object id, what role assignments name.
    object_id: String,
    keyvault_resource: String,
}

impl Target {
    /// A management-plane call as the admin: the response body, or null.
    async fn arm(&self, method: Method, path: String, body: Option<Value>) -> Result<Value> {
        Ok(self
            .client
            .arm(method, &path, &self.token, body.as_ref(), &[])
            .await?
            .body
            .unwrap_or(Value::Null))
    }

    /// A resource group of one bench's own: its name, and its path to delete it by.
    async fn new_group(&self) -> Result<(String, String)> {
        let rg = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let path = format!(
            "/subscriptions/{}/resourcegroups/{rg}?api-version=2024-11-01",
            self.subscription
        );
        self.arm(
            Method::PUT,
            path.clone(),
            Some(json!({"location": "eastus"})),
        )
        .await?;
        Ok((rg, path))
    }
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
    let keyvault_resource = |url: &str, suffix: &str| {
        wid_core::cloud::Cloud {
            public_url: url.to_owned(),
            dns_suffix: suffix.to_owned(),
        }
        .keyvault_resource()
    };
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
        tenant: field(&server, "tenantId")?,
        scope,
        keyvault_resource: keyvault_resource(
            &field(&server, "url")?,
            &field(&server, "dnsSuffix")?,
        ),
        client_id: field(&creds, "clientId")?,
        client_secret: field(&creds, "clientSecret")?,
        object_id: field(&creds, "objectId")?,
        ca,
    })
}

struct Report {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Report {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which a fraction `p` of the requests were answered, in ms.
    fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        self.latencies_us[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0
    }

    fn print(&mut self, name: &str, concurrency: usize) {
        let (p50, p90, p99) = (
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
        );
        println!(
            "{name}: {:.0} req/s ({} requests, {} errors, {:.1} s, concurrency {concurrency}); latency ms p50 {p50:.2} p90 {p90:.2} p99 {p99:.2}",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            self.requests,
            self.errors,
            self.elapsed.as_secs_f64(),
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
    drive_with((0..concurrency).collect(), duration, move |w, seq| {
        let op = op.clone();
        async move { (w, op(w, seq).await) }
    })
    .await
    .0
}

/// Runs one worker per state until `duration` has passed. Each call of `op` takes its
/// worker's state (a connection, say) and hands it back with whether the call succeeded;
/// the states come back at the end, for a measurement to go on where a warm-up left off.
async fn drive_with<S, F, Fut>(states: Vec<S>, duration: Duration, op: F) -> (Report, Vec<S>)
where
    S: Send + 'static,
    F: Fn(S, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let op = Arc::new(op);
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for state in states {
        let op = op.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut state = state;
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (next, ok) = op(state, seq).await;
                state = next;
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_micros() as u64);
                seq += 1;
            }
            (latencies, state)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut states = Vec::new();
    for w in workers {
        if let Ok((latencies, state)) = w.await {
            latencies_us.extend(latencies);
            states.push(state);
        }
    }
    let report = Report {
        requests: latencies_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies_us,
    };
    (report, states)
}

async fn arm(target: Arc<Target>, concurrency: usize, seconds: u64) -> Result<()> {
    let (rg, rg_path) = target.new_group().await?;
    let sub = &target.subscription;
    let identity = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities");
    let get_path = format!("{identity}/bench-read?api-version=2024-11-30");
    target
        .arm(
            Method::PUT,
            get_path.clone(),
            Some(json!({"location": "eastus"})),
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
            .arm(Method::PUT, path, Some(json!({"location": "eastus"})))
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
    target.arm(Method::DELETE, rg_path, None).await?;
    Ok(())
}

/// How many times per second the machine's cores together run `work` (one copy per core, for
/// `seconds`): the ceiling a server doing the same work per request cannot pass.
fn per_second_on_all_cores<W>(seconds: u64, work: W) -> f64
where
    W: Fn() + Clone + Send + 'static,
{
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let work = work.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    work();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// What the exchange costs at least: one RSA-2048 verify (the assertion) and one RSA-2048
/// sign (the access token) with aws-lc-rs, on as many threads as the machine has cores.
fn rsa_ceiling(seconds: u64) -> Result<f64> {
    let (issuer_key, _) = wid_jose::SigningKey::generate_rsa()?;
    let (token_key, _) = wid_jose::SigningKey::generate_rsa()?;
    let claims = json!({"aud": ["api://AzureADTokenExchange"], "iss": "https://bench.example/t/c/",
        "sub": "system:serviceaccount:bench:sa", "exp": 2_000_000_000i64, "iat": 1_700_000_000i64});
    let assertion = issuer_key.sign_jwt(&claims, &wid_jose::HeaderParams::default())?;
    let verifier = Arc::new(issuer_key.verifying_key());
    let token_key = Arc::new(token_key);
    Ok(per_second_on_all_cores(seconds, move || {
        let jwt = wid_jose::decode(&assertion).expect("decodes");
        jwt.verify(&verifier).expect("verifies");
        token_key
            .sign_jwt(&claims, &wid_jose::HeaderParams::default())
            .expect("signs");
    }))
}

/// A workload ready to exchange: a cluster issuer, an identity federated with one of its
/// service accounts, and a token of that service account.
struct Workload {
    client_id: String,
    assertion: String,
    /// What wid must answer: a token, or the refusal this workload was made to provoke.
    expect: Expect,
    rg_path: String,
}

impl Workload {
    /// The same assertion signed by a key its issuer does not publish: wid parses the form
    /// and the JWT, finds the identity, matches its credential and looks up the issuer's keys
    /// as for an exchange, then refuses (AADSTS7000272) before any RSA operation.
    fn with_unpublished_key(&self) -> Result<Workload> {
        let claims: Value = wid_jose::decode(&self.assertion)?.claims()?;
        let (key, _) = wid_jose::SigningKey::generate_rsa()?;
        let header = wid_jose::HeaderParams {
            kid: Some("wid-bench-unpublished".to_owned()),
            ..Default::default()
        };
        Ok(Workload {
            client_id: self.client_id.clone(),
            assertion: key.sign_jwt(&claims, &header)?,
            expect: Expect::Refused("AADSTS7000272"),
            rg_path: self.rg_path.clone(),
        })
    }
}

#[derive(Clone, Copy)]
enum Expect {
    Token,
    Refused(&'static str),
    /// This status, with this text in the body.
    Status(u16, &'static str),
}

impl Expect {
    fn met(self, status: u16, body: &[u8]) -> bool {
        let (wanted_status, marker) = match self {
            Expect::Token => (200, &b"\"access_token\":\""[..]),
            Expect::Refused(code) => (401, code.as_bytes()),
            Expect::Status(status, text) => (status, text.as_bytes()),
        };
        status == wanted_status && body.windows(marker.len()).any(|w| w == marker)
    }
}

async fn prepare_exchange(target: &Arc<Target>) -> Result<Workload> {
    let (rg, rg_path) = target.new_group().await?;
    let sub = &target.subscription;
    let arm = |method, path: String, body| target.arm(method, path, body);
    let base = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers");
    let cluster = arm(
        Method::PUT,
        format!("{base}/Microsoft.ContainerService/managedClusters/bench?api-version=2025-01-01"),
        Some(json!({"location": "eastus", "properties": {"oidcIssuerProfile": {"enabled": true}}})),
    )
    .await?;
    let issuer = cluster["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .ok_or_else(|| anyhow!("no issuer URL"))?
        .to_owned();
    let identity = arm(
        Method::PUT,
        format!(
            "{base}/Microsoft.ManagedIdentity/userAssignedIdentities/bench?api-version=2024-11-30"
        ),
        Some(json!({"location": "eastus"})),
    )
    .await?;
    let client_id = identity["properties"]["clientId"]
        .as_str()
        .ok_or_else(|| anyhow!("no client id"))?
        .to_owned();
    arm(
        Method::PUT,
        format!("{base}/Microsoft.ManagedIdentity/userAssignedIdentities/bench/federatedIdentityCredentials/bench?api-version=2024-11-30"),
        Some(json!({"properties": {"issuer": issuer, "subject": "system:serviceaccount:bench:sa", "audiences": ["api://AzureADTokenExchange"]}})),
    )
    .await?;
    let token = arm(
        Method::POST,
        format!("{base}/Microsoft.ContainerService/managedClusters/bench/serviceAccountToken?api-version=2025-01-01"),
        Some(json!({"namespace": "bench", "serviceAccountName": "sa", "expirationSeconds": 7200})),
    )
    .await?;
    let assertion = token["token"]
        .as_str()
        .ok_or_else(|| anyhow!("no service-account token"))?
        .to_owned();
    Ok(Workload {
        client_id,
        assertion,
        expect: Expect::Token,
        rg_path,
    })
}

/// One worker's side of the exchange load: its connection to one target, opened again
/// after a failure, and the requests it sends in turn (one, over and over, for wid; fresh
/// ones for a peer that refuses a replayed assertion), shared with the other workers.
struct Exchanger {
    base_url: String,
    /// The host name and address to connect to instead of resolving `base_url`'s host, as a
    /// client pins a vault's name to wid's address.
    pin: Option<(String, std::net::SocketAddr)>,
    tls: Arc<rustls::ClientConfig>,
    requests: Arc<Requests>,
    expect: Expect,
    connection: Option<h1::Connection>,
}

/// Requests workers take in turn.
struct Requests {
    all: Vec<h1::Request>,
    next: AtomicU64,
}

impl Requests {
    fn new(all: Vec<h1::Request>) -> Arc<Requests> {
        Arc::new(Requests {
            all,
            next: AtomicU64::new(0),
        })
    }

    fn take(&self) -> &h1::Request {
        let n = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        &self.all[n % self.all.len()]
    }
}

impl Exchanger {
    /// `workers` exchangers sending `requests` to `base_url` (or to the host `pin` names).
    fn to(
        base_url: &str,
        pin: Option<(String, std::net::SocketAddr)>,
        tls: Arc<rustls::ClientConfig>,
        requests: Arc<Requests>,
        expect: Expect,
        workers: usize,
    ) -> Vec<Self> {
        (0..workers)
            .map(|_| Exchanger {
                base_url: base_url.to_owned(),
                pin: pin.clone(),
                tls: tls.clone(),
                requests: requests.clone(),
                expect,
                connection: None,
            })
            .collect()
    }

    /// One exchanger per worker, spread over `targets`.
    fn spread(targets: &[Arc<Target>], workload: &Workload, workers: usize) -> Result<Vec<Self>> {
        let per_target = targets
            .iter()
            .map(|t| {
                let url = url::Url::parse(t.client.base_url())?;
                let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
                let request = h1::Request::form_post(
                    host,
                    &format!("/{}/oauth2/v2.0/token", t.tenant),
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &workload.client_id),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", &workload.assertion),
                        ("scope", &t.scope),
                    ],
                );
                let tls = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[&t.ca]))
                    .map_err(|e| anyhow!(e))?
                    .with_no_client_auth();
                Ok((
                    t.client.base_url().to_owned(),
                    Arc::new(tls),
                    Requests::new(vec![request]),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((0..workers)
            .map(|w| {
                let (base_url, tls, requests) = per_target[w % per_target.len()].clone();
                Exchanger {
                    base_url,
                    pin: None,
                    tls,
                    requests,
                    expect: workload.expect,
                    connection: None,
                }
            })
            .collect())
    }

    /// One exchange, answered as the workload expects.
    async fn exchange(mut self, _: u64) -> (Self, bool) {
        let ok = self.try_exchange().await.unwrap_or(false);
        if !ok {
            self.connection = None;
        }
        (self, ok)
    }

    async fn try_exchange(&mut self) -> Result<bool> {
        let connection = match &mut self.connection {
            Some(c) => c,
            None => {
                let tls = self.tls.clone();
                let opened = match &self.pin {
                    Some((host, addr)) => h1::Connection::open_at(host, *addr, tls).await?,
                    None => h1::Connection::open(&self.base_url, tls).await?,
                };
                self.connection.insert(opened)
            }
        };
        let (status, body) = connection.send(self.requests.take()).await?;
        Ok(self.expect.met(status, body))
    }
}

/// Exchanges per second over `targets` after a warm-up, as a running system would be warm:
/// the measurement goes on over the connections the warm-up opened.
async fn exchange_rate(
    targets: &[Arc<Target>],
    workload: &Workload,
    concurrency: usize,
    seconds: u64,
) -> Result<Report> {
    let (warm, exchangers) = drive_with(
        Exchanger::spread(targets, workload, concurrency)?,
        Duration::from_secs(1),
        Exchanger::exchange,
    )
    .await;
    if warm.errors > 0 {
        bail!(
            "{} of {} warm-up exchanges failed",
            warm.errors,
            warm.requests
        );
    }
    let (report, _) = drive_with(
        exchangers,
        Duration::from_secs(seconds),
        Exchanger::exchange,
    )
    .await;
    Ok(report)
}

async fn exchange(target: Arc<Target>, concurrency: usize, seconds: u64) -> Result<()> {
    let workload = prepare_exchange(&target).await?;
    let targets = [target.clone()];
    let mut report = exchange_rate(&targets, &workload, concurrency, seconds).await?;
    report.print("token exchange (uncached, HTTPS keep-alive)", concurrency);
    let achieved = report.rate();
    let mut refused = exchange_rate(
        &targets,
        &workload.with_unpublished_key()?,
        concurrency,
        seconds,
    )
    .await?;
    refused.print(
        "the same exchange refused before any RSA work (key not published, AADSTS7000272)",
        concurrency,
    );
    let ceiling = rsa_ceiling(seconds.min(5))?;
    println!(
        "RSA-2048 ceiling (1 verify + 1 sign per exchange, aws-lc-rs, all cores): {ceiling:.0}/s; exchanges reach {:.2} of it",
        achieved / ceiling
    );
    // On shared cores the two costs add up: a second spent on HTTPS, parsing and lookups is
    // a second not spent on RSA. "About": a refusal also logs one more line than an exchange.
    let attainable = 1.0 / (1.0 / ceiling + 1.0 / refused.rate());
    println!(
        "with what the refused exchange costs, about {:.2} of the ceiling is attainable on this machine; exchanges reach {:.2} of that",
        attainable / ceiling,
        achieved / attainable
    );
    let mut single = exchange_rate(&targets, &workload, 1, seconds.min(5)).await?;
    single.print("token exchange, one at a time", 1);
    target
        .arm(Method::DELETE, workload.rg_path.clone(), None)
        .await?;
    Ok(())
}

/// The load generator runs as a batch thread, which the kernel does not let preempt a
/// running thread when it wakes up. Otherwise every response that wakes it interrupts the
/// server mid-signature, a cost (a context switch, and a VM exit for the interrupt on a
/// virtual machine) that clients on other machines never impose. It still gets its share of
/// the cores: the server and the load generator go on sharing them.
fn yield_to_the_server() -> Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads `param` only for the duration of the call; pid 0 is
    // this thread, and SCHED_BATCH takes priority 0.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
        bail!("SCHED_BATCH: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// wid's allocator, so that the lean reference (this binary too) differs from wid only in
/// what it does per request, and the load generator allocates as cheaply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Bench::LeanServer(args) = cli.bench {
        return lean::serve(args);
    }
    yield_to_the_server()?;
    // Plain-HTTP clients (the proxy bench) still build a TLS stack: give them aws-lc-rs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // One thread drives all the load: a second would mostly wake and preempt the first.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(bench(cli))
}

async fn bench(cli: Cli) -> Result<()> {
    match cli.bench {
        Bench::LeanServer(_) => unreachable!("served above"),
        Bench::Peers {
            wid_bin,
            baseline_wid_bin,
        } => {
            let wid = webhook::wid_binary(wid_bin)?;
            return peers::run(
                &wid,
                baseline_wid_bin.as_deref(),
                cli.concurrency,
                cli.seconds,
            )
            .await;
        }
        Bench::ActivityLogs { wid_bin } => {
            let wid = webhook::wid_binary(wid_bin)?;
            return activity_logs::run(&wid, cli.concurrency, cli.seconds).await;
        }
        Bench::Webhook { wid_bin } => {
            return webhook::run(wid_bin, cli.concurrency, cli.seconds).await
        }
        Bench::Proxy { wid_bin } => {
            return proxy::run(webhook::wid_binary(wid_bin)?, cli.concurrency, cli.seconds).await
        }
        Bench::Replicas {
            database_url,
            wid_bin,
        } => {
            let wid = webhook::wid_binary(wid_bin)?;
            return replicas::run(&wid, &database_url, cli.concurrency, cli.seconds).await;
        }
        _ => {}
    }
    let data_dir = cli
        .data_dir
        .ok_or_else(|| anyhow!("--data-dir (or WID_DATA_DIR) names the running wid to measure"))?;
    let target = Arc::new(connect(&data_dir).await?);
    match cli.bench {
        Bench::Webhook { .. }
        | Bench::Proxy { .. }
        | Bench::Replicas { .. }
        | Bench::Peers { .. }
        | Bench::ActivityLogs { .. }
        | Bench::LeanServer(_) => unreachable!("handled above"),
        Bench::Arm => arm(target, cli.concurrency, cli.seconds).await,
        Bench::Exchange => exchange(target, cli.concurrency, cli.seconds).await,
        Bench::Keyvault => keyvault::secrets(target, cli.concurrency, cli.seconds).await,
        Bench::KeyvaultSign => keyvault::sign(target, cli.concurrency, cli.seconds).await,
    }
}
