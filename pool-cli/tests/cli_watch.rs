//! `mmpool watch` end to end: against `mmpool serve --stream` processes and in-process testkit
//! servers; its exit codes, its escaping of server text, a closed stdout and its stop signals.
//!
//! Deadlines only bound hangs; nothing here asserts a duration or a rate.
// Starts `mmpool serve` (or demo, or bench): needs the `servers` feature.
#![cfg(feature = "servers")]

mod common;

use std::time::Duration;

use common::{closed_tcp_endpoint, run, run_with, Background, Run};
use pool_testkit::events::{event_frames, publisher_id};
use pool_testkit::{EventStream, ServerConfig, TestServer};
use serde_json::{json, Value};

/// An `mmpool serve --stream ID/tick@RATE` process; its `--server ID=ENDPOINT` argument.
fn serve_stream(id: &str, rate: &str) -> (Background, String) {
    let stream = format!("{id}/tick{rate}");
    let mut serve = Background::spawn(&[
        "serve",
        "--bind",
        "tcp://127.0.0.1:0",
        "--id",
        id,
        "--stream",
        &stream,
    ]);
    let ready = serve.next_line().expect("a READY line");
    let endpoint = ready.strip_prefix("READY ").expect("READY <endpoint>");
    let server = format!("{id}={endpoint}");
    let publisher = serve.next_line().expect("a PUBLISHER line");
    assert!(
        publisher.starts_with(&format!("PUBLISHER {id} ")),
        "{publisher}"
    );
    (serve, server)
}

/// An in-process testkit server `id` on tcp, with `config` applied.
fn testkit(
    id: &str,
    config: impl FnOnce(pool_testkit::ServerConfigBuilder) -> pool_testkit::ServerConfigBuilder,
) -> TestServer {
    TestServer::start(config(ServerConfig::builder(id).tcp()).build()).expect("server starts")
}

fn server_arg(server: &TestServer) -> String {
    common::server_arg(server)
}

/// Stdout's lines as JSON values.
#[track_caller]
fn json_lines(r: &Run) -> Vec<Value> {
    r.stdout_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}; {r:#?}")))
        .collect()
}

#[test]
fn count_prints_exactly_n_events_with_increasing_seq_and_n() {
    let (mut serve, server) = serve_stream("counted", "@200");
    let r = run(&[
        "watch", "--server", &server, "counted", "tick", "--count", "7",
    ]);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{r:#?}");
    let lines = json_lines(&r);
    assert_eq!(lines.len(), 7, "{r:#?}");
    let mut last: Option<(u64, u64)> = None;
    for line in &lines {
        assert_eq!(line["kind"], "event", "{line}");
        assert_eq!(line["thing"], "counted", "{line}");
        assert_eq!(line["event"], "counted/tick", "{line}");
        assert_eq!(line["content_type"], "application/json", "{line}");
        assert!(line["message_id"].is_string(), "{line}");
        let seq = line["seq"].as_u64().expect("seq");
        let n = line["payload"]["n"].as_u64().expect("payload {\"n\":k}");
        if let Some((s, k)) = last {
            assert!(seq > s && n > k, "{lines:?}");
        }
        last = Some((seq, n));
    }
    assert_eq!(lines[0]["seq"], 1, "the first event of the subscription");
    serve.signal("TERM");
    serve.finish().expect_code(0);
}

#[test]
fn duration_ends_the_watch_and_a_count_not_reached_is_exit_5() {
    // A server that publishes nothing.
    let quiet = testkit("quiet", |c| c);
    let s = server_arg(&quiet);
    let r = run(&[
        "watch",
        "--server",
        &s,
        "quiet",
        "tick",
        "--count",
        "3",
        "--duration",
        "0.3",
    ]);
    r.expect_code(5);
    assert_eq!(r.stdout, "", "{r:#?}");
    let line = r.one_error_line();
    assert!(line.starts_with("error: 0 of 3 events within"), "{line}");
    // Without --count, --duration elapsing is the end asked for.
    let r = run(&[
        "watch",
        "--server",
        &s,
        "quiet",
        "tick",
        "--duration",
        "0.3",
    ]);
    r.expect_code(0);
    assert_eq!(r.stdout, "", "{r:#?}");
    assert_eq!(r.stderr, "", "{r:#?}");
}

#[test]
fn property_yields_the_written_value() {
    let server = testkit("prop", |c| c.observable("number").observable("text"));
    let s = server_arg(&server);
    let mut watch = Background::spawn(&["watch", "--server", &s, "prop", "--property", "text"]);
    // Writes before the subscription reaches the publisher are lost (PUB/SUB): write until
    // one comes through (a new value each time: the same value again publishes nothing), then
    // once more and wait for exactly that value.
    let mut tries = 0;
    let write = |value: &str| {
        run(&[
            "call",
            "--server",
            &s,
            "prop",
            "writeproperty",
            "text",
            &json!(value).to_string(),
        ])
        .expect_code(0);
    };
    while watch.next_line_within(Duration::from_millis(200)).is_none() {
        tries += 1;
        write(&format!("warming up {tries}"));
        assert!(tries < 300, "no change event");
    }
    write("the value");
    loop {
        let line = watch.next_line().expect("watch goes on");
        let event: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["event"], "prop/text_change_event", "{event}");
        if event["payload"] == "the value" {
            break;
        }
        let primer = event["payload"].as_str().unwrap_or_default();
        assert!(primer.starts_with("warming up "), "{event}");
    }
    // The write reached the Thing too.
    let r = run(&["call", "--server", &s, "prop", "readproperty", "text"]);
    assert_eq!(r.json(), json!("the value"));
    watch.signal("INT");
    let r = watch.finish();
    r.expect_code(0);
    assert_eq!(r.stderr, "", "{r:#?}");
}

#[test]
fn unknown_things_and_bad_endpoints_are_one_line_with_calls_exit_code() {
    let server = testkit("known", |c| c);
    let known = server_arg(&server);
    let other = format!("other={}", closed_tcp_endpoint());
    let publisher = format!("known={}", closed_tcp_endpoint());
    // What call is also given: a Thing no server was told about, with two servers to choose
    // from; an endpoint that is not one.
    let both: [&[&str]; 2] = [
        &["--server", &known, "--server", &other, "nosuch"],
        &["--server", "bad=nonsense://nowhere", "bad"],
    ];
    for servers in both {
        let w = run(&[&["watch"][..], servers, &["tick"]].concat());
        let call = run(&[&["call"][..], servers, &["readproperty", "number"]].concat());
        assert_eq!(
            w.code, call.code,
            "watch {servers:?}: {w:#?}\ncall: {call:#?}"
        );
        w.expect_code(2);
        let line = w.one_error_line();
        assert!(line.starts_with("error: "), "{servers:?}: {line}");
        assert_eq!(w.stdout, "", "{w:#?}");
    }
    // Publishers (watch only): of a server that is not named; an endpoint that is not one.
    for publisher in ["stranger=tcp://127.0.0.1:1", "known=nonsense://x"] {
        let w = run(&[
            "watch",
            "--server",
            &known,
            "--publisher",
            publisher,
            "known",
            "tick",
        ]);
        w.expect_code(2);
        let line = w.one_error_line();
        assert!(line.starts_with("error: "), "{publisher}: {line}");
        assert_eq!(w.stdout, "", "{w:#?}");
    }
    // A publisher that is not there: the watch warns (and goes on trying) until --duration.
    let r = run(&[
        "watch",
        "--server",
        &known,
        "--publisher",
        &publisher,
        "known",
        "tick",
        "--connect-timeout",
        "0.1",
        "--duration",
        "0.5",
    ]);
    r.expect_code(0);
    let line = r.one_error_line();
    assert!(
        line.starts_with("warning: the event publisher at tcp://127.0.0.1:")
            && line.contains("is not connected"),
        "{line}"
    );
}

/// Whether `c` would act on a terminal (as the CLI's escape module defines it).
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn hostile_text_in_event_ids_message_ids_and_payloads_is_escaped_inside_json_strings() {
    let thing = "evil\x1b[2J\u{9b}31m";
    let event = "tick\x07\r\n\u{202e}";
    // Raw in the header (JSON escapes only C0 controls), and 36 bytes long, the uuid4's
    // length, so the pool takes it as the event's message id.
    let mut message_id = "id\u{85}\u{9b}2J\u{202e}\u{7f}".to_owned();
    while message_id.len() < 36 {
        message_id.push('x');
    }
    let message_id = message_id.as_str();
    let payload = json!({"n": 0, "text": "\x1b[31mred\x7f\u{2066}", "\u{9b}key": "\r"});
    let server = testkit("host", |c| c.thing(thing));
    let s = server_arg(&server);
    let topic = format!("{thing}/{event}");
    let frames = event_frames(
        message_id,
        &publisher_id("host"),
        &topic,
        payload.to_string().into_bytes(),
    );
    let mut watch = Background::spawn(&[
        "watch",
        "--server",
        &s,
        "--thing",
        &format!("{thing}=host"),
        thing,
        event,
        "--count",
        "1",
    ]);
    let mut tries = 0;
    let line = loop {
        assert!(server.publish_raw(frames.clone()), "the server runs");
        if let Some(line) = watch.next_line_within(Duration::from_millis(100)) {
            break line;
        }
        tries += 1;
        assert!(tries < 600, "no event came through");
    };
    let r = watch.finish();
    r.expect_code(0);
    assert!(!line.chars().any(unsafe_char), "raw control text: {line:?}");
    assert!(
        !r.stderr.chars().any(|c| unsafe_char(c) && c != '\n'),
        "{r:#?}"
    );
    // Escaped only inside JSON strings: the line parses back to exactly what was sent.
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["thing"], thing, "{value}");
    assert_eq!(value["event"], topic, "{value}");
    assert_eq!(value["message_id"], message_id, "{value}");
    assert_eq!(value["payload"], payload, "{value}");
}

/// `mmpool watch ... | head -n 1` under bash; prints watch's exit status last.
const HEAD_ONE: &str =
    r#""$0" watch --server "$1" "$2" tick | head -n 1; echo "watch=${PIPESTATUS[0]}""#;

#[test]
fn a_closed_stdout_ends_the_watch_quietly() {
    let server = testkit("piped", |c| {
        c.event_stream(EventStream::new("piped", "tick").rate(500.0))
    });
    let s = server_arg(&server);
    let r = run_with(
        assert_cmd::Command::new("bash")
            .timeout(common::HANG)
            .env_remove("RUST_LOG")
            .arg("-c")
            .arg(HEAD_ONE)
            .arg(common::mmpool_path())
            .arg(&s)
            .arg("piped"),
    );
    r.expect_code(0);
    let lines = r.stdout_lines();
    assert_eq!(lines.len(), 2, "one event, then the status: {r:#?}");
    let event: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["kind"], "event", "{r:#?}");
    // 141: the documented status of a closed pipe, with nothing on stderr (no panic).
    assert_eq!(lines[1], "watch=141", "{r:#?}");
    assert_eq!(r.stderr, "", "{r:#?}");
}

#[test]
fn sigint_and_sigterm_end_the_watch_with_exit_0() {
    let (mut serve, server) = serve_stream("stopped", "@100");
    for signal in ["INT", "TERM"] {
        let mut watch = Background::spawn(&["watch", "--server", &server, "stopped", "tick"]);
        // An event printed: the watch is running (its handlers were installed first).
        let line = watch.next_line().expect("an event line");
        assert!(line.contains("\"kind\":\"event\""), "{line}");
        watch.signal(signal);
        let r = watch.finish();
        r.expect_code(0);
        assert_eq!(r.stderr, "", "SIG{signal}: {r:#?}");
    }
    serve.signal("TERM");
    serve.finish().expect_code(0);
}
