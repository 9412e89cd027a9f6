//! What a run measures: a latency histogram, CPU time from `/proc`, peak RSS.

use std::time::Duration;

/// Sub-buckets per power of two above [`LINEAR`] (relative error ≤ 1/64 ≈ 1.6 %).
const SUB: u64 = 64;
/// Values below this many nanoseconds get one bucket each.
const LINEAR: u64 = 2 * SUB;
/// The largest power of two recorded (2^40 ns ≈ 18 min); longer values are clamped.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - 6) * SUB) as usize;

/// A log-linear histogram of durations in nanoseconds: fixed memory (~30 KiB), ≤ 1.6 % error,
/// exact count, sum, min and max.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }
}

/// The bucket of `ns`.
fn bucket_of(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // ≥ 7
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let mantissa = ns >> (exp - 6); // in [64, 128)
    (LINEAR + u64::from(exp - 7) * SUB + (mantissa - SUB)) as usize
}

/// The middle of bucket `index`, in nanoseconds.
fn value_of(index: usize) -> f64 {
    let index = index as u64;
    if index < LINEAR {
        return index as f64;
    }
    let exp = 7 + (index - LINEAR) / SUB;
    let mantissa = SUB + (index - LINEAR) % SUB;
    let width = 1u64 << (exp - 6);
    (mantissa * width) as f64 + width as f64 / 2.0
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} samples)", self.count)
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(ns)] += 1;
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0..=1) in µs, clamped to the exact min and max; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let ns = value_of(index).clamp(self.min_ns as f64, self.max_ns as f64);
                return ns / 1e3;
            }
        }
        self.max_ns as f64 / 1e3
    }

    /// The mean in µs; 0 when empty.
    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64 / 1e3
        }
    }

    /// The largest duration in µs; 0 when empty.
    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1e3
    }
}

/// Whether a thread of this process belongs to the embedded servers: pool-testkit's router and
/// Thing threads (`testkit-router-*`, `testkit-thing-*`) and libzmq's I/O and reaper threads,
/// which inherit the name `testkit-start` from the thread that starts the servers (or carry
/// libzmq's own `ZMQbg/*` where it names them). The pool's zeromq crate runs on the tokio
/// workers and uses no libzmq.
fn is_server_thread(name: &str) -> bool {
    name.starts_with("testkit-") || name.starts_with("ZMQbg")
}

/// utime+stime (clock ticks) of a `/proc/<pid>/stat` file: the whole process.
fn process_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // After the name (which may hold spaces): field 3 (state) first, so utime (14) and stime
    // (15) are [11] and [12].
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Nanoseconds thread `task` (a `/proc/self/task/<tid>` directory) has run: the first field of
/// its `schedstat`, exact, where per-thread `stat` ticks are sampled and miss threads that run
/// in bursts shorter than a tick (as the embedded servers' threads do); `stat` ticks when the
/// kernel has no schedstat.
fn thread_ns(task: &std::path::Path, tick_ns: f64) -> Option<u64> {
    if let Ok(schedstat) = std::fs::read_to_string(task.join("schedstat")) {
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse().ok())
        {
            return Some(ns);
        }
    }
    let ticks = process_ticks(&task.join("stat").to_string_lossy())?;
    Some((ticks as f64 * tick_ns) as u64)
}

/// CPU time at one moment: this process's threads split into the client's and the embedded
/// servers', and an external server process.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuMark {
    client_ns: u64,
    servers_ns: u64,
    external_ticks: Option<u64>,
}

impl CpuMark {
    /// Reads `/proc` now (`server_pid`: an external server whose CPU time is reported too).
    pub fn now(server_pid: Option<u32>) -> CpuMark {
        let tick_ns = 1e9 / clock_ticks_per_second();
        let (mut client_ns, mut servers_ns) = (0, 0);
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let path = task.path();
                let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                let Some(ns) = thread_ns(&path, tick_ns) else {
                    continue; // the thread ended meanwhile
                };
                if is_server_thread(name.trim_end()) {
                    servers_ns += ns;
                } else {
                    client_ns += ns;
                }
            }
        }
        CpuMark {
            client_ns,
            servers_ns,
            external_ticks: server_pid.and_then(|pid| process_ticks(&format!("/proc/{pid}/stat"))),
        }
    }
}

/// CPU seconds spent between two marks.
#[derive(Clone, Copy, Debug)]
pub struct CpuSpent {
    /// This process's threads less the embedded servers' (without embedded servers, all of
    /// them): the client's own CPU time.
    pub client_s: f64,
    /// The embedded servers' threads, or the external server process (`--server-pid`).
    pub server_s: Option<f64>,
}

impl CpuSpent {
    /// From `start` to `end`, with `embedded` telling whether this process runs the servers.
    pub fn between(start: CpuMark, end: CpuMark, embedded: bool) -> CpuSpent {
        let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e9;
        let server_s = if embedded {
            Some(seconds(start.servers_ns, end.servers_ns))
        } else {
            match (start.external_ticks, end.external_ticks) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / clock_ticks_per_second()),
                _ => None,
            }
        };
        // Without embedded servers every thread of this process is the client's.
        let (client_start, client_end) = if embedded {
            (start.client_ns, end.client_ns)
        } else {
            (
                start.client_ns + start.servers_ns,
                end.client_ns + end.servers_ns,
            )
        };
        CpuSpent {
            client_s: seconds(client_start, client_end),
            server_s,
        }
    }
}

/// `USER_HZ` (the unit of `/proc/*/stat` times): `getconf CLK_TCK` once, or Linux's 100.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// This process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's thread count (`/proc/self/task`).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_two_percent() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 10_000);
        for (q, want) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.001, 10.0)] {
            let got = h.quantile_us(q);
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert!((h.mean_us() - 5_000.5).abs() < 1e-6);
        assert_eq!(h.max_us(), 10_000.0);
        assert_eq!(h.quantile_us(1.0), 10_000.0);
        assert_eq!(Histogram::default().quantile_us(0.5), 0.0);
        // Buckets are monotonic and cover every value up to the clamp.
        let mut last = 0;
        for ns in (0..1u64 << 20).step_by(97) {
            let b = bucket_of(ns);
            assert!(b >= last && b < BUCKETS);
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn proc_readings() {
        assert!(peak_rss_kib().unwrap_or(0) > 0);
        assert!(threads() >= 1);
        let start = CpuMark::now(Some(std::process::id()));
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let spent = CpuSpent::between(start, CpuMark::now(Some(std::process::id())), false);
        assert!(spent.client_s > 0.0 && spent.server_s.is_some());
    }
}
