//! Servers that misbehave: every bad message is dropped and counted, good replies are never disturbed.

#[allow(unused_imports)]
use super::prelude::*;

/// Hostile servers never disturb good replies and every drop is counted.
pub async fn hostile_servers_never_disturb_good_replies_and_every_drop_is_counted<H: Harness>() {
    let hostile = server(
        "hostile",
        &[],
        Transport::Tcp,
        Behaviour::Hostile(HostileConfig::all(0.3, 7)),
    );
    let good = server("good", &[], Transport::Ipc, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&hostile, Transport::Tcp), (&good, Transport::Ipc)]).await;
    let tasks: Vec<_> = (0..400i64)
        .map(|n| {
            let pool = pool.clone();
            spawn::<H, _>(async move {
                let thing = if n % 2 == 0 { "hostile" } else { "good" };
                let r = pool
                    .invoke_action(thing, "echo", &json!({"value": n}))
                    .await
                    .unwrap_or_else(|e| panic!("{thing} {n}: {e}"));
                assert_eq!(r.json::<i64>().unwrap(), n, "misdelivered reply");
            })
        })
        .collect();
    bounded::<H, _>(async {
        for t in tasks {
            t.await;
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

/// Each hostile kind alone is dropped and counted.
pub async fn each_hostile_kind_alone_is_dropped_and_counted<H: Harness>() {
    for kind in HostileKind::ALL {
        if kind == HostileKind::LargeFrame {
            continue;
        }
        let hostile = server(
            "h",
            &[],
            Transport::Ipc,
            Behaviour::Hostile(HostileConfig::only(kind, 1.0, 1)),
        );
        let pool = ready_pool::<H::Rt>(&[(&hostile, Transport::Ipc)]).await;
        for n in 0..10i64 {
            let r = bounded::<H, _>(pool.invoke_action("h", "echo", &json!({"value": n})))
                .await
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(r.json::<i64>().unwrap(), n, "{kind:?}");
        }
        // Every bad message is counted: dropped by reason, malformed, a receive error, or (a
        // replayed HANDSHAKE reply, harmless) among the handshake replies.
        let counted = |stats: &PoolStats| {
            stats.requests.dropped_total()
                + stats.requests.malformed
                + stats.recv_errors
                + stats.requests.handshake_replies.saturating_sub(1)
        };
        // Trailing bad messages (duplicates come after the good reply) may still be on their way.
        let stats =
            eventually::<H>(&pool, |s| kind == HostileKind::ExtraKeys || counted(s) >= 9).await;
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

/// A sixteen mebibyte frame is dropped without harm.
pub async fn a_sixteen_mebibyte_frame_is_dropped_without_harm<H: Harness>() {
    let hostile = server(
        "big",
        &[],
        Transport::Tcp,
        Behaviour::Hostile(HostileConfig::only(HostileKind::LargeFrame, 1.0, 3)),
    );
    let pool = ready_pool::<H::Rt>(&[(&hostile, Transport::Tcp)]).await;
    for n in 0..3i64 {
        let r = bounded::<H, _>(pool.invoke_action("big", "echo", &json!({"value": n})))
            .await
            .unwrap();
        assert_eq!(r.json::<i64>().unwrap(), n);
    }
    assert!(pool.stats().requests.dropped_foreign >= 3);
}

/// Handshake timeout reconnects a server that never answers it.
pub async fn handshake_timeout_reconnects_a_server_that_never_answers_it<H: Harness>() {
    let mute = server(
        "mute",
        &[],
        Transport::Tcp,
        Behaviour::NeverReply {
            answer_handshake: false,
        },
    );
    let pool = builder::<H::Rt>(&[(&mute, Transport::Tcp)])
        .handshake_timeout(Some(secs(0.3)))
        .build()
        .unwrap();
    let r = bounded::<H, _>(pool.ready(secs(1.5))).await;
    assert!(matches!(r, Err(Error::NotReady { .. })));
    let stats = pool.stats();
    assert!(stats.requests.servers_lost >= 1, "{stats:?}");
    assert!(stats.connects >= 2, "the pool reconnected: {stats:?}");
}

/// A reply over the pool's size limit is dropped and its request ends `ReplyTooLarge`, naming
/// the size and the limit; the connection and the next requests are unharmed.
pub async fn a_reply_over_the_size_limit_ends_its_request_with_a_clear_error<H: Harness>() {
    let srv = server("big", &[], Transport::Tcp, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, Transport::Tcp)])
        .max_reply_len(1024)
        .build()
        .unwrap();
    bounded::<H, _>(pool.ready(secs(10.0))).await.unwrap();
    let big = "x".repeat(4096);
    let r = bounded::<H, _>(pool.invoke_action("big", "echo", &json!({ "value": big }))).await;
    match r {
        Err(Error::ReplyTooLarge {
            thing, size, limit, ..
        }) => {
            assert_eq!((thing.as_str(), limit), ("big", 1024));
            assert!(size > 4096, "{size}");
        }
        other => panic!("{other:?}"),
    }
    let r = bounded::<H, _>(pool.invoke_action("big", "echo", &json!({ "value": "small" }))).await;
    assert_eq!(r.unwrap().json::<String>().unwrap(), "small");
    let stats = pool.stats();
    assert_eq!(stats.oversized_replies, 1);
    assert_eq!(stats.in_flight, 0);
}

/// A flood: a server that sends bad messages of every kind with every reply (and now and then a
/// 16 MiB frame) beside a good server. Every good reply reaches its own request, every bad
/// message is counted, and the pool's memory of it ends with the message.
pub async fn a_flooding_server_never_disturbs_the_good_one<H: Harness>() {
    let flood = server(
        "flood",
        &[],
        Transport::Ipc,
        Behaviour::Hostile(HostileConfig::all(1.0, 11).with(HostileKind::LargeFrame, 0.02)),
    );
    let good = server("calm", &[], Transport::Tcp, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&flood, Transport::Ipc), (&good, Transport::Tcp)]).await;
    let calls = (0..300i64).map(|n| {
        let pool = pool.clone();
        async move {
            let thing = if n % 3 == 0 { "flood" } else { "calm" };
            let r = pool
                .invoke_action(thing, "echo", &json!({ "value": n }))
                .await
                .unwrap_or_else(|e| panic!("{thing} {n}: {e}"));
            assert_eq!(r.json::<i64>().unwrap(), n, "misdelivered reply");
        }
    });
    bounded::<H, _>(futures::future::join_all(calls)).await;
    let sent = flood.stats().hostile_sent;
    let bad: u64 = sent.values().sum();
    assert!(bad >= 100 * 9, "the server flooded: {sent:?}");
    let stats = eventually::<H>(&pool, |s| {
        s.requests.dropped_total() + s.requests.malformed + s.recv_errors >= bad * 9 / 10
    })
    .await;
    assert_eq!(stats.requests.replies, 300);
    assert_eq!(stats.in_flight, 0);
    let counted = stats.requests.dropped_total() + stats.requests.malformed + stats.recv_errors;
    assert!(
        counted >= bad * 9 / 10,
        "counted {counted} of {bad}: {stats:?}"
    );
}
