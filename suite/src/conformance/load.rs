//! Many requests at once: each gets its own reply; a full pool refuses or waits as configured.

#[allow(unused_imports)]
use super::prelude::*;

/// A thousand concurrent requests each get their own reply.
pub async fn a_thousand_concurrent_requests_each_get_their_own_reply<H: Harness>() {
    let a = server("a", &[], Transport::Tcp, Behaviour::Normal);
    let b = server("b", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&a, Transport::Tcp), (&b, Transport::Ipc)]).await;
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let pool = pool.clone();
            spawn::<H, _>(async move {
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
    bounded::<H, _>(async {
        for task in tasks {
            task.await;
        }
    })
    .await;
    let stats = pool.stats();
    assert_eq!(stats.requests.replies, 1000);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.requests.dropped_total(), 0);
}

/// A full pool refuses or waits as configured.
pub async fn a_full_pool_refuses_or_waits_as_configured<H: Harness>() {
    let srv = server("full", &[], Transport::Tcp, Behaviour::Delay(secs(0.5)));
    let builder = || builder::<H::Rt>(&[(&srv, Transport::Tcp)]).capacity(2);
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
    bounded::<H, _>(async {
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
    let results = bounded::<H, _>(futures::future::join_all(requests)).await;
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
        bounded::<H, _>(late).await,
        Err(Error::Timeout { sent: false, .. })
    ));
    drop(hold);
}

/// More requests than a router pipe holds all get their replies.
pub async fn more_requests_than_a_router_pipe_holds_all_get_their_replies<H: Harness>() {
    // A testkit server keeps libzmq's default send high-water mark (1000), as hololinked does,
    // and drops replies that find the pipe full. The pool's per-server in-flight limit (500 by
    // default) keeps every reply deliverable however many requests are started.
    let srv = server("deep", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Ipc)]).await;
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
    let results = bounded::<H, _>(futures::future::join_all(pendings)).await;
    for (n, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().json::<i64>().unwrap(), n as i64);
    }
    assert_eq!(srv.stats().replied_of("REPLY"), 3000);
}

/// Sixteen servers behind one pool: concurrent requests spread over all of them each get their
/// own reply, a fan-out reaches every one, and killing one mid-flight fails only its requests.
pub async fn sixteen_servers_share_one_pool_and_a_death_stays_local<H: Harness>() {
    let vias: Vec<Transport> = (0..16).map(|n| Transport::ALL[n % 2]).collect();
    let mut servers: Vec<_> = (0..16)
        .map(|n| server(&format!("s{n:02}"), &[], vias[n], Behaviour::Normal))
        .collect();
    let wired: Vec<_> = servers.iter().zip(&vias).map(|(s, v)| (s, *v)).collect();
    let pool = ready_pool::<H::Rt>(&wired).await;
    drop(wired);
    let echo = |n: i64| {
        let pool = pool.clone();
        async move {
            let thing = format!("s{:02}", n % 16);
            let r = pool
                .invoke_action(&thing, "echo", &json!({"value": n}))
                .await?;
            assert_eq!(r.json::<i64>().unwrap(), n, "misdelivered reply");
            assert_eq!(r.thing(), thing);
            Ok::<_, Error>(())
        }
    };
    let results = bounded::<H, _>(futures::future::join_all((0..800).map(echo))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let all = bounded::<H, _>(pool.execute_in_all(Request::invoke_all("ping"))).await;
    assert_eq!(all.len(), 16);
    assert!(all.iter().all(|(_, r)| r.is_ok()), "{all:?}");

    // s07 dies with requests on the wire; only they fail, everyone else keeps serving.
    let calls_s07 = servers[7].stats().operations_of("invokeaction");
    let slow: Vec<_> = (0..16)
        .map(|n| {
            // s07's lasts long enough that only the kill can end it.
            let seconds = if n == 7 { 30.0 } else { 0.3 };
            pool.request(
                Request::invoke_action(format!("s{n:02}"), "sleep_for")
                    .kwargs(&json!({ "seconds": seconds }))
                    .execution_timeout(None),
            )
            .unwrap()
        })
        .collect();
    // s07 has its request (on the wire, not only handed to its connection task) before it dies.
    let reached = |_: &PoolStats| servers[7].stats().operations_of("invokeaction") > calls_s07;
    eventually::<H>(&pool, reached).await;
    assert!(reached(&pool.stats()), "the request reached s07");
    servers[7].kill();
    let results = bounded::<H, _>(futures::future::join_all(slow)).await;
    for (n, result) in results.iter().enumerate() {
        if n == 7 {
            assert!(
                matches!(result, Err(Error::Disconnected { .. })),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "s{n:02}: {result:?}");
        }
    }
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.requests.started, stats.requests.ended);
}
