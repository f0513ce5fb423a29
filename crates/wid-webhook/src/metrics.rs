//! The one metric upstream's webhook exports, `azwi_mutation_request` (seconds per
//! admission review, by namespace), in Prometheus' text format with upstream's buckets, so
//! dashboards and alerts written for azure-workload-identity keep working.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use wid_types::prometheus::Histogram;

const NAME: &str = "azwi_mutation_request";

/// Upstream's explicit bucket boundaries, in seconds.
static BUCKETS: [f64; 32] = [
    0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.02, 0.03, 0.04, 0.05,
    0.06, 0.07, 0.08, 0.09, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5, 2.0, 2.5, 3.0,
];

/// Anyone who reaches the webhook's port can name a namespace in a review; past this many
/// distinct names (more than a cluster has) reviews are counted under the empty namespace.
const MAX_NAMESPACES: usize = 4096;

#[derive(Default)]
pub struct MutationMetrics(Mutex<BTreeMap<String, Histogram<{ BUCKETS.len() }>>>);

/// A namespace as Kubernetes allows it (an RFC 1123 label), or nothing.
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-')
}

impl MutationMetrics {
    pub fn record(&self, namespace: &str, took: Duration) {
        let mut by_namespace = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = if by_namespace.contains_key(namespace)
            || (valid_namespace(namespace) && by_namespace.len() < MAX_NAMESPACES)
        {
            namespace
        } else {
            ""
        };
        // Looked up before inserting, so a known namespace costs no allocation.
        if !by_namespace.contains_key(key) {
            by_namespace.insert(key.to_owned(), Histogram::new(&BUCKETS));
        }
        if let Some(h) = by_namespace.get_mut(key) {
            h.observe(took.as_secs_f64());
        }
    }

    pub fn render(&self) -> String {
        let by_namespace = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = format!(
            "# HELP {NAME} Distribution of how long it took for the azure-workload-identity mutation request\n# TYPE {NAME} histogram\n"
        );
        for (ns, h) in by_namespace.iter() {
            h.write(
                &mut out,
                NAME,
                &format!("namespace=\"{ns}\",service_name=\"webhook\""),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_bucketed_by_namespace_as_upstream_exports_them() {
        let m = MutationMetrics::default();
        m.record("default", Duration::from_micros(1_500));
        m.record("default", Duration::from_millis(250));
        m.record("team-a", Duration::from_secs(4));
        let text = m.render();
        for line in [
            "# TYPE azwi_mutation_request histogram",
            r#"azwi_mutation_request_bucket{namespace="default",service_name="webhook",le="0.001"} 0"#,
            r#"azwi_mutation_request_bucket{namespace="default",service_name="webhook",le="0.002"} 1"#,
            r#"azwi_mutation_request_bucket{namespace="default",service_name="webhook",le="0.3"} 2"#,
            r#"azwi_mutation_request_bucket{namespace="default",service_name="webhook",le="+Inf"} 2"#,
            r#"azwi_mutation_request_count{namespace="default",service_name="webhook"} 2"#,
            r#"azwi_mutation_request_sum{namespace="default",service_name="webhook"} 0.2515"#,
            r#"azwi_mutation_request_bucket{namespace="team-a",service_name="webhook",le="3"} 0"#,
            r#"azwi_mutation_request_bucket{namespace="team-a",service_name="webhook",le="+Inf"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }

    #[test]
    fn namespaces_a_cluster_cannot_have_do_not_become_labels() {
        let m = MutationMetrics::default();
        for ns in ["Bad\"}\n", "-x", &"a".repeat(64), ""] {
            m.record(ns, Duration::from_millis(1));
        }
        for i in 0..MAX_NAMESPACES + 10 {
            m.record(&format!("ns-{i}"), Duration::from_millis(1));
        }
        let by_namespace = m.0.lock().unwrap();
        assert_eq!(by_namespace.len(), MAX_NAMESPACES);
        assert_eq!(by_namespace[""].count(), 4 + 11);
    }
}
