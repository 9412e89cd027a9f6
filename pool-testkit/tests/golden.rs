//! Replays the golden hololinked 0.4.2 vectors (pool-core/tests/data/golden) from a DEALER with
//! the same identities and compares the replies byte for byte.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Client, Msg};
use pool_testkit::protocol::response_header;
use pool_testkit::{ServerConfig, ServerFarm, TestServer};
use serde_json::Value;

const T: Duration = Duration::from_secs(5);

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pool-core/tests/data/golden")
}

struct Vector {
    name: String,
    request: Vec<Vec<u8>>,
    response: Option<Vec<Vec<u8>>>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frames(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| unhex(f.as_str().unwrap()))
        .collect()
}

fn load(name: &str) -> Vector {
    let text = std::fs::read_to_string(golden_dir().join(format!("{name}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    Vector {
        name: name.to_owned(),
        request: frames(&v["request"]["dealer_send_frames_hex"]),
        response: (!v["response"].is_null())
            .then(|| frames(&v["response"]["dealer_recv_frames_hex"])),
    }
}

fn send(c: &Client, v: &Vector) {
    let refs: Vec<&[u8]> = v.request.iter().map(Vec::as_slice).collect();
    c.send_frames(&refs);
}

fn message_id(frames: &[Vec<u8>]) -> String {
    let h: Value = serde_json::from_slice(&frames[1]).unwrap();
    h["messageID"].as_str().unwrap().to_owned()
}

/// Exact bytes for REPLY/HANDSHAKE/TIMEOUT; for error payloads (whose tracebacks name the Python
/// installation) the header bytes exactly and the exception type (and message where ours is the
/// same text).
fn check(v: &Vector, got: &Msg, compare_message: bool) {
    let want = v.response.as_ref().unwrap();
    assert_eq!(got.frames.len(), 4, "{}", v.name);
    assert_eq!(got.frames[0], want[0], "{}: delimiter", v.name);
    assert_eq!(
        String::from_utf8_lossy(&got.frames[1]),
        String::from_utf8_lossy(&want[1]),
        "{}: header",
        v.name
    );
    assert_eq!(got.frames[3], want[3], "{}: preserialized", v.name);
    let want_payload: Value = serde_json::from_slice(&want[2]).unwrap();
    if want_payload.get("exception").is_some() {
        let got_payload = got.payload();
        let (g, w) = (&got_payload["exception"], &want_payload["exception"]);
        assert_eq!(g["type"], w["type"], "{}", v.name);
        if compare_message {
            assert_eq!(g["message"], w["message"], "{}", v.name);
        }
        assert!(
            g["traceback"].is_array() && g["notes"].is_null(),
            "{}",
            v.name
        );
        let keys: Vec<&String> = got_payload["exception"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys.len(), 4);
    } else {
        assert_eq!(
            String::from_utf8_lossy(&got.frames[2]),
            String::from_utf8_lossy(&want[2]),
            "{}: payload",
            v.name
        );
    }
}

fn roundtrip(c: &Client, name: &str, compare_message: bool) {
    let v = load(name);
    send(c, &v);
    let id = message_id(&v.request);
    let got = c
        .recv_for(&id, T)
        .unwrap_or_else(|| panic!("{name}: no reply"));
    check(&v, &got, compare_message);
}

#[test]
fn golden_vectors_replay_byte_for_byte() {
    let server = TestServer::start(ServerConfig::builder("demo").tcp().ipc().build()).unwrap();
    replay_every_vector(
        server.tcp_endpoint().unwrap(),
        server.ipc_endpoint().unwrap(),
    );
}

/// The same vectors against server `demo` of a farm, among others: the farm's one thread gives
/// the same bytes, timeouts and queueing as a TestServer's threads.
#[test]
fn golden_vectors_replay_byte_for_byte_on_a_farm_server() {
    let config = |id: &str| ServerConfig::builder(id).tcp().ipc().build();
    let farm = ServerFarm::builder()
        .server(config("before"))
        .server(config("demo"))
        .server(config("after"))
        .start()
        .unwrap();
    assert_eq!(farm.server_id(1), Some("demo"));
    replay_every_vector(farm.tcp_endpoint(1).unwrap(), farm.ipc_endpoint(1).unwrap());
    let stats = farm.stats(1).unwrap();
    assert!(stats.replied_of("REPLY") > 10, "{stats:?}");
    assert_eq!(farm.stats(0).unwrap().received, 0);
}

/// Replays every vector against server `demo` at these endpoints (its Things fresh).
fn replay_every_vector(tcp: &str, ipc: &str) {
    let c = Client::connect(tcp, "golden-client", "demo");
    c.handshake(T).unwrap();

    // Capture order: number 1.5 -> 42.5 -> 7.
    roundtrip(&c, "tcp_handshake", true);
    roundtrip(&c, "tcp_readproperty_number", true);
    roundtrip(&c, "tcp_readproperty_text", true);
    roundtrip(&c, "tcp_writeproperty_number", true);
    roundtrip(&c, "tcp_readproperty_number_after_write", true);
    roundtrip(&c, "tcp_readproperty_empty_context", true);
    roundtrip(&c, "tcp_readproperty_snake_case_context", true);
    roundtrip(&c, "tcp_invokeaction_add_kwargs", true);
    roundtrip(&c, "tcp_invokeaction_add_positional", true);
    roundtrip(&c, "tcp_invokeaction_add_preserialized", true);
    roundtrip(&c, "tcp_invokeaction_fail", true);
    roundtrip(&c, "tcp_readproperty_unknown_property", true);
    roundtrip(&c, "tcp_unknown_thing_id", true);
    // Our TypeError names a different owner class.
    roundtrip(&c, "tcp_writeproperty_invalid_value", false);
    roundtrip(&c, "tcp_writeproperty_text", true);

    // slow(1.0) with executionTimeout 0.3 -> TIMEOUT "execution".
    roundtrip(&c, "tcp_execution_timeout", true);
    // slow(1.2) keeps the Thing busy; a read with invokationTimeout 0.3 times out in the queue.
    let slow = load("tcp_invokeaction_slow_ok");
    let read = load("tcp_invokation_timeout");
    send(&c, &slow);
    send(&c, &read);
    let got = c.recv_for(&message_id(&read.request), T).unwrap();
    check(&read, &got, true);
    let got = c.recv_for(&message_id(&slow.request), T).unwrap();
    check(&slow, &got, true);

    // oneway write: no reply at all; then the read sees 7.
    let oneway = load("tcp_oneway_writeproperty");
    assert!(oneway.response.is_none());
    send(&c, &oneway);
    assert!(c.drain(Duration::from_millis(200)).is_empty());
    roundtrip(&c, "tcp_readproperty_after_oneway", true);

    let ipc = Client::connect(ipc, "golden-client-ipc", "demo");
    ipc.handshake(T).unwrap();
    roundtrip(&ipc, "ipc_handshake", true);
    roundtrip(&ipc, "ipc_readproperty_number", true);
}

#[test]
fn reply_headers_have_the_golden_shape_with_ids_substituted() {
    let server = TestServer::start(ServerConfig::builder("srv-x").tcp().build()).unwrap();
    let c = Client::connect(server.tcp_endpoint().unwrap(), "cli-y", "srv-x");
    let hs = c.handshake(T).unwrap();
    let reply = c.call("srv-x", "number", "readproperty", "null");

    for (golden, got) in [("tcp_handshake", &hs), ("tcp_readproperty_number", &reply)] {
        let v = load(golden);
        let want = String::from_utf8(v.response.unwrap()[1].clone()).unwrap();
        let want = want
            .replace(&message_id(&v.request), &got.message_id())
            .replace("\"golden-client\"", "\"cli-y\"")
            .replace("\"demo\"", "\"srv-x\"");
        assert_eq!(String::from_utf8_lossy(&got.frames[1]), want, "{golden}");
        // And the crate's own header encoder gives the same bytes.
        let h: Value = serde_json::from_str(&want).unwrap();
        let encoded = response_header(
            h["messageType"].as_str().unwrap(),
            &got.message_id(),
            "cli-y",
            "srv-x",
            "application/json",
            "text/plain",
        );
        assert_eq!(String::from_utf8(encoded).unwrap(), want);
    }
}
