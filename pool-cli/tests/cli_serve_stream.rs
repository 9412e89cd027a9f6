//! `mmpool serve --stream THING/EVENT[@RATE]` and `--observable NAME`: the served server
//! publishes a steady `{"n":k}` stream (and property changes), and says where after its READY
//! lines (`PUBLISHER <id> <endpoint>`); checked from `mmpool watch`.
//!
//! Deadlines only bound hangs; nothing here asserts a duration or a rate.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use std::time::Duration;

use common::{run, Background, Run};
use serde_json::{json, Value};

/// Reads `n` READY lines, then `n` PUBLISHER lines of server `id`: (request, publisher)
/// endpoints in --bind order.
fn ready_and_publishers(serve: &mut Background, id: &str, n: usize) -> Vec<(String, String)> {
    let mut line = || serve.next_line().expect("mmpool serve printed a line");
    let ready: Vec<String> = (0..n)
        .map(|_| {
            let l = line();
            l.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("not a READY line: {l:?}"))
                .to_owned()
        })
        .collect();
    let publishers: Vec<String> = (0..n)
        .map(|_| {
            let l = line();
            let rest = l
                .strip_prefix("PUBLISHER ")
                .unwrap_or_else(|| panic!("not a PUBLISHER line: {l:?}"));
            let (who, endpoint) = rest.split_once(' ').expect("PUBLISHER <id> <endpoint>");
            assert_eq!(who, id, "{l:?}");
            endpoint.to_owned()
        })
        .collect();
    ready.into_iter().zip(publishers).collect()
}

/// The JSON lines of a watch run, each checked to be an event; their `payload`s.
#[track_caller]
fn event_payloads(r: &Run) -> Vec<Value> {
    r.stdout_lines()
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            assert_eq!(v["kind"], "event", "{v}");
            v["payload"].clone()
        })
        .collect()
}

/// `n` of each `{"n":k}` payload, asserted strictly increasing.
#[track_caller]
fn increasing_n(payloads: &[Value]) -> Vec<u64> {
    let ns: Vec<u64> = payloads
        .iter()
        .map(|p| p["n"].as_u64().unwrap_or_else(|| panic!("no n: {p}")))
        .collect();
    assert!(ns.windows(2).all(|w| w[0] < w[1]), "{ns:?}");
    ns
}

#[test]
fn a_stream_at_a_rate_is_watched_from_the_announced_publisher() {
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "srv",
        "--stream",
        "srv/tick@200",
    ]);
    let (endpoint, publisher) = ready_and_publishers(&mut serve, "srv", 1).remove(0);
    // The publisher binds the request port + 1 (hololinked's convention), a real port.
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(publisher, format!("tcp://127.0.0.1:{}", port + 1));

    let server = format!("srv={endpoint}");
    let publisher_arg = format!("srv={publisher}");
    let r = run(&[
        "watch",
        "--server",
        &server,
        "--publisher",
        &publisher_arg,
        "srv",
        "tick",
        "--count",
        "3",
    ]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{r:#?}");
    let payloads = event_payloads(&r);
    assert_eq!(payloads.len(), 3, "{r:#?}");
    increasing_n(&payloads);
    // The convention finds the same publisher without --publisher.
    let r = run(&["watch", "--server", &server, "srv", "tick", "--count", "2"]);
    r.expect_code(0);
    increasing_n(&event_payloads(&r));

    // The served Thing still answers requests.
    let r = run(&["call", "--server", &server, "srv", "readproperty", "number"]);
    r.expect_code(0);
    assert_eq!(r.json(), json!(1.5));
    serve.signal("TERM");
    serve.finish().expect_code(0);
}

#[test]
fn streams_of_two_things_over_tcp_and_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = format!("ipc://{}", dir.path().join("two.ipc").display());
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--bind",
        &ipc,
        "--id",
        "two",
        "--things",
        "a,b",
        "--stream",
        "a/tick@100",
        "--stream",
        "b/tock",
    ]);
    let endpoints = ready_and_publishers(&mut serve, "two", 2);
    let (tcp, tcp_publisher) = &endpoints[0];
    let (ipc_endpoint, ipc_publisher) = &endpoints[1];
    assert_eq!(ipc_endpoint, &ipc);
    let ipc_dir = format!("ipc://{}/", dir.path().display());
    assert!(
        ipc_publisher.starts_with(&ipc_dir) && ipc_publisher.ends_with(".event-publisher.ipc"),
        "beside the ipc socket: {ipc_publisher}"
    );
    assert!(
        tcp_publisher.starts_with("tcp://127.0.0.1:"),
        "{endpoints:?}"
    );

    // Thing a's stream over tcp, b's (as fast as possible) over ipc.
    let r = run(&[
        "watch",
        "--server",
        &format!("two={tcp}"),
        "--publisher",
        &format!("two={tcp_publisher}"),
        "a",
        "tick",
        "--count",
        "2",
    ]);
    r.expect_code(0);
    let lines: Vec<Value> = r
        .stdout_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["thing"] == "a"), "{lines:?}");
    increasing_n(&event_payloads(&r));
    let r = run(&[
        "watch",
        "--server",
        &format!("two={ipc}"),
        "--publisher",
        &format!("two={ipc_publisher}"),
        "b",
        "tock",
        "--count",
        "5",
    ]);
    r.expect_code(0);
    let payloads = event_payloads(&r);
    assert_eq!(payloads.len(), 5, "{r:#?}");
    // Lagged lines would be counted apart; every line is an event with a larger n.
    increasing_n(&payloads);
    serve.signal("INT");
    serve.finish().expect_code(0);
    assert!(!dir.path().join("two.ipc").exists());
}

#[test]
fn a_write_of_an_observable_property_publishes_its_change_event() {
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        "obs",
        "--observable",
        "number",
    ]);
    let (endpoint, _) = ready_and_publishers(&mut serve, "obs", 1).remove(0);
    let server = format!("obs={endpoint}");
    let mut watch = Background::spawn(&[
        "watch",
        "--server",
        &server,
        "obs",
        "--property",
        "number",
        "--count",
        "1",
    ]);
    // Events published before the subscription reaches the publisher are lost (PUB/SUB):
    // write until one comes through.
    let mut written = Vec::new();
    let line = loop {
        let value = 10 + written.len();
        let r = run(&[
            "call",
            "--server",
            &server,
            "obs",
            "writeproperty",
            "number",
            &value.to_string(),
        ]);
        r.expect_code(0);
        written.push(json!(value));
        if let Some(line) = watch.next_line_within(Duration::from_millis(200)) {
            break line;
        }
        assert!(written.len() < 300, "no change event after {written:?}");
    };
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["kind"], "event", "{event}");
    assert_eq!(event["thing"], "obs", "{event}");
    assert_eq!(event["event"], "obs/number_change_event", "{event}");
    assert!(
        written.contains(&event["payload"]),
        "{event} of {written:?}"
    );
    watch.finish().expect_code(0);
    serve.signal("TERM");
    serve.finish().expect_code(0);
}

#[test]
fn bad_stream_and_observable_arguments_are_one_line_and_exit_2() {
    let base = ["serve", "--bind", "tcp://127.0.0.1:0", "--id", "bad"];
    for (extra, says) in [
        (&["--stream", "tick"][..], "THING/EVENT"),
        (&["--stream", "/tick"], "Thing is empty"),
        (&["--stream", "bad/"], "event name"),
        (&["--stream", "bad/tick@0"], "rate"),
        (&["--stream", "bad/tick@-1"], "rate"),
        (&["--stream", "bad/tick@1e12"], "rate"),
        (&["--stream", "bad/tick@often"], "rate"),
        (&["--stream", "nosuch/tick"], "no Thing \"nosuch\""),
        (
            &["--things", "a,b", "--stream", "bad/tick"],
            "it serves a, b",
        ),
        (&["--servers", "2", "--stream", "bad-0/tick"], "--servers 1"),
        (&["--servers", "2", "--observable", "number"], "--servers 1"),
        (&["--observable", "nosuch"], "nosuch"),
    ] {
        let r = run(&[&base[..], extra].concat());
        r.expect_code(2);
        let line = r.one_error_line();
        assert!(line.starts_with("error: "), "{extra:?}: {line}");
        assert!(line.contains(says), "{extra:?}: {line}");
        assert_eq!(r.stdout, "", "{extra:?}: nothing READY: {r:#?}");
    }
}
