//! `wid-bench peers`: wid next to what a user would compare it with, in one run on this
//! machine, through the same load generator (the bench's HTTP/1.1 client over TLS): node
//! oidc-provider's client credentials grant with `private_key_jwt` (its closest analogue of a
//! federated exchange), a lean axum + rustls reference doing only the RSA work
//! ([`crate::lean`]), and the RSA ceiling. Every peer serves HTTPS with the same kind of
//! certificate (ECDSA P-256, as wid's) and runs on every core; the bench starts each and
//! stops it.

use crate::keyvault::{BenchVault, SECRETS_OFFICER};
use crate::replicas::Replica;
use crate::{drive_with, h1, prepare_exchange, rsa_ceiling, Exchanger, Expect, Report, Requests};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The oidc-provider major the comparison is made with (its current one), and the Node.js LTS
/// it supports (from npm too, so the machine's own Node.js does not matter).
const OIDC_PROVIDER: [&str; 2] = ["oidc-provider@9", "node@22"];
const OIDC_PROVIDER_SERVER: &str = include_str!("../peers/oidc-provider.mjs");
/// oidc-provider refuses a replayed assertion: enough fresh ones for this many exchanges a
/// second, for as long as it is measured.
const NODE_ASSERTIONS_PER_SECOND: u64 = 2_500;

/// What one peer did under load: the rate and latencies at full concurrency, the server's CPU
/// time per request, and the latencies one request at a time.
struct Measured {
    name: String,
    loaded: Report,
    cpu_ms_per_request: f64,
    single: Report,
}

/// CPU seconds (user + system) the processes have used, from `/proc/PID/stat`.
fn cpu_seconds(pids: &[u32]) -> Result<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // Fields after the command name (which may hold spaces), from the third: utime is
        // the 14th field of the line, stime the 15th.
        let after = stat
            .rsplit_once(')')
            .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?
            .1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| -> Result<f64> {
            Ok(fields
                .get(i)
                .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
                .parse::<f64>()?)
        };
        total += (field(11)? + field(12)?) / ticks;
    }
    Ok(total)
}

/// Warms `exchangers` up for a second, then measures them for `seconds` with the servers'
/// CPU time read around the measurement, then one request at a time.
async fn measure(
    name: &str,
    exchangers: Vec<Exchanger>,
    single: Vec<Exchanger>,
    pids: &[u32],
    seconds: u64,
) -> Result<Measured> {
    let exchangers = warmed_up(name, exchangers).await?;
    let (loaded, cpu_ms_per_request) = loaded(exchangers, pids, seconds).await?;
    let (_, single) = drive_with(single, Duration::from_millis(500), Exchanger::exchange).await;
    let (single, _) = drive_with(
        single,
        Duration::from_secs(seconds.min(5)),
        Exchanger::exchange,
    )
    .await;
    Ok(Measured {
        name: name.to_owned(),
        cpu_ms_per_request,
        loaded,
        single,
    })
}

/// `exchangers` after a second's warm-up in which every request succeeded.
async fn warmed_up(name: &str, exchangers: Vec<Exchanger>) -> Result<Vec<Exchanger>> {
    let (warm, exchangers) =
        drive_with(exchangers, Duration::from_secs(1), Exchanger::exchange).await;
    if warm.errors > 0 {
        bail!(
            "{name}: {} of {} warm-up requests failed",
            warm.errors,
            warm.requests
        );
    }
    Ok(exchangers)
}

/// `exchangers` driven for `seconds`, and the servers' CPU milliseconds per request meanwhile.
async fn loaded(exchangers: Vec<Exchanger>, pids: &[u32], seconds: u64) -> Result<(Report, f64)> {
    let before = cpu_seconds(pids)?;
    let (report, _) = drive_with(
        exchangers,
        Duration::from_secs(seconds),
        Exchanger::exchange,
    )
    .await;
    let cpu = cpu_seconds(pids)? - before;
    let per_request = cpu * 1000.0 / report.requests.max(1) as f64;
    Ok((report, per_request))
}

struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits for its first stdout line, `ready ...`: the words after it.
fn start_ready(mut command: Command, what: &str) -> Result<(Stopped, Vec<String>)> {
    let mut child = Stopped(
        command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {what}"))?,
    );
    let stdout = child.0.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    if words.first().map(String::as_str) != Some("ready") {
        bail!("{what} did not start (it printed {line:?})");
    }
    Ok((child, words[1..].to_vec()))
}

/// A self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, as wid serves (PEM
/// certificate, PEM key), and a client configuration trusting only it.
fn certificate() -> Result<(String, String, Arc<rustls::ClientConfig>)> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    let pem = cert.cert.pem();
    let tls = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[pem.as_bytes()]))
        .map_err(|e| anyhow!(e))?
        .with_no_client_auth();
    Ok((pem, cert.key_pair.serialize_pem(), Arc::new(tls)))
}

fn exchange_form(
    client_id: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    form.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn form_request(host: &str, path: &str, form: &[(String, String)]) -> h1::Request {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    h1::Request::form_post(host, path, &pairs)
}

/// What wid did: its uncached exchange, the same exchange refused before any RSA work, and a
/// Key Vault secret GET (token verification and RBAC per request).
struct Wid {
    exchange: Measured,
    refused: Measured,
    secret: Measured,
}

async fn wid(binary: &Path, dir: PathBuf, concurrency: usize, seconds: u64) -> Result<Wid> {
    let mut replica = Replica::start(binary, dir, None, None, "info", &[])?;
    let target = replica.ready().await?;
    let pid = replica.pid();
    let workload = prepare_exchange(&target).await?;
    let run = |name: &'static str, workload: crate::Workload| {
        let target = target.clone();
        async move {
            let spread = |n| Exchanger::spread(std::slice::from_ref(&target), &workload, n);
            measure(name, spread(concurrency)?, spread(1)?, &[pid], seconds).await
        }
    };
    let refused = workload.with_unpublished_key()?;
    let exchange = run("wid: federated exchange", workload).await?;
    let refused = run("wid: the same exchange refused before RSA", refused).await?;
    let vault = BenchVault::new(&target, SECRETS_OFFICER).await?;
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
    let requests = Requests::new(vec![request]);
    let pin = Some((vault.host.clone(), vault.addr));
    let base = format!("https://{}", vault.host_and_port);
    let senders = |n| {
        let expect = Expect::Status(200, "\"value\":\"s3cr3t\"");
        Exchanger::to(
            &base,
            pin.clone(),
            vault.tls.clone(),
            requests.clone(),
            expect,
            n,
        )
    };
    let secret = measure(
        "wid: Key Vault secret GET",
        senders(concurrency),
        senders(1),
        &[pid],
        seconds,
    )
    .await?;
    vault.delete(&target).await?;
    Ok(Wid {
        exchange,
        refused,
        secret,
    })
}

/// The lean reference's keys and certificate, in `dir`, and a client configuration for it.
struct Lean {
    dir: PathBuf,
    tls: Arc<rustls::ClientConfig>,
    issuer: wid_jose::SigningKey,
}

impl Lean {
    fn prepare(dir: PathBuf) -> Result<Lean> {
        let (cert, key, tls) = certificate()?;
        let (issuer, _) = wid_jose::SigningKey::generate_rsa()?;
        let (_, signer) = wid_jose::SigningKey::generate_rsa()?;
        crate::lean::prepare(&dir, &cert, &key, &issuer.public_spki_der(), &signer)?;
        Ok(Lean { dir, tls, issuer })
    }

    /// A lean server, on the cores `cpus` names (`taskset -c`), or on all of them; its
    /// process and port.
    fn start(&self, cpus: Option<&str>) -> Result<(Stopped, u16)> {
        let exe = std::env::current_exe()?;
        let mut command = match cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command.args(["lean-server", "--dir"]).arg(&self.dir);
        let (child, words) = start_ready(command, "the lean reference")?;
        let port = words.first().ok_or_else(|| anyhow!("no port"))?.parse()?;
        Ok((child, port))
    }
}

/// The lean reference's federated exchange: an assertion its issuer signed, in wid's form.
fn lean_token_request(lean: &Lean, port: u16) -> Result<h1::Request> {
    let now = now();
    let assertion = lean.issuer.sign_jwt(
        &json!({"aud": "api://AzureADTokenExchange", "iss": "https://lean.example/issuer/",
            "sub": "system:serviceaccount:bench:sa", "iat": now, "nbf": now, "exp": now + 7200}),
        &wid_jose::HeaderParams::default(),
    )?;
    Ok(form_request(
        &format!("127.0.0.1:{port}"),
        "/token",
        &exchange_form(
            "bench",
            &assertion,
            &[("scope", "https://management.azure.com/.default")],
        ),
    ))
}

/// The lean reference: one verify and one sign per exchange; one verify per secret GET.
async fn lean(lean: &Lean, concurrency: usize, seconds: u64) -> Result<(Measured, Measured)> {
    let (child, port) = lean.start(None)?;
    let (issuer, tls) = (&lean.issuer, &lean.tls);
    let now = now();
    let host = format!("127.0.0.1:{port}");
    let request = lean_token_request(lean, port)?;
    let base = format!("https://{host}");
    // taskset execs the server: the process is the server's.
    let pid = child.0.id();
    let senders = |request, expect| {
        let requests = Requests::new(vec![request]);
        let (base, tls) = (base.clone(), tls.clone());
        move |n| Exchanger::to(&base, None, tls.clone(), requests.clone(), expect, n)
    };
    let exchangers = senders(request, Expect::Token);
    let exchange = measure(
        "lean reference: verify + sign",
        exchangers(concurrency),
        exchangers(1),
        &[pid],
        seconds,
    )
    .await?;
    let bearer = issuer.sign_jwt(
        &json!({"aud": "https://vault.azure.net", "iss": "https://lean.example/",
            "sub": "bench", "iat": now, "nbf": now, "exp": now + 7200}),
        &wid_jose::HeaderParams::default(),
    )?;
    let readers = senders(
        h1::Request::get(&host, "/secret", &bearer),
        Expect::Status(200, "\"value\":\"s3cr3t\""),
    );
    let secret = measure(
        "lean reference: secret GET (verify)",
        readers(concurrency),
        readers(1),
        &[pid],
        seconds,
    )
    .await?;
    Ok((exchange, secret))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// oidc-provider installed once in the cache, outside any checkout, with its server script.
fn oidc_provider_dir() -> Result<PathBuf> {
    let base = std::env::var_os("WID_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/wid")))
        .ok_or_else(|| anyhow!("neither WID_CACHE nor HOME is set"))?;
    let dir = base.join("bench-oidc-provider");
    std::fs::create_dir_all(&dir)?;
    if !dir.join("node_modules/oidc-provider/package.json").exists()
        || !dir.join("node_modules/.bin/node").exists()
    {
        std::fs::write(
            dir.join("package.json"),
            r#"{"private":true,"type":"module"}"#,
        )?;
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .args(OIDC_PROVIDER)
            .current_dir(&dir)
            .status()
            .context("running npm (install Node.js and npm)")?;
        if !status.success() {
            bail!("npm install {} failed", OIDC_PROVIDER.join(" "));
        }
    }
    std::fs::write(dir.join("server.mjs"), OIDC_PROVIDER_SERVER)?;
    Ok(dir)
}

/// node oidc-provider: `private_key_jwt` client credentials, each assertion fresh, in
/// `workers` processes.
async fn oidc_provider(
    run_dir: &Path,
    workers: usize,
    concurrency: usize,
    seconds: u64,
) -> Result<Measured> {
    let dir = oidc_provider_dir()?;
    let version: serde_json::Value = serde_json::from_slice(&std::fs::read(
        dir.join("node_modules/oidc-provider/package.json"),
    )?)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let issuer = format!("https://127.0.0.1:{port}");
    let (cert, key, tls) = certificate()?;
    let (client_key, _) = wid_jose::SigningKey::generate_rsa()?;
    let client_id = "wid-bench";
    std::fs::create_dir_all(run_dir)?;
    let settings = run_dir.join("oidc-provider.json");
    std::fs::write(
        &settings,
        serde_json::to_vec(
            &json!({"port": port, "issuer": issuer, "certPem": cert, "keyPem": key,
            "clientId": client_id, "clientJwk": client_key.verifying_key().to_jwk(),
            "resource": "https://management.azure.com/"}),
        )?,
    )?;
    let mut command = Command::new(dir.join("node_modules/.bin/node"));
    command
        .arg(dir.join("server.mjs"))
        .arg(&settings)
        .env("NODE_ENV", "production")
        .env("BENCH_WORKERS", workers.to_string())
        .stderr(std::fs::File::create(run_dir.join("oidc-provider.log"))?);
    let (_child, pids) = start_ready(command, "node oidc-provider")?;
    let pids = pids
        .iter()
        .map(|p| p.parse::<u32>())
        .collect::<Result<Vec<_>, _>>()?;
    let host = format!("127.0.0.1:{port}");
    let base = format!("https://{host}");
    // Fresh assertions for the warm-up, the measurement and the one-at-a-time run, signed on
    // every core before any of it starts.
    let count = NODE_ASSERTIONS_PER_SECOND * (seconds + 2 + seconds.min(5));
    let client_key = Arc::new(client_key);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let now = now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (key, host, issuer) = (client_key.clone(), host.clone(), issuer.clone());
            std::thread::spawn(move || -> Result<Vec<h1::Request>> {
                (t..count)
                    .step_by(threads as usize)
                    .map(|n| {
                        let assertion = key.sign_jwt(
                            &json!({"iss": client_id, "sub": client_id, "aud": issuer,
                                "jti": format!("bench-{n}"), "iat": now, "exp": now + 3600}),
                            &wid_jose::HeaderParams::default(),
                        )?;
                        Ok(form_request(
                            &host,
                            "/token",
                            &exchange_form(client_id, &assertion, &[]),
                        ))
                    })
                    .collect()
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| anyhow!("signing assertions panicked"))??,
        );
    }
    let requests = Requests::new(all);
    let exchangers =
        |n| Exchanger::to(&base, None, tls.clone(), requests.clone(), Expect::Token, n);
    measure(
        &format!(
            "node oidc-provider {}: private_key_jwt ({} cluster worker(s))",
            version["version"].as_str().unwrap_or("?"),
            pids.len() - 1
        ),
        exchangers(concurrency),
        exchangers(1),
        &pids,
        seconds,
    )
    .await
}

/// The body of one response to `request` from the server at `base` (or `pin`).
async fn answer(
    base: &str,
    pin: Option<(String, std::net::SocketAddr)>,
    tls: Arc<rustls::ClientConfig>,
    request: &h1::Request,
) -> Result<serde_json::Value> {
    let mut connection = match pin {
        Some((host, addr)) => h1::Connection::open_at(&host, addr, tls).await?,
        None => h1::Connection::open(base, tls).await?,
    };
    let (status, body) = connection.send(request).await?;
    if status != 200 {
        bail!("{base} answered {status}");
    }
    Ok(serde_json::from_slice(body)?)
}

/// `wid webhook` and the lean reference, each pinned to core 0 as the webhook bench pins the
/// webhook, answering the same AdmissionReview (checked: the same patch).
async fn webhooks(
    binary: &Path,
    lean: &Lean,
    concurrency: usize,
    seconds: u64,
) -> Result<(Measured, Measured)> {
    let body = crate::webhook::review_body()?;
    let webhook = crate::webhook::Webhook::start(binary).await?;
    let wid_host = format!("localhost:{}", webhook.port);
    let wid_tls = Arc::new(
        wid_client::tls::client_config(wid_client::tls::Trust::Only(&[webhook
            .cert_pem
            .as_bytes()]))
        .map_err(|e| anyhow!(e))?
        .with_no_client_auth(),
    );
    let wid_pin = Some((
        "localhost".to_owned(),
        SocketAddr::from(([127, 0, 0, 1], webhook.port)),
    ));
    let (child, port) = lean.start(Some("0"))?;
    let lean_host = format!("127.0.0.1:{port}");
    let review = |host: &str| h1::Request::json_post_anonymous(host, "/mutate-v1-pod", &body);
    let (wid_base, lean_base) = (
        format!("https://{wid_host}"),
        format!("https://{lean_host}"),
    );
    let from_wid = answer(
        &wid_base,
        wid_pin.clone(),
        wid_tls.clone(),
        &review(&wid_host),
    )
    .await?;
    let from_lean = answer(&lean_base, None, lean.tls.clone(), &review(&lean_host)).await?;
    let patch = |v: &serde_json::Value| v["response"]["patch"].clone();
    if patch(&from_wid).is_null() || patch(&from_wid) != patch(&from_lean) {
        bail!("wid webhook and the lean reference answer the review differently");
    }
    let allowed = Expect::Status(200, "\"allowed\":true");
    let requests = Requests::new(vec![review(&wid_host)]);
    let senders = |n| {
        Exchanger::to(
            &wid_base,
            wid_pin.clone(),
            wid_tls.clone(),
            requests.clone(),
            allowed,
            n,
        )
    };
    let wid = measure(
        "wid webhook (one core): AdmissionReview",
        senders(concurrency),
        senders(1),
        &[webhook.pid],
        seconds,
    )
    .await?;
    drop(webhook);
    let requests = Requests::new(vec![review(&lean_host)]);
    let senders = |n| {
        Exchanger::to(
            &lean_base,
            None,
            lean.tls.clone(),
            requests.clone(),
            allowed,
            n,
        )
    };
    let reference = measure(
        "lean reference (one core): AdmissionReview",
        senders(concurrency),
        senders(1),
        &[child.0.id()],
        seconds,
    )
    .await?;
    Ok((wid, reference))
}

fn print(m: &mut Measured, concurrency: usize) {
    m.loaded.print(&m.name, concurrency);
    println!(
        "    server CPU {:.3} ms per request; one at a time: p50 {:.2} ms, p99 {:.2} ms",
        m.cpu_ms_per_request,
        m.single.percentile_ms(0.50),
        m.single.percentile_ms(0.99)
    );
}

pub async fn run(
    binary: &Path,
    baseline: Option<&Path>,
    concurrency: usize,
    seconds: u64,
) -> Result<()> {
    let root = std::env::temp_dir().join(format!("wid-bench-peers-{}", uuid::Uuid::new_v4()));
    let result = compare(binary, baseline, &root, concurrency, seconds).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

/// How many times each of two servers is measured, in turns.
pub(crate) const TURNS: usize = 3;

/// One of two servers compared in turns: its name, its load (a fresh set of senders per
/// turn, `concurrency` of them) and its processes.
pub(crate) struct Contender<'a> {
    pub(crate) name: &'a str,
    pub(crate) senders: &'a dyn Fn() -> Result<Vec<Exchanger>>,
    pub(crate) pids: Vec<u32>,
}

/// Medians of the ratios first / second, of the rate and of the CPU time per request.
pub(crate) struct Turns {
    pub(crate) rate: f64,
    pub(crate) cpu: f64,
}

/// Two servers, both running, measured in turns (first, second, first, ...) so that the
/// machine's speed drifting during the run (a shared host) weighs on both; one-shot ratios of
/// two servers measured minutes apart moved by several points between runs here.
pub(crate) async fn in_turns(
    what: &str,
    contenders: [Contender<'_>; 2],
    seconds: u64,
) -> Result<Turns> {
    let (mut rates, mut cpus) = (Vec::new(), Vec::new());
    for turn in 1..=TURNS {
        let mut measured = [(0.0, 0.0); 2];
        for (i, c) in contenders.iter().enumerate() {
            let senders = warmed_up(c.name, (c.senders)()?).await?;
            let (report, cpu) = loaded(senders, &c.pids, seconds).await?;
            if report.errors > 0 {
                bail!(
                    "{}: {} of {} requests failed",
                    c.name,
                    report.errors,
                    report.requests
                );
            }
            println!(
                "{what}, turn {turn}, {}: {:.0} req/s, server CPU {:.4} ms per request",
                c.name,
                report.rate(),
                cpu
            );
            measured[i] = (report.rate(), cpu);
        }
        rates.push(measured[0].0 / measured[1].0);
        cpus.push(measured[0].1 / measured[1].1);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[TURNS / 2]
    };
    let shown = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{what}: {} / {}: rate {} (median {:.2}), CPU per request {} (median {:.2})",
        contenders[0].name,
        contenders[1].name,
        shown(&rates),
        median(rates.clone()),
        shown(&cpus),
        median(cpus.clone())
    );
    Ok(Turns {
        rate: median(rates),
        cpu: median(cpus),
    })
}

/// The refused exchange of this build and of `old`, in turns.
async fn refused_in_turns(
    binary: &Path,
    old: &Path,
    root: &Path,
    concurrency: usize,
    seconds: u64,
) -> Result<()> {
    let mut builds = Vec::new();
    for (name, binary) in [("now", binary), ("baseline", old)] {
        let dir = root.join(format!("turns-{name}"));
        let mut replica = Replica::start(binary, dir, None, None, "info", &[])?;
        let target = replica.ready().await?;
        let refused = prepare_exchange(&target).await?.with_unpublished_key()?;
        builds.push((replica, target, refused));
    }
    let senders: Vec<_> = builds
        .iter()
        .map(|(_, target, refused)| {
            move || Exchanger::spread(std::slice::from_ref(target), refused, concurrency)
        })
        .collect();
    let turns = in_turns(
        "refused before RSA",
        [
            Contender {
                name: "this build",
                senders: &senders[0],
                pids: vec![builds[0].0.pid()],
            },
            Contender {
                name: &format!("baseline {}", old.display()),
                senders: &senders[1],
                pids: vec![builds[1].0.pid()],
            },
        ],
        seconds.min(5),
    )
    .await?;
    println!(
        "refused exchange, server CPU per request, now / baseline: {:.2} (median of {TURNS} turns; goal <= 0.67)",
        turns.cpu
    );
    Ok(())
}

/// wid's federated exchange and the lean reference's, in turns.
async fn exchange_in_turns(
    binary: &Path,
    reference: &Lean,
    root: &Path,
    concurrency: usize,
    seconds: u64,
) -> Result<()> {
    let mut replica = Replica::start(binary, root.join("turns-wid"), None, None, "info", &[])?;
    let target = replica.ready().await?;
    let workload = prepare_exchange(&target).await?;
    let (lean, port) = reference.start(None)?;
    let request = lean_token_request(reference, port)?;
    let base = format!("https://127.0.0.1:{port}");
    let requests = Requests::new(vec![request]);
    let wid_senders = || Exchanger::spread(std::slice::from_ref(&target), &workload, concurrency);
    let lean_senders = || {
        Ok(Exchanger::to(
            &base,
            None,
            reference.tls.clone(),
            requests.clone(),
            Expect::Token,
            concurrency,
        ))
    };
    let turns = in_turns(
        "federated exchange",
        [
            Contender {
                name: "wid",
                senders: &wid_senders,
                pids: vec![replica.pid()],
            },
            Contender {
                name: "lean reference",
                senders: &lean_senders,
                pids: vec![lean.0.id()],
            },
        ],
        seconds.min(5),
    )
    .await?;
    println!(
        "exchange: wid / lean reference {:.2} (median of {TURNS} turns; goal >= 0.97)",
        turns.rate
    );
    Ok(())
}

async fn compare(
    binary: &Path,
    baseline: Option<&Path>,
    root: &Path,
    concurrency: usize,
    seconds: u64,
) -> Result<()> {
    let mut wid = wid(binary, root.join("wid"), concurrency, seconds).await?;
    for m in [&mut wid.exchange, &mut wid.refused] {
        print(m, concurrency);
    }
    let reference = Lean::prepare(root.join("lean"))?;
    let (mut lean, mut lean_secret) = lean(&reference, concurrency, seconds).await?;
    print(&mut lean, concurrency);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut node = oidc_provider(&root.join("node"), cores, concurrency, seconds).await?;
    print(&mut node, concurrency);
    let mut single_node = oidc_provider(&root.join("node1"), 1, concurrency, seconds).await?;
    print(&mut single_node, concurrency);
    let ceiling = rsa_ceiling(seconds.min(5))?;
    println!("RSA-2048 ceiling (1 verify + 1 sign, aws-lc-rs, all cores): {ceiling:.0}/s");
    let rate = wid.exchange.loaded.rate();
    println!(
        "exchange: wid / node oidc-provider {:.2} (one worker per core), {:.2} (one process; goal >= 2.5); wid / lean reference {:.2} (this run; in turns below); wid / RSA ceiling {:.2}",
        rate / node.loaded.rate(),
        rate / single_node.loaded.rate(),
        rate / lean.loaded.rate(),
        rate / ceiling
    );
    println!(
        "exchange one at a time: wid p50 {:.2} ms (goal <= 1.5)",
        wid.exchange.single.percentile_ms(0.50)
    );
    print(&mut wid.secret, concurrency);
    print(&mut lean_secret, concurrency);
    println!(
        "secret GET: wid / lean reference {:.2}",
        wid.secret.loaded.rate() / lean_secret.loaded.rate()
    );
    let (mut hook, mut lean_hook) = webhooks(binary, &reference, concurrency, seconds).await?;
    print(&mut hook, concurrency);
    print(&mut lean_hook, concurrency);
    println!(
        "webhook: wid / lean reference {:.2}",
        hook.loaded.rate() / lean_hook.loaded.rate()
    );
    exchange_in_turns(binary, &reference, root, concurrency, seconds).await?;
    if let Some(old) = baseline {
        refused_in_turns(binary, old, root, concurrency, seconds).await?;
    }
    Ok(())
}
