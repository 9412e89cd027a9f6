//! What one run of the round-trip benchmark measures, in the terms of pool-measure (CPU from
//! `/proc`, latency on a histogram) that `mmpool bench` uses too; and the check of each reply.

use std::time::Duration;

use pool_measure::{per_request_us, CpuMark, CpuSpent, Histogram, LatencySummary};

/// One latency run.
pub(crate) type Latency = LatencySummary;

/// One throughput run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Throughput {
    pub(crate) msgs_per_s: f64,
    pub(crate) client_cpu_us_per_req: f64,
    /// 0 when the server's CPU was not measured (an external server without a pid).
    pub(crate) server_cpu_us_per_req: f64,
}

/// What one throughput loop counted inside its timed window.
#[derive(Debug)]
pub(crate) struct Window {
    pub(crate) completed: u64,
    pub(crate) elapsed: Duration,
    pub(crate) cpu: CpuSpent,
}

impl Window {
    /// The window from `start` (a mark read when it opened) to now, with `completed` requests
    /// in `elapsed`; `server_pid` is the server process read at both ends.
    pub(crate) fn since(
        start: CpuMark,
        server_pid: Option<u32>,
        completed: u64,
        elapsed: Duration,
    ) -> Window {
        Window {
            completed,
            elapsed,
            cpu: CpuSpent::between(start, CpuMark::now(server_pid), false),
        }
    }

    pub(crate) fn into_throughput(self) -> Throughput {
        Throughput {
            msgs_per_s: self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9),
            client_cpu_us_per_req: per_request_us(self.cpu.client_s, self.completed),
            server_cpu_us_per_req: per_request_us(self.cpu.server_s.unwrap_or(0.0), self.completed),
        }
    }
}

/// The latency figures of `samples`.
pub(crate) fn latency_of(samples: Vec<Duration>) -> Latency {
    samples.into_iter().collect::<Histogram>().summary()
}

/// Checks a reply payload: it must decode to the property's value, so the numbers are of
/// real work.
pub(crate) fn check_payload(payload: &[u8]) {
    let value: f64 = serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("reply payload {payload:?} is not a number: {e}"));
    assert!(
        value == super::EXPECTED,
        "reply payload {value} != {}",
        super::EXPECTED
    );
}
