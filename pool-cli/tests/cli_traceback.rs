//! `--traceback`: a remote exception's traceback and notes after its `Type: message` line
//! (`call`, `describe`), or in its JSON error object (`all`); nothing more without the flag.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.
// Starts `mmpool serve`: needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use common::{run, serve, Background};
use serde_json::json;

/// `mmpool serve` on a free tcp port, and its `--server` argument.
fn served() -> (Background, String) {
    let (serve, endpoints) = serve(&["--bind", "tcp://127.0.0.1:0", "--id", "srv"]);
    (serve, format!("srv={}", endpoints[0]))
}

#[test]
fn call_prints_the_traceback_and_notes_only_when_asked() {
    let (_serve, server) = served();
    let payload = r#"{"message": "boom", "note": "the note\nof two lines"}"#;
    let action = ["srv", "invokeaction", "fail_with_notes", payload];
    let plain = run(&[&["call", "--server", &server][..], &action].concat());
    plain.expect_code(3);
    assert_eq!(plain.one_error_line(), "ValueError: boom");
    let r = run(&[&["call", "--server", &server, "--traceback"][..], &action].concat());
    r.expect_code(3);
    assert_eq!(
        r.stderr_lines(),
        [
            "ValueError: boom",
            "Traceback (most recent call last):",
            "  File \"pool_testkit/thing.rs\", line 1, in execute_operation",
            "ValueError: boom",
            "the note",
            "of two lines",
        ],
        "{r:#?}"
    );
    assert_eq!(r.stdout, "", "{r:#?}");
}

#[test]
fn server_text_in_a_traceback_is_escaped() {
    let (_serve, server) = served();
    let payload = r#"{"message": "a\u001b[2Jb\rc"}"#;
    let r = run(&[
        "call",
        "--server",
        &server,
        "--traceback",
        "srv",
        "invokeaction",
        "fail",
        payload,
    ]);
    r.expect_code(3);
    assert!(
        !r.stderr.contains('\x1b') && !r.stderr.contains('\r'),
        "{r:#?}"
    );
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 4, "{r:#?}");
    assert_eq!(lines[3], "ValueError: a\\u{1b}[2Jb\\rc", "{r:#?}");
}

#[test]
fn a_reply_or_another_error_is_unchanged_by_the_flag() {
    let (_serve, server) = served();
    let r = run(&[
        "call",
        "--server",
        &server,
        "--traceback",
        "srv",
        "readproperty",
        "number",
    ]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5));
    assert_eq!(r.stderr, "", "{r:#?}");
    // An unknown Thing is INVALID_MESSAGE (exit 7): one line, its traceback is not printed.
    let r = run(&[
        "call",
        "--server",
        &server,
        "--traceback",
        "nosuch",
        "readproperty",
        "number",
    ]);
    r.expect_code(7);
    r.one_error_line();
}

#[test]
fn all_puts_the_traceback_and_notes_in_the_error_object() {
    let (_serve, server) = served();
    let payload = r#"{"message": "boom", "note": "n1"}"#;
    let args = [
        "all",
        "--server",
        &server,
        "invokeaction",
        "fail_with_notes",
        payload,
    ];
    let plain = run(&args);
    plain.expect_code(3);
    let error = &plain.json()["srv"]["error"];
    assert_eq!(
        error,
        &json!({"kind": "remote_exception", "message": "ValueError: boom"})
    );
    let r = run(&[&args[..3], &["--traceback"], &args[3..]].concat());
    r.expect_code(3);
    let error = &r.json()["srv"]["error"];
    assert_eq!(error["notes"], json!(["n1"]), "{r:#?}");
    assert_eq!(
        error["traceback"][0], "Traceback (most recent call last):",
        "{r:#?}"
    );
    assert_eq!(error["traceback"][2], "ValueError: boom", "{r:#?}");
}
