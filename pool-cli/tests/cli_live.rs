//! `mmpool call`, `mmpool all` and `mmpool watch` against REAL hololinked servers, 0.4.2 and
//! 0.3.12 (Python subprocesses from pool-testkit's python harness, over tcp). Needs the venvs
//! from `scripts/python-venvs.sh`; `MMPOOL_SKIP_PYTHON_INTEROP=1` skips on purpose.
//!
//! Deadlines only bound hangs; nothing here asserts a duration.

mod common;

use std::time::Duration;

use common::{run, Background, Run};
use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::Transport;
use serde_json::{json, Value};

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

/// The server id of the events tests.
const EVENTS_ID: &str = "clievents";

/// `mmpool watch` of a real server's events: a Thing pushing `tick` ({"n": i}) from its own
/// thread (`start_ticks`), and the observable property `level` (`level_change_event`).
fn watch_events(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = PythonServer::start(line, EVENTS_ID, &[], Transport::Tcp)
        .unwrap_or_else(|e| panic!("starting a hololinked {line} server: {e}"));
    let ctx = format!("hololinked {}", server.version());
    let s = format!("{}={}", server.id(), server.endpoint());
    let publisher = format!("{}={}", server.id(), server.event_endpoint());
    call(
        &server,
        &[
            EVENTS_ID,
            "invokeaction",
            "start_ticks",
            r#"{"interval": 0.01}"#,
        ],
    )
    .expect_code(0);
    let r = run(&[
        "watch",
        "--server",
        &s,
        "--publisher",
        &publisher,
        EVENTS_ID,
        "tick",
        "--count",
        "3",
    ]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{ctx}: {r:#?}");
    let lines: Vec<Value> = r
        .stdout_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{ctx}: {e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 3, "{ctx}: {r:#?}");
    let mut last_n = None;
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["kind"], "event", "{ctx}: {line}");
        assert_eq!(line["thing"], EVENTS_ID, "{ctx}: {line}");
        assert_eq!(line["event"], format!("{EVENTS_ID}/tick"), "{ctx}: {line}");
        assert_eq!(line["seq"].as_u64(), Some(i as u64 + 1), "{ctx}: {line}");
        // hololinked's uuid4 message id.
        assert_eq!(
            line["message_id"].as_str().map(str::len),
            Some(36),
            "{ctx}: {line}"
        );
        let n = line["payload"]["n"].as_u64().expect("payload {\"n\": i}");
        assert!(last_n.is_none_or(|last| n > last), "{ctx}: {lines:?}");
        last_n = Some(n);
    }
    call(&server, &[EVENTS_ID, "invokeaction", "stop_ticks"]).expect_code(0);

    // An observable property: a write publishes its new value. Writes before the
    // subscription reaches the publisher are lost (PUB/SUB), so write until one comes.
    let mut watch = Background::spawn(&[
        "watch",
        "--server",
        &s,
        EVENTS_ID,
        "--property",
        "level",
        "--count",
        "1",
    ]);
    let mut written = Vec::new();
    let line = loop {
        let value = written.len() as f64 + 0.5;
        call(
            &server,
            &[EVENTS_ID, "writeproperty", "level", &value.to_string()],
        )
        .expect_code(0);
        written.push(json!(value));
        if let Some(line) = watch.next_line_within(Duration::from_millis(300)) {
            break line;
        }
        assert!(written.len() < 200, "{ctx}: no level_change_event");
    };
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        event["event"],
        format!("{EVENTS_ID}/level_change_event"),
        "{ctx}: {event}"
    );
    assert!(written.contains(&event["payload"]), "{ctx}: {event}");
    watch.finish().expect_code(0);
}

#[test]
fn watch_against_real_hololinked_0_4() {
    watch_events(Line::V0_4);
}

#[test]
fn watch_against_real_hololinked_0_3() {
    watch_events(Line::V0_3);
}

/// The server id of the describe tests.
const DESCRIBE_ID: &str = "clidescribe";

/// The section `section` of a `describe` summary: its rows' first words and the rows.
fn section<'a>(r: &'a Run, section: &str) -> Vec<(&'a str, &'a str)> {
    r.stdout
        .lines()
        .skip_while(|l| *l != section)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| (l.split_whitespace().next().unwrap_or_default(), l))
        .collect()
}

/// `mmpool describe` of a real HarnessThing over `transport`: the summary and `--json`.
fn describe_real(line: Line, transport: Transport) {
    if interop_skipped() {
        return;
    }
    let server = PythonServer::start(line, DESCRIBE_ID, &[], transport)
        .unwrap_or_else(|e| panic!("starting a hololinked {line} server: {e}"));
    let ctx = format!("hololinked {} over {}", server.version(), transport.name());
    let s = format!("{}={}", server.id(), server.endpoint());
    let r = run(&["describe", "--server", &s, DESCRIBE_ID, "--timeout", "30"]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{ctx}: {r:#?}");
    assert!(
        r.stdout
            .starts_with(&format!("thing        {DESCRIBE_ID}\n")),
        "{ctx}: {r:#?}"
    );
    let properties = section(&r, "properties");
    let property = |name: &str| {
        properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, row)| *row)
            .unwrap_or_else(|| panic!("{ctx}: no property {name}; {r:#?}"))
    };
    assert!(property("number").contains("writable"), "{ctx}: {r:#?}");
    assert!(property("text").contains("writable"), "{ctx}: {r:#?}");
    assert!(property("level").contains("observable"), "{ctx}: {r:#?}");
    // hololinked 0.3.12 leaves `state` (no state machine) out of the Description.
    if line == Line::V0_4 || properties.iter().any(|(n, _)| *n == "state") {
        assert!(property("state").contains("read-only"), "{ctx}: {r:#?}");
    }
    let actions: Vec<&str> = section(&r, "actions").iter().map(|(n, _)| *n).collect();
    for action in ["echo", "add", "sleep_for", "fail"] {
        assert!(
            actions.contains(&action),
            "{ctx}: no action {action}; {r:#?}"
        );
    }
    let events: Vec<&str> = section(&r, "events").iter().map(|(n, _)| *n).collect();
    assert!(events.contains(&"tick"), "{ctx}: {r:#?}");
    // The forms name the endpoint the Description was asked over.
    let hrefs: Vec<&str> = section(&r, "reached at").iter().map(|(n, _)| *n).collect();
    assert!(
        hrefs.contains(&server.endpoint()),
        "{ctx}: {hrefs:?}; {r:#?}"
    );

    let r = run(&[
        "describe",
        "--server",
        &s,
        DESCRIBE_ID,
        "--json",
        "--timeout",
        "30",
    ]);
    r.expect_code(0);
    let td: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{ctx}: not one JSON document ({e}); {r:#?}"));
    assert_eq!(td["id"], DESCRIBE_ID, "{ctx}");
    for name in ["number", "text", "level"] {
        assert!(td["properties"].get(name).is_some(), "{ctx}: {name}");
    }
    assert!(td["actions"].get("add").is_some(), "{ctx}");
    assert!(td["events"].get("tick").is_some(), "{ctx}");
}

#[test]
fn describe_real_hololinked_0_4_over_tcp() {
    describe_real(Line::V0_4, Transport::Tcp);
}

#[test]
fn describe_real_hololinked_0_4_over_ipc() {
    describe_real(Line::V0_4, Transport::Ipc);
}

#[test]
fn describe_real_hololinked_0_3_over_tcp() {
    describe_real(Line::V0_3, Transport::Tcp);
}

#[test]
fn describe_real_hololinked_0_3_over_ipc() {
    describe_real(Line::V0_3, Transport::Ipc);
}
