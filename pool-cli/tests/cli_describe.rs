//! `mmpool describe` against `mmpool serve` (the fake hololinked server as a process), over tcp
//! and ipc: the summary names the fake Thing's properties and actions, `--json` is the
//! Description itself; errors exit as `mmpool call`'s do.
//!
//! The fake answers `get_thing_description` once pool-testkit's fake Thing describes itself
//! (another branch); until then the two `describes_*` tests fail with its `KeyError` (exit 3).
//!
//! Deadlines only bound hangs; nothing here asserts a duration.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use common::{closed_tcp_endpoint, run, serve, Run};
use serde_json::Value;

/// A served Thing's Description, fetched from every endpoint of one `mmpool serve`.
fn describe_everywhere(extra: &[&str]) -> Vec<Run> {
    let dir = tempfile::tempdir().unwrap();
    let ipc = format!("ipc://{}", dir.path().join("describe.ipc").display());
    let (_serve, endpoints) = serve(&[
        "--bind",
        "tcp://127.0.0.1:0",
        "--bind",
        &ipc,
        "--id",
        "served",
    ]);
    assert_eq!(endpoints[1], ipc);
    endpoints
        .iter()
        .map(|endpoint| {
            let s = format!("served={endpoint}");
            run(&[&["describe", "--server", &s, "served"], extra].concat())
        })
        .collect()
}

/// The row of a summary's section `section` that starts with `name`.
fn row<'a>(r: &'a Run, section: &str, name: &str) -> &'a str {
    r.stdout
        .lines()
        .skip_while(|l| *l != section)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name:?} in {section}; {r:#?}"))
}

#[test]
fn describes_the_served_thing_over_tcp_and_ipc() {
    for r in describe_everywhere(&[]) {
        r.expect_code(0);
        assert_eq!(r.stderr, "", "{r:#?}");
        assert!(r.stdout.starts_with("thing        served\n"), "{r:#?}");
        let number = row(&r, "properties", "number");
        assert!(
            number.contains(" number ") && number.contains("writable"),
            "{r:#?}"
        );
        assert!(row(&r, "properties", "text").contains("writable"), "{r:#?}");
        assert!(
            row(&r, "properties", "state").contains("read-only"),
            "{r:#?}"
        );
        for action in ["add", "echo", "fail"] {
            row(&r, "actions", action);
        }
        assert!(r.stdout.contains("\nevents\n"), "{r:#?}");
        assert!(r.stdout.contains("\nreached at\n"), "{r:#?}");
    }
}

#[test]
fn describes_as_json_over_tcp_and_ipc() {
    for r in describe_everywhere(&["--json"]) {
        r.expect_code(0);
        let td: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}); {r:#?}"));
        let properties = td["properties"].as_object().expect("properties");
        for name in ["number", "text", "state"] {
            assert!(properties.contains_key(name), "{name}: {td}");
        }
        assert!(td["actions"].get("add").is_some(), "{td}");
        // Pretty: one member per line.
        assert!(r.stdout.lines().count() > 10, "{r:#?}");
    }
}

#[test]
fn errors_exit_as_calls_do() {
    let r = run(&[
        "describe",
        "--server",
        &format!("gone={}", closed_tcp_endpoint()),
        "--timeout",
        "1",
        "gone",
    ]);
    r.expect_code(6);
    assert!(r.one_error_line().contains("never became ready"), "{r:#?}");
    assert_eq!(r.stdout, "");
    // A Thing none of several servers was told about: a usage error, before any request.
    let r = run(&[
        "describe",
        "--server",
        "a=tcp://127.0.0.1:1",
        "--server",
        "b=tcp://127.0.0.1:1",
        "nosuch",
    ]);
    r.expect_code(2);
    assert!(r.one_error_line().starts_with("error: "), "{r:#?}");
    // Bad arguments.
    run(&["describe", "--server", "a=tcp://127.0.0.1:1"]).expect_code(2);
    run(&[
        "describe",
        "--server",
        "a=tcp://127.0.0.1:1",
        "--timeout",
        "-1",
        "a",
    ])
    .expect_code(2);
}

#[test]
fn an_unknown_thing_on_a_served_server_exits_7() {
    let (_serve, endpoints) = serve(&["--bind", "tcp://127.0.0.1:0", "--id", "served"]);
    let s = format!("served={}", endpoints[0]);
    let r = run(&["describe", "--server", &s, "nosuch", "--timeout", "5"]);
    r.expect_code(7);
    r.one_error_line();
}
