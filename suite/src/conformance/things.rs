//! Thing handles, Thing Descriptions and what else a hololinked client does: which server
//! serves a Thing, subsets of Things, exceptions with everything the server said, execution
//! logs, msgpack, and limits the user set reaching the server.

#[allow(unused_imports)]
use super::prelude::*;
use pool_driver::{AffordanceKind, Protocol, ThingDescription};

/// The handle's reads, writes, actions and `readallproperties` are the pool's requests.
pub async fn a_thing_handle_reads_writes_invokes_and_reads_all<H: Harness>() {
    let srv = server("lab", &["spectrometer"], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let spectrometer = pool.thing("spectrometer");
    assert_eq!(spectrometer.id(), "spectrometer");
    assert!(spectrometer.description().is_none());
    bounded::<H, _>(async {
        let n: f64 = spectrometer.read("number").await.unwrap();
        spectrometer.write("number", &(n * 2.0)).await.unwrap();
        assert_eq!(spectrometer.read::<f64>("number").await.unwrap(), n * 2.0);
        let sum: f64 = spectrometer
            .invoke("add", &json!({"a": 1.5, "b": 2}))
            .await
            .unwrap();
        assert_eq!(sum, 3.5);
        // Every property at once: `readallproperties` with `objekt` null.
        let all = spectrometer.read_all().await.unwrap();
        assert_eq!(all["number"], json!(n * 2.0));
        assert_eq!(all["text"], json!("hello"));
        assert!(all.contains_key("state"));
        // The same errors as the pool's requests: a remote exception, an unknown Thing.
        let r = spectrometer
            .invoke::<Value>("fail", &json!({"message": "boom"}))
            .await;
        assert!(
            matches!(r, Err(Error::Remote { ref kind, .. }) if kind == "ValueError"),
            "{r:?}"
        );
        let r = pool.thing("nope").read::<f64>("number").await;
        assert!(matches!(r, Err(Error::UnknownThing { .. })), "{r:?}");
    })
    .await;
    let by_operation = srv.stats().received_by_operation;
    assert_eq!(
        by_operation.get("readallproperties"),
        Some(&1),
        "{by_operation:?}"
    );
    pool.shutdown().await;
}

/// A handle with a Description refuses names it rules out locally, before any request.
pub async fn a_described_thing_refuses_unknown_names_and_read_only_writes_locally<H: Harness>() {
    let srv = server("lab", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let td = ThingDescription::from_json(
        br#"{"id": "lab", "properties": {"number": {"type": "number"},
             "state": {"oneOf": [{"type": "string"}, {"type": "null"}], "readOnly": true}},
             "actions": {"add": {}, "ping": {}}, "events": {"tick": {}}}"#,
    )
    .unwrap();
    let lab = pool.thing("lab").with_description(td);
    let before = srv.stats().received;
    bounded::<H, _>(async {
        match lab.read::<f64>("numbr").await {
            Err(
                e @ Error::UnknownAffordance {
                    kind: AffordanceKind::Property,
                    ..
                },
            ) => {
                let text = e.to_string();
                assert!(
                    text.contains("`numbr`") && text.contains("number, state"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            lab.write("state", &"on").await,
            Err(Error::ReadOnly { .. })
        ));
        let r = lab.invoke::<Value>("ad", &()).await;
        assert!(matches!(
            r,
            Err(Error::UnknownAffordance {
                kind: AffordanceKind::Action,
                ..
            })
        ));
        assert!(matches!(
            lab.subscribe("tock"),
            Err(Error::UnknownAffordance {
                kind: AffordanceKind::Event,
                ..
            })
        ));
        assert!(matches!(
            lab.observe("number"),
            Err(Error::NotObservable { .. })
        ));
        let r = lab.call(Request::read_property("", "nothing")).await;
        assert!(matches!(r, Err(Error::UnknownAffordance { .. })), "{r:?}");
        // Nothing of that reached the server.
        assert_eq!(srv.stats().received, before);
        // What the Description allows goes through.
        assert_eq!(lab.read::<f64>("number").await.unwrap(), 1.5);
        lab.invoke::<Value>("ping", &()).await.unwrap();
    })
    .await;
    assert_eq!(srv.stats().received, before + 2);
    pool.shutdown().await;
}

/// `execute_in` fans out over the Things asked for only; unknown ones are named, not sent.
pub async fn execute_in_fans_out_over_the_chosen_things_only<H: Harness>() {
    let multi = server(
        "multi",
        &["cam", "stage", "laser"],
        Transport::Tcp,
        Behaviour::Normal,
    );
    let pool = ready_pool::<H::Rt>(&[(&multi, Transport::Tcp)]).await;
    bounded::<H, _>(async {
        let results = pool
            .execute_in(
                &["stage", "cam", "ghost", "cam"],
                Request::invoke_all("ping"),
            )
            .await;
        let things: Vec<&str> = results.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(things, ["cam", "ghost", "stage"]);
        assert!(results[0].1.is_ok() && results[2].1.is_ok());
        match &results[1].1 {
            Err(Error::UnknownThing { thing, known }) => {
                assert_eq!(thing, "ghost");
                assert_eq!(known, "cam, laser, stage");
            }
            other => panic!("{other:?}"),
        }
        assert!(pool
            .execute_in(&[], Request::invoke_all("ping"))
            .await
            .is_empty());
    })
    .await;
    let pings = multi.stats().received_by_operation["invokeaction"];
    assert_eq!(pings, 2, "laser was not asked");
    pool.shutdown().await;
}

/// Which server serves a Thing, its endpoint and protocol; the Things of a server; removing a
/// Thing; the builder's `thing` adds to a server's Things.
pub async fn servers_and_things_know_each_other_and_things_can_go<H: Harness>() {
    let tcp = server(
        "lab",
        &["lab", "spectrometer"],
        Transport::Tcp,
        Behaviour::Normal,
    );
    let ipc = server("vault", &["camera"], Transport::Ipc, Behaviour::Normal);
    let pool = Pool::<H::Rt>::builder()
        .server("lab", endpoint(&tcp, Transport::Tcp))
        .thing("spectrometer", "lab")
        .server_with_things("vault", endpoint(&ipc, Transport::Ipc), &["camera"])
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    assert_eq!(
        pool.things(),
        ["camera", "lab", "spectrometer"],
        "thing() adds"
    );
    let lab = pool.server_of("spectrometer").unwrap();
    assert_eq!((lab.id.as_str(), lab.protocol), ("lab", Protocol::Tcp));
    assert_eq!(lab.endpoint, endpoint(&tcp, Transport::Tcp));
    assert!(lab.ready && lab.last_error.is_none());
    assert_eq!(lab.things, ["lab", "spectrometer"]);
    let vault = pool.server_info("vault").unwrap();
    assert_eq!(
        (vault.protocol, vault.protocol.as_str()),
        (Protocol::Ipc, "IPC")
    );
    assert_eq!(pool.things_of("vault"), ["camera"]);
    assert!(pool.server_of("nope").is_none() && pool.things_of("nope").is_empty());
    bounded::<H, _>(async {
        pool.remove_thing("spectrometer").unwrap();
        assert!(matches!(
            pool.remove_thing("spectrometer"),
            Err(Error::UnknownThing { .. })
        ));
        let r = pool.read_property("spectrometer", "number").await;
        assert!(matches!(r, Err(Error::UnknownThing { .. })), "{r:?}");
        assert_eq!(pool.things_of("lab"), ["lab"]);
        assert!(
            pool.read_property("lab", "number").await.is_ok(),
            "the server stays"
        );
        pool.add_thing("spectrometer", "vault").unwrap();
        assert_eq!(pool.server_of("spectrometer").unwrap().id, "vault");
    })
    .await;
    pool.shutdown().await;
}

/// An empty JSON or msgpack payload is refused before anything is sent.
pub async fn an_empty_payload_is_never_sent<H: Harness>() {
    let srv = server("lab", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let before = srv.stats().received;
    for content_type in ["application/json", "application/msgpack"] {
        let request = Request::write_property("lab", "number").payload(Vec::new(), content_type);
        match pool.request(request) {
            Err(Error::Encode(message)) => assert!(message.contains("null"), "{message}"),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("an empty {content_type} payload must be refused"),
        }
    }
    let results = pool
        .execute_in_all(Request::invoke_all("ping").payload(Vec::new(), "application/json"))
        .await;
    assert!(matches!(results[0].1, Err(Error::Encode(_))), "{results:?}");
    assert_eq!(srv.stats().received, before);
    pool.shutdown().await;
}

/// A request's own deadline raises the server-side limits it did not set, so a request
/// given more time than the pool's default execution timeout gets it; a server timeout says
/// which limit it was.
pub async fn a_request_deadline_reaches_the_server_and_server_timeouts_name_their_limit<
    H: Harness,
>() {
    let srv = server("lab", &[], Transport::Tcp, Behaviour::Normal);
    let pool = Pool::<H::Rt>::builder()
        .server("lab", endpoint(&srv, Transport::Tcp))
        .execution_timeout(Some(secs(0.3)))
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    bounded::<H, _>(async {
        let slow = || Request::invoke_action("lab", "sleep_for").kwargs(&json!({"seconds": 0.6}));
        match pool.call(slow()).await {
            Err(
                e @ Error::ServerTimeout {
                    kind: TimeoutKind::Execution,
                    limit,
                    ..
                },
            ) => {
                assert_eq!(limit, Some(secs(0.3)));
                assert!(e.to_string().contains("limit 300ms"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let reply = pool.call(slow().timeout(secs(20.0))).await.unwrap();
        assert_eq!(reply.json::<f64>().unwrap(), 0.6);
        // Set explicitly, the request's own limit wins over its deadline.
        let r = pool
            .call(
                slow()
                    .timeout(secs(20.0))
                    .execution_timeout(Some(secs(0.2))),
            )
            .await;
        assert!(
            matches!(r, Err(Error::ServerTimeout { limit: Some(l), .. }) if l == secs(0.2)),
            "{r:?}"
        );
    })
    .await;
    pool.shutdown().await;
}

/// `describe` fetches the Thing Description for the protocol of the server's endpoint, and a
/// handle checked against it works as before.
pub async fn a_thing_description_is_fetched_for_the_endpoints_protocol<H: Harness>() {
    for via in [Transport::Tcp, Transport::Ipc] {
        let srv = server("lab", &["spectrometer"], via, Behaviour::Normal);
        let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
        let at = endpoint(&srv, via);
        bounded::<H, _>(async {
            let td = pool.thing("spectrometer").describe().await.unwrap();
            assert_eq!(td.id, "spectrometer", "{via:?}");
            let time = &td.properties["integration_time"];
            assert_eq!(time.schema.type_name(), "number");
            assert!(!time.read_only);
            assert!(td.properties["state"].read_only);
            assert!(td.actions.contains_key("acquire") && td.actions.contains_key("add"));
            let hrefs: Vec<&str> = time.forms.iter().map(|f| f.href.as_str()).collect();
            assert!(hrefs.iter().all(|h| *h == at), "{via:?}: {hrefs:?} vs {at}");
            let raw = pool.thing("spectrometer").describe_json().await.unwrap();
            assert_eq!(raw["id"], "spectrometer");

            let spectrometer = pool.thing("spectrometer").checked().await.unwrap();
            spectrometer.write("integration_time", &0.5).await.unwrap();
            let spectrum: Vec<f64> = spectrometer
                .invoke("acquire", &json!({"n": 3}))
                .await
                .unwrap();
            assert_eq!(spectrum, [0.0, 0.5, 1.0]);
            let r = spectrometer.read::<f64>("integration_tim").await;
            assert!(matches!(r, Err(Error::UnknownAffordance { .. })), "{r:?}");
            assert!(matches!(
                spectrometer.write("state", &1).await,
                Err(Error::ReadOnly { .. })
            ));
        })
        .await;
        pool.shutdown().await;
    }
}

/// With `fetch_execution_logs` the value and the Thing's log lines come apart, and an
/// exception carries the lines too.
pub async fn execution_logs_come_apart_from_the_value_also_on_failure<H: Harness>() {
    let srv = server("lab", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    bounded::<H, _>(async {
        let logged = |action: &str, kwargs: Value| {
            Request::invoke_action("lab", action)
                .kwargs(&kwargs)
                .fetch_execution_logs(true)
        };
        let reply = pool
            .call(logged(
                "log_and_return",
                json!({"message": "warm", "value": [1, 2]}),
            ))
            .await
            .unwrap();
        assert_eq!(
            reply.json::<Vec<i64>>().unwrap(),
            [1, 2],
            "the value, not the wrapper"
        );
        let logs = reply.execution_logs();
        assert!(
            logs.iter()
                .any(|l| l.level == "WARNING" && l.message.contains("warm")),
            "{logs:?}"
        );
        assert!(logs
            .iter()
            .all(|l| !l.timestamp.is_empty() && l.thread_id.is_some()));
        match pool
            .call(logged("log_and_fail", json!({"message": "cold"})))
            .await
        {
            Err(Error::Remote {
                kind,
                message,
                execution_logs,
                ..
            }) => {
                assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "cold"));
                assert!(
                    execution_logs.iter().any(|l| l.message.contains("cold")),
                    "{execution_logs:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Without asking, there are none, and the value is the plain payload.
        let reply = pool
            .invoke_action(
                "lab",
                "log_and_return",
                &json!({"message": "m", "value": 5}),
            )
            .await
            .unwrap();
        assert!(reply.execution_logs().is_empty());
        assert_eq!(reply.json::<i64>().unwrap(), 5);
    })
    .await;
    pool.shutdown().await;
}

/// msgpack both ways: requests encoded as msgpack, msgpack replies decoded, and `json` saying
/// so when a payload is not JSON; exception notes kept.
pub async fn msgpack_goes_both_ways_and_notes_are_kept<H: Harness>() {
    let srv = server("lab", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    bounded::<H, _>(async {
        let sum = pool
            .call(Request::invoke_action("lab", "add").msgpack(&json!({"a": 40, "b": 2})))
            .await
            .unwrap();
        assert_eq!(sum.payload_content_type(), "application/json");
        assert_eq!(sum.decode::<i64>().unwrap(), 42);
        let value = json!({"spectrum": [1.5, 2.5], "name": "x"});
        let reply = pool
            .call(Request::invoke_action("lab", "echo_msgpack").msgpack(&json!({"value": value})))
            .await
            .unwrap();
        assert_eq!(reply.payload_content_type(), "application/msgpack");
        match reply.json::<Value>() {
            Err(e @ Error::Decode { .. }) => {
                assert!(e.to_string().contains("application/msgpack"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(reply.value().is_err());
        assert_eq!(reply.decode::<Value>().unwrap(), value);
        assert_eq!(reply.msgpack::<Value>().unwrap(), value);
        let echoed: Value = pool
            .thing("lab")
            .invoke("echo_msgpack", &json!({"value": 7}))
            .await
            .unwrap();
        assert_eq!(echoed, json!(7), "the handle decodes what the Thing sends");
        // With execution logs, a msgpack reply is the same wrapper in msgpack.
        let reply = pool
            .call(
                Request::invoke_action("lab", "echo_msgpack")
                    .kwargs(&json!({"value": [1, 2]}))
                    .fetch_execution_logs(true),
            )
            .await
            .unwrap();
        assert_eq!(reply.payload_content_type(), "application/msgpack");
        assert_eq!(reply.decode::<Vec<i64>>().unwrap(), [1, 2]);
        assert!(
            reply.execution_logs().is_empty(),
            "echo_msgpack logs nothing"
        );

        let r = pool
            .invoke_action(
                "lab",
                "fail_with_notes",
                &json!({"message": "m", "note": "the note"}),
            )
            .await;
        match r {
            Err(Error::Remote { notes, .. }) => assert_eq!(notes, ["the note"]),
            other => panic!("{other:?}"),
        }
    })
    .await;
    pool.shutdown().await;
}
