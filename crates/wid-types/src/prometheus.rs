//! A histogram in Prometheus' text exposition format, for the `/metrics` of `wid up` and of
//! `wid webhook`: cumulative buckets with fixed upper bounds, then `+Inf`, sum and count.

use std::fmt::Write;

#[derive(Clone, Debug)]
pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    counts: [u64; N],
    sum: f64,
    count: u64,
}

impl<const N: usize> Histogram<N> {
    /// An empty histogram over these upper bounds (ascending, in the metric's unit).
    pub fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: [0; N],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        for (count, bound) in self.counts.iter_mut().zip(self.bounds) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sample lines of `name` with `labels` (`k="v",…`, already escaped; may be empty).
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{labels} {}", self.sum);
        let _ = writeln!(out, "{name}_count{labels} {}", self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_in_inf() {
        static BOUNDS: [f64; 3] = [0.125, 0.5, 1.0];
        let mut h = Histogram::new(&BOUNDS);
        for v in [0.0625, 0.125, 0.75, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.write(&mut out, "x_seconds", r#"plane="sts""#);
        assert_eq!(
            out,
            concat!(
                "x_seconds_bucket{plane=\"sts\",le=\"0.125\"} 2\n",
                "x_seconds_bucket{plane=\"sts\",le=\"0.5\"} 2\n",
                "x_seconds_bucket{plane=\"sts\",le=\"1\"} 3\n",
                "x_seconds_bucket{plane=\"sts\",le=\"+Inf\"} 4\n",
                "x_seconds_sum{plane=\"sts\"} 3.9375\n",
                "x_seconds_count{plane=\"sts\"} 4\n",
            )
        );
        let mut bare = String::new();
        Histogram::new(&BOUNDS).write(&mut bare, "y", "");
        assert!(bare.starts_with("y_bucket{le=\"0.125\"} 0\n"), "{bare}");
        assert!(bare.ends_with("y_sum 0\ny_count 0\n"), "{bare}");
    }
}
