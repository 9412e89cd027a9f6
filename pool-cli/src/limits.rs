//! The process's limit on open files, which libzmq needs to know: it aborts the whole process
//! when it cannot create a socket's descriptor, so counts that cannot fit are refused up front.

/// This process's soft limit on open files (`Max open files` of `/proc/self/limits`); `None`
/// when unlimited or unknown.
pub fn open_files_limit() -> Option<u64> {
    parse_open_files_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        assert!(open_files_limit().unwrap_or(u64::MAX) > 3);
        let limits = "Max processes  96362  96362  processes\nMax open files  1024  4096  files\n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        let limits = "Max open files            unlimited            unlimited            files";
        assert_eq!(parse_open_files_limit(limits), None);
    }
}
