//! Every outcome type a reply can have, over tcp and ipc, each naming its Thing, server and message id.

#[allow(unused_imports)]
use super::prelude::*;

/// Properties and actions over tcp and ipc.
pub async fn properties_and_actions_over_tcp_and_ipc<H: Harness>() {
    for via in Transport::ALL {
        let srv = server("props", &[], via, Behaviour::Normal);
        let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
        bounded::<H, _>(async {
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

/// Remote errors name thing server and message id.
pub async fn remote_errors_name_thing_server_and_message_id<H: Harness>() {
    let srv = server(
        "errs",
        &["errs", "other"],
        Transport::Tcp,
        Behaviour::Normal,
    );
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .thing("not-on-server", "errs")
        .build()
        .unwrap();
    pool.ready(Duration::from_secs(10)).await.unwrap();
    bounded::<H, _>(async {
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
                notes,
                execution_logs,
                payload,
            }) => {
                assert_eq!((thing.as_str(), server.as_str()), ("errs", "errs"));
                assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "boom"));
                assert_eq!(message_id.len(), 36);
                assert!(!traceback.is_empty());
                assert!(notes.is_empty() && execution_logs.is_empty());
                // The payload as the server sent it, for a gateway to pass on.
                let raw: Value = serde_json::from_slice(&payload).unwrap();
                assert_eq!(raw["exception"]["message"], "boom");
                assert_eq!(raw["exception"]["type"], "ValueError");
            }
            other => panic!("{other:?}"),
        }
        // A Thing the pool maps to the server but the server does not serve: its type kept.
        match pool.read_property("not-on-server", "number").await {
            Err(Error::InvalidMessage {
                thing,
                server,
                kind,
                payload,
                ..
            }) => {
                assert_eq!((thing.as_str(), server.as_str()), ("not-on-server", "errs"));
                assert_eq!(kind, "KeyError");
                assert!(!payload.is_empty());
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

/// Server timeouts are reported by kind.
pub async fn server_timeouts_are_reported_by_kind<H: Harness>() {
    let srv = server("slow", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    bounded::<H, _>(async {
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
        sleep::<H>(secs(0.1)).await;
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

/// Oneway requests end when sent.
pub async fn oneway_requests_end_when_sent<H: Harness>() {
    let srv = server("ow", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Ipc)]).await;
    bounded::<H, _>(async {
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
