//! `mmpool call` and `mmpool all` against REAL hololinked servers, 0.4.2 and 0.3.12 (Python
//! subprocesses from pool-testkit's python harness, over tcp). Needs the venvs from
//! `scripts/python-venvs.sh`; `MMPOOL_SKIP_PYTHON_INTEROP=1` skips on purpose.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use common::{run, Run};
use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::Transport;
use serde_json::json;

/// The server id; it is also one of the Things, so that `mmpool all` (which asks every server's
/// own id) gets an answer from every Thing.
const ID: &str = "clilive";

fn call(server: &PythonServer, rest: &[&str]) -> Run {
    let s = format!("{}={}", server.id(), server.endpoint());
    let r = run(&[&["call", "--server", &s, "--timeout", "30"], rest].concat());
    if r.code.is_none() {
        panic!(
            "mmpool was killed; {r:#?}\nserver: {}",
            server.stderr_tail()
        );
    }
    r
}

fn exercise(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = PythonServer::start(line, ID, &[ID, "beta"], Transport::Tcp)
        .unwrap_or_else(|e| panic!("starting a hololinked {line} server: {e}"));
    let ctx = format!("hololinked {}", server.version());

    // Properties.
    let r = call(&server, &[ID, "readproperty", "number"]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5), "{ctx}");
    call(&server, &[ID, "writeproperty", "number", "4.5"]).expect_code(0);
    let r = call(&server, &[ID, "readproperty", "number"]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(4.5), "{ctx}");
    // Other Things are reached through the single server; they keep their own state.
    let r = call(&server, &["beta", "readproperty", "number"]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5), "{ctx}");
    call(&server, &["beta", "writeproperty", "text", "\"β\""]).expect_code(0);
    let r = call(&server, &["beta", "readproperty", "text"]);
    assert_eq!(r.json(), json!("β"), "{ctx}");

    // Actions.
    let r = call(&server, &[ID, "invokeaction", "add", r#"{"a": 1, "b": 2}"#]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(3), "{ctx}");
    let r = call(&server, &["--raw", "beta", "invokeaction", "get_bytes"]);
    r.expect_code(0);
    assert_eq!(r.stdout_lines(), ["null", "\"AAEC\""], "{ctx}: {r:#?}");

    // A remote exception: exit 3, `Type: message`, one line.
    let r = call(
        &server,
        &[ID, "invokeaction", "fail", r#"{"message":"boom"}"#],
    );
    r.expect_code(3);
    assert_eq!(r.one_error_line(), "ValueError: boom", "{ctx}");
    assert_eq!(r.stdout, "", "{ctx}");

    // A server-side execution timeout: exit 4.
    let r = call(
        &server,
        &[
            "--execution-timeout",
            "0.3",
            "beta",
            "invokeaction",
            "sleep_for",
            r#"{"seconds": 1.5}"#,
        ],
    );
    r.expect_code(4);
    assert!(r.one_error_line().contains("execution"), "{ctx}: {r:#?}");

    // An unknown Thing: the server answers INVALID_MESSAGE, exit 7.
    let r = call(&server, &["nosuchthing", "readproperty", "number"]);
    r.expect_code(7);
    r.one_error_line();

    // Every Thing at once.
    let s = format!("{}={}", server.id(), server.endpoint());
    let all = |rest: &[&str]| {
        run(&[
            &[
                "all",
                "--server",
                s.as_str(),
                "--thing",
                "beta=clilive",
                "--timeout",
                "30",
            ],
            rest,
        ]
        .concat())
    };
    let r = all(&["readproperty", "number"]);
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({ID: {"ok": 4.5}, "beta": {"ok": 1.5}}),
        "{ctx}"
    );
    let r = all(&["invokeaction", "fail", r#"{"message":"boom"}"#]);
    r.expect_code(3);
    let object = r.json();
    for thing in [ID, "beta"] {
        assert_eq!(
            object[thing]["error"],
            json!({"kind": "remote_exception", "message": "ValueError: boom"}),
            "{ctx}: {object}"
        );
    }
}

#[test]
fn cli_against_real_hololinked_0_4() {
    exercise(Line::V0_4);
}

#[test]
fn cli_against_real_hololinked_0_3() {
    exercise(Line::V0_3);
}
