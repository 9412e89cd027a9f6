//! pool-tokio against testkit servers (libzmq ROUTERs speaking hololinked): every outcome type,
//! over tcp and ipc. No assertion here is about timing; deadlines only bound hangs.

mod common;

use std::time::Duration;

use common::{bounded, ready_pool, secs, server, Via, BOTH};
use pool_testkit::Behaviour;
use pool_tokio::{Error, Pool, Request, TimeoutKind, WhenFull};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn properties_and_actions_over_tcp_and_ipc() {
    for via in BOTH {
        let srv = server("props", &[], via, Behaviour::Normal);
        let pool = ready_pool(&[(&srv, via)]).await;
        bounded(async {
            let r = pool.read_property("props", "number").await.unwrap();
            assert_eq!(r.json::<f64>().unwrap(), 1.5, "{via:?}");
            assert_eq!(r.thing(), "props");
            assert_eq!(r.server(), "props");
            assert_eq!(r.payload_content_type(), "application/json");
            assert_eq!(r.message_id().len(), 36);

            pool.write_property("props", "number", &7.25).await.unwrap();
            let r = pool.read_property("props", "number").await.unwrap();
            assert_eq!(r.json::<f64>().unwrap(), 7.25);

            // kwargs, positional `__args__`, and a preserialized first argument.
            let r = pool
                .invoke_action("props", "add", &json!({"a": 1, "b": 2}))
                .await
                .unwrap();
            assert_eq!(r.json::<i64>().unwrap(), 3);
            let r = pool
                .call(Request::invoke_action("props", "add").args(&[2.0, 3.5]))
                .await
                .unwrap();
            assert_eq!(r.json::<f64>().unwrap(), 5.5);
            let r = pool
                .call(
                    Request::invoke_action("props", "echo")
                        .preserialized(&b"\x00raw\xff"[..], "application/octet-stream"),
                )
                .await
                .unwrap();
            assert_eq!(&r.preserialized()[..], b"\x00raw\xff");
            assert_eq!(&r.payload()[..], b"null");

            // bytes and mixed replies keep both frames.
            let r = pool.invoke_action("props", "get_bytes", &()).await.unwrap();
            assert_eq!(&r.preserialized()[..], b"\x00\x01\x02");
            let r = pool.invoke_action("props", "get_mixed", &()).await.unwrap();
            assert_eq!(r.json::<String>().unwrap(), "foobar");
            assert_eq!(&r.preserialized()[..], b"foobar");

            // Several properties at once.
            pool.write_properties("props", &json!({"number": 2.5, "text": "hi"}))
                .await
                .unwrap();
            let r = pool
                .read_properties("props", &["number", "text"])
                .await
                .unwrap();
            assert_eq!(r.value().unwrap(), json!({"number": 2.5, "text": "hi"}));
        })
        .await;
        pool.shutdown().await;
        assert_eq!(srv.stats().exits, 0, "the pool never sends EXIT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_errors_name_thing_server_and_message_id() {
    let srv = server("errs", &["errs", "other"], Via::Tcp, Behaviour::Normal);
    let pool = common::builder(&[(&srv, Via::Tcp)])
        .thing("not-on-server", "errs")
        .build()
        .unwrap();
    pool.ready(Duration::from_secs(10)).await.unwrap();
    bounded(async {
        match pool
            .invoke_action("errs", "fail", &json!({"message": "boom"}))
            .await
        {
            Err(Error::Remote {
                thing,
                server,
                message_id,
                kind,
                message,
                traceback,
            }) => {
                assert_eq!((thing.as_str(), server.as_str()), ("errs", "errs"));
                assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "boom"));
                assert_eq!(message_id.len(), 36);
                assert!(!traceback.is_empty());
            }
            other => panic!("{other:?}"),
        }
        // A Thing the pool maps to the server but the server does not serve.
        match pool.read_property("not-on-server", "number").await {
            Err(Error::InvalidMessage { thing, server, .. }) => {
                assert_eq!((thing.as_str(), server.as_str()), ("not-on-server", "errs"));
            }
            other => panic!("{other:?}"),
        }
        // A Thing the pool does not know fails at once, naming what it knows.
        match pool.request(Request::read_property("nope", "number")) {
            Err(Error::UnknownThing { thing, known }) => {
                assert_eq!(thing, "nope");
                assert!(known.contains("errs") && known.contains("other"), "{known}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("an unknown Thing must be refused"),
        }
        // A payload the server cannot decode is the server's exception, not a hang.
        let r = pool
            .call(
                Request::write_property("errs", "number")
                    .payload(&b"{not json"[..], "application/json"),
            )
            .await;
        assert!(
            matches!(r, Err(Error::Remote { ref kind, .. }) if kind == "DecodeError"),
            "{r:?}"
        );
        // Unknown property.
        let r = pool.read_property("other", "missing").await;
        assert!(
            matches!(r, Err(Error::Remote { ref kind, .. }) if kind == "KeyError"),
            "{r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_timeouts_are_reported_by_kind() {
    let srv = server("slow", &[], Via::Tcp, Behaviour::Normal);
    let pool = ready_pool(&[(&srv, Via::Tcp)]).await;
    bounded(async {
        let r = pool
            .call(
                Request::invoke_action("slow", "sleep_for")
                    .kwargs(&json!({"seconds": 1.0}))
                    .execution_timeout(Some(secs(0.2))),
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::ServerTimeout {
                    kind: TimeoutKind::Execution,
                    ..
                })
            ),
            "{r:?}"
        );
        // Keep the Thing busy, then queue a request that may wait only briefly.
        let busy = pool
            .request(
                Request::invoke_action("slow", "sleep_for")
                    .kwargs(&json!({"seconds": 1.0}))
                    .execution_timeout(None),
            )
            .unwrap();
        tokio::time::sleep(secs(0.1)).await;
        let r = pool
            .call(Request::read_property("slow", "number").invokation_timeout(Some(secs(0.2))))
            .await;
        assert!(
            matches!(
                r,
                Err(Error::ServerTimeout {
                    kind: TimeoutKind::Invokation,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(busy.await.unwrap().json::<f64>().unwrap(), 1.0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_deadlines_say_whether_the_server_was_ever_ready() {
    let silent = server(
        "silent",
        &[],
        Via::Tcp,
        Behaviour::NeverReply {
            answer_handshake: true,
        },
    );
    let pool = ready_pool(&[(&silent, Via::Tcp)]).await;
    let r = bounded(pool.call(Request::read_property("silent", "number").timeout(secs(0.3)))).await;
    match r {
        Err(Error::Timeout {
            sent,
            server_ready,
            thing,
            after,
            ..
        }) => {
            assert!(sent && server_ready);
            assert_eq!(thing, "silent");
            assert_eq!(after, secs(0.3));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.stats().requests.timeouts, 1);

    // Nobody listens on this endpoint: the request times out unsent, and says so.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("ipc://{}/nobody.ipc", dir.path().display());
    let pool = Pool::builder()
        .server("ghost", nowhere)
        .connect_timeout(secs(0.2))
        .build()
        .unwrap();
    let r = bounded(pool.call(Request::read_property("ghost", "number").timeout(secs(0.5)))).await;
    match &r {
        Err(
            e @ Error::Timeout {
                sent: false,
                server_ready: false,
                ..
            },
        ) => {
            assert!(e.to_string().contains("never became ready"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match bounded(pool.ready(secs(0.3))).await {
        Err(Error::NotReady { servers, .. }) => assert_eq!(servers, ["ghost"]),
        other => panic!("{other:?}"),
    }
    assert!(pool.stats().connect_failures >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_requests_end_when_sent() {
    let srv = server("ow", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&srv, Via::Ipc)]).await;
    bounded(async {
        let r = pool
            .call(
                Request::write_property("ow", "number")
                    .json(&42.0)
                    .oneway(true),
            )
            .await
            .unwrap();
        assert!(r.is_oneway());
        // The write happened (a normal read after it sees it: one Thing executes in order).
        let r = pool.read_property("ow", "number").await.unwrap();
        assert_eq!(r.json::<f64>().unwrap(), 42.0);
    })
    .await;
    let stats = pool.stats().requests;
    assert_eq!(stats.oneway_sent, 1);
    assert_eq!(pool.stats().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_pending_request_cancels_it_and_its_late_reply_is_dropped() {
    let srv = server("cancel", &[], Via::Tcp, Behaviour::Normal);
    let pool = ready_pool(&[(&srv, Via::Tcp)]).await;
    let pending = pool
        .request(Request::invoke_action("cancel", "sleep_for").kwargs(&json!({"seconds": 0.3})))
        .unwrap();
    assert_eq!(pending.message_id().map(str::len), Some(36));
    // Drop it once it is on the wire, so that its reply comes back late.
    common::eventually(&pool, |s| s.requests.requests_sent >= 1).await;
    drop(pending);
    let stats = pool.stats();
    assert_eq!(stats.requests.cancelled, 1);
    assert_eq!(stats.in_flight, 0);
    // The reply still comes, and is counted as late instead of reaching anyone.
    bounded(async {
        while pool.stats().requests.dropped_late == 0 {
            tokio::time::sleep(secs(0.02)).await;
        }
    })
    .await;
    // The pool keeps working.
    let r = bounded(pool.read_property("cancel", "text")).await.unwrap();
    assert_eq!(r.json::<String>().unwrap(), "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_things_on_one_server_and_fan_out_over_servers() {
    let multi = server(
        "multi",
        &["cam", "stage", "laser"],
        Via::Tcp,
        Behaviour::Normal,
    );
    let single = server("single", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&multi, Via::Tcp), (&single, Via::Ipc)]).await;
    assert_eq!(pool.things(), ["cam", "laser", "single", "stage"]);
    bounded(async {
        for thing in ["cam", "stage", "laser"] {
            pool.write_property(thing, "text", &thing).await.unwrap();
        }
        for thing in ["cam", "stage", "laser"] {
            let r = pool.read_property(thing, "text").await.unwrap();
            assert_eq!(
                r.json::<String>().unwrap(),
                thing,
                "each Thing keeps its own state"
            );
        }
        let all = pool.execute_in_all(Request::invoke_all("ping")).await;
        let things: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(things, ["cam", "laser", "single", "stage"]);
        for (thing, result) in &all {
            let reply = result.as_ref().unwrap_or_else(|e| panic!("{thing}: {e}"));
            assert_eq!(reply.thing(), thing);
            assert_eq!(reply.value().unwrap(), Value::Null);
        }
        let all = pool
            .execute_in_all(Request::read_property("", "text"))
            .await;
        for (thing, result) in all {
            let expected = if thing == "single" {
                "hello".to_owned()
            } else {
                thing.clone()
            };
            assert_eq!(result.unwrap().json::<String>().unwrap(), expected);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_gives_each_thing_its_own_outcome() {
    let good = server("good", &[], Via::Tcp, Behaviour::Normal);
    let mute = server(
        "mute",
        &[],
        Via::Tcp,
        Behaviour::NeverReply {
            answer_handshake: true,
        },
    );
    let pool = ready_pool(&[(&good, Via::Tcp), (&mute, Via::Tcp)]).await;
    let all = bounded(pool.execute_in_all(Request::invoke_all("ping").timeout(secs(0.3)))).await;
    assert!(all[0].1.is_ok(), "{:?}", all[0]);
    assert!(
        matches!(all[1].1, Err(Error::Timeout { sent: true, .. })),
        "{:?}",
        all[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_each_get_their_own_reply() {
    let a = server("a", &[], Via::Tcp, Behaviour::Normal);
    let b = server("b", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&a, Via::Tcp), (&b, Via::Ipc)]).await;
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let thing = if n % 2 == 0 { "a" } else { "b" };
                let r = pool
                    .invoke_action(thing, "echo", &json!({"value": n}))
                    .await
                    .unwrap();
                assert_eq!(r.json::<i64>().unwrap(), n);
                assert_eq!(r.thing(), thing);
            })
        })
        .collect();
    bounded(async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    let stats = pool.stats();
    assert_eq!(stats.requests.replies, 1000);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.requests.dropped_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_refuses_or_waits_as_configured() {
    let srv = server("full", &[], Via::Tcp, Behaviour::Delay(secs(0.5)));
    let builder = || common::builder(&[(&srv, Via::Tcp)]).capacity(2);
    let busy = builder().when_full(WhenFull::Busy).build().unwrap();
    busy.ready(secs(10.0)).await.unwrap();
    let first = busy
        .request(Request::read_property("full", "number"))
        .unwrap();
    let second = busy
        .request(Request::read_property("full", "number"))
        .unwrap();
    match busy.request(Request::read_property("full", "number")) {
        Err(Error::Busy { thing, capacity }) => assert_eq!((thing.as_str(), capacity), ("full", 2)),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a full pool set to Busy must refuse"),
    }
    bounded(async {
        first.await.unwrap();
        second.await.unwrap();
    })
    .await;

    let waiting = builder().when_full(WhenFull::Wait).build().unwrap();
    waiting.ready(secs(10.0)).await.unwrap();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            waiting
                .request(Request::read_property("full", "number"))
                .unwrap()
        })
        .collect();
    assert_eq!(
        requests.iter().filter(|r| r.message_id().is_none()).count(),
        4
    );
    let results = bounded(futures::future::join_all(requests)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // A request that cannot get a slot within its deadline times out, unsent.
    let hold: Vec<_> = (0..2)
        .map(|_| {
            waiting
                .request(Request::read_property("full", "number"))
                .unwrap()
        })
        .collect();
    let late = waiting
        .request(Request::read_property("full", "number").timeout(secs(0.05)))
        .unwrap();
    assert!(matches!(
        bounded(late).await,
        Err(Error::Timeout { sent: false, .. })
    ));
    drop(hold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_at_build() {
    let bad_endpoints = ["127.0.0.1:5555", "tcp://localhost", "inproc://x", "ipc://"];
    for endpoint in bad_endpoints {
        let r = Pool::builder().server("s", endpoint).build();
        assert!(
            matches!(r, Err(Error::InvalidEndpoint { .. })),
            "{endpoint}: {:?}",
            r.err()
        );
    }
    let r = Pool::builder().client_id("\0abc").build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::builder().client_id("x".repeat(256)).build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::builder().server("", "tcp://127.0.0.1:5555").build();
    assert!(matches!(r, Err(Error::InvalidIdentity { .. })));
    let r = Pool::builder()
        .server("s", "tcp://127.0.0.1:5555")
        .server("s", "tcp://127.0.0.1:5556")
        .build();
    assert!(matches!(r, Err(Error::AlreadyExists { .. })));
    let r = Pool::builder()
        .server("s", "tcp://127.0.0.1:5555")
        .thing("t", "s")
        .thing("t", "s")
        .build();
    assert!(
        matches!(r, Err(Error::AlreadyExists { ref id }) if id == "t"),
        "{:?}",
        r.err()
    );
    let r = Pool::builder().thing("t", "no-such-server").build();
    assert!(matches!(r, Err(Error::UnknownServer { .. })));
    let r = Pool::builder().capacity(0).build();
    assert!(matches!(r, Err(Error::Config(_))));
    // Outside a runtime there is nothing to run on.
    let outside = std::thread::spawn(|| Pool::builder().build().err())
        .join()
        .unwrap();
    assert!(matches!(outside, Some(Error::NoRuntime(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_added_and_removed_at_run_time() {
    let first = server("first", &[], Via::Tcp, Behaviour::Normal);
    let later = server("later", &[], Via::Ipc, Behaviour::Delay(secs(0.3)));
    let pool = ready_pool(&[(&first, Via::Tcp)]).await;
    pool.add_server("later", &common::endpoint(&later, Via::Ipc))
        .unwrap();
    assert!(matches!(
        pool.add_server("later", &common::endpoint(&later, Via::Ipc)),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        pool.add_server("x", "tcp://nowhere"),
        Err(Error::InvalidEndpoint { .. })
    ));
    bounded(pool.ready(secs(10.0))).await.unwrap();
    let in_flight = pool
        .request(Request::read_property("later", "number"))
        .unwrap();
    tokio::time::sleep(secs(0.05)).await;
    bounded(pool.remove_server("later")).await.unwrap();
    assert!(matches!(
        bounded(in_flight).await,
        Err(Error::Closed { .. })
    ));
    assert!(matches!(
        pool.request(Request::read_property("later", "number")),
        Err(Error::UnknownThing { .. })
    ));
    assert!(matches!(
        bounded(pool.remove_server("later")).await,
        Err(Error::UnknownServer { .. })
    ));
    // The other server never noticed.
    assert!(bounded(pool.read_property("first", "number")).await.is_ok());
    assert_eq!(pool.servers(), [("first".to_owned(), true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_requests_and_stops_every_task() {
    let srv = server("down", &[], Via::Tcp, Behaviour::Delay(secs(1.0)));
    let pool = ready_pool(&[(&srv, Via::Tcp)]).await;
    assert!(pool.live_tasks() >= 2, "timer and one connection");
    let pending = pool
        .request(Request::read_property("down", "number"))
        .unwrap();
    bounded(pool.shutdown()).await;
    assert_eq!(pool.live_tasks(), 0);
    assert!(matches!(bounded(pending).await, Err(Error::Closed { .. })));
    assert!(matches!(
        pool.request(Request::read_property("down", "number")),
        Err(Error::Closed { .. }) | Err(Error::UnknownThing { .. })
    ));
    assert_eq!(pool.stats().requests.closed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_shuts_the_pool_down() {
    let srv = server("dropme", &[], Via::Tcp, Behaviour::Normal);
    let pool = ready_pool(&[(&srv, Via::Tcp)]).await;
    let probe = pool.clone();
    drop(pool);
    // One clone is still alive: the pool still serves.
    assert!(bounded(probe.read_property("dropme", "number"))
        .await
        .is_ok());
    let pending = probe
        .request(Request::read_property("dropme", "number"))
        .unwrap();
    drop(probe);
    // Either the reply made it first, or the pool closed under it; never a hang.
    let r = bounded(pending).await;
    assert!(matches!(r, Ok(_) | Err(Error::Closed { .. })), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_than_a_router_pipe_holds_all_get_their_replies() {
    // A testkit server keeps libzmq's default send high-water mark (1000), as hololinked does,
    // and drops replies that find the pipe full. The pool's per-server in-flight limit (500 by
    // default) keeps every reply deliverable however many requests are started.
    let srv = server("deep", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&srv, Via::Ipc)]).await;
    let pendings: Vec<_> = (0..3000i64)
        .map(|n| {
            pool.request(Request::invoke_action("deep", "echo").kwargs(&json!({ "value": n })))
                .unwrap()
        })
        .collect();
    let stats = pool.stats().requests;
    assert!(
        stats.requests_sent - stats.replies <= 500,
        "at most 500 unanswered at once, the rest wait in the pool: {stats:?}"
    );
    let results = bounded(futures::future::join_all(pendings)).await;
    for (n, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().json::<i64>().unwrap(), n as i64);
    }
    assert_eq!(srv.stats().replied_of("REPLY"), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_wider_than_the_pool_is_refused_not_left_waiting() {
    let srv = server("wide", &["t1", "t2", "t3"], Via::Tcp, Behaviour::Normal);
    let pool = common::builder(&[(&srv, Via::Tcp)])
        .capacity(2)
        .no_request_timeout()
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    let all = bounded(pool.execute_in_all(Request::invoke_all("ping"))).await;
    assert_eq!(all.len(), 3);
    for (thing, result) in all {
        assert!(
            matches!(result, Err(Error::Busy { capacity: 2, .. })),
            "{thing}: {result:?}"
        );
    }
    assert_eq!(pool.stats().requests.started, 0, "all or nothing");
}
