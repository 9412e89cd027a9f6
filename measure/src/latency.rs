//! Latencies: a histogram of durations on `hdrhistogram`, and the summary reports quote.
//!
//! Invariants:
//! * values are recorded in nanoseconds between 1 ns and one hour with three significant
//!   digits (relative error ≤ 0.1 %); a longer duration is recorded as one hour, a zero one as
//!   1 ns: recording never fails and memory is fixed when the histogram is made;
//! * the count is exact, and an empty histogram reports zeros.

use std::time::Duration;

use serde_json::{json, Value};

use crate::summary::round;

/// The longest duration a histogram tells apart: one hour.
const MAX_NS: u64 = 3_600_000_000_000;

/// A latency histogram.
#[derive(Clone)]
pub struct Histogram {
    ns: hdrhistogram::Histogram<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} samples)", self.count())
    }
}

impl Histogram {
    /// An empty histogram (a few hundred KiB of counters, allocated now and never again).
    pub fn new() -> Histogram {
        Histogram {
            ns: hdrhistogram::Histogram::new_with_bounds(1, MAX_NS, 3)
                .expect("1 ns..1 h at 3 digits is a valid hdrhistogram range"),
        }
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_NS);
        self.ns.saturating_record(ns);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.ns.len()
    }

    /// The `q` quantile (0..=1) in µs; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.count() == 0 {
            return 0.0;
        }
        self.ns.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1e3
    }

    /// The mean in µs; 0 when empty.
    pub fn mean_us(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.ns.mean() / 1e3
        }
    }

    /// The largest duration in µs; 0 when empty.
    pub fn max_us(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.ns.max() as f64 / 1e3
        }
    }

    /// The figures reports quote.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.count(),
            p50_us: self.quantile_us(0.50),
            p90_us: self.quantile_us(0.90),
            p99_us: self.quantile_us(0.99),
            p999_us: self.quantile_us(0.999),
            max_us: self.max_us(),
            mean_us: self.mean_us(),
        }
    }
}

impl FromIterator<Duration> for Histogram {
    fn from_iter<I: IntoIterator<Item = Duration>>(iter: I) -> Self {
        let mut h = Histogram::new();
        for d in iter {
            h.record(d);
        }
        h
    }
}

/// A histogram's figures, in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// Durations recorded.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// The summary as a JSON object, each figure rounded to 0.01 µs.
    pub fn to_json(&self) -> Value {
        json!({
            "samples": self.samples,
            "p50": round(self.p50_us, 2),
            "p90": round(self.p90_us, 2),
            "p99": round(self.p99_us, 2),
            "p999": round(self.p999_us, 2),
            "max": round(self.max_us, 2),
            "mean": round(self.mean_us, 2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_tenth_of_a_percent() {
        let h: Histogram = (1..=10_000u64).map(Duration::from_micros).collect();
        assert_eq!(h.count(), 10_000);
        for (q, want) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.001, 10.0)] {
            let got = h.quantile_us(q);
            assert!((got - want).abs() / want < 0.002, "q{q}: {got} vs {want}");
        }
        assert!((h.mean_us() - 5_000.5).abs() / 5_000.5 < 0.001);
        assert!((h.max_us() - 10_000.0).abs() < 10.0);
        let s = h.summary();
        assert_eq!(s.samples, 10_000);
        assert!(s.p50_us <= s.p90_us && s.p90_us <= s.p99_us && s.p99_us <= s.p999_us);
        assert_eq!(s.to_json()["samples"], 10_000);
    }

    #[test]
    fn empty_zero_and_absurd_durations_never_fail() {
        let mut h = Histogram::new();
        assert_eq!(h.summary(), LatencySummary::default());
        h.record(Duration::ZERO);
        h.record(Duration::MAX);
        assert_eq!(h.count(), 2);
        assert!(h.max_us() <= MAX_NS as f64 / 1e3 * 1.001);
        assert!(h.quantile_us(0.0) > 0.0);
    }
}
