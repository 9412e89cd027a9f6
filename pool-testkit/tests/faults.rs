//! Fault injection: hostile replies and disconnects seen by a client.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Client, Msg};
use pool_testkit::{Behaviour, HostileConfig, HostileKind, ServerConfig, TestServer};

const T: Duration = Duration::from_secs(5);

/// Sends `n` echo requests one at a time and collects everything the client receives.
fn run_requests(c: &Client, thing: &str, n: usize) -> (Vec<String>, Vec<Msg>) {
    let mut ids = Vec::new();
    let mut got = Vec::new();
    for i in 0..n {
        let id = c.op(
            thing,
            "echo",
            "invokeaction",
            &format!(r#"{{"value":{i}}}"#),
        );
        ids.push(id);
        got.extend(c.drain(Duration::from_millis(60)));
    }
    got.extend(c.drain(Duration::from_millis(200)));
    (ids, got)
}

#[test]
fn hostile_mode_produces_every_kind_of_bad_message() {
    let mut cfg = HostileConfig::all(0.5, 42);
    cfg.large_frame = 0.5;
    cfg.large_frame_size = 64 * 1024;
    let server = TestServer::start(ServerConfig::builder("hostile").tcp().build()).unwrap();
    let c = Client::connect(server.tcp_endpoint().unwrap(), "cli", "hostile");
    c.handshake(T).unwrap();
    c.drain(Duration::from_millis(100));
    server.set_behaviour(Behaviour::Hostile(cfg));
    let (ids, got) = run_requests(&c, "hostile", 30);

    let sent: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut good_per_id = std::collections::HashMap::<String, usize>::new();
    let mut replied_ids = Vec::<String>::new();
    for m in &got {
        match m.frames.len() {
            2 => {
                seen.insert(HostileKind::ThreeFrames);
                continue;
            }
            5 => {
                seen.insert(HostileKind::SixFrames);
                continue;
            }
            4 => {}
            n => panic!("unexpected frame count {n}"),
        }
        let Some(h) = m.header() else {
            seen.insert(HostileKind::InvalidJsonHeader);
            continue;
        };
        let Some(id) = h.get("messageID").and_then(|v| v.as_str()) else {
            seen.insert(HostileKind::MissingKeys);
            continue;
        };
        if h.get("messageType").is_none() {
            seen.insert(HostileKind::MissingKeys);
            continue;
        }
        if h.get("hostileExtra").is_some() {
            seen.insert(HostileKind::ExtraKeys);
        }
        let ty = m.message_type();
        if !sent.contains(id) {
            if ty == "TIMEOUT" {
                seen.insert(HostileKind::UnsolicitedTimeout);
            } else if m.preserialized().len() == 64 * 1024 {
                seen.insert(HostileKind::LargeFrame);
            } else {
                seen.insert(HostileKind::UnknownMessageId);
            }
            continue;
        }
        if ty == "TIMEOUT" {
            // A TIMEOUT for an id that was already answered.
            seen.insert(HostileKind::UnsolicitedTimeout);
            continue;
        }
        assert_eq!(ty, "REPLY");
        let count = good_per_id.entry(id.to_owned()).or_default();
        *count += 1;
        if *count == 2 && replied_ids.last().map(String::as_str) == Some(id) {
            seen.insert(HostileKind::Duplicate);
        } else if *count >= 2 {
            seen.insert(HostileKind::Replay);
        }
        replied_ids.push(id.to_owned());
    }
    // Every request still got its good reply.
    for id in &ids {
        assert!(good_per_id.contains_key(id), "no reply for {id}");
    }
    let all: HashSet<HostileKind> = HostileKind::ALL.into_iter().collect();
    assert_eq!(
        seen,
        all,
        "missing: {:?}",
        all.difference(&seen).collect::<Vec<_>>()
    );
    let stats = server.stats();
    for kind in HostileKind::ALL {
        assert!(stats.hostile_of(kind) > 0, "{kind:?} not counted");
    }
    assert_eq!(stats.replied_of("REPLY"), 30);
}

#[test]
fn hostile_is_deterministic_by_seed() {
    let trace = |seed: u64| {
        let cfg = HostileConfig::all(0.3, seed).with(HostileKind::LargeFrame, 0.0);
        let server = TestServer::start(
            ServerConfig::builder("det")
                .tcp()
                .behaviour(Behaviour::Hostile(cfg))
                .build(),
        )
        .unwrap();
        let c = Client::connect(server.tcp_endpoint().unwrap(), "cli", "det");
        // Wait for the connection without sending anything (the hostile PRNG counts replies).
        std::thread::sleep(Duration::from_millis(100));
        let (_, _) = run_requests(&c, "det", 12);
        server.stats().hostile_sent
    };
    let a = trace(7);
    let b = trace(7);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn hostile_large_frame_of_16_mib() {
    let cfg = HostileConfig::only(HostileKind::LargeFrame, 1.0, 1);
    assert_eq!(cfg.large_frame_size, 16 * 1024 * 1024);
    let server = TestServer::start(
        ServerConfig::builder("big")
            .tcp()
            .behaviour(Behaviour::Hostile(cfg))
            .build(),
    )
    .unwrap();
    let c = Client::connect(server.tcp_endpoint().unwrap(), "cli", "big");
    let id = c.op("big", "ping", "invokeaction", "{}");
    let first = c.recv(T).unwrap();
    assert_eq!(first.preserialized().len(), 16 * 1024 * 1024);
    assert_ne!(first.message_id(), id);
    assert_eq!(c.recv_for(&id, T).unwrap().message_type(), "REPLY");
}

/// libzmq monitor event id of a disconnect.
const EVENT_DISCONNECTED: u16 = 0x0200;

#[test]
fn kill_is_seen_as_a_disconnect() {
    let mut server = TestServer::start(ServerConfig::builder("mortal").tcp().build()).unwrap();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"cli").unwrap();
    dealer.set_linger(0).unwrap();
    dealer
        .monitor("inproc://monitor", zmq::SocketEvent::ALL as i32)
        .unwrap();
    let monitor = ctx.socket(zmq::PAIR).unwrap();
    monitor.set_linger(0).unwrap();
    monitor.connect("inproc://monitor").unwrap();
    dealer.connect(server.tcp_endpoint().unwrap()).unwrap();
    let h = common::request_header(
        "HANDSHAKE",
        "h1",
        "cli",
        "mortal",
        common::DEFAULT_CTX,
        "",
        "",
        "",
    );
    dealer
        .send_multipart([&b""[..], h.as_bytes(), b"null", b""], 0)
        .unwrap();
    assert_eq!(dealer.recv_multipart(0).unwrap().len(), 4);

    server.kill();
    let deadline = Instant::now() + T;
    let mut disconnected = false;
    while Instant::now() < deadline && !disconnected {
        let mut items = [monitor.as_poll_item(zmq::POLLIN)];
        if zmq::poll(&mut items, 100).unwrap() == 0 {
            continue;
        }
        let event = monitor.recv_multipart(0).unwrap();
        disconnected = u16::from_le_bytes([event[0][0], event[0][1]]) == EVENT_DISCONNECTED;
    }
    assert!(disconnected, "no EVENT_DISCONNECTED after kill");
    server.restart().unwrap();
    let h = common::request_header(
        "HANDSHAKE",
        "h2",
        "cli",
        "mortal",
        common::DEFAULT_CTX,
        "",
        "",
        "",
    );
    let deadline = Instant::now() + T;
    let mut ok = false;
    while Instant::now() < deadline && !ok {
        dealer
            .send_multipart([&b""[..], h.as_bytes(), b"null", b""], 0)
            .unwrap();
        let mut items = [dealer.as_poll_item(zmq::POLLIN)];
        if zmq::poll(&mut items, 100).unwrap() > 0 {
            ok = dealer.recv_multipart(0).unwrap().len() == 4;
        }
    }
    assert!(ok, "no handshake after restart");
}
