//! Servers that die and come back: in-flight requests fail `Disconnected` at once, the pool
//! reconnects with no user action, and other servers keep serving.

#[allow(unused_imports)]
use super::prelude::*;

/// Actions the server has received so far.
fn calls_to(server: &pool_testkit::TestServer) -> u64 {
    server.stats().operations_of("invokeaction")
}

/// Killed server fails in flight requests and recovers after restart.
pub async fn killed_server_fails_in_flight_requests_and_recovers_after_restart<H: Harness>() {
    for via in Transport::ALL {
        let mut victim = server("victim", &[], via, Behaviour::Normal);
        let bystander = server("bystander", &[], via, Behaviour::Normal);
        let pool = ready_pool::<H::Rt>(&[(&victim, via), (&bystander, via)]).await;
        let before = pool.stats();
        let calls = calls_to(&victim) + 3;

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
        // On the wire, not only handed to the connection task: the server has all three. (A
        // kill before the writer ran would leave them unsent, and so waiting, not Disconnected.)
        eventually::<H>(&pool, |_| calls_to(&victim) >= calls).await;
        assert_eq!(
            calls_to(&victim),
            calls,
            "{via:?}: the requests reached the server"
        );
        // What reached the server was written to the socket first.
        assert!(pool.stats().requests_written >= before.requests_written + 3);
        victim.kill();
        for result in bounded::<H, _>(futures::future::join_all(in_flight)).await {
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
            let r = bounded::<H, _>(pool.invoke_action("bystander", "echo", &json!({"value": n})))
                .await
                .unwrap();
            assert_eq!(r.json::<i32>().unwrap(), n);
        }
        // A request made while the victim is down waits for it (within its deadline)...
        let queued = pool
            .request(Request::read_property("victim", "text").timeout(secs(30.0)))
            .unwrap();
        sleep::<H>(secs(0.3)).await;
        victim.restart().unwrap();
        // ...and is answered after the reconnect, with no user action.
        let r = bounded::<H, _>(queued).await.unwrap();
        assert_eq!(r.json::<String>().unwrap(), "hello", "{via:?}");
        bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
        let r = bounded::<H, _>(pool.read_property("victim", "number"))
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

/// A server killed before the pool starts is waited for.
pub async fn a_server_killed_before_the_pool_starts_is_waited_for<H: Harness>() {
    let mut late = server("late", &[], Transport::Tcp, Behaviour::Normal);
    let endpoint = endpoint(&late, Transport::Tcp);
    late.kill();
    let pool = Pool::<H::Rt>::builder()
        .server("late", endpoint)
        .connect_timeout(secs(0.2))
        .build()
        .unwrap();
    let pending = pool
        .request(Request::read_property("late", "number").timeout(secs(30.0)))
        .unwrap();
    sleep::<H>(secs(0.5)).await;
    late.restart().unwrap();
    let r = bounded::<H, _>(pending).await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 1.5);
}

/// Repeated kills never lose or misdeliver a request.
pub async fn repeated_kills_never_lose_or_misdeliver_a_request<H: Harness>() {
    let mut flaky = server("flaky", &[], Transport::Tcp, Behaviour::Normal);
    let steady = server("steady", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&flaky, Transport::Tcp), (&steady, Transport::Ipc)]).await;
    let load = {
        let pool = pool.clone();
        spawn::<H, _>(async move {
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
        sleep::<H>(secs(0.15)).await;
        flaky.kill();
        sleep::<H>(secs(0.15)).await;
        flaky.restart().unwrap();
    }
    let (ok, disconnected, timeouts) = bounded::<H, _>(load).await;
    assert_eq!(ok + disconnected + timeouts, 600);
    assert!(ok > 0);
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(
        stats.requests.started, stats.requests.ended,
        "every request ended once"
    );
}

/// A server that goes silent without closing the connection (a frozen process, a vanished
/// peer): a request ends at its own deadline, the liveness probe then notices the silence,
/// the pool reconnects, and serves again as soon as the server answers.
pub async fn a_silent_server_is_caught_by_the_liveness_probe_and_reconnected<H: Harness>() {
    let srv = server("quiet", &[], Transport::Tcp, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .liveness(Some(secs(0.2)), secs(0.3))
        .build()
        .unwrap();
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    // Healthy and idle: probes go out and are answered.
    let stats = eventually::<H>(&pool, |s| s.requests.liveness_probes >= 2).await;
    assert!(stats.requests.liveness_probes >= 2, "{stats:?}");
    assert_eq!(
        stats.requests.servers_lost, 0,
        "answered probes lose nothing"
    );

    srv.set_behaviour(Behaviour::NeverReply {
        answer_handshake: false,
    });
    let r =
        bounded::<H, _>(pool.call(Request::read_property("quiet", "number").timeout(secs(0.5))))
            .await;
    // It ends by its deadline, or sooner if a probe sent just before the silence goes
    // unanswered first and the server is lost with the request on the wire.
    assert!(
        matches!(
            r,
            Err(Error::Timeout { sent: true, .. }) | Err(Error::Disconnected { .. })
        ),
        "{r:?}"
    );
    let stats = eventually::<H>(&pool, |s| s.requests.servers_lost >= 1).await;
    assert!(
        stats.requests.servers_lost >= 1,
        "the silence was noticed: {stats:?}"
    );

    srv.set_behaviour(Behaviour::Normal);
    let r = bounded::<H, _>(pool.read_property("quiet", "number")).await;
    assert_eq!(r.unwrap().json::<f64>().unwrap(), 1.5);
    assert!(pool.stats().connects >= 2, "a fresh connection serves");
}

/// A request without a deadline to a server that freezes with it in flight: the liveness
/// probe covers busy servers too, so the request ends `Disconnected` (saying the probe went
/// unanswered) instead of waiting forever, and the pool serves again once the server answers.
pub async fn a_request_without_deadline_ends_when_its_server_freezes<H: Harness>() {
    let srv = server("frozen", &[], Transport::Tcp, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .liveness(Some(secs(0.2)), secs(0.3))
        .build()
        .unwrap();
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    srv.set_behaviour(Behaviour::NeverReply {
        answer_handshake: false,
    });
    let r =
        bounded::<H, _>(pool.call(Request::read_property("frozen", "number").no_timeout())).await;
    match r {
        Err(Error::Disconnected { reason, .. }) => {
            assert!(reason.contains("liveness"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let stats = pool.stats();
    assert!(stats.requests.servers_lost >= 1, "{stats:?}");
    srv.set_behaviour(Behaviour::Normal);
    let r = bounded::<H, _>(pool.read_property("frozen", "number")).await;
    assert_eq!(r.unwrap().json::<f64>().unwrap(), 1.5);
}
