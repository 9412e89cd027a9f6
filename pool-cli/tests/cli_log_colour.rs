//! Tracing on stderr (`RUST_LOG`) is plain text when stderr is not a terminal: a pipe or a
//! file never receives ANSI colour escapes, NO_COLOR or not.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use common::{closed_tcp_endpoint, mmpool, run_with};

#[test]
fn log_lines_into_a_pipe_carry_no_escapes() {
    let endpoint = closed_tcp_endpoint();
    let server = format!("srv={endpoint}");
    for no_color in [None, Some("1")] {
        let mut cmd = mmpool();
        cmd.env("RUST_LOG", "pool_driver=debug")
            .args(["call", "--server", &server, "--timeout", "0.5"])
            .args(["srv", "readproperty", "number"]);
        match no_color {
            Some(value) => cmd.env("NO_COLOR", value),
            None => cmd.env_remove("NO_COLOR"),
        };
        let r = run_with(&mut cmd);
        r.expect_code(6);
        let logs: Vec<&str> = r
            .stderr_lines()
            .into_iter()
            .filter(|line| line.contains("pool_driver"))
            .collect();
        assert!(!logs.is_empty(), "no log lines: {r:#?}");
        assert!(
            logs.iter()
                .any(|line| line.contains("DEBUG") || line.contains("INFO")),
            "{r:#?}"
        );
        assert!(
            !r.stderr.contains('\x1b'),
            "an ANSI escape on stderr: {r:#?}"
        );
    }
}
