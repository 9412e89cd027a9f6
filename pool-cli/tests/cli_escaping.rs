//! Text from a server never reaches the terminal raw: a remote exception whose message holds
//! ESC, BEL, CR, newlines, DEL, C1 or bidi controls is printed with them escaped (stderr of
//! `call`), or as JSON with every one of them a `\u` escape (`all`).
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use common::{mmpool, run, server_arg, tcp_server};
use serde_json::{json, Value};

/// A message that would clear the screen, ring, overwrite the line, fake a second line, open a
/// C1 CSI and reverse the rest of the line, if printed raw.
const HOSTILE: &str = "\x1b[2J\x1b[31mred\x07 ok\rfake\nerror: none\u{9b}1m\x7f\u{202e}txet";

/// Asserts `bytes` is UTF-8 with no control character other than line ends, and no bidi
/// control.
#[track_caller]
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (i, c) in text.char_indices() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            c == '\n' || !(c.is_control() || bidi),
            "{what}: raw {c:?} at byte {i}: {text:?}"
        );
    }
}

/// BUG: `call` printed the exception's type and message raw on stderr.
#[test]
fn a_remote_exception_is_printed_with_its_controls_escaped() {
    let server = tcp_server("srv", &[]);
    let s = server_arg(&server);
    let payload = json!({ "message": HOSTILE }).to_string();
    let out = mmpool()
        .args([
            "call",
            "--server",
            &s,
            "srv",
            "invokeaction",
            "fail",
            &payload,
        ])
        .output()
        .expect("mmpool runs");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_terminal_safe("stderr", &out.stderr);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "ValueError: \\u{1b}[2J\\u{1b}[31mred\\u{7} ok\\rfake\\nerror: none\\u{9b}1m\\u{7f}\
         \\u{202e}txet\n"
    );
}

/// BUG: `all` escaped C0 controls (serde_json does) but wrote DEL, C1 and bidi controls raw.
#[test]
fn all_writes_exception_text_as_json_with_every_control_escaped() {
    let server = tcp_server("srv", &[]);
    let payload = json!({ "message": HOSTILE }).to_string();
    let out = mmpool()
        .args([
            "all",
            "--server",
            &server_arg(&server),
            "invokeaction",
            "fail",
            &payload,
        ])
        .output()
        .expect("mmpool runs");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_terminal_safe("stdout", &out.stdout);
    let object: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(
        object,
        json!({"srv": {"error": {
            "kind": "remote_exception",
            "message": format!("ValueError: {HOSTILE}"),
        }}})
    );
}

/// An INVALID_MESSAGE answer names the Thing (here one whose id holds an ESC): the line stays
/// one line, escaped.
#[test]
fn an_invalid_message_answer_is_escaped_too() {
    let server = tcp_server("srv", &[]);
    let out = mmpool()
        .args([
            "call",
            "--server",
            &server_arg(&server),
            "\x1b[2Jghost\r",
            "readproperty",
            "number",
        ])
        .output()
        .expect("mmpool runs");
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_terminal_safe("stderr", &out.stderr);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains("\\u{1b}[2Jghost\\r"), "{stderr:?}");
    assert!(stderr.contains("INVALID_MESSAGE"), "{stderr:?}");
}

/// The escaping is for the terminal only: ordinary text (non-ASCII, backslashes) is unchanged.
#[test]
fn ordinary_exception_text_is_unchanged() {
    let server = tcp_server("srv", &[]);
    let message = r"C:\data\run 7 — β γ ✓";
    let payload = json!({ "message": message }).to_string();
    let r = run(&[
        "call",
        "--server",
        &server_arg(&server),
        "srv",
        "invokeaction",
        "fail",
        &payload,
    ]);
    r.expect_code(3);
    assert_eq!(r.one_error_line(), format!("ValueError: {message}"));
}
