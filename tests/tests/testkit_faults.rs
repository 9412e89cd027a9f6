//! Servers that die, come back, or misbehave: in-flight requests fail `Disconnected` at once,
//! the pool reconnects with no user action, other servers keep serving, and every bad message is
//! dropped and counted.

mod common;

use common::{bounded, ready_pool, secs, server, Via, BOTH};
use pool_testkit::{Behaviour, HostileConfig, HostileKind};
use pool_tokio::{Error, Request};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_fails_in_flight_requests_and_recovers_after_restart() {
    for via in BOTH {
        let mut victim = server("victim", &[], via, Behaviour::Normal);
        let bystander = server("bystander", &[], via, Behaviour::Normal);
        let pool = ready_pool(&[(&victim, via), (&bystander, via)]).await;
        let before = pool.stats();

        // Long-running requests in flight on the victim (the deadline is far away).
        let in_flight: Vec<_> = (0..3)
            .map(|_| {
                pool.request(
                    Request::invoke_action("victim", "sleep_for")
                        .kwargs(&json!({"seconds": 10.0}))
                        .execution_timeout(None)
                        .timeout(secs(30.0)),
                )
                .unwrap()
            })
            .collect();
        let sent = before.requests.requests_sent + 3;
        common::eventually(&pool, |s| s.requests.requests_sent >= sent).await;
        victim.kill();
        for result in bounded(futures::future::join_all(in_flight)).await {
            match result {
                Err(Error::Disconnected { thing, server, .. }) => {
                    assert_eq!(
                        (thing.as_str(), server.as_str()),
                        ("victim", "victim"),
                        "{via:?}"
                    );
                }
                other => panic!("{via:?}: {other:?}"),
            }
        }
        // The other server never noticed.
        for n in 0..20 {
            let r = bounded(pool.invoke_action("bystander", "echo", &json!({"value": n})))
                .await
                .unwrap();
            assert_eq!(r.json::<i32>().unwrap(), n);
        }
        // A request made while the victim is down waits for it (within its deadline)...
        let queued = pool
            .request(Request::read_property("victim", "text").timeout(secs(30.0)))
            .unwrap();
        tokio::time::sleep(secs(0.3)).await;
        victim.restart().unwrap();
        // ...and is answered after the reconnect, with no user action.
        let r = bounded(queued).await.unwrap();
        assert_eq!(r.json::<String>().unwrap(), "hello", "{via:?}");
        bounded(pool.ready(secs(10.0))).await.unwrap();
        let r = bounded(pool.read_property("victim", "number"))
            .await
            .unwrap();
        assert_eq!(r.json::<f64>().unwrap(), 1.5);

        let stats = pool.stats();
        assert_eq!(
            stats.requests.disconnected - before.requests.disconnected,
            3
        );
        assert!(stats.requests.servers_lost > before.requests.servers_lost);
        assert!(stats.connects > before.connects);
        assert_eq!(stats.in_flight, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_before_the_pool_starts_is_waited_for() {
    let mut late = server("late", &[], Via::Tcp, Behaviour::Normal);
    let endpoint = common::endpoint(&late, Via::Tcp);
    late.kill();
    let pool = pool_tokio::Pool::builder()
        .server("late", endpoint)
        .connect_timeout(secs(0.2))
        .build()
        .unwrap();
    let pending = pool
        .request(Request::read_property("late", "number").timeout(secs(30.0)))
        .unwrap();
    tokio::time::sleep(secs(0.5)).await;
    late.restart().unwrap();
    let r = bounded(pending).await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 1.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_kills_never_lose_or_misdeliver_a_request() {
    let mut flaky = server("flaky", &[], Via::Tcp, Behaviour::Normal);
    let steady = server("steady", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&flaky, Via::Tcp), (&steady, Via::Ipc)]).await;
    let load = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut outcomes = (0u32, 0u32, 0u32);
            for n in 0..600i64 {
                let thing = if n % 3 == 0 { "steady" } else { "flaky" };
                let r = pool
                    .call(
                        Request::invoke_action(thing, "echo")
                            .kwargs(&json!({"value": n}))
                            .timeout(secs(5.0)),
                    )
                    .await;
                match r {
                    Ok(reply) => {
                        assert_eq!(
                            reply.json::<i64>().unwrap(),
                            n,
                            "a reply went to the wrong request"
                        );
                        outcomes.0 += 1;
                    }
                    Err(Error::Disconnected { .. }) => outcomes.1 += 1,
                    Err(Error::Timeout { .. }) => outcomes.2 += 1,
                    Err(other) => panic!("{other}"),
                }
            }
            outcomes
        })
    };
    for _ in 0..3 {
        tokio::time::sleep(secs(0.15)).await;
        flaky.kill();
        tokio::time::sleep(secs(0.15)).await;
        flaky.restart().unwrap();
    }
    let (ok, disconnected, timeouts) = bounded(load).await.unwrap();
    assert_eq!(ok + disconnected + timeouts, 600);
    assert!(ok > 0);
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(
        stats.requests.started, stats.requests.ended,
        "every request ended once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_servers_never_disturb_good_replies_and_every_drop_is_counted() {
    let hostile = server(
        "hostile",
        &[],
        Via::Tcp,
        Behaviour::Hostile(HostileConfig::all(0.3, 7)),
    );
    let good = server("good", &[], Via::Ipc, Behaviour::Normal);
    let pool = ready_pool(&[(&hostile, Via::Tcp), (&good, Via::Ipc)]).await;
    let tasks: Vec<_> = (0..400i64)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let thing = if n % 2 == 0 { "hostile" } else { "good" };
                let r = pool
                    .invoke_action(thing, "echo", &json!({"value": n}))
                    .await
                    .unwrap_or_else(|e| panic!("{thing} {n}: {e}"));
                assert_eq!(r.json::<i64>().unwrap(), n, "misdelivered reply");
            })
        })
        .collect();
    bounded(async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let sent = hostile.stats().hostile_sent;
    let total_bad: u64 = sent.values().sum();
    assert!(total_bad > 50, "the server misbehaved: {sent:?}");
    let stats = pool.stats();
    assert_eq!(stats.requests.replies, 400);
    assert_eq!(stats.in_flight, 0);
    // Everything bad was seen and counted: dropped by reason, malformed, or a receive error.
    let counted = stats.requests.dropped_total() + stats.requests.malformed + stats.recv_errors;
    assert!(counted > 0, "{stats:?}");
    assert_eq!(
        stats.requests.malformed > 0,
        sent.contains_key(&HostileKind::ThreeFrames)
            || sent.contains_key(&HostileKind::SixFrames)
            || sent.contains_key(&HostileKind::InvalidJsonHeader)
            || sent.contains_key(&HostileKind::MissingKeys)
    );
    assert_eq!(hostile.stats().exits, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hostile_kind_alone_is_dropped_and_counted() {
    for kind in HostileKind::ALL {
        if kind == HostileKind::LargeFrame {
            continue;
        }
        let hostile = server(
            "h",
            &[],
            Via::Ipc,
            Behaviour::Hostile(HostileConfig::only(kind, 1.0, 1)),
        );
        let pool = ready_pool(&[(&hostile, Via::Ipc)]).await;
        for n in 0..10i64 {
            let r = bounded(pool.invoke_action("h", "echo", &json!({"value": n})))
                .await
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(r.json::<i64>().unwrap(), n, "{kind:?}");
        }
        // Every bad message is counted: dropped by reason, malformed, a receive error, or (a
        // replayed HANDSHAKE reply, harmless) among the handshake replies.
        let counted = |stats: &pool_tokio::PoolStats| {
            stats.requests.dropped_total()
                + stats.requests.malformed
                + stats.recv_errors
                + stats.requests.handshake_replies.saturating_sub(1)
        };
        // Trailing bad messages (duplicates come after the good reply) may still be on their way.
        let stats =
            common::eventually(&pool, |s| kind == HostileKind::ExtraKeys || counted(s) >= 9).await;
        let counted = counted(&stats);
        if kind == HostileKind::ExtraKeys {
            // Extra keys are tolerated: those replies are good replies.
            assert_eq!(counted, 0, "{kind:?}: {stats:?}");
        } else {
            assert!(counted >= 9, "{kind:?}: {stats:?}");
        }
        assert_eq!(stats.requests.replies, 10, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixteen_mebibyte_frame_is_dropped_without_harm() {
    let hostile = server(
        "big",
        &[],
        Via::Tcp,
        Behaviour::Hostile(HostileConfig::only(HostileKind::LargeFrame, 1.0, 3)),
    );
    let pool = ready_pool(&[(&hostile, Via::Tcp)]).await;
    for n in 0..3i64 {
        let r = bounded(pool.invoke_action("big", "echo", &json!({"value": n})))
            .await
            .unwrap();
        assert_eq!(r.json::<i64>().unwrap(), n);
    }
    assert!(pool.stats().requests.dropped_foreign >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_timeout_reconnects_a_server_that_never_answers_it() {
    let mute = server(
        "mute",
        &[],
        Via::Tcp,
        Behaviour::NeverReply {
            answer_handshake: false,
        },
    );
    let pool = common::builder(&[(&mute, Via::Tcp)])
        .handshake_timeout(Some(secs(0.3)))
        .build()
        .unwrap();
    let r = bounded(pool.ready(secs(1.5))).await;
    assert!(matches!(r, Err(Error::NotReady { .. })));
    let stats = pool.stats();
    assert!(stats.requests.servers_lost >= 1, "{stats:?}");
    assert!(stats.connects >= 2, "the pool reconnected: {stats:?}");
}
