//! CPU time between two moments: this process's threads, split into the client's and those of
//! servers embedded in the same process, and an external server process.
//!
//! Invariants:
//! * a thread's time is read from its `schedstat` (exact nanoseconds) where the kernel has one,
//!   else from its `stat` ticks; per-thread ticks are sampled and miss threads that run in bursts
//!   shorter than a tick, as the embedded servers' threads do;
//! * an external process is read from its `stat` (utime + stime, which counts its ended threads
//!   too), in units of [`clock_ticks_per_second`];
//! * a reading that cannot be made (a thread that ended meanwhile, no `/proc`) counts as zero or
//!   `None`, never as a failure: a report names what it could not measure.

use std::path::Path;

/// Whether a thread of this process belongs to servers embedded in it: pool-testkit's router
/// and Thing threads (`testkit-*`) and libzmq's I/O and reaper threads, which inherit the name
/// `testkit-start` from the thread that starts the servers (or carry libzmq's own `ZMQbg/*`).
/// The pool itself uses no libzmq, so no client thread matches.
pub fn is_embedded_server_thread(name: &str) -> bool {
    name.starts_with("testkit-") || name.starts_with("ZMQbg")
}

/// `USER_HZ`, the unit of the times in `/proc/<pid>/stat`.
#[cfg(unix)]
pub fn clock_ticks_per_second() -> f64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100.0,
        ticks => ticks as f64,
    }
}

/// `USER_HZ`, the unit of the times in `/proc/<pid>/stat`: Linux's usual 100 where there is no
/// `/proc` (its readings, and so every CPU time, are zero there).
#[cfg(not(unix))]
pub fn clock_ticks_per_second() -> f64 {
    100.0
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` file, in clock ticks.
fn stat_ticks(path: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its closing paren.
    // Then field 3 (state) comes first, so utime (14) and stime (15) are [11] and [12].
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Nanoseconds thread `task` (a `/proc/self/task/<tid>` directory) has run.
fn thread_ns(task: &Path, tick_ns: f64) -> Option<u64> {
    if let Ok(schedstat) = std::fs::read_to_string(task.join("schedstat")) {
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse().ok())
        {
            return Some(ns);
        }
    }
    Some((stat_ticks(&task.join("stat"))? as f64 * tick_ns) as u64)
}

/// CPU time at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuMark {
    client_ns: u64,
    servers_ns: u64,
    external_ticks: Option<u64>,
}

impl CpuMark {
    /// Reads `/proc` now; `server_pid` names an external server process to read as well.
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
                if is_embedded_server_thread(name.trim_end()) {
                    servers_ns += ns;
                } else {
                    client_ns += ns;
                }
            }
        }
        CpuMark {
            client_ns,
            servers_ns,
            external_ticks: server_pid
                .and_then(|pid| stat_ticks(Path::new(&format!("/proc/{pid}/stat")))),
        }
    }
}

/// CPU seconds spent between two marks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuSpent {
    /// The client's own CPU time: this process's threads, less the embedded servers' when the
    /// servers run in this process.
    pub client_s: f64,
    /// The embedded servers' threads, or the external server process; `None` when neither was
    /// measured.
    pub server_s: Option<f64>,
}

impl CpuSpent {
    /// From `start` to `end`; `embedded` tells whether this process runs the servers (then their
    /// threads are the server's time, else every thread is the client's).
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
        let client_s = if embedded {
            seconds(start.client_ns, end.client_ns)
        } else {
            seconds(
                start.client_ns + start.servers_ns,
                end.client_ns + end.servers_ns,
            )
        };
        CpuSpent { client_s, server_s }
    }
}

/// `seconds` of CPU over `requests`, in µs per request (`requests` 0 counts as 1).
pub fn per_request_us(seconds: f64, requests: u64) -> f64 {
    seconds * 1e6 / requests.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_as_client_time_and_an_external_pid_is_read() {
        let start = CpuMark::now(Some(std::process::id()));
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let spent = CpuSpent::between(start, CpuMark::now(Some(std::process::id())), false);
        assert!(spent.client_s > 0.0, "{spent:?}");
        assert!(spent.server_s.is_some_and(|s| s >= 0.0), "{spent:?}");
        // Embedded: no testkit threads here, so the servers' share is zero.
        let spent = CpuSpent::between(start, CpuMark::now(None), true);
        assert_eq!(spent.server_s, Some(0.0));
        assert!(clock_ticks_per_second() > 0.0);
    }

    #[test]
    fn a_missing_process_reads_as_unmeasured_not_as_a_failure() {
        let start = CpuMark::now(Some(u32::MAX));
        let spent = CpuSpent::between(start, CpuMark::now(Some(u32::MAX)), false);
        assert_eq!(spent.server_s, None);
        assert!(stat_ticks(Path::new("/proc/none/stat")).is_none());
    }

    #[test]
    fn thread_names_of_embedded_servers() {
        for name in ["testkit-router-0", "testkit-start", "ZMQbg/IO/0"] {
            assert!(is_embedded_server_thread(name), "{name}");
        }
        for name in ["tokio-runtime-w", "main", "mmpool"] {
            assert!(!is_embedded_server_thread(name), "{name}");
        }
        assert_eq!(per_request_us(1.0, 0), 1e6);
        assert_eq!(per_request_us(0.5, 1000), 500.0);
    }
}
