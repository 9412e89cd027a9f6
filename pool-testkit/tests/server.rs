//! Protocol behaviour of `TestServer`, driven by a plain DEALER client.

mod common;

use std::time::Duration;

use common::{new_id, request_header, Client, DEFAULT_CTX};
use pool_testkit::{Behaviour, ServerConfig, TestServer};

const T: Duration = Duration::from_secs(5);

fn tcp_server(id: &str) -> TestServer {
    TestServer::start(ServerConfig::builder(id).tcp().build()).unwrap()
}

fn client(server: &TestServer, id: &str) -> Client {
    let c = Client::connect(server.tcp_endpoint().unwrap(), id, server.server_id());
    c.handshake(T).expect("handshake");
    c
}

#[test]
fn handshake_over_tcp_and_ipc() {
    let server = TestServer::start(ServerConfig::new("hs-server")).unwrap();
    assert!(server
        .tcp_endpoint()
        .unwrap()
        .starts_with("tcp://127.0.0.1:"));
    assert!(!server.tcp_endpoint().unwrap().ends_with(":0"));
    let ipc = server.ipc_endpoint().unwrap();
    assert!(
        ipc.starts_with("ipc://") && ipc.ends_with("/hs-server.ipc"),
        "{ipc}"
    );
    assert_eq!(server.endpoints().len(), 2);

    for (endpoint, cid) in [
        (server.tcp_endpoint().unwrap(), "cli-tcp"),
        (ipc, "cli-ipc"),
    ] {
        let c = Client::connect(endpoint, cid, "hs-server");
        let reply = c.handshake(T).expect("handshake reply");
        assert_eq!(reply.frames.len(), 4);
        assert_eq!(reply.frames[0], b"");
        let h = reply.header().unwrap();
        assert_eq!(h["receiverID"], cid);
        assert_eq!(h["senderID"], "hs-server");
        assert_eq!(reply.frames[2], b"null");
        assert_eq!(reply.frames[3], b"");
    }
    let stats = server.stats();
    assert!(stats.received_of("HANDSHAKE") >= 2);
    assert!(stats.replied_of("HANDSHAKE") >= 2);
}

#[test]
fn handshake_echoes_message_id() {
    let server = tcp_server("echo-id");
    let c = client(&server, "cli");
    let h = request_header(
        "HANDSHAKE",
        "my-id-1",
        "cli",
        "echo-id",
        DEFAULT_CTX,
        "",
        "",
        "",
    );
    c.send(&h, b"null", b"");
    let reply = c.recv_for("my-id-1", T).unwrap();
    assert_eq!(reply.message_type(), "HANDSHAKE");
}

#[test]
fn read_and_write_properties() {
    let server = tcp_server("props");
    let c = client(&server, "cli");
    let r = c.call("props", "number", "readproperty", "null");
    assert_eq!(
        (r.message_type().as_str(), r.frames[2].as_slice()),
        ("REPLY", &b"1.5"[..])
    );
    assert_eq!(
        c.call("props", "text", "readproperty", "null").frames[2],
        b"\"hello\""
    );
    assert_eq!(
        c.call("props", "state", "readproperty", "null").frames[2],
        b"null"
    );

    let w = c.call("props", "number", "writeproperty", "42.5");
    assert_eq!(
        (w.message_type().as_str(), w.frames[2].as_slice()),
        ("REPLY", &b"null"[..])
    );
    assert_eq!(
        c.call("props", "number", "readproperty", "null").frames[2],
        b"42.5"
    );
    c.call("props", "number", "writeproperty", "7");
    assert_eq!(
        c.call("props", "number", "readproperty", "null").frames[2],
        b"7"
    );

    assert_eq!(
        c.call("props", "text", "writeproperty", "\"world\"")
            .message_type(),
        "REPLY"
    );
    assert_eq!(
        c.call("props", "text", "readproperty", "null").frames[2],
        b"\"world\""
    );
    let bad = c.call("props", "text", "writeproperty", "123");
    assert_eq!(bad.message_type(), "EXCEPTION");
    assert_eq!(bad.exception().0, "TypeError");
    let ro = c.call("props", "state", "writeproperty", "1");
    assert_eq!(ro.message_type(), "EXCEPTION");

    let unknown = c.call("props", "nosuchprop", "readproperty", "null");
    assert_eq!(unknown.message_type(), "EXCEPTION");
    assert_eq!(
        unknown.exception(),
        ("KeyError".to_owned(), "'nosuchprop'".to_owned())
    );

    let all = c.call("props", "_get_properties", "invokeaction", "{}");
    assert_eq!(
        all.frames[2],
        // Sorted by name, as hololinked (0.4.2 and 0.3.12) gives them.
        br#"{"integration_time":0.1,"number":7,"state":null,"text":"world"}"#
    );
    let some = c.call(
        "props",
        "_get_properties",
        "invokeaction",
        r#"{"names":["text"]}"#,
    );
    assert_eq!(some.frames[2], br#"{"text":"world"}"#);
    let set = c.call(
        "props",
        "_set_properties",
        "invokeaction",
        r#"{"number":3,"text":"x"}"#,
    );
    assert_eq!(set.frames[2], b"null");
    assert_eq!(
        c.call("props", "number", "readproperty", "null").frames[2],
        b"3"
    );
    let set_bad = c.call("props", "_set_properties", "invokeaction", r#"{"a":1}"#);
    assert_eq!(set_bad.exception().0, "RuntimeError");
}

#[test]
fn actions() {
    let server = tcp_server("actions");
    let c = client(&server, "cli");
    let kw = c.call("actions", "add", "invokeaction", r#"{"a":2,"b":3}"#);
    assert_eq!(
        (kw.message_type().as_str(), kw.frames[2].as_slice()),
        ("REPLY", &b"5"[..])
    );
    let pos = c.call("actions", "add", "invokeaction", r#"{"__args__":[2,3]}"#);
    assert_eq!(pos.frames[2], b"5");
    assert_eq!(
        c.call("actions", "add", "invokeaction", r#"{"__args__":[2]}"#)
            .frames[2],
        b"2"
    );
    assert_eq!(
        c.call(
            "actions",
            "add",
            "invokeaction",
            r#"{"__args__":[1.5],"b":1}"#
        )
        .frames[2],
        b"2.5"
    );
    assert_eq!(
        c.call(
            "actions",
            "echo",
            "invokeaction",
            r#"{"value":{"k":[1,2]}}"#
        )
        .frames[2],
        br#"{"k":[1,2]}"#
    );
    assert_eq!(
        c.call("actions", "ping", "invokeaction", "{}").frames[2],
        b"null"
    );
    assert_eq!(
        c.call("actions", "ping", "invokeaction", "null").frames[2],
        b"null"
    );

    let fail = c.call("actions", "fail", "invokeaction", r#"{"message":"boom"}"#);
    assert_eq!(fail.message_type(), "EXCEPTION");
    assert_eq!(
        fail.exception(),
        ("ValueError".to_owned(), "boom".to_owned())
    );
    let p = fail.payload();
    assert!(p["exception"]["traceback"].is_array());
    assert!(p["exception"]["notes"].is_null());
    let fail_default = c.call("actions", "fail", "invokeaction", "{}");
    assert_eq!(fail_default.exception().1, "deliberate failure");

    let bytes = c.call("actions", "get_bytes", "invokeaction", "{}");
    assert_eq!(bytes.frames[2], b"null");
    assert_eq!(bytes.preserialized(), b"\x00\x01\x02");
    assert_eq!(
        bytes.header().unwrap()["preencodedPayloadContentType"],
        "application/json"
    );
    let mixed = c.call("actions", "get_mixed", "invokeaction", "{}");
    assert_eq!(mixed.frames[2], b"\"foobar\"");
    assert_eq!(mixed.preserialized(), b"foobar");

    let slept = c.call(
        "actions",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.05}"#,
    );
    assert_eq!(slept.frames[2], b"0.05");

    let unknown = c.call("actions", "nosuchaction", "invokeaction", "{}");
    assert_eq!(unknown.exception().0, "KeyError");
    let missing_arg = c.call("actions", "add", "invokeaction", "null");
    assert_eq!(missing_arg.exception().0, "TypeError");
    let bad_op = c.call("actions", "number", "readProperty", "null");
    assert_eq!(bad_op.exception().0, "NotImplementedError");

    // Empty payload frame: EXCEPTION DecodeError, and the Thing keeps working.
    let id = new_id();
    let h = request_header(
        "OPERATION",
        &id,
        "cli",
        "actions",
        DEFAULT_CTX,
        "actions",
        "number",
        "readproperty",
    );
    c.send(&h, b"", b"");
    assert_eq!(c.recv_for(&id, T).unwrap().exception().0, "DecodeError");
    assert_eq!(
        c.call("actions", "number", "readproperty", "null").frames[2],
        b"1.5"
    );
    assert_eq!(server.stats().operations_of("invokeaction"), 14);
}

#[test]
fn unknown_thing_is_invalid_message() {
    let server = tcp_server("srv-unknown");
    let c = client(&server, "cli");
    let r = c.call("nosuchthing", "number", "readproperty", "null");
    assert_eq!(r.message_type(), "INVALID_MESSAGE");
    assert_eq!(
        r.exception(),
        ("KeyError".to_owned(), "'nosuchthing'".to_owned())
    );
    assert_eq!(server.stats().replied_of("INVALID_MESSAGE"), 1);
}

#[test]
fn wrong_frame_count_and_bad_headers() {
    let server = tcp_server("frames");
    let c = client(&server, "cli");
    // 3 DEALER frames = 4 on the server's ROUTER.
    let id = new_id();
    let h = request_header(
        "OPERATION",
        &id,
        "cli",
        "frames",
        DEFAULT_CTX,
        "frames",
        "number",
        "readproperty",
    );
    c.send_frames(&[b"", h.as_bytes(), b"null"]);
    let r = c.recv_for(&id, T).unwrap();
    assert_eq!(r.message_type(), "INVALID_MESSAGE");
    assert_eq!(
        r.exception().1,
        "message length 5 does not match the number of message parts 4"
    );
    // 5 DEALER frames = 6.
    let id = new_id();
    let h = request_header(
        "OPERATION",
        &id,
        "cli",
        "frames",
        DEFAULT_CTX,
        "frames",
        "number",
        "readproperty",
    );
    c.send_frames(&[b"", h.as_bytes(), b"null", b"", b"x"]);
    let r = c.recv_for(&id, T).unwrap();
    assert_eq!(
        r.exception().1,
        "message length 5 does not match the number of message parts 6"
    );

    // Dropped silently: invalid JSON, unknown top-level key, missing senderID, too few frames.
    c.send(r#"{"messageType":"OPERATION""#, b"null", b"");
    let extra = request_header(
        "OPERATION",
        &new_id(),
        "cli",
        "frames",
        DEFAULT_CTX,
        "frames",
        "number",
        "readproperty",
    )
    .replacen('{', r#"{"extra":1,"#, 1);
    c.send(&extra, b"null", b"");
    c.send(
        r#"{"messageType":"OPERATION","messageID":"x","receiverID":"frames"}"#,
        b"null",
        b"",
    );
    c.send_frames(&[b""]);
    assert!(c.drain(Duration::from_millis(300)).is_empty());
    // A reply routed by senderID goes nowhere when senderID is not the socket identity.
    let id = new_id();
    let h = request_header(
        "OPERATION",
        &id,
        "someone-else",
        "frames",
        DEFAULT_CTX,
        "frames",
        "number",
        "readproperty",
    );
    c.send(&h, b"null", b"");
    assert!(c.drain(Duration::from_millis(300)).is_empty());

    let stats = server.stats();
    assert_eq!(stats.dropped, 4);
    assert_eq!(stats.replied_of("INVALID_MESSAGE"), 2);
    assert_eq!(
        stats.replied_of("REPLY"),
        1,
        "the reply to someone-else was sent (and lost)"
    );
}

#[test]
fn execution_timeout() {
    let server = tcp_server("exec-timeout");
    let c = client(&server, "cli");
    let ctx = r#"{"invokationTimeout":5,"executionTimeout":0.2,"oneway":false}"#;
    let id = c.op_ctx(
        "exec-timeout",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.6}"#,
        ctx,
    );
    let r = c.recv_for(&id, T).unwrap();
    assert_eq!(
        (r.message_type().as_str(), r.frames[2].as_slice()),
        ("TIMEOUT", &b"\"execution\""[..])
    );
    // snake_case wins over camelCase.
    let ctx = r#"{"invokationTimeout":5,"executionTimeout":0.01,"execution_timeout":5}"#;
    let id = c.op_ctx(
        "exec-timeout",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.05}"#,
        ctx,
    );
    let r = c.recv_for(&id, T).unwrap();
    assert_eq!(r.message_type(), "REPLY");
    // The late result of the timed-out job is never sent.
    assert!(c.drain(Duration::from_millis(200)).is_empty());
    assert_eq!(server.stats().replied_of("REPLY"), 1);
}

#[test]
fn invokation_timeout() {
    let server = tcp_server("inv-timeout");
    let c = client(&server, "cli");
    let busy = c.op_ctx(
        "inv-timeout",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.6}"#,
        "{}",
    );
    let ctx = r#"{"invokation_timeout":0.2,"execution_timeout":null}"#;
    let read = c.op_ctx("inv-timeout", "number", "readproperty", "null", ctx);
    let r = c.recv_for(&read, T).unwrap();
    assert_eq!(
        (r.message_type().as_str(), r.frames[2].as_slice()),
        ("TIMEOUT", &b"\"invokation\""[..])
    );
    let b = c.recv_for(&busy, T).unwrap();
    assert_eq!(
        (b.message_type().as_str(), b.frames[2].as_slice()),
        ("REPLY", &b"0.6"[..])
    );
    // The timed-out job was dropped, never executed.
    assert!(c.drain(Duration::from_millis(200)).is_empty());
    // Zero means an immediate invokation timeout.
    let id = c.op_ctx(
        "inv-timeout",
        "number",
        "readproperty",
        "null",
        r#"{"invokationTimeout":0}"#,
    );
    assert_eq!(c.recv_for(&id, T).unwrap().frames[2], b"\"invokation\"");
}

#[test]
fn oneway_gives_no_reply_but_timeouts_still_fire() {
    let server = tcp_server("oneway");
    let c = client(&server, "cli");
    let ctx = r#"{"invokationTimeout":5,"executionTimeout":5,"oneway":true}"#;
    c.op_ctx("oneway", "number", "writeproperty", "7", ctx);
    assert!(c.drain(Duration::from_millis(200)).is_empty());
    assert_eq!(
        c.call("oneway", "number", "readproperty", "null").frames[2],
        b"7"
    );
    let ctx = r#"{"execution_timeout":0.1,"oneway":true}"#;
    let id = c.op_ctx(
        "oneway",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.3}"#,
        ctx,
    );
    assert_eq!(c.recv_for(&id, T).unwrap().message_type(), "TIMEOUT");
}

#[test]
fn two_things_on_one_server() {
    let server = TestServer::start(
        ServerConfig::builder("multi")
            .tcp()
            .thing("a")
            .thing("b")
            .build(),
    )
    .unwrap();
    assert_eq!(server.thing_ids(), ["a", "b"]);
    let c = client(&server, "cli");
    c.call("a", "number", "writeproperty", "10");
    assert_eq!(
        c.call("a", "number", "readproperty", "null").frames[2],
        b"10"
    );
    assert_eq!(
        c.call("b", "number", "readproperty", "null").frames[2],
        b"1.5"
    );
    assert_eq!(
        c.call("multi", "number", "readproperty", "null")
            .message_type(),
        "INVALID_MESSAGE"
    );
    // Things run concurrently: b answers while a is busy.
    let slow = c.op("a", "sleep_for", "invokeaction", r#"{"seconds":0.5}"#);
    let fast = c.op("b", "ping", "invokeaction", "{}");
    let first = c.recv(T).unwrap();
    assert_eq!(first.message_id(), fast);
    let second = c.recv(T).unwrap();
    assert_eq!(second.message_id(), slow);
    // A Thing runs its jobs in arrival order.
    let ids: Vec<String> = (0..5)
        .map(|i| c.op("a", "echo", "invokeaction", &format!(r#"{{"value":{i}}}"#)))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let m = c.recv(T).unwrap();
        assert_eq!(&m.message_id(), id);
        assert_eq!(m.frames[2], i.to_string().as_bytes());
    }
}

#[test]
fn exit_stops_the_server_and_is_counted() {
    let mut server = tcp_server("exit");
    let c = client(&server, "cli");
    let h = request_header("EXIT", &new_id(), "cli", "exit", DEFAULT_CTX, "", "", "");
    c.send(&h, b"null", b"");
    let deadline = std::time::Instant::now() + T;
    while server.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!server.is_running());
    assert_eq!(server.stats().exits, 1);
    server.restart().unwrap();
    assert!(server.is_running());
}

#[test]
fn kill_then_restart_on_same_endpoint() {
    let mut server = TestServer::start(ServerConfig::new("phoenix")).unwrap();
    let tcp = server.tcp_endpoint().unwrap().to_owned();
    let ipc = server.ipc_endpoint().unwrap().to_owned();
    let c = client(&server, "cli-1");
    c.call("phoenix", "number", "writeproperty", "99");
    let in_flight = c.op("phoenix", "sleep_for", "invokeaction", r#"{"seconds":1.0}"#);
    std::thread::sleep(Duration::from_millis(50));
    server.kill();
    assert!(!server.is_running());
    assert!(c.recv_for(&in_flight, Duration::from_millis(300)).is_none());

    server.restart().unwrap();
    assert!(server.is_running());
    assert_eq!(server.tcp_endpoint().unwrap(), tcp);
    assert_eq!(server.ipc_endpoint().unwrap(), ipc);
    let fresh = Client::connect(&tcp, "cli-2", "phoenix");
    fresh.handshake(T).expect("handshake after restart");
    // A restart is a new process: properties are back to their defaults.
    assert_eq!(
        fresh
            .call("phoenix", "number", "readproperty", "null")
            .frames[2],
        b"1.5"
    );
    let ipc_client = Client::connect(&ipc, "cli-3", "phoenix");
    ipc_client
        .handshake(T)
        .expect("ipc handshake after restart");
    // The old DEALER reconnects by itself too.
    c.handshake(T).expect("old client handshakes again");
    assert!(server.stats().received_of("HANDSHAKE") >= 4);
}

#[test]
fn drop_and_stop_remove_the_ipc_file() {
    let server = TestServer::start(ServerConfig::builder("ipc-drop").ipc().build()).unwrap();
    assert!(server.tcp_endpoint().is_none());
    let path = server.ipc_path().unwrap().to_owned();
    assert!(path.exists());
    let dir = path.parent().unwrap().to_owned();
    drop(server);
    assert!(!path.exists());
    assert!(!dir.exists());

    let mut server = TestServer::start(ServerConfig::builder("ipc-stop").ipc().build()).unwrap();
    let path = server.ipc_path().unwrap().to_owned();
    server.stop();
    assert!(!path.exists());
    server.restart().unwrap();
    assert!(path.exists());
}

#[test]
fn delay_and_never_reply() {
    let server = tcp_server("moody");
    let c = client(&server, "cli");
    server.set_behaviour(Behaviour::Delay(Duration::from_millis(300)));
    let id = c.op("moody", "ping", "invokeaction", "{}");
    assert!(c.recv(Duration::from_millis(100)).is_none());
    assert_eq!(c.recv_for(&id, T).unwrap().message_type(), "REPLY");

    server.set_behaviour(Behaviour::NeverReply {
        answer_handshake: true,
    });
    c.op("moody", "ping", "invokeaction", "{}");
    assert!(c.drain(Duration::from_millis(200)).is_empty());
    assert!(c.handshake(Duration::from_secs(2)).is_some());

    server.set_behaviour(Behaviour::NeverReply {
        answer_handshake: false,
    });
    assert!(c.handshake(Duration::from_millis(300)).is_none());

    server.set_behaviour(Behaviour::Normal);
    assert_eq!(server.behaviour(), Behaviour::Normal);
    assert!(c.handshake(T).is_some());
    assert_eq!(
        c.call("moody", "ping", "invokeaction", "{}").message_type(),
        "REPLY"
    );
}

#[test]
fn bad_config_is_rejected() {
    assert!(TestServer::start(ServerConfig::builder("").tcp().build()).is_err());
    assert!(TestServer::start(ServerConfig::builder("dup").thing("a").thing("a").build()).is_err());
    let busy = tcp_server("busy");
    let taken = busy.tcp_endpoint().unwrap().to_owned();
    let err = TestServer::start(ServerConfig::builder("other").tcp_at(taken).build()).unwrap_err();
    assert!(matches!(err, pool_testkit::Error::Bind { .. }), "{err}");
}

#[test]
fn stop_and_drop_are_prompt_even_with_busy_things() {
    let mut server = tcp_server("busy-stop");
    let c = client(&server, "cli");
    c.op(
        "busy-stop",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":30}"#,
    );
    c.op("busy-stop", "ping", "invokeaction", "{}");
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(5));
    server.restart().unwrap();
    c.op(
        "busy-stop",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":30}"#,
    );
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(5));
}
