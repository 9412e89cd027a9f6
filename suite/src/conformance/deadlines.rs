//! Client-side deadlines and cancellation: a request ends in time, and a dropped one is cancelled.

#[allow(unused_imports)]
use super::prelude::*;

/// Client deadlines say whether the server was ever ready.
pub async fn client_deadlines_say_whether_the_server_was_ever_ready<H: Harness>() {
    let silent = server(
        "silent",
        &[],
        Transport::Tcp,
        Behaviour::NeverReply {
            answer_handshake: true,
        },
    );
    let pool = ready_pool::<H::Rt>(&[(&silent, Transport::Tcp)]).await;
    let r =
        bounded::<H, _>(pool.call(Request::read_property("silent", "number").timeout(secs(0.3))))
            .await;
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
    let pool = Pool::<H::Rt>::builder()
        .server("ghost", nowhere)
        .connect_timeout(secs(0.2))
        .build()
        .unwrap();
    let r =
        bounded::<H, _>(pool.call(Request::read_property("ghost", "number").timeout(secs(0.5))))
            .await;
    match &r {
        Err(
            e @ Error::Timeout {
                sent: false,
                server_ready: false,
                server_error,
                ..
            },
        ) => {
            let text = e.to_string();
            assert!(text.contains("never became ready"), "{e}");
            // Why: its connect attempts failed; where: the endpoint.
            let why = server_error.as_deref().unwrap_or_default();
            assert!(why.contains("connect failed"), "{e}");
            assert!(text.contains("nobody.ipc") && text.contains(why), "{e}");
            // It never left, so it shows no message id as if it had.
            assert_eq!(e.message_id(), None);
            assert!(!text.contains("message id"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match bounded::<H, _>(pool.ready(secs(0.3))).await {
        Err(Error::NotReady { servers, .. }) => assert_eq!(servers, ["ghost"]),
        other => panic!("{other:?}"),
    }
    assert!(pool.stats().connect_failures >= 1);
}

/// Dropping a pending request cancels it and its late reply is dropped.
pub async fn dropping_a_pending_request_cancels_it_and_its_late_reply_is_dropped<H: Harness>() {
    let srv = server("cancel", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, Transport::Tcp)]).await;
    let pending = pool
        .request(Request::invoke_action("cancel", "sleep_for").kwargs(&json!({"seconds": 0.3})))
        .unwrap();
    assert_eq!(pending.message_id().map(str::len), Some(36));
    // Drop it once the server has it, so that its reply comes back late.
    eventually::<H>(&pool, |_| srv.stats().operations_of("invokeaction") >= 1).await;
    drop(pending);
    let stats = pool.stats();
    assert_eq!(stats.requests.cancelled, 1);
    assert_eq!(stats.in_flight, 0);
    // The reply still comes, and is counted as late instead of reaching anyone.
    bounded::<H, _>(async {
        while pool.stats().requests.dropped_late == 0 {
            sleep::<H>(secs(0.02)).await;
        }
    })
    .await;
    // The pool keeps working.
    let r = bounded::<H, _>(pool.read_property("cancel", "text"))
        .await
        .unwrap();
    assert_eq!(r.json::<String>().unwrap(), "hello");
}

/// Absurd durations saturate instead of overflowing: `ready(Duration::MAX)`, a request
/// deadline of `Duration::MAX` and every builder duration at `Duration::MAX` build a pool that
/// serves.
pub async fn absurd_durations_saturate_instead_of_panicking<H: Harness>() {
    let srv = server("patient", &[], Transport::Tcp, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .request_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .handshake_timeout(Some(Duration::MAX))
        .liveness(Some(Duration::MAX), Duration::MAX)
        .reconnect_backoff(Duration::MAX, Duration::MAX)
        .build()
        .unwrap();
    bounded::<H, _>(pool.ready(Duration::MAX)).await.unwrap();
    let r = bounded::<H, _>(
        pool.call(Request::read_property("patient", "number").timeout(Duration::MAX)),
    )
    .await;
    assert_eq!(r.unwrap().json::<f64>().unwrap(), 1.5);
    let r = bounded::<H, _>(pool.read_property("patient", "text")).await;
    assert_eq!(r.unwrap().json::<String>().unwrap(), "hello");
    pool.shutdown().await;
}
