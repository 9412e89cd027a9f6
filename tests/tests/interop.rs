//! The pool (pool-tokio) against REAL hololinked servers: 0.4.2 and 0.3.12, over tcp and ipc.
//!
//! Every server is a Python subprocess (`pool-testkit/python/thing_server.py`) in its own temp HOME,
//! killed at the end of its test. Needs the venvs from `scripts/python-venvs.sh` (which
//! `scripts/test.sh` creates); `MMPOOL_SKIP_PYTHON_INTEROP=1` skips on purpose. Deadlines only
//! bound hangs: nothing here asserts a duration.

use std::time::Duration;

use pool_testkit::python::{interop_skipped, Line, PythonServer};
use pool_testkit::Transport;
use pool_tokio::{Error, Pool, Request, TimeoutKind};
use serde_json::{json, Value};

fn start(line: Line, id: &str, things: &[&str], via: Transport) -> PythonServer {
    PythonServer::start(line, id, things, via)
        .unwrap_or_else(|e| panic!("starting {line} server {id:?} over {via:?}: {e}"))
}

/// A ready pool over `servers`, each with its Things.
async fn pool_over(servers: &[&PythonServer]) -> Pool {
    let mut builder = Pool::builder().request_timeout(Duration::from_secs(20));
    for server in servers {
        let things: Vec<&str> = server.things().iter().map(String::as_str).collect();
        builder = builder.server_with_things(server.id(), server.endpoint(), &things);
    }
    let pool = builder.build().expect("pool builds");
    if let Err(e) = pool.ready(Duration::from_secs(30)).await {
        let tails: Vec<String> = servers.iter().map(|s| s.stderr_tail()).collect();
        panic!("{e}\n{}", tails.join("\n---\n"));
    }
    pool
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(90), future)
        .await
        .expect("finished (a hang is a bug)")
}

/// Everything a single server offers, on one line and transport.
async fn exercise_one_server(line: Line, via: Transport) {
    let server = start(line, "interop", &["alpha", "beta"], via);
    let pool = pool_over(&[&server]).await;
    let ctx = format!("{line} over {via:?}");
    bounded(async {
        // The part every runtime's live smoke test runs (pool-suite's `interop`): a fresh
        // server's value, reads and writes, actions with kwargs and positional args, a remote exception, an execution
        // timeout, a fan-out, 100 concurrent requests.
        pool_suite::interop::requests_and_outcomes(&pool, "interop", &ctx).await;

        // What only this full suite checks, on both lines.
        assert_eq!(
            pool.read_property("beta", "number")
                .await
                .unwrap()
                .json::<f64>()
                .unwrap(),
            1.5,
            "{ctx}: Things keep their own state"
        );
        pool.write_property("beta", "text", &"β").await.unwrap();
        assert_eq!(
            pool.read_property("beta", "text")
                .await
                .unwrap()
                .json::<String>()
                .unwrap(),
            "β"
        );

        // Several properties at once (`_get_properties` / `_set_properties`, both lines).
        pool.write_properties("alpha", &json!({"number": 2.0, "text": "multi"}))
            .await
            .unwrap();
        let all = pool
            .read_properties("alpha", &["number", "text"])
            .await
            .unwrap();
        assert_eq!(
            all.value().unwrap(),
            json!({"number": 2.0, "text": "multi"}),
            "{ctx}"
        );

        // Actions: preserialized payloads and replies.
        let r = pool
            .call(
                Request::invoke_action("alpha", "echo")
                    .preserialized(&b"\x00\x01raw"[..], "application/octet-stream"),
            )
            .await
            .unwrap();
        assert_eq!(&r.preserialized()[..], b"\x00\x01raw", "{ctx}");
        let r = pool.invoke_action("alpha", "get_bytes", &()).await.unwrap();
        assert_eq!(&r.preserialized()[..], b"\x00\x01\x02");
        assert_eq!(r.value().unwrap(), Value::Null);
        let r = pool.invoke_action("alpha", "get_mixed", &()).await.unwrap();
        assert_eq!(
            (r.json::<String>().unwrap().as_str(), &r.preserialized()[..]),
            ("foobar", &b"foobar"[..])
        );

        // The Thing keeps working after the shared part's remote exception.
        assert!(pool.read_property("alpha", "text").await.is_ok());

        // An invokation timeout (the execution timeout is in the shared part): both lines
        // honour it, the pool sends both key spellings.
        let busy = pool
            .request(
                Request::invoke_action("beta", "sleep_for")
                    .kwargs(&json!({"seconds": 1.5}))
                    .execution_timeout(None)
                    .invokation_timeout(None),
            )
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = pool
            .call(
                Request::read_property("beta", "number")
                    .invokation_timeout(Some(Duration::from_millis(200))),
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::ServerTimeout {
                    kind: TimeoutKind::Invokation,
                    ..
                })
            ),
            "{ctx}: {r:?}"
        );
        assert_eq!(busy.await.unwrap().json::<f64>().unwrap(), 1.5);

        // Oneway: ends when sent; the write took effect.
        let r = pool
            .call(
                Request::write_property("beta", "number")
                    .json(&9.0)
                    .oneway(true),
            )
            .await
            .unwrap();
        assert!(r.is_oneway());
        let mut seen = 0.0;
        for _ in 0..50 {
            seen = pool
                .read_property("beta", "number")
                .await
                .unwrap()
                .json::<f64>()
                .unwrap();
            if seen == 9.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, 9.0, "{ctx}: the oneway write ran");
    })
    .await;
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 0);
    pool.shutdown().await;
    assert_eq!(pool.live_tasks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_0_4_over_tcp_and_ipc() {
    if interop_skipped() {
        return;
    }
    for via in Transport::ALL {
        exercise_one_server(Line::V0_4, via).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_0_3_over_tcp_and_ipc() {
    if interop_skipped() {
        return;
    }
    for via in Transport::ALL {
        exercise_one_server(Line::V0_3, via).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_thing_on_a_real_server_is_invalid_message() {
    if interop_skipped() {
        return;
    }
    for line in Line::ALL {
        let server = start(line, "lonely", &["lonely"], Transport::Tcp);
        let pool = Pool::builder()
            .server("lonely", server.endpoint())
            .thing("lonely", "lonely")
            .thing("phantom", "lonely")
            .build()
            .unwrap();
        pool.ready(Duration::from_secs(30)).await.unwrap();
        match bounded(pool.read_property("phantom", "number")).await {
            Err(Error::InvalidMessage {
                thing,
                server,
                message,
                ..
            }) => {
                assert_eq!(
                    (thing.as_str(), server.as_str()),
                    ("phantom", "lonely"),
                    "{line}"
                );
                assert!(message.contains("phantom"), "{line}: {message}");
            }
            other => panic!("{line}: {other:?}"),
        }
        // Unknown to the pool itself: refused before anything is sent.
        assert!(matches!(
            pool.request(Request::read_property("nobody", "x")),
            Err(Error::UnknownThing { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_both_server_lines() {
    if interop_skipped() {
        return;
    }
    let new = start(Line::V0_4, "new-line", &["n1", "n2"], Transport::Tcp);
    let old = start(Line::V0_3, "old-line", &["o1"], Transport::Ipc);
    let pool = pool_over(&[&new, &old]).await;
    let all = bounded(pool.execute_in_all(Request::invoke_all("ping"))).await;
    let things: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(things, ["n1", "n2", "o1"]);
    for (thing, result) in &all {
        let reply = result.as_ref().unwrap_or_else(|e| panic!("{thing}: {e}"));
        assert_eq!(reply.value().unwrap(), Value::Null);
    }
    let all = bounded(pool.execute_in_all(Request::read_property("", "text"))).await;
    assert!(all.iter().all(|(_, r)| r
        .as_ref()
        .is_ok_and(|r| r.json::<String>().unwrap() == "hello")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_its_requests_at_once_and_serves_again_after_restart() {
    if interop_skipped() {
        return;
    }
    for (line, via) in [
        (Line::V0_4, Transport::Tcp),
        (Line::V0_3, Transport::Ipc),
        (Line::V0_4, Transport::Ipc),
        (Line::V0_3, Transport::Tcp),
    ] {
        let ctx = format!("{line} over {via:?}");
        let mut victim = start(line, "victim", &["victim"], via);
        let bystander = start(line, "bystander", &["bystander"], via);
        let pool = pool_over(&[&victim, &bystander]).await;
        let written = pool.stats().requests_written;
        let in_flight: Vec<_> = (0..3)
            .map(|_| {
                pool.request(
                    Request::invoke_action("victim", "sleep_for")
                        .kwargs(&json!({"seconds": 20.0}))
                        .execution_timeout(None)
                        .timeout(Duration::from_secs(60)),
                )
                .unwrap()
            })
            .collect();
        // Kill it once they are on the wire (written to the socket, not only handed to the
        // connection task: unwritten ones would wait for the restart instead).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while pool.stats().requests_written < written + 3 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        victim.kill();
        for result in bounded(futures::future::join_all(in_flight)).await {
            assert!(
                matches!(result, Err(Error::Disconnected { .. })),
                "{ctx}: {result:?}"
            );
        }
        // The other server keeps serving.
        for n in 0..10 {
            let r = bounded(pool.invoke_action("bystander", "echo", &json!({"value": n})))
                .await
                .unwrap();
            assert_eq!(r.json::<i64>().unwrap(), n, "{ctx}");
        }
        // Restart on the same endpoint: the pool reconnects and serves again, unaided.
        victim
            .restart()
            .unwrap_or_else(|e| panic!("{ctx}: restart: {e}"));
        bounded(pool.ready(Duration::from_secs(30)))
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let r = bounded(pool.read_property("victim", "number"))
            .await
            .unwrap();
        assert_eq!(r.json::<f64>().unwrap(), 1.5, "{ctx}");
        let stats = pool.stats();
        assert_eq!(stats.requests.disconnected, 3, "{ctx}");
        assert_eq!(stats.in_flight, 0);
    }
}

/// Sends `signal` (`STOP`, `CONT`) to a process.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_is_caught_by_the_liveness_probe_and_served_again_once_it_resumes() {
    if interop_skipped() {
        return;
    }
    for (line, via) in [(Line::V0_4, Transport::Tcp), (Line::V0_3, Transport::Ipc)] {
        let ctx = format!("{line} over {via:?}");
        let server = start(line, "frozen", &["frozen"], via);
        let pid = server.pid().expect("running");
        let pool = Pool::builder()
            .server("frozen", server.endpoint())
            .liveness(Some(Duration::from_millis(300)), Duration::from_millis(500))
            .build()
            .unwrap();
        pool.ready(Duration::from_secs(30)).await.unwrap();
        // SIGSTOP: the process is frozen, its sockets stay open (nothing tells the client).
        signal(pid, "STOP");
        let r =
            bounded(pool.call(
                Request::read_property("frozen", "number").timeout(Duration::from_millis(800)),
            ))
            .await;
        // Ends by its deadline (or sooner, if an earlier probe's silence loses the server).
        assert!(
            matches!(
                r,
                Err(Error::Timeout { sent: true, .. }) | Err(Error::Disconnected { .. })
            ),
            "{ctx}: {r:?}"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while pool.stats().requests.servers_lost == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stats = pool.stats();
        assert!(
            stats.requests.servers_lost >= 1,
            "{ctx}: not noticed: {stats:?}"
        );
        assert!(stats.requests.liveness_probes >= 1, "{ctx}: {stats:?}");
        signal(pid, "CONT");
        let r = bounded(
            pool.call(Request::read_property("frozen", "number").timeout(Duration::from_secs(30))),
        )
        .await;
        assert_eq!(
            r.unwrap_or_else(|e| panic!("{ctx}: {e}\n{}", server.stderr_tail()))
                .json::<f64>()
                .unwrap(),
            1.5,
            "{ctx}"
        );
        pool.shutdown().await;
    }
}

/// The liveness probe also goes to servers with requests in flight; a real hololinked server
/// answers a HANDSHAKE while one of its Things runs a long (blocking) action, so the probes
/// are answered and the long request ends with its reply, on both lines and transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_answers_the_liveness_probe_and_keeps_its_long_request() {
    if interop_skipped() {
        return;
    }
    for (line, via) in [(Line::V0_4, Transport::Ipc), (Line::V0_3, Transport::Tcp)] {
        let ctx = format!("{line} over {via:?}");
        let server = start(line, "busy", &["busy"], via);
        let pool = Pool::builder()
            .server("busy", server.endpoint())
            .liveness(Some(Duration::from_millis(200)), Duration::from_millis(400))
            .build()
            .unwrap();
        pool.ready(Duration::from_secs(30)).await.unwrap();
        // Longer than several probe intervals and timeouts together.
        let r = bounded(
            pool.call(
                Request::invoke_action("busy", "sleep_for")
                    .kwargs(&json!({"seconds": 2.0}))
                    .execution_timeout(None)
                    .timeout(Duration::from_secs(30)),
            ),
        )
        .await;
        assert!(r.is_ok(), "{ctx}: {r:?}\n{}", server.stderr_tail());
        let stats = pool.stats();
        assert!(stats.requests.liveness_probes >= 2, "{ctx}: {stats:?}");
        assert_eq!(stats.requests.servers_lost, 0, "{ctx}: {stats:?}");
        pool.shutdown().await;
    }
}

/// The next item of `sub`, or `None` after `limit`.
async fn next_within(
    sub: &mut pool_tokio::Subscription,
    limit: Duration,
) -> Option<pool_tokio::EventItem> {
    use futures::StreamExt;
    tokio::time::timeout(limit, sub.next()).await.ok().flatten()
}

/// Runs `trigger` until an event reaches `sub` (PUB/SUB drops what is published before the
/// subscription reaches the publisher), then waits until the primers stop coming.
async fn prime_with<F, Fut>(sub: &mut pool_tokio::Subscription, mut trigger: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..200 {
        trigger().await;
        if next_within(sub, Duration::from_millis(100)).await.is_some() {
            while next_within(sub, Duration::from_millis(300)).await.is_some() {}
            return;
        }
    }
    panic!("{}: no event in 20 s", sub.event_id());
}

/// A real Thing's custom event and observable property reach the pool in order.
async fn events_of_one_server(line: Line, via: Transport) {
    let server = start(line, "events", &[], via);
    let pool = pool_over(&[&server]).await;
    let ctx = format!("{line} over {via:?}");
    bounded(async {
        let mut ticks = pool.subscribe_event("events", "tick").unwrap();
        assert_eq!(
            ticks.publisher_endpoint(),
            server.event_endpoint(),
            "{ctx}: hololinked's convention names the publisher the server bound"
        );
        let push = |count: u64| {
            let pool = pool.clone();
            async move {
                let r = pool
                    .invoke_action("events", "push_ticks", &json!({"count": count}))
                    .await
                    .unwrap();
                assert_eq!(r.json::<u64>().unwrap(), count);
            }
        };
        prime_with(&mut ticks, || push(1)).await;
        push(50).await;
        let mut last_seq = 0;
        for n in 0..50u64 {
            let item = next_within(&mut ticks, Duration::from_secs(20)).await;
            let Some(pool_tokio::EventItem::Event(e)) = item else {
                panic!("{ctx}: event {n}: {item:?}");
            };
            assert_eq!(e.value().unwrap(), json!({"n": n}), "{ctx}: in order");
            assert_eq!(e.event_id(), "events/tick");
            assert_eq!(e.payload_content_type(), "application/json");
            assert!(e.seq() > last_seq);
            last_seq = e.seq();
        }

        let mut level = pool.observe_property("events", "level").unwrap();
        // A new value each time: an observable property publishes only when its value changes,
        // so repeating one value would prime once at most (and that one may be published before
        // the subscription reached the publisher).
        let mut primer = 0.0;
        prime_with(&mut level, || {
            let pool = pool.clone();
            primer -= 1.0;
            let value = primer;
            async move {
                pool.write_property("events", "level", &value)
                    .await
                    .unwrap();
            }
        })
        .await;
        for v in [2.5, 3.0, -7.25] {
            pool.write_property("events", "level", &v).await.unwrap();
        }
        for v in [2.5, 3.0, -7.25] {
            let item = next_within(&mut level, Duration::from_secs(20)).await;
            let Some(pool_tokio::EventItem::Event(e)) = item else {
                panic!("{ctx}: level {v}: {item:?}");
            };
            assert_eq!(e.value().unwrap(), json!(v), "{ctx}");
            assert_eq!(e.event_id(), "events/level_change_event");
        }
        let stats = pool.stats();
        assert_eq!(stats.events.malformed, 0, "{ctx}");
        assert_eq!(stats.events.lagged, 0, "{ctx}");
    })
    .await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_observed_properties_of_hololinked_0_4() {
    if interop_skipped() {
        return;
    }
    for via in Transport::ALL {
        events_of_one_server(Line::V0_4, via).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_observed_properties_of_hololinked_0_3() {
    if interop_skipped() {
        return;
    }
    for via in Transport::ALL {
        events_of_one_server(Line::V0_3, via).await;
    }
}
