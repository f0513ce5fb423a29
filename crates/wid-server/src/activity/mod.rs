//! The activity logs: the sign-in log (`wid_core::sign_in`, every token request) and Key
//! Vault's audit events (`wid_core::vault_audit`, every data-plane request), both recorded off
//! the hot path. A request hands its record to a bounded queue and returns; one writer task
//! per log and replica stores what has queued up in one transaction, so under load many
//! records share a write. When a queue is full (the database cannot keep up) records are
//! dropped and counted (`wid_log_records_dropped_total`) rather than slowing every request.

pub mod sign_ins;

use crate::metrics::Metrics;
use crate::state::AppState;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wid_core::retention::Retention;
use wid_core::sign_in::SignIn;
use wid_core::vault_audit::AuditEvent;
use wid_store::{Store, StoreError};

/// Records waiting for a log's writer at most; beyond, new ones are dropped.
pub const QUEUE: usize = 16 * 1024;
/// Records stored in one transaction at most.
const BATCH: usize = 512;
/// How long a writer waits for more records before it stores a batch that is not full.
const LINGER: Duration = Duration::from_millis(50);
/// A full queue is reported at most this often.
const WARN_EVERY_SECS: i64 = 60;

/// Whether a log is kept, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub enabled: bool,
    pub retention: Retention,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retention: Retention::default(),
        }
    }
}

/// A kind of record an activity log keeps: its name in metrics and messages, and how a
/// batch of them is stored and pruned.
pub trait Record: Send + Sync + 'static {
    const LOG: &'static str;
    fn store(store: &Store, batch: &[Self]) -> impl Future<Output = Result<(), StoreError>> + Send
    where
        Self: Sized;
}

impl Record for SignIn {
    const LOG: &'static str = "signIns";
    async fn store(store: &Store, batch: &[Self]) -> Result<(), StoreError> {
        store.insert_sign_ins(batch).await
    }
}

impl Record for AuditEvent {
    const LOG: &'static str = "auditEvents";
    async fn store(store: &Store, batch: &[Self]) -> Result<(), StoreError> {
        store.insert_vault_events(batch).await
    }
}

/// The request side of a log: cheap to clone, never waits.
pub struct Log<T> {
    queue: Option<mpsc::Sender<T>>,
    last_warned: Arc<AtomicI64>,
}

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            last_warned: self.last_warned.clone(),
        }
    }
}

impl<T: Record> Log<T> {
    /// A log that records nothing (`--sign-in-log off`, `--vault-audit-log off`).
    pub fn disabled() -> Self {
        Self {
            queue: None,
            last_warned: Arc::default(),
        }
    }

    /// The log as `config` says, and its writer when it is kept; the writer runs until
    /// every clone of the log is dropped and the queue is drained.
    pub fn start(
        config: LogConfig,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> (Self, Option<JoinHandle<()>>) {
        if !config.enabled {
            return (Self::disabled(), None);
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write(store, rx, metrics));
        (
            Self {
                queue: Some(tx),
                last_warned: Arc::default(),
            },
            Some(writer),
        )
    }

    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `record`; `false` when it was dropped because the queue is full.
    pub fn record(&self, record: T, metrics: &Metrics, now: i64) -> bool {
        let Some(queue) = &self.queue else {
            return true;
        };
        match queue.try_send(record) {
            Ok(()) => true,
            Err(_) => {
                metrics.log_records_dropped(T::LOG, 1);
                let last = self.last_warned.load(Ordering::Relaxed);
                if now - last >= WARN_EVERY_SECS
                    && self
                        .last_warned
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::warn!(
                        log = T::LOG,
                        queue = QUEUE,
                        "an activity log cannot keep up with requests; records are being dropped"
                    );
                }
                false
            }
        }
    }
}

async fn write<T: Record>(store: Store, mut rx: mpsc::Receiver<T>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if batch.len() < BATCH {
            // Each transaction is a synced commit: under load, a short wait lets one carry
            // hundreds of records instead of a few.
            tokio::time::sleep(LINGER).await;
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
        }
        match T::store(&store, &batch).await {
            Ok(()) => metrics.log_records_written(T::LOG, batch.len() as u64),
            Err(e) => {
                metrics.log_records_dropped(T::LOG, batch.len() as u64);
                tracing::warn!(log = T::LOG, error = %e, records = batch.len(), "storing activity records failed; they are lost");
                // A database that refuses writes is not hammered by the next batch at once.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        batch.clear();
    }
}

/// Prunes each kept log's records past its retention; run by the replica holding the job's
/// lease. Returns how many went.
pub async fn prune(state: &AppState, now: i64) -> Result<u64, StoreError> {
    let mut pruned = 0;
    let sign_ins = state.config.sign_in_log.retention;
    if state.sign_ins.enabled() {
        pruned += state
            .store
            .prune_sign_ins(sign_ins.cutoff_ms(now), sign_ins.max_entries)
            .await?;
    }
    let events = state.config.vault_audit_log.retention;
    if state.vault_events.enabled() {
        pruned += state
            .store
            .prune_vault_events(events.cutoff_ms(now), events.max_entries)
            .await?;
    }
    Ok(pruned)
}

/// Who served the request: the host's name and the process id, which tell replicas apart
/// in a deployment (pods have their own host names).
pub fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}/{}", std::process::id())
}
