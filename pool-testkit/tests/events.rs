//! The testkit servers' event publisher, seen from a raw libzmq SUB socket
//! (docs/protocol.md §17).

use std::time::{Duration, Instant};

use pool_testkit::raw_client::{RawClient, Request};
use pool_testkit::{
    sanitized_ipc_filename, EventStream, HostileEvent, ServerConfig, TestServer, Transport,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

/// A SUB socket connected to `endpoint`, subscribed to each of `topics`.
struct Sub {
    socket: zmq::Socket,
    _ctx: zmq::Context,
}

impl Sub {
    fn new(endpoint: &str, topics: &[&str]) -> Sub {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::SUB).unwrap();
        socket.set_linger(0).unwrap();
        socket.set_rcvtimeo(50).unwrap();
        for t in topics {
            socket.set_subscribe(t.as_bytes()).unwrap();
        }
        socket.connect(endpoint).unwrap();
        Sub { socket, _ctx: ctx }
    }

    /// The next message, if one arrives within the socket's short receive timeout.
    fn try_recv(&self) -> Option<Vec<Vec<u8>>> {
        self.socket.recv_multipart(0).ok()
    }

    /// The next message whose frame 0 is `topic`, skipping others, within [`WAIT`].
    fn recv_on(&self, topic: &str) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(m) = self.try_recv() {
                if m[0] == topic.as_bytes() {
                    return m;
                }
            }
        }
        panic!("nothing on {topic} within {WAIT:?}");
    }

    /// Publishes probes (event `probe` of `thing`) until one arrives: the subscription is then
    /// known to have reached the publisher (PUB/SUB's slow joiner).
    fn wait_subscribed(&self, server: &TestServer, thing: &str) {
        let deadline = Instant::now() + WAIT;
        let topic = format!("{thing}/probe");
        while Instant::now() < deadline {
            server.publish(thing, "probe", b"null");
            if let Some(m) = self.try_recv() {
                if m[0] == topic.as_bytes() {
                    return;
                }
            }
        }
        panic!("subscription to {thing} never took");
    }
}

fn header(frames: &[Vec<u8>]) -> Value {
    serde_json::from_slice(&frames[2]).expect("header is JSON")
}

fn server(id: &str) -> TestServer {
    TestServer::start(ServerConfig::builder(id).tcp().ipc().build()).unwrap()
}

#[test]
fn endpoints_follow_the_hololinked_convention() {
    let s = server("ev-endpoints");
    let tcp = s.tcp_endpoint().unwrap();
    let port: u16 = tcp.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(
        s.event_endpoint(Transport::Tcp).unwrap(),
        format!("tcp://127.0.0.1:{}", port + 1)
    );
    let ipc = s.ipc_path().unwrap();
    let expected = ipc
        .parent()
        .unwrap()
        .join(sanitized_ipc_filename("ev-endpoints/event-publisher"));
    assert!(expected.ends_with("ev-endpoints.event-publisher.ipc"));
    assert_eq!(
        s.event_ipc_endpoint().unwrap(),
        format!("ipc://{}", expected.display())
    );
    assert!(expected.exists(), "the PUB socket is bound at {expected:?}");
    assert_eq!(s.event_endpoints().len(), s.endpoints().len());
    assert_eq!(s.publisher_id(), "ev-endpoints/event-publisher");
}

#[test]
fn a_taken_port_plus_one_fails_the_start_clearly() {
    let ctx = zmq::Context::new();
    for _ in 0..20 {
        let blocker = ctx.socket(zmq::REP).unwrap();
        blocker.set_linger(0).unwrap();
        blocker.bind("tcp://127.0.0.1:0").unwrap();
        let taken = blocker.get_last_endpoint().unwrap().unwrap();
        let port: u16 = taken.rsplit_once(':').unwrap().1.parse().unwrap();
        let config = ServerConfig::builder("ev-taken")
            .tcp_at(format!("tcp://127.0.0.1:{}", port - 1))
            .build();
        match TestServer::start(config).unwrap_err() {
            // Port - 1 itself is taken: try another.
            pool_testkit::Error::Bind { .. } => continue,
            err @ pool_testkit::Error::EventBind { .. } => {
                assert!(err.to_string().contains("event publisher"), "{err}");
                assert!(err.to_string().contains(&taken), "{err}");
                return;
            }
            err => panic!("unexpected {err}"),
        }
    }
    panic!("never found a free port below a taken one");
}

#[test]
fn events_have_five_frames_and_the_hololinked_header() {
    for transport in Transport::ALL {
        let s = server("ev-frames");
        let sub = Sub::new(s.event_endpoint(transport).unwrap(), &["ev-frames/"]);
        sub.wait_subscribed(&s, "ev-frames");
        assert!(s.publish("ev-frames", "tick", br#"{"n":76}"#));
        let m = sub.recv_on("ev-frames/tick");
        assert_eq!(m.len(), 5);
        assert_eq!(m[1], b"");
        assert_eq!(m[3], br#"{"n":76}"#);
        assert_eq!(m[4], b"");
        let h = header(&m);
        let id = h["messageID"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "uuid4: {id}");
        let expected = format!(
            r#"{{"messageType":"EVENT","messageID":"{id}","senderID":"ev-frames/event-publisher","eventID":"ev-frames/tick","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#
        );
        assert_eq!(String::from_utf8(m[2].clone()).unwrap(), expected);
        assert!(s.publish("ev-frames", "tick", b"1"));
        let again = sub.recv_on("ev-frames/tick");
        assert_ne!(header(&again)["messageID"], h["messageID"]);
    }
}

#[test]
fn a_steady_stream_arrives_in_order() {
    let s = TestServer::start(
        ServerConfig::builder("ev-stream")
            .tcp()
            .event_stream(EventStream::new("ev-stream", "tick").rate(500.0))
            .build(),
    )
    .unwrap();
    let sub = Sub::new(s.event_tcp_endpoint().unwrap(), &["ev-stream/tick"]);
    let first = sub.recv_on("ev-stream/tick");
    let n = |m: &[Vec<u8>]| {
        serde_json::from_slice::<Value>(&m[3]).unwrap()["n"]
            .as_u64()
            .unwrap()
    };
    let mut last = n(&first);
    for _ in 0..50 {
        let next = n(&sub.recv_on("ev-stream/tick"));
        assert_eq!(next, last + 1);
        last = next;
    }
    s.stop_streams();

    let id = s
        .start_stream(
            EventStream::new("other", "fast")
                .as_fast_as_possible()
                .padding(64),
        )
        .unwrap();
    let sub = Sub::new(s.event_tcp_endpoint().unwrap(), &["other/fast"]);
    let m = sub.recv_on("other/fast");
    let payload: Value = serde_json::from_slice(&m[3]).unwrap();
    assert_eq!(payload["pad"].as_str().unwrap().len(), 64);
    assert!(s.stop_stream(id).unwrap() > 0);
    assert_eq!(s.stop_stream(id), None);
}

#[test]
fn an_observable_property_publishes_each_new_value_once() {
    let s = TestServer::start(
        ServerConfig::builder("ev-obs")
            .tcp()
            .observable("number")
            .build(),
    )
    .unwrap();
    let sub = Sub::new(
        s.event_tcp_endpoint().unwrap(),
        &[
            "ev-obs/probe",
            "ev-obs/number_change_event",
            "ev-obs/text_change_event",
        ],
    );
    sub.wait_subscribed(&s, "ev-obs");
    let client = RawClient::connect(s.tcp_endpoint().unwrap(), "ev-obs-client", "ev-obs").unwrap();
    client.handshake(WAIT).unwrap();
    // As on hololinked, the first read publishes the value (nothing was published yet).
    client
        .request(&Request::read_property("ev-obs", "number"))
        .unwrap();
    let m = sub.recv_on("ev-obs/number_change_event");
    assert_eq!(m[3], b"1.5");
    let reply = client
        .request(&Request::write_property(
            "ev-obs",
            "number",
            &Value::from(2.5),
        ))
        .unwrap();
    assert_eq!(reply.header_str("messageType"), Some("REPLY"));
    let m = sub.recv_on("ev-obs/number_change_event");
    assert_eq!(m.len(), 5);
    assert_eq!(m[3], b"2.5");
    assert_eq!(header(&m)["eventID"], "ev-obs/number_change_event");

    // The same value written again or read publishes nothing, `text` is not observable, and a
    // refused write publishes nothing: the next event is the probe.
    client
        .request(&Request::write_property(
            "ev-obs",
            "number",
            &Value::from(2.5),
        ))
        .unwrap();
    client
        .request(&Request::read_property("ev-obs", "number"))
        .unwrap();
    client
        .request(&Request::write_property(
            "ev-obs",
            "text",
            &Value::from("x"),
        ))
        .unwrap();
    client
        .request(&Request::write_property(
            "ev-obs",
            "number",
            &Value::from("nan"),
        ))
        .unwrap();
    s.publish("ev-obs", "probe", b"\"last\"");
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the last probe never came");
        let Some(m) = sub.try_recv() else { continue };
        assert_ne!(
            m[0], b"ev-obs/number_change_event",
            "an unchanged value or a refused write published"
        );
        assert_ne!(m[0], b"ev-obs/text_change_event");
        if m[3] == b"\"last\"" {
            break;
        }
    }
}

#[test]
fn raw_and_hostile_frames_arrive_verbatim() {
    let s = server("ev-raw");
    let sub = Sub::new(s.event_tcp_endpoint().unwrap(), &[""]);
    sub.wait_subscribed(&s, "ev-raw");
    let raw = vec![b"ev-raw/x".to_vec(), b"a".to_vec(), vec![0, 1, 2]];
    assert!(s.publish_raw(raw.clone()));
    assert_eq!(sub.recv_on("ev-raw/x"), raw);

    for n in [1, 3, 4, 7] {
        assert!(s.publish_hostile("ev-raw", "h", HostileEvent::FrameCount(n)));
        assert_eq!(sub.recv_on("ev-raw/h").len(), n);
    }
    s.publish_hostile("ev-raw", "h", HostileEvent::HeaderNotJson);
    assert!(serde_json::from_slice::<Value>(&sub.recv_on("ev-raw/h")[2]).is_err());
    s.publish_hostile("ev-raw", "h", HostileEvent::WrongMessageType);
    assert_eq!(header(&sub.recv_on("ev-raw/h"))["messageType"], "REPLY");
    s.publish_hostile("ev-raw", "h", HostileEvent::MismatchedEventId);
    assert_eq!(
        header(&sub.recv_on("ev-raw/h"))["eventID"],
        "ev-raw/h_other"
    );
    s.publish_hostile("ev-raw", "h", HostileEvent::UnsubscribedTopic);
    let m = sub.recv_on(std::str::from_utf8(pool_testkit::events::UNSUBSCRIBED_TOPIC).unwrap());
    assert_eq!(m.len(), 5);
    s.publish_hostile("ev-raw", "h", HostileEvent::Oversized(1 << 20));
    assert_eq!(sub.recv_on("ev-raw/h")[3].len(), 1 << 20);
}

#[test]
fn the_publisher_dies_with_a_kill_and_comes_back_on_restart() {
    for transport in Transport::ALL {
        let mut s = server("ev-restart");
        let endpoint = s.event_endpoint(transport).unwrap().to_owned();
        let sub = Sub::new(&endpoint, &["ev-restart/"]);
        sub.wait_subscribed(&s, "ev-restart");
        s.kill();
        assert!(!s.publish("ev-restart", "probe", b"null"));
        s.restart().unwrap();
        assert_eq!(s.event_endpoint(transport).unwrap(), endpoint);
        sub.wait_subscribed(&s, "ev-restart");
        assert!(s.events_published() >= 2);
    }
}
