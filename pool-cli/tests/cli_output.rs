//! Output that cannot be written: stdout on a full disk (`/dev/full`) ends every subcommand with
//! one `error: cannot write output: ...` line and exit 1; stdout a pipe whose reader is gone
//! ends it quietly with exit 141; a full stderr is not a panic either.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{mmpool_path, server_arg, tcp_server, wait_bounded, Run};
use pool_testkit::{Behaviour, ServerConfig, TestServer};

/// `/dev/full`: every write fails with ENOSPC.
fn dev_full() -> Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full can be opened")
        .into()
}

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer.into()
}

/// Runs `mmpool ARGS` with the given stdout and stderr (stderr piped when `None`), bounded.
fn run_to(args: &[&str], stdout: Stdio, stderr: Option<Stdio>) -> Run {
    let mut child = Command::new(mmpool_path())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr.unwrap_or_else(Stdio::piped))
        .spawn()
        .expect("mmpool can be started");
    let status = wait_bounded(&mut child);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("stderr is text");
    }
    Run {
        code: status.code(),
        stdout: String::new(),
        stderr,
    }
}

/// Asserts the one-line write error and exit 1.
#[track_caller]
fn expect_write_error(r: &Run) {
    r.expect_code(1);
    let line = r.one_error_line();
    assert!(line.starts_with("error: cannot write output: "), "{r:#?}");
    assert!(line.contains("No space left on device"), "{r:#?}");
}

/// Asserts a quiet exit 141.
#[track_caller]
fn expect_quiet_141(r: &Run) {
    r.expect_code(141);
    assert_eq!(r.stderr, "", "no message for a closed pipe: {r:#?}");
}

/// BUG: `call`'s and `all`'s `println!` panicked ("failed printing to stdout", exit 101).
#[test]
fn call_and_all_on_a_full_disk_exit_1_with_one_error_line() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let read = ["call", "--server", &s, "srv", "readproperty", "number"];
    expect_write_error(&run_to(&read, dev_full(), None));
    let raw = [
        "call",
        "--server",
        &s,
        "--raw",
        "srv",
        "readproperty",
        "number",
    ];
    expect_write_error(&run_to(&raw, dev_full(), None));
    let all = ["all", "--server", &s, "readproperty", "number"];
    expect_write_error(&run_to(&all, dev_full(), None));
    // A failed request with nothing for stdout keeps its own exit code.
    let fail = ["call", "--server", &s, "srv", "invokeaction", "fail"];
    let r = run_to(&fail, dev_full(), None);
    r.expect_code(3);
    assert_eq!(r.one_error_line(), "ValueError: deliberate failure");
}

/// BUG: as for a full disk, but `println!`'s panic on EPIPE; `| head -c0` printed a panic.
#[test]
fn call_and_all_into_a_closed_pipe_exit_141_quietly() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    for args in [
        vec!["call", "--server", &s, "srv", "readproperty", "number"],
        vec![
            "call",
            "--server",
            &s,
            "--raw",
            "srv",
            "invokeaction",
            "get_bytes",
        ],
        vec!["all", "--server", &s, "readproperty", "number"],
    ] {
        expect_quiet_141(&run_to(&args, closed_pipe(), None));
    }
}

/// The reader goes away while the request is in flight (as `mmpool call ... | head -c0`
/// against a slow server): the reply then meets a closed pipe.
#[test]
fn a_reader_gone_while_the_request_is_in_flight_is_a_quiet_141() {
    let server = TestServer::start(
        ServerConfig::builder("slow")
            .tcp()
            .behaviour(Behaviour::Delay(Duration::from_millis(300)))
            .build(),
    )
    .unwrap();
    let s = server_arg(&server);
    let mut child = Command::new(mmpool_path())
        .args(["call", "--server", &s, "slow", "readproperty", "number"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mmpool can be started");
    drop(child.stdout.take());
    let status = wait_bounded(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "");
}

/// BUG: bench's table and `--json` were `print!`/`println!` (a panic after the whole run).
#[test]
fn bench_reports_on_a_full_disk_or_a_closed_pipe() {
    let base = ["bench", "--embedded", "--duration", "0.2", "--warmup", "0"];
    let json = [&base[..], &["--json"]].concat();
    expect_write_error(&run_to(&base, dev_full(), None));
    expect_write_error(&run_to(&json, dev_full(), None));
    expect_quiet_141(&run_to(&base, closed_pipe(), None));
    expect_quiet_141(&run_to(&json, closed_pipe(), None));
}

/// BUG: `serve`'s READY line was a `println!`: a panic (exit 101) when it cannot be written. Now
/// the server stops at once (whoever waits for READY would never learn it is up).
#[test]
fn serve_that_cannot_say_ready_stops() {
    let args = ["serve", "--bind", "tcp://127.0.0.1:0", "--id", "mute"];
    expect_write_error(&run_to(&args, dev_full(), None));
    expect_quiet_141(&run_to(&args, closed_pipe(), None));
}

/// BUG: the demo's `println!`s panicked at the first line; now it stops there.
#[test]
fn demo_on_a_full_disk_or_a_closed_pipe_stops_at_once() {
    let args = ["demo", "--load-secs", "0.1", "--inflight", "5"];
    expect_write_error(&run_to(&args, dev_full(), None));
    expect_quiet_141(&run_to(&args, closed_pipe(), None));
}

/// BUG: `eprintln!` panicked too when stderr could not be written; the exit code still tells.
#[test]
fn a_full_stderr_is_not_a_panic() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let fail = ["call", "--server", &s, "srv", "invokeaction", "fail"];
    run_to(&fail, Stdio::null(), Some(dev_full())).expect_code(3);
    let usage = [
        "call",
        "--server",
        &s,
        "srv",
        "writeproperty",
        "number",
        "{x",
    ];
    run_to(&usage, Stdio::null(), Some(dev_full())).expect_code(2);
    let bytes = ["call", "--server", &s, "srv", "invokeaction", "get_bytes"];
    run_to(&bytes, Stdio::null(), Some(dev_full())).expect_code(0);
}

#[test]
fn the_output_exit_codes_are_documented() {
    for sub in ["call", "all", "serve", "demo", "bench"] {
        let r = common::run(&[sub, "--help"]);
        r.expect_code(0);
        let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("1 cannot write output")
                || help.contains("1 a check failed or the output cannot be written")
                || help.contains("1 the report cannot be written"),
            "{sub} --help lacks exit 1: {help}"
        );
        assert!(help.contains("141 "), "{sub} --help lacks exit 141: {help}");
    }
}
