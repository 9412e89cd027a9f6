//! Thing handles and Thing Descriptions against REAL hololinked servers (0.4.2 and 0.3.12, tcp
//! and ipc), and what else a hololinked client does: `readallproperties`, fan-out over a subset,
//! exception notes, execution logs, msgpack payloads.
//!
//! Every server is a Python subprocess (`pool-testkit/python/thing_server.py`) in its own temp
//! HOME, killed at the end of its test; `MMPOOL_SKIP_PYTHON_INTEROP=1` skips on purpose.
//! Deadlines only bound hangs.

use std::time::Duration;

use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::Transport;
use pool_tokio::{AffordanceKind, Error, Pool, Protocol, Request};
use serde_json::{json, Value};

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(90), future)
        .await
        .expect("finished (a hang is a bug)")
}

/// A server whose Things `things` each have a sub-Thing `<thing>/sensor`, all served.
fn start(line: Line, id: &str, things: &[&str], via: Transport) -> PythonServer {
    PythonServer::builder(line, id)
        .things(things)
        .transport(via)
        .sub_things(true)
        .start()
        .unwrap_or_else(|e| panic!("starting {line} server {id:?} over {via:?}: {e}"))
}

async fn pool_over(server: &PythonServer) -> Pool {
    let things: Vec<&str> = server.served_things().iter().map(String::as_str).collect();
    let pool = Pool::builder()
        .server_with_things(server.id(), server.endpoint(), &things)
        .request_timeout(Duration::from_secs(20))
        .build()
        .expect("pool builds");
    if let Err(e) = pool.ready(Duration::from_secs(30)).await {
        panic!("{e}\n{}", server.stderr_tail());
    }
    pool
}

/// The Description of a real Thing, the handle checked against it, and the operations a
/// hololinked client has beyond reads, writes and actions.
async fn things_of_one_server(line: Line, via: Transport) {
    let server = start(line, "things", &["alpha", "beta"], via);
    let pool = pool_over(&server).await;
    let ctx = format!("{line} over {via:?}");
    let endpoint = server.endpoint().to_owned();
    bounded(async {
        // Which server serves a Thing, over which protocol.
        let info = pool.server_of("alpha").unwrap();
        assert_eq!(
            (info.id.as_str(), info.endpoint.as_str()),
            ("things", endpoint.as_str())
        );
        let protocol = match via {
            Transport::Tcp => Protocol::Tcp,
            Transport::Ipc => Protocol::Ipc,
        };
        assert_eq!(info.protocol, protocol, "{ctx}");
        assert_eq!(
            pool.things_of("things"),
            ["alpha", "alpha/sensor", "beta", "beta/sensor"]
        );

        // The Thing Description, for the protocol of the endpoint the pool uses.
        let td = pool
            .thing("alpha")
            .describe()
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(td.id, "alpha", "{ctx}");
        assert_eq!(td.title, "HarnessThing", "{ctx}");
        let number = &td.properties["number"];
        assert_eq!(number.schema.type_name(), "number", "{ctx}");
        assert!(!number.read_only && !number.observable, "{ctx}");
        assert!(td.properties["level"].observable, "{ctx}");
        assert_eq!(td.properties["text"].schema.type_name(), "string", "{ctx}");
        for name in ["echo", "add", "fail", "sleep_for", "push_ticks"] {
            assert!(
                td.actions.contains_key(name),
                "{ctx}: action {name} in {:?}",
                td.actions.keys()
            );
        }
        assert!(
            td.events.contains_key("tick"),
            "{ctx}: {:?}",
            td.events.keys()
        );
        // Its forms name the endpoint the pool talks to.
        let hrefs: Vec<&str> = number.forms.iter().map(|f| f.href.as_str()).collect();
        assert!(
            hrefs.contains(&endpoint.as_str()),
            "{ctx}: {hrefs:?} vs {endpoint}"
        );
        let ops: Vec<&str> = number
            .forms
            .iter()
            .flat_map(|f| f.op.iter().map(String::as_str))
            .collect();
        assert!(
            ops.contains(&"readproperty") && ops.contains(&"writeproperty"),
            "{ctx}: {ops:?}"
        );
        // The raw JSON is the same document.
        let raw = pool.thing("alpha").describe_json().await.unwrap();
        assert_eq!(raw["id"], "alpha");

        // Checked against it: typos and read-only writes fail locally, naming what exists.
        let alpha = pool.thing("alpha").checked().await.unwrap();
        match alpha.read::<f64>("numbr").await {
            Err(
                e @ Error::UnknownAffordance {
                    kind: AffordanceKind::Property,
                    ..
                },
            ) => {
                assert!(e.to_string().contains("number"), "{ctx}: {e}");
            }
            other => panic!("{ctx}: {other:?}"),
        }
        if td.properties.get("state").is_some_and(|p| p.read_only) {
            assert!(
                matches!(
                    alpha.write("state", &"x").await,
                    Err(Error::ReadOnly { .. })
                ),
                "{ctx}"
            );
        }
        let r = alpha.invoke::<Value>("ech", &json!({"value": 1})).await;
        assert!(
            matches!(
                r,
                Err(Error::UnknownAffordance {
                    kind: AffordanceKind::Action,
                    ..
                })
            ),
            "{ctx}: {r:?}"
        );
        // And what exists works through the handle.
        alpha.write("number", &4.25).await.unwrap();
        assert_eq!(alpha.read::<f64>("number").await.unwrap(), 4.25, "{ctx}");
        let echoed: Value = alpha
            .invoke("echo", &json!({"value": [1, "two"]}))
            .await
            .unwrap();
        assert_eq!(echoed, json!([1, "two"]), "{ctx}");

        // readallproperties: `objekt` null, every property.
        let all = alpha
            .read_all()
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(all.get("number"), Some(&json!(4.25)), "{ctx}: {all:?}");
        assert_eq!(all.get("text"), Some(&json!("hello")), "{ctx}: {all:?}");

        // A fan-out over a subset of the Things.
        let results = pool
            .execute_in(&["beta"], Request::invoke_all("ping"))
            .await;
        assert_eq!(results.len(), 1, "{ctx}");
        assert_eq!(results[0].0, "beta");
        assert!(results[0].1.is_ok(), "{ctx}: {results:?}");

        // A msgpack request payload is decoded by the server like JSON.
        let reply = pool
            .call(Request::invoke_action("alpha", "add").msgpack(&json!({"a": 20, "b": 22})))
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(reply.decode::<i64>().unwrap(), 42, "{ctx}");
        // A Thing that replies in msgpack: `json` says so, `decode` reads it.
        let value = json!({"a": [1, 2.5, "x"]});
        let reply = pool
            .call(Request::invoke_action("alpha", "echo_msgpack").kwargs(&json!({"value": value})))
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(reply.payload_content_type(), "application/msgpack", "{ctx}");
        assert!(
            matches!(reply.json::<Value>(), Err(Error::Decode { .. })),
            "{ctx}"
        );
        assert_eq!(reply.decode::<Value>().unwrap(), value, "{ctx}");
        let echoed: Value = alpha
            .invoke("echo_msgpack", &json!({"value": 3}))
            .await
            .unwrap();
        assert_eq!(echoed, json!(3), "{ctx}");
        // The same both ways.
        let reply = pool
            .call(Request::invoke_action("alpha", "echo_msgpack").msgpack(&json!({"value": value})))
            .await
            .unwrap();
        assert_eq!(reply.msgpack::<Value>().unwrap(), value, "{ctx}");

        // A remote exception keeps the raw payload and the notes: a failed `_set_properties`
        // says which property failed in its notes (0.4.2 sends a list, 0.3.12 a string).
        let r = pool
            .write_properties("alpha", &json!({"number": "not a number"}))
            .await;
        match &r {
            Err(Error::Remote {
                kind,
                notes,
                payload,
                ..
            }) => {
                assert_eq!(kind, "RuntimeError", "{ctx}");
                assert_eq!(notes.len(), 1, "{ctx}: {notes:?}");
                assert!(
                    notes[0].starts_with("number: given value not of type"),
                    "{ctx}: {notes:?}"
                );
                let raw: Value = serde_json::from_slice(payload).unwrap();
                assert_eq!(raw["exception"]["type"], "RuntimeError", "{ctx}");
                let raw_notes = &raw["exception"]["notes"];
                let expected_shape = match line {
                    Line::V0_4 => raw_notes.is_array(),
                    Line::V0_3 => raw_notes.is_string(),
                };
                assert!(expected_shape, "{ctx}: notes as sent: {raw_notes}");
            }
            other => panic!("{ctx}: {other:?}"),
        }
        // An unknown Thing's INVALID_MESSAGE keeps its type.
        pool.add_thing("phantom", "things").unwrap();
        match pool.read_property("phantom", "number").await {
            Err(Error::InvalidMessage { kind, .. }) => assert_eq!(kind, "KeyError", "{ctx}"),
            other => panic!("{ctx}: {other:?}"),
        }
        pool.remove_thing("phantom").unwrap();

        // An exception's own notes.
        let r = alpha
            .invoke::<Value>(
                "fail_with_notes",
                &json!({"message": "m", "note": "a note"}),
            )
            .await;
        match r {
            Err(Error::Remote { notes, .. }) => assert_eq!(notes, ["a note"], "{ctx}"),
            other => panic!("{ctx}: {other:?}"),
        }

        // Execution logs: the value comes apart from the Thing's log lines, also on failure.
        let logged = |action: &str, kwargs: Value| {
            Request::invoke_action("alpha", action)
                .kwargs(&kwargs)
                .fetch_execution_logs(true)
        };
        let reply = pool
            .call(logged(
                "log_and_return",
                json!({"message": "hi there", "value": 42}),
            ))
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(reply.json::<i64>().unwrap(), 42, "{ctx}");
        let logs = reply.execution_logs();
        assert!(
            logs.iter()
                .any(|l| l.level == "WARNING" && l.message.contains("hi there")),
            "{ctx}: {logs:?}"
        );
        assert!(
            logs.iter()
                .all(|l| !l.timestamp.is_empty() && l.thread_id.is_some()),
            "{ctx}: {logs:?}"
        );
        match pool
            .call(logged("log_and_fail", json!({"message": "boom"})))
            .await
        {
            Err(Error::Remote {
                kind,
                execution_logs,
                ..
            }) => {
                assert_eq!(kind, "ValueError", "{ctx}");
                assert!(
                    execution_logs
                        .iter()
                        .any(|l| l.level == "WARNING" && l.message.contains("boom")),
                    "{ctx}: {execution_logs:?}"
                );
                assert!(
                    execution_logs.iter().any(|l| l.level == "ERROR"),
                    "{ctx}: {execution_logs:?}"
                );
            }
            other => panic!("{ctx}: {other:?}"),
        }
    })
    .await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn things_of_hololinked_0_4_over_tcp_and_ipc() {
    if interop_skipped() {
        return;
    }
    for via in [Transport::Tcp, Transport::Ipc] {
        things_of_one_server(Line::V0_4, via).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn things_of_hololinked_0_3_over_tcp_and_ipc() {
    if interop_skipped() {
        return;
    }
    for via in [Transport::Tcp, Transport::Ipc] {
        things_of_one_server(Line::V0_3, via).await;
    }
}
