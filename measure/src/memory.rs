//! This process's memory and threads, from `/proc/self`.
//!
//! Invariant: a reading that cannot be made is `None` (or 0 threads), never a failure.

/// This process's peak resident set size so far, in KiB (`VmHWM` of `/proc/self/status`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Forgets this process's peak RSS so far (`VmHWM` starts again from the current RSS), so that
/// [`peak_rss_kib`] after a run is that run's peak. Linux ≥ 4.0 (`/proc/self/clear_refs` 5); a
/// no-op where it is not allowed.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's thread count (`/proc/self/task`).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_of_a_running_process() {
        let before = peak_rss_kib().expect("VmHWM");
        assert!(before > 0);
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        assert!(peak_rss_kib().expect("VmHWM") >= before);
        drop(block);
        reset_peak_rss();
        assert!(peak_rss_kib().is_some());
        assert!(threads() >= 1);
    }
}
