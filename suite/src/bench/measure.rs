//! What a run measures and how it is summarised: CPU time from `/proc`, throughput, latency
//! percentiles, medians over repetitions.

use std::time::Duration;

/// One throughput run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Throughput {
    pub(crate) msgs_per_s: f64,
    pub(crate) client_cpu_us_per_req: f64,
    pub(crate) server_cpu_us_per_req: f64,
}

/// One latency run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Latency {
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) mean_us: f64,
}

/// What one throughput loop counted inside its timed window.
#[derive(Debug)]
pub(crate) struct Window {
    pub(crate) completed: u64,
    pub(crate) elapsed: Duration,
    pub(crate) client_ticks: u64,
    pub(crate) server_ticks: u64,
}

impl Window {
    pub(crate) fn into_throughput(self, clk_tck: f64) -> Throughput {
        let n = self.completed.max(1) as f64;
        let per_req = |ticks: u64| ticks as f64 / clk_tck * 1e6 / n;
        Throughput {
            msgs_per_s: self.completed as f64 / self.elapsed.as_secs_f64(),
            client_cpu_us_per_req: per_req(self.client_ticks),
            server_cpu_us_per_req: per_req(self.server_ticks),
        }
    }
}

/// CPU clock ticks of this process and of the server, read together around a timed window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuMark {
    client: u64,
    server: u64,
}

impl CpuMark {
    /// Reads `/proc` now; without a server pid (an external server not named by
    /// `MMPOOL_BENCH_SERVER_PID`) the server's ticks stay 0.
    pub(crate) fn now(server_pid: Option<u32>) -> CpuMark {
        CpuMark {
            client: cpu_ticks_of("/proc/self/stat"),
            server: server_pid.map_or(0, |pid| cpu_ticks_of(&format!("/proc/{pid}/stat"))),
        }
    }

    /// The window from `self` to now, with `completed` requests in `elapsed`.
    pub(crate) fn window(
        self,
        server_pid: Option<u32>,
        completed: u64,
        elapsed: Duration,
    ) -> Window {
        let end = CpuMark::now(server_pid);
        Window {
            completed,
            elapsed,
            client_ticks: end.client - self.client,
            server_ticks: end.server - self.server,
        }
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` file, in clock ticks.
fn cpu_ticks_of(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    // The command name (field 2) may contain spaces: count fields after its closing paren.
    let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state), so field 14 is rest[11] and field 15 is rest[12].
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

pub(crate) fn latency_of(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    let mean_us = total.as_secs_f64() * 1e6 / samples.len() as f64;
    let pick = |q: f64| {
        let i = ((samples.len() as f64 * q) as usize).min(samples.len() - 1);
        samples[i].as_secs_f64() * 1e6
    };
    Latency {
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        mean_us,
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `f` over `v`.
pub(crate) fn med<T>(v: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

/// Forgets this process's peak RSS so far (`VmHWM` starts again from the current RSS), so that
/// [`peak_rss_kib`] after a run is that run's peak. Linux ≥ 4.0 (`/proc/self/clear_refs` 5).
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak RSS in KiB (`VmHWM` of `/proc/self/status`).
pub(crate) fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
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
