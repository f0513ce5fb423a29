//! Time is injected so that token windows, expiry and soft-delete rules can be tested at any instant.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Source of "now" in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    fn now_unix(&self) -> i64;

    /// Unix milliseconds, for records ordered finer than a second (the sign-in log).
    fn now_unix_ms(&self) -> i64 {
        self.now_unix().saturating_mul(1000)
    }
}

/// The wall clock; the only place wid reads system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    #[allow(clippy::disallowed_methods)]
    fn now_unix_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock tests can set and advance.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(now: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
