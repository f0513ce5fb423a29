//! Does PostgreSQL sit on the exchange's hot path? The same exchange load, first against one
//! replica on the embedded SQLite, then spread over two replicas sharing one PostgreSQL
//! database (and so the same two cores), printed as a ratio. Replicas log at `warn` in both
//! runs, so neither pays for access logs the other skips.

use crate::{connect, exchange_rate, prepare_exchange, Target};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files replicas share, as a deployment mounts them into every pod.
const SHARED: [&str; 4] = ["kek", "ca.pem", "ca.key.sealed", "credentials.json"];

pub struct Replica {
    dir: PathBuf,
    child: std::process::Child,
}

impl Replica {
    pub fn start(
        wid: &Path,
        dir: PathBuf,
        database_url: Option<&str>,
        public_url: Option<&str>,
        log: &str,
        flags: &[&str],
    ) -> Result<Replica> {
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let output = std::fs::File::create(dir.with_extension("log"))?;
        let mut command = std::process::Command::new(wid);
        command
            .args(["up", "--data-dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(flags)
            .env("WID_LOG", log)
            .stdout(output.try_clone()?)
            .stderr(output);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        if let Some(url) = public_url {
            command.args(["--public-url", url]);
        }
        let child = command.spawn().context("starting wid up")?;
        Ok(Replica { dir, child })
    }

    pub async fn ready(&mut self) -> Result<Arc<Target>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                // The bench removes its directory when it stops: the log's end goes with
                // the error.
                let log =
                    std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default();
                let last: Vec<&str> = log.lines().rev().take(5).collect();
                let last: Vec<&str> = last.into_iter().rev().collect();
                bail!(
                    "wid up exited with {status}; its log ends:\n{}",
                    last.join("\n")
                );
            }
            if self.dir.join("server.json").exists() {
                if let Ok(target) = connect(&self.dir).await {
                    return Ok(Arc::new(target));
                }
            }
            if Instant::now() > deadline {
                bail!("wid up did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> Result<String> {
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("server.json"))?)?;
        info["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("server.json has no url"))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn run(wid: &Path, database_url: &str, concurrency: usize, seconds: u64) -> Result<()> {
    let root = std::env::temp_dir().join(format!("wid-bench-replicas-{}", uuid::Uuid::new_v4()));
    let result = measure(wid, &root, database_url, concurrency, seconds).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn measure(
    wid: &Path,
    root: &Path,
    database_url: &str,
    concurrency: usize,
    seconds: u64,
) -> Result<()> {
    let sqlite_rate = {
        let mut single = Replica::start(wid, root.join("sqlite"), None, None, "warn", &[])?;
        let target = single.ready().await?;
        let workload = prepare_exchange(&target).await?;
        let mut report = exchange_rate(&[target], &workload, concurrency, seconds).await?;
        report.print("token exchange, 1 replica on SQLite", concurrency);
        report.rate()
    };
    let mut a = Replica::start(
        wid,
        root.join("pg-a"),
        Some(database_url),
        None,
        "warn",
        &[],
    )?;
    let first = a.ready().await?;
    let b_dir = root.join("pg-b");
    std::fs::create_dir_all(&b_dir)?;
    for name in SHARED {
        std::fs::copy(a.dir.join(name), b_dir.join(name))
            .with_context(|| format!("sharing {name}"))?;
    }
    // Both answer for one public URL, as replicas behind a load balancer do.
    let mut b = Replica::start(wid, b_dir, Some(database_url), Some(&a.url()?), "warn", &[])?;
    let second = b.ready().await?;
    let workload = prepare_exchange(&first).await?;
    let mut report = exchange_rate(&[first, second], &workload, concurrency, seconds).await?;
    report.print("token exchange, 2 replicas on PostgreSQL", concurrency);
    let pg_rate = report.rate();
    println!(
        "2 replicas on PostgreSQL / 1 replica on SQLite: {:.2} (goal >= 0.90)",
        pg_rate / sqlite_rate
    );
    Ok(())
}
