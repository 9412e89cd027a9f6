//! Every duration and count flag has a range: negative, NaN, infinite and absurdly large values
//! are one-line usage errors (exit 2) naming the flag and the range, never a panic or an abort;
//! the largest accepted values work.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use common::{mmpool_path, run, run_with, server_arg, tcp_server, Run};
use serde_json::json;

/// The longest accepted duration, in seconds (10 years).
const MAX_SECONDS: &str = "315576000";

/// Asserts `r` is a one-line usage error that names `flag` and says `range`.
#[track_caller]
fn expect_range_error(r: &Run, flag: &str, range: &str) {
    r.expect_code(2);
    let line = r.one_error_line();
    assert!(line.starts_with("error: "), "{r:#?}");
    assert!(line.contains(flag), "the error names {flag}: {r:#?}");
    assert!(line.contains(range), "the error says {range:?}: {r:#?}");
    assert_eq!(r.stdout, "", "{r:#?}");
}

/// BUG: `--connect-timeout 1e19`, `--warmup 1e19` and `--duration 1e19` panicked (an `Instant`
/// plus a duration past the clock's end), and call, all and demo took any duration a `f64`
/// holds; refused values were three lines of clap's text.
#[test]
fn every_duration_flag_refuses_negative_nan_infinite_and_huge_values() {
    let server = "--server=a=tcp://127.0.0.1:1";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["call", server, "a", "readproperty", "number"],
            "--timeout",
        ),
        (
            vec!["call", server, "a", "readproperty", "number"],
            "--invokation-timeout",
        ),
        (
            vec!["call", server, "a", "readproperty", "number"],
            "--execution-timeout",
        ),
        (vec!["all", server, "readproperty", "number"], "--timeout"),
        (
            vec!["all", server, "readproperty", "number"],
            "--invokation-timeout",
        ),
        (
            vec!["all", server, "readproperty", "number"],
            "--execution-timeout",
        ),
        (vec!["bench", "--embedded"], "--timeout"),
        (vec!["bench", "--embedded"], "--invokation-timeout"),
        (vec!["bench", "--embedded"], "--connect-timeout"),
        (vec!["bench", "--embedded"], "--warmup"),
        (vec!["bench", "--embedded"], "--duration"),
        (vec!["demo"], "--load-secs"),
    ];
    let bad = [
        "-1",
        "-0.001",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e19",
        "1e400",
        "315576000.5",
        "soon",
    ];
    for (args, flag) in &cases {
        for value in bad {
            let option = format!("{flag}={value}");
            let r = run(&[&args[..], &[option.as_str()]].concat());
            expect_range_error(&r, flag, MAX_SECONDS);
        }
    }
    // Where zero makes no sense, the range says so.
    for flag in ["--duration", "--connect-timeout", "--timeout"] {
        let r = run(&["bench", "--embedded", flag, "0"]);
        expect_range_error(&r, flag, "> 0");
    }
}

/// BUG: `bench --embedded --inflight 1000000000000` aborted allocating the pool's slots,
/// `demo --inflight 0` panicked on an empty latency list, and libzmq aborted the process when
/// embedded servers ran out of file descriptors.
#[test]
fn every_count_flag_has_a_range() {
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["bench", "--embedded"], "--inflight", "1 to 1000000"),
        (vec!["bench", "--embedded"], "--servers", "1 to 64"),
        (vec!["demo"], "--inflight", "1 to 1000000"),
    ];
    for (args, flag, range) in &cases {
        for value in [
            "0",
            "-1",
            "1000001",
            "1000000000000",
            "99999999999999999999",
            "x",
        ] {
            let option = format!("{flag}={value}");
            let r = run(&[&args[..], &[option.as_str()]].concat());
            expect_range_error(&r, flag, range);
        }
    }
    let r = run(&["bench", "--embedded", "--servers", "65"]);
    expect_range_error(&r, "--servers", "1 to 64");
    let r = run(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "x",
        "--send-hwm=-1",
    ]);
    expect_range_error(&r, "--send-hwm", "0..");
}

/// BUG: with a low open-files limit, `bench --embedded --servers 20` aborted inside libzmq
/// ("Too many open files", exit 134) instead of refusing the count.
#[test]
fn embedded_servers_that_cannot_fit_the_open_files_limit_are_refused() {
    let r = run_with(
        assert_cmd::Command::new("sh")
            .timeout(common::HANG)
            .env_remove("RUST_LOG")
            .arg("-c")
            .arg(r#"ulimit -n 256 && exec "$0" bench --embedded --servers 20 --duration 0.2"#)
            .arg(mmpool_path()),
    );
    r.expect_code(2);
    let line = r.one_error_line();
    assert!(line.starts_with("error: --servers 20 needs"), "{r:#?}");
    assert!(
        line.contains("open files") && line.contains("256"),
        "{r:#?}"
    );
    assert_eq!(r.stdout, "", "{r:#?}");
}

#[test]
fn the_longest_durations_are_accepted_and_work() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let r = run(&[
        "call",
        "--server",
        &s,
        "--timeout",
        MAX_SECONDS,
        "--invokation-timeout",
        MAX_SECONDS,
        "--execution-timeout",
        MAX_SECONDS,
        "srv",
        "readproperty",
        "number",
    ]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5));
    let r = run(&[
        "all",
        "--server",
        &s,
        "--timeout",
        MAX_SECONDS,
        "--execution-timeout",
        MAX_SECONDS,
        "readproperty",
        "number",
    ]);
    r.expect_code(0);
    assert_eq!(r.json(), json!({"srv": {"ok": 1.5}}));
    let r = run(&[
        "bench",
        "--server",
        &s,
        "--connect-timeout",
        MAX_SECONDS,
        "--timeout",
        MAX_SECONDS,
        "--invokation-timeout",
        MAX_SECONDS,
        "--warmup",
        "0",
        "--duration",
        "0.3",
        "--inflight",
        "4",
        "--json",
    ]);
    r.expect_code(0);
    assert_eq!(r.json()["errors"], json!(0), "{r:#?}");
}
