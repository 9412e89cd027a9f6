//! What the pool's benchmarks measure and how they report it, written once for `mmpool bench`
//! and the round-trip bench of the runtime adapters (pool-suite's `bench`).
//!
//! * [`cpu`]: CPU time of this process's threads (split into the client's and the embedded
//!   servers') and of an external server process, between two [`CpuMark`]s.
//! * [`memory`]: peak resident set size and thread count, from `/proc`.
//! * [`latency`]: a latency [`Histogram`] on `hdrhistogram`, and the [`LatencySummary`] that
//!   reports quote.
//! * [`summary`]: medians over repetitions and the rounding of reported figures.
//! * [`table`]: aligned text tables for a person; JSON goes through `serde_json` values, with
//!   [`json_line`] for line-per-measurement output.
//!
//! Linux only for the `/proc` readings: elsewhere CPU and memory read as zero or `None`, and
//! every report says so rather than failing.
//!
//! ```
//! use std::time::Duration;
//! use pool_measure::{CpuMark, CpuSpent, Histogram};
//!
//! let start = CpuMark::now(None);
//! let mut latency = Histogram::new();
//! for us in 1..=100 {
//!     latency.record(Duration::from_micros(us));
//! }
//! let spent = CpuSpent::between(start, CpuMark::now(None), false);
//! assert!(spent.client_s >= 0.0);
//! let summary = latency.summary();
//! assert_eq!(summary.samples, 100);
//! assert!((summary.p50_us - 50.0).abs() < 1.0);
//! ```
#![forbid(unsafe_code)]

pub mod cpu;
pub mod latency;
pub mod memory;
pub mod summary;
pub mod table;

pub use cpu::{per_request_us, CpuMark, CpuSpent};
pub use latency::{Histogram, LatencySummary};
pub use memory::{peak_rss_kib, reset_peak_rss, threads};
pub use summary::{med, median, round, rounded};
pub use table::{json_line, Align, Column, Table};
