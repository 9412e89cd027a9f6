//! Live-interop tests of the Python harness: real hololinked 0.4.2 and 0.3.12 servers, over tcp and ipc,
//! driven by a raw `zmq` DEALER (identity `harness-client`).
//!
//! Needs the venvs: `bash scripts/python-venvs.sh`. Set `MMPOOL_SKIP_PYTHON_INTEROP=1` to skip these tests
//! explicitly (they fail with a message naming the script if the venvs are missing).
//!
//! Besides proving the harness, these tests pin the per-line behaviour the pool must cope with (see the summary
//! at the top of `pool-testkit/src/python.rs`):
//!
//! * `execution_context_key_spellings_v0_4` / `_v0_3`: which context key spellings each line reads, and what
//!   an execution timeout replies (`TIMEOUT` with payload `"execution"`).
//! * `invokation_timeout_v0_4` / `_v0_3`: invokation timeouts (`TIMEOUT "invokation"`; the job is dropped).
//! * `oneway_v0_4` / `_v0_3`: oneway gets no reply, except an unsolicited `TIMEOUT` when a timeout fires.
//! * `positional_args_and_bytes_v0_4` / `_v0_3`: `__args__` and bytes / mixed replies.
//! * `multi_thing_v0_4` / `_v0_3`: several Things on one server.
//! * `thing_description_v0_4` / `_v0_3`, `execution_logs_*`, `exception_notes_*`, `msgpack_*`,
//!   `read_all_sorted_*`, `sub_things_*`: the facts the fake Thing mimics (checks shared with
//!   `features.rs` through `feature_checks`).

mod feature_checks;

use std::time::Duration;

use feature_checks::Flavor;

use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::raw_client::{server_context, ContextKeys, RawClient, Reply, Request};
use pool_testkit::Transport;
use serde_json::{json, Value};

/// Identity of the test DEALER.
const CLIENT: &str = "harness-client";
/// Generous bound for one reply (nothing is timed; this only keeps a broken run from hanging).
const REPLY: Duration = Duration::from_secs(20);
/// Bound for a HANDSHAKE to succeed on a server that printed READY.
const HANDSHAKE: Duration = Duration::from_secs(20);

fn start(line: Line, id: &str, things: &[&str], transport: Transport) -> PythonServer {
    PythonServer::start(line, id, things, transport)
        .unwrap_or_else(|e| panic!("starting {line} server {id:?} over {transport:?}: {e}"))
}

fn connect(server: &PythonServer, identity: &str) -> RawClient {
    RawClient::connect(server.endpoint(), identity, server.id())
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.endpoint()))
}

fn request(client: &RawClient, server: &PythonServer, req: &Request) -> Reply {
    client.request_with_timeout(req, REPLY).unwrap_or_else(|e| {
        panic!(
            "{req:?} to {}: {e}\nserver stderr tail:\n{}",
            server.endpoint(),
            server.stderr_tail()
        )
    })
}

fn expect_reply(reply: &Reply) -> Value {
    assert_eq!(
        reply.message_type,
        "REPLY",
        "expected REPLY, got {} {:?}",
        reply.message_type,
        String::from_utf8_lossy(&reply.payload)
    );
    reply.json().expect("REPLY payload is JSON")
}

/// HANDSHAKE, readproperty, writeproperty, invokeaction add/echo, fail → EXCEPTION ValueError,
/// unknown Thing → INVALID_MESSAGE.
fn basic_operations(line: Line, transport: Transport) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "basic-srv", &[], transport);
    assert_eq!(server.version(), line.version());
    assert_eq!(server.things(), ["basic-srv".to_owned()]);
    match transport {
        Transport::Tcp => assert!(
            server.endpoint().starts_with("tcp://127.0.0.1:"),
            "{}",
            server.endpoint()
        ),
        Transport::Ipc => {
            let want = format!(
                "ipc://{}/.hololinked/sockets/basic-srv.ipc",
                server.home().display()
            );
            assert_eq!(server.endpoint(), want);
        }
    }
    let client = connect(&server, CLIENT);
    let hs = client.handshake(HANDSHAKE).expect("HANDSHAKE reply");
    assert_eq!(hs.message_type, "HANDSHAKE");
    assert_eq!(hs.header_str("receiverID"), Some(CLIENT));
    assert_eq!(hs.header_str("senderID"), Some("basic-srv"));
    assert_eq!(hs.payload, b"null");
    assert!(hs.preserialized.is_empty());

    let thing = "basic-srv";
    let r = request(&client, &server, &Request::read_property(thing, "number"));
    assert_eq!(r.header_str("payloadContentType"), Some("application/json"));
    assert_eq!(expect_reply(&r), json!(1.5));
    let r = request(&client, &server, &Request::read_property(thing, "text"));
    assert_eq!(expect_reply(&r), json!("hello"));

    let r = request(
        &client,
        &server,
        &Request::write_property(thing, "number", &json!(2.25)),
    );
    assert_eq!(expect_reply(&r), Value::Null);
    let r = request(&client, &server, &Request::read_property(thing, "number"));
    assert_eq!(expect_reply(&r), json!(2.25));
    let r = request(
        &client,
        &server,
        &Request::write_property(thing, "text", &json!("bye")),
    );
    assert_eq!(expect_reply(&r), Value::Null);
    let r = request(&client, &server, &Request::read_property(thing, "text"));
    assert_eq!(expect_reply(&r), json!("bye"));

    let req = Request::invoke_action(thing, "add", &json!({"a": 1, "b": 2}));
    let r = request(&client, &server, &req);
    assert_eq!(r.message_id, req.message_id, "the server echoes messageID");
    assert_eq!(r.header_str("receiverID"), Some(CLIENT));
    assert_eq!(r.header_str("senderID"), Some("basic-srv"));
    assert_eq!(
        r.header_str("preencodedPayloadContentType"),
        Some("text/plain")
    );
    assert!(r.preserialized.is_empty());
    assert_eq!(expect_reply(&r), json!(3));

    let value = json!({"nested": [1, "two", null, true, 2.5]});
    let r = request(
        &client,
        &server,
        &Request::invoke_action(thing, "echo", &json!({"value": value})),
    );
    assert_eq!(expect_reply(&r), value);

    let r = request(
        &client,
        &server,
        &Request::invoke_action(thing, "sleep_for", &json!({"seconds": 0.05})),
    );
    assert_eq!(expect_reply(&r), json!(0.05));

    let r = request(
        &client,
        &server,
        &Request::invoke_action(thing, "fail", &json!({"message": "boom"})),
    );
    assert_eq!(r.message_type, "EXCEPTION");
    assert_eq!(r.exception().kind, "ValueError");
    assert_eq!(r.exception().message, "boom");
    let exception = r.json().unwrap()["exception"].clone();
    assert!(exception["traceback"].is_array(), "{exception}");
    assert!(exception.get("notes").is_some(), "{exception}");
    // The Thing survives an action that raised.
    let r = request(&client, &server, &Request::read_property(thing, "number"));
    assert_eq!(expect_reply(&r), json!(2.25));

    let r = request(
        &client,
        &server,
        &Request::read_property("no-such-thing", "number"),
    );
    assert_eq!(r.message_type, "INVALID_MESSAGE");
    assert_eq!(r.exception().kind, "KeyError");

    // Unknown property / action names are EXCEPTION (not INVALID_MESSAGE) on both lines.
    let r = request(
        &client,
        &server,
        &Request::read_property(thing, "no_such_property"),
    );
    assert_eq!(r.message_type, "EXCEPTION", "{:?}", r.json());
    let r = request(
        &client,
        &server,
        &Request::invoke_action(thing, "no_such_action", &Value::Null),
    );
    assert_eq!(r.message_type, "EXCEPTION", "{:?}", r.json());
}

/// Kill the server, restart it on the same endpoint; a new DEALER handshakes again, and a DEALER that stayed
/// connected across the restart reconnects by itself (libzmq) and handshakes too.
fn kill_and_restart(line: Line, transport: Transport) {
    if interop_skipped() {
        return;
    }
    let mut server = start(line, "restart-srv", &[], transport);
    let endpoint = server.endpoint().to_owned();
    let old = connect(&server, "harness-client-old");
    old.handshake(HANDSHAKE).expect("first HANDSHAKE");
    {
        let client = connect(&server, CLIENT);
        client.handshake(HANDSHAKE).expect("HANDSHAKE before kill");
        let r = request(
            &client,
            &server,
            &Request::write_property("restart-srv", "number", &json!(9.0)),
        );
        expect_reply(&r);
    }
    let first_pid = server.pid();
    server.kill();
    assert!(!server.is_running());
    assert_eq!(server.pid(), None);

    server.restart().expect("restart");
    assert!(server.is_running());
    assert_ne!(server.pid(), first_pid);
    assert_eq!(server.endpoint(), endpoint, "restart keeps the endpoint");

    let client = connect(&server, CLIENT);
    let hs = client
        .handshake(HANDSHAKE)
        .expect("HANDSHAKE after restart");
    assert_eq!(hs.header_str("senderID"), Some("restart-srv"));
    // A fresh process: the property is back to its default.
    let r = request(
        &client,
        &server,
        &Request::read_property("restart-srv", "number"),
    );
    assert_eq!(expect_reply(&r), json!(1.5));

    old.handshake(HANDSHAKE)
        .expect("the old DEALER reconnects after the restart");
    let r = request(
        &old,
        &server,
        &Request::read_property("restart-srv", "text"),
    );
    assert_eq!(expect_reply(&r), json!("hello"));

    // restart() of a running server kills it first.
    server.restart().expect("second restart");
    let client = connect(&server, "harness-client-3");
    client
        .handshake(HANDSHAKE)
        .expect("HANDSHAKE after second restart");
}

/// One server, several Things: each answers on the same socket, selected by `thingID`, with its own state.
fn multi_thing(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(
        line,
        "multi-srv",
        &["alpha", "beta", "gamma"],
        Transport::Tcp,
    );
    assert_eq!(server.things(), ["alpha", "beta", "gamma"]);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("HANDSHAKE");
    for (i, thing) in server.things().iter().enumerate() {
        let r = request(&client, &server, &Request::read_property(thing, "number"));
        assert_eq!(expect_reply(&r), json!(1.5), "{thing}");
        let n = i64::try_from(i).unwrap();
        let r = request(
            &client,
            &server,
            &Request::invoke_action(thing, "add", &json!({"a": n, "b": 10})),
        );
        assert_eq!(expect_reply(&r), json!(n + 10), "{thing}");
    }
    let r = request(
        &client,
        &server,
        &Request::write_property("alpha", "number", &json!(-4.0)),
    );
    expect_reply(&r);
    let r = request(&client, &server, &Request::read_property("alpha", "number"));
    assert_eq!(expect_reply(&r), json!(-4.0));
    let r = request(&client, &server, &Request::read_property("beta", "number"));
    assert_eq!(expect_reply(&r), json!(1.5), "Things have separate state");
    // The server id is not a Thing id here.
    let r = request(
        &client,
        &server,
        &Request::read_property("multi-srv", "number"),
    );
    assert_eq!(r.message_type, "INVALID_MESSAGE");

    // Different Things run concurrently: a slow (3 s) action on alpha does not delay a read on beta.
    // Checked by order of arrival, not by time: beta's reply arrives before alpha's.
    let slow = Request::invoke_action("alpha", "sleep_for", &json!({"seconds": 3.0}));
    let fast = Request::read_property("beta", "text");
    client.send(&slow).unwrap();
    client.send(&fast).unwrap();
    let first = client.recv_any(REPLY).expect("a reply");
    assert_eq!(
        first.message_id, fast.message_id,
        "beta answered before alpha finished sleeping"
    );
    let second = client
        .recv_reply(&slow.message_id, REPLY)
        .expect("alpha's reply");
    assert_eq!(expect_reply(&second), json!(3.0));
}

/// `__args__` positional arguments; bytes-only and mixed replies.
fn positional_args_and_bytes(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "args-srv", &[], Transport::Ipc);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("HANDSHAKE");
    let t = "args-srv";
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "add", &json!({"__args__": [1, 2]})),
    );
    assert_eq!(expect_reply(&r), json!(3));
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "add", &json!({"__args__": [1], "b": 2})),
    );
    assert_eq!(expect_reply(&r), json!(3));
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "add", &json!({"__args__": ["a"], "b": "b"})),
    );
    assert_eq!(expect_reply(&r), json!("ab"));
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "echo", &json!({"__args__": [[1, 2]]})),
    );
    assert_eq!(expect_reply(&r), json!([1, 2]));
    // Missing argument: EXCEPTION TypeError.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "add", &json!({"a": 1})),
    );
    assert_eq!(r.message_type, "EXCEPTION");
    assert_eq!(r.exception().kind, "TypeError");

    // bytes return value: payload `null`, raw bytes in the preserialized frame, labelled application/json.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "get_bytes", &Value::Null),
    );
    assert_eq!(r.message_type, "REPLY");
    assert_eq!(r.payload, b"null");
    assert_eq!(r.preserialized, b"\x00\x01\x02");
    assert_eq!(r.header_str("payloadContentType"), Some("application/json"));
    assert_eq!(
        r.header_str("preencodedPayloadContentType"),
        Some("application/json")
    );

    // (value, bytes): the value in the payload, the bytes in the preserialized frame.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "get_mixed", &Value::Null),
    );
    assert_eq!(r.message_type, "REPLY");
    assert_eq!(r.payload, b"\"foobar\"");
    assert_eq!(r.preserialized, b"foobar");

    // A non-empty preserialized request frame is prepended as the first positional argument.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "echo", &json!({})).with_preserialized(b"raw"),
    );
    assert_eq!(r.message_type, "REPLY");
    assert_eq!(
        r.payload, b"null",
        "bytes echo back in the preserialized frame"
    );
    assert_eq!(r.preserialized, b"raw");
}

/// Which key spellings each line reads for the server execution context, checked through an execution
/// timeout (0.3 s) on `sleep_for(1.5)`.
fn execution_context_key_spellings(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "ctx-srv", &[], Transport::Tcp);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("HANDSHAKE");
    let t = "ctx-srv";
    let sleep = |keys| {
        Request::invoke_action(t, "sleep_for", &json!({"seconds": 1.5}))
            .with_server_context(server_context(keys, None, Some(0.3), false))
    };

    let snake = request(&client, &server, &sleep(ContextKeys::Snake));
    assert_eq!(
        snake.message_type, "TIMEOUT",
        "snake_case execution_timeout fires on {line}"
    );
    assert_eq!(snake.json().unwrap(), json!("execution"));

    let both = request(&client, &server, &sleep(ContextKeys::Both));
    assert_eq!(
        both.message_type, "TIMEOUT",
        "both spellings: execution timeout fires on {line}"
    );
    assert_eq!(both.json().unwrap(), json!("execution"));

    let camel = request(&client, &server, &sleep(ContextKeys::Camel));
    match line {
        Line::V0_4 => {
            assert_eq!(
                camel.message_type, "TIMEOUT",
                "0.4 reads camelCase executionTimeout"
            );
            assert_eq!(camel.json().unwrap(), json!("execution"));
        }
        Line::V0_3 => {
            assert_eq!(
                camel.message_type, "REPLY",
                "0.3 ignores camelCase executionTimeout"
            );
            assert_eq!(camel.json().unwrap(), json!(1.5));
        }
    }

    // An empty context object: no timeouts on either line.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(t, "sleep_for", &json!({"seconds": 0.5}))
            .with_server_context(json!({})),
    );
    assert_eq!(expect_reply(&r), json!(0.5));

    // Missing context objects (the Thing has run operations before, so its thread survives on 0.3).
    for missing in ["serverExecutionContext", "thingExecutionContext"] {
        let req = Request::read_property(t, "number");
        let mut header = req.header(CLIENT, "ctx-srv");
        header.as_object_mut().unwrap().remove(missing);
        client
            .send_raw(&header, &req.payload, &req.preserialized)
            .unwrap();
        let r = client.recv_reply(&req.message_id, REPLY).expect("a reply");
        match (line, missing) {
            (Line::V0_4, _) => {
                assert_eq!(
                    expect_reply(&r),
                    json!(1.5),
                    "0.4 accepts a missing {missing}"
                )
            }
            (Line::V0_3, "serverExecutionContext") => {
                assert_eq!(r.message_type, "INVALID_MESSAGE", "0.3 without {missing}")
            }
            (Line::V0_3, _) => assert_eq!(r.message_type, "EXCEPTION", "0.3 without {missing}"),
        }
    }
    let r = request(&client, &server, &Request::read_property(t, "text"));
    assert_eq!(expect_reply(&r), json!("hello"));
}

/// Invokation timeout: the Thing is busy with `sleep_for(1.5)`, a read queued behind it with an invokation
/// timeout of 0.2 s gets `TIMEOUT "invokation"` (and is never executed); the busy action still replies.
fn invokation_timeout(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "inv-srv", &[], Transport::Ipc);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("HANDSHAKE");
    let t = "inv-srv";
    for keys in [ContextKeys::Snake, ContextKeys::Camel] {
        let busy = Request::invoke_action(t, "sleep_for", &json!({"seconds": 1.5}));
        let queued = Request::write_property(t, "number", &json!(42.0))
            .with_server_context(server_context(keys, Some(0.2), None, false));
        let sent_at = std::time::Instant::now();
        client.send(&busy).unwrap();
        client.send(&queued).unwrap();
        let replies = client
            .recv_replies(&[&queued.message_id, &busy.message_id], REPLY)
            .expect("replies to the busy action and the queued write");
        let order: Vec<&str> = replies
            .iter()
            .map(|r| {
                if r.message_id == busy.message_id {
                    "busy"
                } else {
                    "queued"
                }
            })
            .collect();
        eprintln!(
            "{line} {keys:?}: arrival order {order:?}, all after {:?}",
            sent_at.elapsed()
        );
        let (b, q) = if order[0] == "busy" {
            (&replies[0], &replies[1])
        } else {
            (&replies[1], &replies[0])
        };
        assert_eq!(expect_reply(b), json!(1.5));
        let honoured = keys == ContextKeys::Snake || line == Line::V0_4;
        let read = request(&client, &server, &Request::read_property(t, "number"));
        if honoured {
            assert_eq!(
                q.message_type, "TIMEOUT",
                "{keys:?} invokation timeout on {line}"
            );
            assert_eq!(q.json().unwrap(), json!("invokation"));
            assert_eq!(
                expect_reply(&read),
                json!(1.5),
                "a job that hit its invokation timeout never runs"
            );
        } else {
            assert_eq!(
                q.message_type, "REPLY",
                "0.3 ignores camelCase invokationTimeout"
            );
            assert_eq!(expect_reply(&read), json!(42.0));
            let reset = Request::write_property(t, "number", &json!(1.5));
            expect_reply(&request(&client, &server, &reset));
        }
    }
}

/// `oneway: true` gets no reply (checked by order: the next request's reply is the next message), but a
/// firing timeout still sends an unsolicited `TIMEOUT` for it.
fn oneway(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "oneway-srv", &[], Transport::Tcp);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("HANDSHAKE");
    let t = "oneway-srv";
    let write = Request::write_property(t, "number", &json!(3.0))
        .with_server_context(server_context(ContextKeys::Both, None, None, true));
    client.send(&write).unwrap();
    let read = Request::read_property(t, "number");
    client.send(&read).unwrap();
    let next = client.recv_any(REPLY).expect("a reply");
    assert_eq!(
        next.message_id, read.message_id,
        "no reply to the oneway write"
    );
    assert_eq!(expect_reply(&next), json!(3.0));

    let slow = Request::invoke_action(t, "sleep_for", &json!({"seconds": 1.5}))
        .with_server_context(server_context(ContextKeys::Snake, None, Some(0.2), true));
    client.send(&slow).unwrap();
    let r = client
        .recv_reply(&slow.message_id, REPLY)
        .expect("unsolicited TIMEOUT");
    assert_eq!(r.message_type, "TIMEOUT");
    assert_eq!(r.json().unwrap(), json!("execution"));
}

/// Dropping a server kills and reaps the process and removes its temp HOME.
fn drop_cleans_up(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = start(line, "drop-srv", &[], Transport::Ipc);
    let pid = server.pid().expect("running");
    let home = server.home().to_path_buf();
    assert!(home.join(".hololinked/sockets/drop-srv.ipc").exists());
    drop(server);
    assert!(!home.exists(), "temp HOME removed");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} reaped"
    );
}

fn flavor(line: Line) -> Flavor {
    match line {
        Line::V0_4 => Flavor::V0_4,
        Line::V0_3 => Flavor::V0_3,
    }
}

/// A tcp server with one Thing `id`, and a handshaken client.
fn live(line: Line, id: &str) -> Option<(PythonServer, RawClient)> {
    if interop_skipped() {
        return None;
    }
    let server = start(line, id, &[], Transport::Tcp);
    let client = connect(&server, CLIENT);
    client.handshake(HANDSHAKE).expect("handshake");
    Some((server, client))
}

fn thing_description(line: Line) {
    let Some((server, c)) = live(line, "td-live") else {
        return;
    };
    let events = server.event_endpoint().to_owned();
    feature_checks::thing_description(flavor(line), &c, "td-live", server.endpoint(), &events);
    feature_checks::td_protocol_not_served(flavor(line), &c, "td-live");
}

fn execution_logs(line: Line) {
    let Some((_server, c)) = live(line, "logs-live") else {
        return;
    };
    feature_checks::execution_logs(flavor(line), &c, "logs-live");
}

fn exception_notes(line: Line) {
    let Some((_server, c)) = live(line, "notes-live") else {
        return;
    };
    feature_checks::exception_notes(flavor(line), &c, "notes-live");
}

fn msgpack(line: Line) {
    let Some((_server, c)) = live(line, "mp-live") else {
        return;
    };
    feature_checks::msgpack(&c, "mp-live");
}

fn read_all_sorted(line: Line) {
    let Some((_server, c)) = live(line, "all-live") else {
        return;
    };
    feature_checks::read_all(
        &c,
        "all-live",
        "all-live",
        r#"{"level":0.0,"number":1.5,"state":null,"text":"hello"}"#,
    );
}

/// `--sub-things`: the sub-Thing `"{id}/sensor"` is served by the same server under its own
/// thingID (a `/` works on both lines), with its own TD.
fn sub_things(line: Line) {
    if interop_skipped() {
        return;
    }
    let server = PythonServer::builder(line, "subs")
        .things(&["main"])
        .sub_things(true)
        .start()
        .unwrap_or_else(|e| panic!("starting {line} server with sub-Things: {e}"));
    assert_eq!(server.served_things(), ["main", "main/sensor"]);
    let c = connect(&server, CLIENT);
    c.handshake(HANDSHAKE).expect("handshake");
    let r = request(
        &c,
        &server,
        &feature_checks::td_request("main/sensor", json!({"protocol": "TCP"})),
    );
    let td = expect_reply(&r);
    assert_eq!(td["id"], "main/sensor");
    assert_eq!(td["title"], "Sensor");
    assert_eq!(td["properties"]["gain"]["default"], 2.0);
    assert_eq!(td["properties"]["gain"]["type"], "number");
    assert!(td["actions"]["reset"].is_object());
    let href = td["properties"]["gain"]["forms"][0]["href"]
        .as_str()
        .unwrap();
    assert_eq!(href, server.endpoint());
    let write = Request::write_property("main/sensor", "gain", &json!(5.0));
    expect_reply(&request(&c, &server, &write));
    let read = Request::read_property("main/sensor", "gain");
    assert_eq!(expect_reply(&request(&c, &server, &read)), json!(5.0));
    let reset = Request::invoke_action("main/sensor", "reset", &json!({}));
    assert_eq!(expect_reply(&request(&c, &server, &reset)), Value::Null);
    assert_eq!(expect_reply(&request(&c, &server, &read)), json!(2.0));
    // The parent is unchanged and its TD does not list the sub-Thing's names.
    let td = expect_reply(&request(
        &c,
        &server,
        &feature_checks::td_request("main", json!({"protocol": "TCP"})),
    ));
    assert!(td["properties"].get("gain").is_none());
    assert!(td["properties"]["number"].is_object());
    // The sub-Thing's events are `"{thing}/sensor/{event}"`, on the same publisher; a SUB to the
    // parent's prefix `"main/"` hears them too (SUB topics are prefixes).
    let zctx = zmq::Context::new();
    let sub = zctx.socket(zmq::SUB).unwrap();
    sub.set_linger(0).unwrap();
    sub.connect(server.event_endpoint()).unwrap();
    sub.set_subscribe(b"main/").unwrap();
    let fire = Request::invoke_action("main/sensor", "fire", &json!({}));
    let mut heard = None;
    for _ in 0..50 {
        expect_reply(&request(&c, &server, &fire));
        if sub.poll(zmq::POLLIN, 200).unwrap() > 0 {
            heard = Some(sub.recv_multipart(0).unwrap());
            break;
        }
    }
    let frames = heard.expect("an alarm event within 50 tries");
    assert_eq!(frames[0], b"main/sensor/alarm");
    let header: Value = serde_json::from_slice(&frames[2]).unwrap();
    assert_eq!(header["eventID"], "main/sensor/alarm");
    assert_eq!(header["senderID"], "subs/event-publisher");
    assert_eq!(frames[3], br#"{"gain":2.0}"#);
    // Without the flag only the asked Things are served.
    drop(server);
    let plain = start(line, "nosubs", &["main"], Transport::Tcp);
    assert_eq!(plain.served_things(), ["main"]);
}

macro_rules! per_line {
    ($($name:ident => $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $body
            }
        )*
    };
}

per_line! {
    basic_tcp_v0_4 => basic_operations(Line::V0_4, Transport::Tcp);
    basic_ipc_v0_4 => basic_operations(Line::V0_4, Transport::Ipc);
    basic_tcp_v0_3 => basic_operations(Line::V0_3, Transport::Tcp);
    basic_ipc_v0_3 => basic_operations(Line::V0_3, Transport::Ipc);
    restart_tcp_v0_4 => kill_and_restart(Line::V0_4, Transport::Tcp);
    restart_ipc_v0_4 => kill_and_restart(Line::V0_4, Transport::Ipc);
    restart_tcp_v0_3 => kill_and_restart(Line::V0_3, Transport::Tcp);
    restart_ipc_v0_3 => kill_and_restart(Line::V0_3, Transport::Ipc);
    multi_thing_v0_4 => multi_thing(Line::V0_4);
    multi_thing_v0_3 => multi_thing(Line::V0_3);
    positional_args_and_bytes_v0_4 => positional_args_and_bytes(Line::V0_4);
    positional_args_and_bytes_v0_3 => positional_args_and_bytes(Line::V0_3);
    execution_context_key_spellings_v0_4 => execution_context_key_spellings(Line::V0_4);
    execution_context_key_spellings_v0_3 => execution_context_key_spellings(Line::V0_3);
    invokation_timeout_v0_4 => invokation_timeout(Line::V0_4);
    invokation_timeout_v0_3 => invokation_timeout(Line::V0_3);
    oneway_v0_4 => oneway(Line::V0_4);
    oneway_v0_3 => oneway(Line::V0_3);
    drop_cleans_up_v0_4 => drop_cleans_up(Line::V0_4);
    drop_cleans_up_v0_3 => drop_cleans_up(Line::V0_3);
    thing_description_v0_4 => thing_description(Line::V0_4);
    thing_description_v0_3 => thing_description(Line::V0_3);
    execution_logs_v0_4 => execution_logs(Line::V0_4);
    execution_logs_v0_3 => execution_logs(Line::V0_3);
    exception_notes_v0_4 => exception_notes(Line::V0_4);
    exception_notes_v0_3 => exception_notes(Line::V0_3);
    msgpack_v0_4 => msgpack(Line::V0_4);
    msgpack_v0_3 => msgpack(Line::V0_3);
    read_all_sorted_v0_4 => read_all_sorted(Line::V0_4);
    read_all_sorted_v0_3 => read_all_sorted(Line::V0_3);
    sub_things_v0_4 => sub_things(Line::V0_4);
    sub_things_v0_3 => sub_things(Line::V0_3);
}
