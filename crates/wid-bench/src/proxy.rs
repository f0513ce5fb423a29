//! The IMDS proxy under load: `wid proxy` pinned to one core, its tokens from a stand-in
//! token endpoint in this process that counts exchanges; cached requests per second and the
//! proxy's resident memory.

use crate::drive;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn token_endpoint(calls: Arc<AtomicU64>) -> Result<u16> {
    let app = axum::Router::new().route(
        "/{tenant}/oauth2/v2.0/token",
        axum::routing::post(move || {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"token_type": "Bearer", "expires_in": 86399, "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

pub async fn run(wid: PathBuf, concurrency: usize, seconds: u64) -> Result<()> {
    let calls = Arc::new(AtomicU64::new(0));
    let endpoint = token_endpoint(calls.clone()).await?;
    let dir = std::env::temp_dir().join(format!("wid-bench-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token_file = dir.join("token");
    std::fs::write(&token_file, "service-account-token")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = tokio::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(wid)
        .args(["proxy", "--proxy-port", &port.to_string()])
        .env("AZURE_CLIENT_ID", "8c2d5b1e-0000-4000-8000-000000000001")
        .env("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .env(
            "AZURE_AUTHORITY_HOST",
            format!("http://127.0.0.1:{endpoint}/"),
        )
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting `taskset -c 0 wid proxy`")?;
    let pid = child.id().ok_or_else(|| anyhow!("the proxy exited"))?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() > deadline {
            bail!("the proxy did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = Arc::new(format!("{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net"));
    let op = {
        let (http, url) = (http.clone(), url.clone());
        move |_: usize, _: u64| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                match http
                    .get(url.as_str())
                    .header("Metadata", "true")
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    // The first burst is uncached: it must cost exactly one exchange.
    drive(concurrency, Duration::from_secs(1), op.clone()).await;
    let after_warmup = calls.load(Ordering::SeqCst);
    let mut report = drive(concurrency, Duration::from_secs(seconds), op.clone()).await;
    report.print(
        "IMDS token request (cached, proxy on one core)",
        concurrency,
    );
    let rss = crate::webhook::resident_kib(pid, "VmHWM:").unwrap_or(0);
    let mut single = drive(1, Duration::from_secs(seconds.min(5)), op).await;
    single.print("IMDS token request, one at a time", 1);
    println!(
        "exchanges: {after_warmup} for the first concurrent burst of {concurrency}, {} in all; proxy resident memory peak {:.1} MiB",
        calls.load(Ordering::SeqCst),
        rss as f64 / 1024.0
    );
    child.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
