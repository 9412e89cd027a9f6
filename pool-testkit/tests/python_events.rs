//! Live-interop tests of hololinked EVENTs: real hololinked 0.4.2 and 0.3.12 servers, over tcp and ipc,
//! observed by a raw `zmq` SUB socket on [`PythonServer::event_endpoint`] and triggered through the raw
//! DEALER client (`pool_testkit::raw_client`).
//!
//! Needs the venvs: `bash scripts/python-venvs.sh`. Set `MMPOOL_SKIP_PYTHON_INTEROP=1` to skip these tests.
//!
//! What is pinned (docs/protocol.md §17; the same on both lines):
//!
//! * one PUB socket for all the server's Things, at tcp PORT+1 / `<id>.event-publisher.ipc` (the harness checks
//!   the endpoint against the READY line; [`check_endpoint`] re-checks the convention here);
//! * an event is 5 frames `[eventID, b"", header, payload, b""]`; the SUB topic is `eventID` =
//!   `"<thing id>/<event name>"`, so prefix subscriptions select per Thing and event;
//! * header keys, in this order: `messageType` (`EVENT`), `messageID`, `senderID` (`"<server id>/event-publisher"`),
//!   `eventID`, `payloadContentType` (`application/json`), `preencodedPayloadContentType` (`text/plain`);
//! * a custom `Event` pushed three times arrives three times in push order (`{"n":0}`, `{"n":1}`, `{"n":2}`);
//! * writing the observable property `level` publishes `level_change_event` with the new value as payload,
//!   for each Thing under its own topic.
//!
//! The PUB/SUB slow joiner is handled without sleeps: `push_ticks(count=1)` is retried until the first tick
//! arrives, then a marker write (`level := -1`) is made and everything before its change event is dropped
//! (`push_ticks` replies only after its events are on the PUB socket, and one PUB socket keeps order).

use std::time::{Duration, Instant};

use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::raw_client::{RawClient, Reply, Request};
use pool_testkit::Transport;
use serde_json::{json, Value};

const SERVER: &str = "ev-srv";
const THING_A: &str = "ev-a";
const THING_B: &str = "ev-b";
/// Bound for one reply or one awaited event (nothing is timed; this only keeps a broken run from hanging).
const WAIT: Duration = Duration::from_secs(20);
/// The event header keys, in wire order.
const HEADER_KEYS: [&str; 6] = [
    "messageType",
    "messageID",
    "senderID",
    "eventID",
    "payloadContentType",
    "preencodedPayloadContentType",
];

fn request(client: &RawClient, server: &PythonServer, req: &Request) -> Reply {
    let reply = client.request_with_timeout(req, WAIT).unwrap_or_else(|e| {
        panic!(
            "{req:?} to {}: {e}\nserver stderr tail:\n{}",
            server.endpoint(),
            server.stderr_tail()
        )
    });
    assert_eq!(
        reply.message_type,
        "REPLY",
        "{req:?}: {:?}",
        String::from_utf8_lossy(&reply.payload)
    );
    reply
}

/// Receive one multipart message within [`WAIT`].
fn recv(sub: &zmq::Socket, server: &PythonServer) -> Vec<Vec<u8>> {
    match sub.poll(zmq::POLLIN, WAIT.as_millis() as i64) {
        Ok(n) if n > 0 => sub.recv_multipart(0).expect("recv_multipart"),
        other => panic!(
            "no event within {WAIT:?} ({other:?}) on {}\nserver stderr tail:\n{}",
            server.event_endpoint(),
            server.stderr_tail()
        ),
    }
}

/// Check one event's frames; returns its payload as JSON.
fn check_event(frames: &[Vec<u8>], server_id: &str, event_id: &str) -> Value {
    let text: Vec<String> = frames
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    assert_eq!(frames.len(), 5, "an event is 5 frames: {text:?}");
    assert_eq!(text[0], event_id, "frame 0 (topic): {text:?}");
    assert!(frames[1].is_empty(), "frame 1 is empty: {text:?}");
    assert!(
        frames[4].is_empty(),
        "frame 4 (preserialized) is empty: {text:?}"
    );
    let raw = &text[2];
    let header: Value = serde_json::from_str(raw).expect("header is JSON");
    let keys: Vec<&str> = header
        .as_object()
        .expect("header object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want_sorted = HEADER_KEYS.to_vec();
    want_sorted.sort_unstable();
    let mut got_sorted = keys.clone();
    got_sorted.sort_unstable();
    assert_eq!(got_sorted, want_sorted, "header keys: {raw}");
    // Key order on the wire (serde_json's Map does not keep it): positions in the raw text.
    let positions: Vec<usize> = HEADER_KEYS
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).expect("key in header"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "header key order: {raw}"
    );
    assert_eq!(header["messageType"], "EVENT", "{raw}");
    assert_eq!(header["eventID"], event_id, "{raw}");
    assert_eq!(
        header["senderID"],
        format!("{server_id}/event-publisher"),
        "{raw}"
    );
    assert_eq!(header["payloadContentType"], "application/json", "{raw}");
    assert_eq!(
        header["preencodedPayloadContentType"], "text/plain",
        "{raw}"
    );
    let id = header["messageID"].as_str().expect("messageID string");
    assert_eq!(id.len(), 36, "messageID is a uuid: {raw}");
    serde_json::from_slice(&frames[3]).expect("payload is JSON")
}

/// The publisher endpoint follows hololinked's convention: request port + 1, or `<id>.event-publisher.ipc`
/// beside the request socket.
fn check_endpoint(server: &PythonServer, transport: Transport) {
    let ep = server.event_endpoint();
    assert_eq!(server.event_endpoint_for(transport), Some(ep));
    match transport {
        Transport::Tcp => {
            let port: u16 = server
                .endpoint()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("tcp port");
            assert_eq!(ep, format!("tcp://127.0.0.1:{}", port + 1));
            assert_eq!(server.event_endpoint_for(Transport::Ipc), None);
        }
        Transport::Ipc => {
            let dir = server
                .endpoint()
                .strip_suffix(&format!("{SERVER}.ipc"))
                .expect("ipc endpoint ends with <id>.ipc");
            assert_eq!(ep, format!("{dir}{SERVER}.event-publisher.ipc"));
            assert_eq!(server.event_endpoint_for(Transport::Tcp), None);
        }
    }
}

fn events(line: Line, transport: Transport) {
    if interop_skipped() {
        return;
    }
    let server = PythonServer::start(line, SERVER, &[THING_A, THING_B], transport)
        .unwrap_or_else(|e| panic!("starting {line} over {transport:?}: {e}"));
    check_endpoint(&server, transport);

    let client = RawClient::connect(server.endpoint(), "events-client", SERVER)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.endpoint()));
    client.handshake(WAIT).expect("HANDSHAKE");

    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).expect("SUB socket");
    sub.set_linger(0).expect("linger");
    let tick_a = format!("{THING_A}/tick");
    let level_a = format!("{THING_A}/level_change_event");
    let level_b = format!("{THING_B}/level_change_event");
    for topic in [&tick_a, &level_a, &level_b] {
        sub.set_subscribe(topic.as_bytes()).expect("subscribe");
    }
    sub.connect(server.event_endpoint()).expect("SUB connect");

    // Slow joiner: retry a one-tick push until a tick arrives.
    let deadline = Instant::now() + WAIT;
    loop {
        request(
            &client,
            &server,
            &Request::invoke_action(THING_A, "push_ticks", &json!({"count": 1})),
        );
        if sub.poll(zmq::POLLIN, 200).expect("poll") > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no tick reached the SUB socket on {} within {WAIT:?}\nserver stderr tail:\n{}",
            server.event_endpoint(),
            server.stderr_tail()
        );
    }
    // Marker: everything before its change event is warm-up.
    request(
        &client,
        &server,
        &Request::write_property(THING_A, "level", &json!(-1.0)),
    );
    loop {
        let frames = recv(&sub, &server);
        if frames[0] == level_a.as_bytes() {
            assert_eq!(check_event(&frames, SERVER, &level_a), json!(-1.0));
            break;
        }
        assert_eq!(check_event(&frames, SERVER, &tick_a), json!({"n": 0}));
    }

    // Ticks of the other Thing are not subscribed: they must not show up.
    let r = request(
        &client,
        &server,
        &Request::invoke_action(THING_B, "push_ticks", &json!({"count": 2})),
    );
    assert_eq!(r.json().unwrap(), json!(2));
    let r = request(
        &client,
        &server,
        &Request::invoke_action(
            THING_A,
            "push_ticks",
            &json!({"count": 3, "interval": 0.01}),
        ),
    );
    assert_eq!(r.json().unwrap(), json!(3));
    for n in 0..3 {
        let frames = recv(&sub, &server);
        assert_eq!(check_event(&frames, SERVER, &tick_a), json!({"n": n}));
    }

    request(
        &client,
        &server,
        &Request::write_property(THING_A, "level", &json!(2.5)),
    );
    let frames = recv(&sub, &server);
    assert_eq!(check_event(&frames, SERVER, &level_a), json!(2.5));
    let r = request(&client, &server, &Request::read_property(THING_A, "level"));
    assert_eq!(r.json().unwrap(), json!(2.5));

    // The other Thing's events come out of the same PUB socket under its own topic.
    request(
        &client,
        &server,
        &Request::write_property(THING_B, "level", &json!(7.25)),
    );
    let frames = recv(&sub, &server);
    assert_eq!(check_event(&frames, SERVER, &level_b), json!(7.25));

    // Nothing else is pending (ev-b's ticks were filtered out).
    assert_eq!(sub.poll(zmq::POLLIN, 0).expect("poll"), 0);
}

#[test]
fn events_v0_4_tcp() {
    events(Line::V0_4, Transport::Tcp);
}

#[test]
fn events_v0_4_ipc() {
    events(Line::V0_4, Transport::Ipc);
}

#[test]
fn events_v0_3_tcp() {
    events(Line::V0_3, Transport::Tcp);
}

#[test]
fn events_v0_3_ipc() {
    events(Line::V0_3, Transport::Ipc);
}
