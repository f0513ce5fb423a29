//! Prometheus metrics at `/metrics`: requests by plane, route and status with a latency
//! histogram, token issuance and refusals by AADSTS code, cache hit ratios and invalidations,
//! the health of cache coherence, and the database pool. Plain counters behind one lock: a scrape every few seconds is cheap, and requests
//! only ever add.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;
use wid_types::prometheus::Histogram;

/// Upper bounds of the latency buckets, in seconds.
static BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

#[derive(Default)]
struct Counters {
    /// By route template, then plane and status: looked up by the borrowed template, so
    /// counting a request allocates nothing once its route has been seen.
    requests: BTreeMap<String, BTreeMap<(&'static str, u16), u64>>,
    latency: BTreeMap<&'static str, Histogram<{ BUCKETS.len() }>>,
    tokens_issued: u64,
    token_failures: BTreeMap<u32, u64>,
    invalidations: BTreeMap<&'static str, u64>,
    change_poll_failures: u64,
    /// By activity log: records stored, records lost.
    log_records: BTreeMap<&'static str, (u64, u64)>,
}

#[derive(Default)]
pub struct Metrics(Mutex<Counters>);

impl Metrics {
    pub fn request(&self, plane: &'static str, route: &str, status: u16, took: Duration) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !c.requests.contains_key(route) {
            c.requests.insert(route.to_owned(), BTreeMap::new());
        }
        if let Some(by_status) = c.requests.get_mut(route) {
            *by_status.entry((plane, status)).or_default() += 1;
        }
        c.latency
            .entry(plane)
            .or_insert_with(|| Histogram::new(&BUCKETS))
            .observe(took.as_secs_f64());
    }

    pub fn token_issued(&self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tokens_issued += 1;
    }

    pub fn token_refused(&self, aadsts: u32) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .token_failures
            .entry(aadsts)
            .or_default() += 1;
    }

    /// This replica dropped what it cached of `topic` (a change here or on another replica).
    pub fn invalidated(&self, topic: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .invalidations
            .entry(topic)
            .or_default() += 1;
    }

    /// Reading the change generations failed: while this grows the replica fails closed.
    pub fn change_poll_failed(&self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .change_poll_failures += 1;
    }

    pub fn log_records_written(&self, log: &'static str, n: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log_records
            .entry(log)
            .or_default()
            .0 += n;
    }

    /// Records an activity log lost: its queue was full, or the database refused them.
    pub fn log_records_dropped(&self, log: &'static str, n: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log_records
            .entry(log)
            .or_default()
            .1 += n;
    }

    /// The exposition text; `caches` are (name, hits, misses), `pool` (size, idle).
    pub fn render(&self, caches: &[(&str, u64, u64)], pool: (u32, usize)) -> String {
        let c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP wid_http_requests_total Requests answered, by plane, route and status."
        );
        let _ = writeln!(out, "# TYPE wid_http_requests_total counter");
        for (route, by_status) in &c.requests {
            let route = route.replace('"', "'");
            for ((plane, status), n) in by_status {
                let _ = writeln!(
                    out,
                    "wid_http_requests_total{{plane=\"{plane}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP wid_http_request_duration_seconds Time to answer, by plane."
        );
        let _ = writeln!(out, "# TYPE wid_http_request_duration_seconds histogram");
        for (plane, h) in &c.latency {
            h.write(
                &mut out,
                "wid_http_request_duration_seconds",
                &format!("plane=\"{plane}\""),
            );
        }
        counter(
            &mut out,
            "wid_tokens_issued_total",
            "Access tokens issued by the identity plane.",
            c.tokens_issued,
        );
        let _ = writeln!(
            out,
            "# HELP wid_token_failures_total Token requests refused, by AADSTS code."
        );
        let _ = writeln!(out, "# TYPE wid_token_failures_total counter");
        for (code, n) in &c.token_failures {
            let _ = writeln!(out, "wid_token_failures_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP wid_cache_lookups_total Hot-path cache lookups, by cache and result."
        );
        let _ = writeln!(out, "# TYPE wid_cache_lookups_total counter");
        for (name, hits, misses) in caches {
            let _ = writeln!(
                out,
                "wid_cache_lookups_total{{cache=\"{name}\",result=\"hit\"}} {hits}"
            );
            let _ = writeln!(
                out,
                "wid_cache_lookups_total{{cache=\"{name}\",result=\"miss\"}} {misses}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wid_cache_invalidations_total Cached data dropped because it changed, by topic."
        );
        let _ = writeln!(out, "# TYPE wid_cache_invalidations_total counter");
        for (topic, n) in &c.invalidations {
            let _ = writeln!(
                out,
                "wid_cache_invalidations_total{{topic=\"{topic}\"}} {n}"
            );
        }
        counter(
            &mut out,
            "wid_change_poll_failures_total",
            "Failed reads of the change generations (caches dropped each time).",
            c.change_poll_failures,
        );
        let _ = writeln!(
            out,
            "# HELP wid_log_records_written_total Activity log records stored, by log."
        );
        let _ = writeln!(out, "# TYPE wid_log_records_written_total counter");
        for (log, (written, _)) in &c.log_records {
            let _ = writeln!(
                out,
                "wid_log_records_written_total{{log=\"{log}\"}} {written}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wid_log_records_dropped_total Activity log records lost (queue full or database refused), by log."
        );
        let _ = writeln!(out, "# TYPE wid_log_records_dropped_total counter");
        for (log, (_, dropped)) in &c.log_records {
            let _ = writeln!(
                out,
                "wid_log_records_dropped_total{{log=\"{log}\"}} {dropped}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wid_db_pool_connections Database connections, open and idle."
        );
        let _ = writeln!(out, "# TYPE wid_db_pool_connections gauge");
        let _ = writeln!(out, "wid_db_pool_connections{{state=\"open\"}} {}", pool.0);
        let _ = writeln!(out, "wid_db_pool_connections{{state=\"idle\"}} {}", pool.1);
        out
    }
}

/// One unlabelled counter in the exposition format.
fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {value}");
}
