//! `ServerFarm`: many servers on one thread, each reached by a plain DEALER on its own endpoint.
//!
//! Deadlines only bound hangs; nothing here asserts how long anything took.

mod common;

use std::time::Duration;

use common::Client;
use pool_testkit::{Behaviour, Error, ServerConfig, ServerFarm, MAX_FARM_SERVERS};

const T: Duration = Duration::from_secs(5);

/// A farm of `k` servers `farm-0` … on `tcp://127.0.0.1:<any port>`.
fn tcp_farm(k: usize) -> ServerFarm {
    ServerFarm::builder()
        .servers((0..k).map(|i| ServerConfig::builder(format!("farm-{i}")).tcp().build()))
        .start()
        .unwrap()
}

/// A client of server `index`, handshaken.
fn client(farm: &ServerFarm, index: usize, id: &str) -> Client {
    let c = Client::connect(
        farm.tcp_endpoint(index).unwrap(),
        id,
        farm.server_id(index).unwrap(),
    );
    c.handshake(T).expect("handshake");
    c
}

#[test]
fn every_server_answers_with_its_own_id_on_its_own_endpoint() {
    let k = 24;
    let farm = tcp_farm(k);
    assert_eq!(farm.len(), k);
    let mut endpoints: Vec<&str> = (0..k).map(|i| farm.tcp_endpoint(i).unwrap()).collect();
    assert!(
        endpoints.iter().all(|e| !e.ends_with(":0")),
        "{endpoints:?}"
    );
    endpoints.sort_unstable();
    endpoints.dedup();
    assert_eq!(endpoints.len(), k, "one endpoint per server");

    let clients: Vec<Client> = (0..k).map(|i| client(&farm, i, "cli")).collect();
    for (i, c) in clients.iter().enumerate() {
        let thing = format!("farm-{i}");
        let r = c.call(&thing, "number", "readproperty", "null");
        assert_eq!(
            (r.message_type().as_str(), r.frames[2].as_slice()),
            ("REPLY", &b"1.5"[..])
        );
        let h = r.header().unwrap();
        assert_eq!(
            (h["senderID"].as_str(), h["receiverID"].as_str()),
            (Some(thing.as_str()), Some("cli"))
        );
        // Another server's Thing is unknown here.
        let other = format!("farm-{}", (i + 1) % k);
        let r = c.call(&other, "number", "readproperty", "null");
        assert_eq!(r.message_type(), "INVALID_MESSAGE");
    }
    // State is per server.
    clients[0].call("farm-0", "number", "writeproperty", "8");
    assert_eq!(
        clients[0]
            .call("farm-0", "number", "readproperty", "null")
            .frames[2],
        b"8"
    );
    assert_eq!(
        clients[1]
            .call("farm-1", "number", "readproperty", "null")
            .frames[2],
        b"1.5"
    );
    for i in 0..k {
        let stats = farm.stats(i).unwrap();
        assert_eq!(
            stats.received_of("HANDSHAKE"),
            stats.replied_of("HANDSHAKE")
        );
        assert!(stats.operations_of("readproperty") >= 2, "{i}: {stats:?}");
        assert_eq!(stats.replied_of("INVALID_MESSAGE"), 1, "{i}");
    }
    assert!(farm.stats(k).is_none() && farm.server_id(k).is_none());
}

#[test]
fn many_requests_in_flight_over_every_server_are_all_answered() {
    let k = 16;
    let farm = ServerFarm::builder()
        .servers((0..k).map(|i| {
            ServerConfig::builder(format!("farm-{i}"))
                .tcp()
                .send_hwm(0)
                .build()
        }))
        .io_threads(2)
        .start()
        .unwrap();
    let clients: Vec<Client> = (0..k).map(|i| client(&farm, i, "flood")).collect();
    let per_server = 300;
    let sent: Vec<Vec<String>> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (0..per_server)
                .map(|n| {
                    c.op(
                        &format!("farm-{i}"),
                        "echo",
                        "invokeaction",
                        &format!(r#"{{"value":{n}}}"#),
                    )
                })
                .collect()
        })
        .collect();
    for (c, ids) in clients.iter().zip(&sent) {
        // One Thing per server answers in arrival order.
        for (n, id) in ids.iter().enumerate() {
            let m = c.recv(T).expect("every request is answered");
            assert_eq!(&m.message_id(), id);
            assert_eq!(m.frames[2], n.to_string().as_bytes());
        }
    }
    for i in 0..k {
        assert_eq!(
            farm.stats(i).unwrap().replied_of("REPLY"),
            per_server as u64
        );
    }
}

/// Back-to-back round trips: each reply must come although the farm waits for an
/// edge-triggered signal between them.
#[test]
fn sequential_round_trips_all_come_back() {
    let farm = tcp_farm(3);
    let clients: Vec<Client> = (0..3).map(|i| client(&farm, i, "seq")).collect();
    for n in 0..600 {
        let i = n % 3;
        let r = clients[i].call(
            &format!("farm-{i}"),
            "echo",
            "invokeaction",
            &format!(r#"{{"value":{n}}}"#),
        );
        assert_eq!(r.frames[2], n.to_string().as_bytes());
    }
    for n in 0..300 {
        let r = clients[1].call(
            "farm-1",
            "echo",
            "invokeaction",
            &format!(r#"{{"value":{n}}}"#),
        );
        assert_eq!(r.frames[2], n.to_string().as_bytes());
    }
}

#[test]
fn a_sleeping_thing_stalls_neither_other_servers_nor_other_things() {
    let farm = ServerFarm::builder()
        .server(
            ServerConfig::builder("sleepy")
                .tcp()
                .thing("a")
                .thing("b")
                .build(),
        )
        .server(ServerConfig::builder("awake").tcp().build())
        .start()
        .unwrap();
    let sleepy = client(&farm, 0, "cli-sleepy");
    let awake = client(&farm, 1, "cli-awake");
    let slow = sleepy.op("a", "sleep_for", "invokeaction", r#"{"seconds":3}"#);
    // The other server and the other Thing of the same server answer while `a` sleeps.
    let r = awake.call("awake", "number", "readproperty", "null");
    assert_eq!(r.frames[2], b"1.5");
    let fast = sleepy.op("b", "ping", "invokeaction", "{}");
    let first = sleepy.recv(T).unwrap();
    assert_eq!(first.message_id(), fast, "b answers before a wakes up");
    // `a`'s next job waits for it: in order, after the sleep.
    let queued = sleepy.op("a", "echo", "invokeaction", r#"{"value":7}"#);
    let m = sleepy.recv(T).unwrap();
    assert_eq!((m.message_id(), m.frames[2].as_slice()), (slow, &b"3"[..]));
    let m = sleepy.recv(T).unwrap();
    assert_eq!(
        (m.message_id(), m.frames[2].as_slice()),
        (queued, &b"7"[..])
    );
}

/// (The golden vectors, tests/golden.rs, check the timeouts' replies byte for byte on a farm.)
#[test]
fn a_job_whose_invokation_timeout_fires_in_the_queue_never_runs() {
    let farm = tcp_farm(2);
    let c = client(&farm, 1, "cli");
    let busy = c.op_ctx(
        "farm-1",
        "sleep_for",
        "invokeaction",
        r#"{"seconds":0.6}"#,
        "{}",
    );
    let ctx = r#"{"invokation_timeout":0.1,"execution_timeout":null}"#;
    let write = c.op_ctx("farm-1", "number", "writeproperty", "9", ctx);
    assert_eq!(c.recv_for(&write, T).unwrap().frames[2], b"\"invokation\"");
    assert_eq!(c.recv_for(&busy, T).unwrap().frames[2], b"0.6");
    let read = c.call("farm-1", "number", "readproperty", "null");
    assert_eq!(
        read.frames[2], b"1.5",
        "the timed-out write was never executed"
    );
    assert!(c.drain(Duration::from_millis(200)).is_empty());
}

#[test]
fn exit_closes_that_server_only() {
    let farm = tcp_farm(3);
    let c0 = client(&farm, 0, "cli");
    let c2 = client(&farm, 2, "cli");
    let exit = common::request_header(
        "EXIT",
        &common::new_id(),
        "cli",
        "farm-0",
        common::DEFAULT_CTX,
        "",
        "",
        "",
    );
    c0.send(&exit, b"null", b"");
    let deadline = std::time::Instant::now() + T;
    while farm.is_serving(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "EXIT never closed farm-0"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(farm.stats(0).unwrap().exits, 1);
    assert!(farm.is_running() && farm.is_serving(1) && farm.is_serving(2));
    assert_eq!(
        c2.call("farm-2", "number", "readproperty", "null").frames[2],
        b"1.5"
    );
    // farm-0 is gone: a new client gets no handshake.
    let late = Client::connect(farm.tcp_endpoint(0).unwrap(), "late", "farm-0");
    assert!(late.handshake(Duration::from_millis(300)).is_none());
}

#[test]
fn stop_and_drop_remove_the_ipc_files() {
    let dir = tempfile::tempdir().unwrap();
    let at = |i: usize| dir.path().join(format!("s{i}.ipc"));
    let mut farm = ServerFarm::builder()
        .servers((0..3).map(|i| {
            ServerConfig::builder(format!("ipc-{i}"))
                .ipc_at(at(i))
                .build()
        }))
        .server(ServerConfig::builder("tmp").ipc().build())
        .start()
        .unwrap();
    let tmp = farm.ipc_path(3).unwrap().to_owned();
    assert!((0..3).all(|i| at(i).exists()) && tmp.exists());
    let c = Client::connect(farm.ipc_endpoint(1).unwrap(), "cli", "ipc-1");
    c.handshake(T).expect("handshake over ipc");
    assert_eq!(
        c.call("ipc-1", "text", "readproperty", "null").frames[2],
        b"\"hello\""
    );
    farm.stop();
    assert!(!farm.is_running() && !farm.is_serving(1));
    assert!((0..3).all(|i| !at(i).exists()) && !tmp.exists());
    drop(farm);

    let farm = ServerFarm::builder()
        .server(ServerConfig::builder("again").ipc_at(at(0)).build())
        .start()
        .unwrap();
    assert!(at(0).exists());
    drop(farm);
    assert!(!at(0).exists());
}

#[test]
fn bad_configurations_are_refused_and_leave_nothing_bound() {
    let refused = |builder: pool_testkit::ServerFarmBuilder| match builder.start() {
        Err(e) => e,
        Ok(farm) => panic!("started: {farm:?}"),
    };
    assert!(matches!(refused(ServerFarm::builder()), Error::Config(_)));
    let two_a = ServerFarm::builder()
        .server(ServerConfig::builder("a").build())
        .server(ServerConfig::builder("a").build());
    assert!(matches!(refused(two_a), Error::Config(m) if m.contains("duplicate")));
    let slow = ServerFarm::builder().server(
        ServerConfig::builder("slow")
            .behaviour(Behaviour::Delay(Duration::from_secs(1)))
            .build(),
    );
    assert!(matches!(refused(slow), Error::Config(_)));
    let no_io = ServerFarm::builder()
        .server(ServerConfig::builder("a").build())
        .io_threads(0);
    assert!(matches!(refused(no_io), Error::Config(_)));
    let too_many = ServerFarm::builder()
        .servers((0..=MAX_FARM_SERVERS).map(|i| ServerConfig::builder(format!("s{i}")).build()));
    assert!(matches!(refused(too_many), Error::Config(_)));
    assert!(matches!(
        refused(ServerFarm::builder().server(ServerConfig::builder("").build())),
        Error::Config(_)
    ));

    // A bind that fails after others succeeded: the earlier servers' ipc files are removed.
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.ipc");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let clash = ServerFarm::builder()
        .server(ServerConfig::builder("first").ipc_at(&first).build())
        .server(ServerConfig::builder("second").tcp_at(&taken).build());
    assert!(matches!(refused(clash), Error::Bind { endpoint, .. } if endpoint == taken));
    assert!(!first.exists());
    drop(listener);
}
