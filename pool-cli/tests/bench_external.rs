//! `mmpool bench --server` against a server this test starts in-process (pool-testkit), in
//! every build: it needs no `servers` feature; `--embedded` does.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use common::{run, server_arg, tcp_server};

#[test]
fn bench_measures_a_given_server() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let r = run(&[
        "bench",
        "--server",
        &s,
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--inflight",
        "4",
        "--json",
    ]);
    r.expect_code(0);
    let report = r.json();
    assert_eq!(report["target"], "servers", "{report}");
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    assert!(report["requests"].as_u64().unwrap_or(0) > 0, "{report}");
}

#[cfg(not(feature = "servers"))]
#[test]
fn bench_embedded_needs_the_servers_feature() {
    let r = run(&["bench", "--embedded", "--duration", "0.1"]);
    r.expect_code(2);
    assert!(
        r.one_error_line()
            .contains("--embedded needs the `servers` feature"),
        "{r:#?}"
    );
}
