//! The payload of `call` and `all` from a file (`@PATH`) or stdin (`-`), against in-process
//! fake servers (pool-testkit); a file that cannot be read or holds no JSON is a usage error
//! naming it, before anything connects.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use std::io::Write;

use common::{closed_tcp_endpoint, mmpool, run, run_with, server_arg, tcp_server};
use serde_json::json;

/// A temporary file holding `contents`.
fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(contents).expect("the file can be written");
    file
}

#[test]
fn a_payload_file_is_sent() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let file = file_with(b"{\"value\": {\"from\": \"file\", \"n\": [1, 2]}}\n");
    let arg = format!("@{}", file.path().display());
    let r = run(&["call", "--server", &s, "srv", "invokeaction", "echo", &arg]);
    r.expect_code(0);
    assert_eq!(r.json(), json!({"from": "file", "n": [1, 2]}));
    // writeproperty's value, and `all` likewise.
    let value = file_with(b"7.25");
    let arg = format!("@{}", value.path().display());
    run(&["all", "--server", &s, "writeproperty", "number", &arg]).expect_code(0);
    let r = run(&["call", "--server", &s, "srv", "readproperty", "number"]);
    assert_eq!(r.expect_code(0).json(), json!(7.25));
}

#[test]
fn a_dash_reads_the_payload_from_stdin() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let mut cmd = mmpool();
    cmd.args(["call", "--server", &s, "srv", "invokeaction", "echo", "-"])
        .write_stdin("{\"value\": \"from stdin\"}");
    let r = run_with(&mut cmd);
    r.expect_code(0);
    assert_eq!(r.json(), json!("from stdin"));
    // A whole-Thing operation's one argument is the payload: `-` there too.
    let mut cmd = mmpool();
    cmd.args(["all", "--server", &s, "writeallproperties", "-"])
        .write_stdin("{\"number\": 3}");
    run_with(&mut cmd).expect_code(0);
    let r = run(&["call", "--server", &s, "srv", "readproperty", "number"]);
    assert_eq!(r.expect_code(0).json(), json!(3));
}

#[test]
fn a_missing_payload_file_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("no-such-payload.json");
    let arg = format!("@{}", missing.display());
    let server = format!("srv={}", closed_tcp_endpoint());
    for command in ["call", "all"] {
        let mut args = vec![command, "--server", &server];
        if command == "call" {
            args.push("srv");
        }
        args.extend(["invokeaction", "echo", &arg]);
        let r = run(&args);
        r.expect_code(2);
        let line = r.one_error_line();
        assert!(
            line.starts_with("error: cannot read the payload file"),
            "{r:#?}"
        );
        assert!(line.contains("no-such-payload.json"), "{r:#?}");
    }
}

#[test]
fn a_payload_file_without_json_is_a_usage_error_naming_it() {
    let file = file_with(b"{\"value\": ");
    let arg = format!("@{}", file.path().display());
    let server = format!("srv={}", closed_tcp_endpoint());
    let r = run(&[
        "call",
        "--server",
        &server,
        "srv",
        "invokeaction",
        "echo",
        &arg,
    ]);
    r.expect_code(2);
    let line = r.one_error_line();
    let name = file.path().file_name().unwrap().to_string_lossy();
    assert!(
        line.contains("is not JSON") && line.contains(&*name),
        "{r:#?}"
    );
    // Stdin likewise.
    let mut cmd = mmpool();
    cmd.args([
        "call",
        "--server",
        &server,
        "srv",
        "invokeaction",
        "echo",
        "-",
    ])
    .write_stdin("not json");
    let r = run_with(&mut cmd);
    r.expect_code(2);
    assert!(
        r.one_error_line()
            .contains("the payload on stdin is not JSON"),
        "{r:#?}"
    );
}
