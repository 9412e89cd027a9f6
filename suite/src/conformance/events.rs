//! Event subscriptions against testkit publishers: delivery in order, shared subscriptions,
//! unsubscribe on drop, slow consumers, publisher kill and restart, hostile event frames,
//! events nobody asked for, observable properties, and the ends of a subscription.
//!
//! PUB/SUB has no handshake: events published before the publisher has seen a subscription are
//! lost. Each test therefore first *primes* its subscription (publishes a marker event until one
//! arrives) and only then publishes what it checks. Primer events are skipped when reading.

use futures::StreamExt;

#[allow(unused_imports)]
use super::prelude::*;
use crate::within;
use pool_driver::{EventItem, Subscription};
use pool_testkit::{HostileEvent, TestServer};

/// The primer's payload.
const PRIMER: &[u8] = br#"{"primer":true}"#;

/// Publishes primers until one reaches `sub` (the subscription is live at the publisher).
async fn prime<H: Harness>(server: &TestServer, sub: &mut Subscription, event: &str) {
    let thing = sub.thing().to_owned();
    for _ in 0..400 {
        server.publish(&thing, event, PRIMER);
        if let Some(Some(item)) = within::<H, _>(secs(0.05), sub.next()).await {
            match item {
                EventItem::Event(e) if e.payload().as_ref() == PRIMER => return,
                other => panic!(
                    "{}: unexpected item while priming: {other:?}",
                    sub.event_id()
                ),
            }
        }
    }
    panic!("{}: no primer arrived in 20 s", sub.event_id());
}

/// The next item that is not a primer (fails the test after 20 s).
async fn next_item<H: Harness>(sub: &mut Subscription) -> EventItem {
    loop {
        match within::<H, _>(secs(20.0), sub.next()).await {
            Some(Some(EventItem::Event(e))) if e.payload().as_ref() == PRIMER => continue,
            Some(Some(item)) => return item,
            Some(None) => panic!("{}: the subscription ended", sub.event_id()),
            None => panic!("{}: nothing arrived in 20 s", sub.event_id()),
        }
    }
}

/// The next item, which must be an event; returns its payload as JSON and its `seq`.
async fn next_event<H: Harness>(sub: &mut Subscription) -> (Value, u64) {
    match next_item::<H>(sub).await {
        EventItem::Event(e) => (e.value().expect("JSON payload"), e.seq()),
        other => panic!("{}: expected an event, got {other:?}", sub.event_id()),
    }
}

fn n(k: u64) -> Vec<u8> {
    format!(r#"{{"n":{k}}}"#).into_bytes()
}

/// Events arrive in the order published, with their ids, content types and consecutive `seq`,
/// over tcp and ipc.
pub async fn events_arrive_in_order_over_tcp_and_ipc<H: Harness>() {
    for via in Transport::ALL {
        let srv = server("ev", &[], via, Behaviour::Normal);
        let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
        let mut sub = pool.subscribe_event("ev", "tick").unwrap();
        assert_eq!(sub.event_id(), "ev/tick");
        assert_eq!(
            sub.publisher_endpoint(),
            srv.event_endpoint(via).unwrap(),
            "{via:?}: hololinked's convention finds the publisher"
        );
        prime::<H>(&srv, &mut sub, "tick").await;
        assert!(sub.is_connected());
        for k in 0..200 {
            assert!(srv.publish("ev", "tick", &n(k)));
        }
        let mut last_seq = None;
        for k in 0..200u64 {
            let EventItem::Event(e) = next_item::<H>(&mut sub).await else {
                panic!("{via:?}: a gap in a steady, read stream");
            };
            assert_eq!(e.value().unwrap(), json!({"n": k}), "{via:?}");
            assert_eq!(e.event_id(), "ev/tick");
            assert_eq!(e.thing(), "ev");
            assert_eq!(e.payload_content_type(), "application/json");
            assert_eq!(e.message_id().map(str::len), Some(36), "a uuid4");
            if let Some(last) = last_seq {
                assert_eq!(e.seq(), last + 1, "{via:?}: seq counts every event");
            }
            last_seq = Some(e.seq());
        }
        let stats = pool.stats();
        assert_eq!(stats.events.malformed, 0);
        assert_eq!(stats.events.lagged, 0);
        assert_eq!(stats.subscriptions, 1);
        pool.shutdown().await;
    }
}

/// Subscribers of one event share one publisher link and each gets every event; a subscriber
/// of another event of the same server gets only its own.
pub async fn many_subscribers_share_one_event_and_each_gets_every_one<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &[], via, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
    let mut subs: Vec<_> = (0..3)
        .map(|_| pool.subscribe_event("ev", "tick").unwrap())
        .collect();
    let mut other = pool.subscribe_event("ev", "tock").unwrap();
    for sub in &mut subs {
        prime::<H>(&srv, sub, "tick").await;
    }
    prime::<H>(&srv, &mut other, "tock").await;
    for k in 0..50 {
        srv.publish("ev", "tick", &n(k));
    }
    srv.publish("ev", "tock", &n(1000));
    for sub in &mut subs {
        for k in 0..50 {
            assert_eq!(next_event::<H>(sub).await.0, json!({"n": k}));
        }
    }
    assert_eq!(next_event::<H>(&mut other).await.0, json!({"n": 1000}));
    let stats = pool.stats();
    assert_eq!(stats.publisher_links, 1, "one SUB socket for the server");
    assert_eq!(stats.subscriptions, 4);
    pool.shutdown().await;
}

/// Dropping a subscription unsubscribes it: the others go on, and when the last one goes the
/// SUB socket's task ends.
pub async fn dropping_a_subscription_unsubscribes_and_the_last_closes_the_socket<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &[], via, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
    let tasks_before = pool.live_tasks();
    let mut a = pool.subscribe_event("ev", "tick").unwrap();
    let mut b = pool.subscribe_event("ev", "tick").unwrap();
    prime::<H>(&srv, &mut a, "tick").await;
    prime::<H>(&srv, &mut b, "tick").await;
    assert_eq!(pool.live_tasks(), tasks_before + 1, "one subscriber task");
    drop(a);
    srv.publish("ev", "tick", &n(7));
    assert_eq!(next_event::<H>(&mut b).await.0, json!({"n": 7}));
    assert_eq!(pool.stats().subscriptions, 1);
    drop(b);
    let stats = eventually::<H>(&pool, |_| pool.live_tasks() == tasks_before).await;
    assert_eq!(stats.subscriptions, 0);
    assert_eq!(pool.live_tasks(), tasks_before, "the subscriber task ended");
    // A new subscription opens a new link and works as the first did.
    let mut c = pool.subscribe_event("ev", "tick").unwrap();
    prime::<H>(&srv, &mut c, "tick").await;
    srv.publish("ev", "tick", &n(8));
    assert_eq!(next_event::<H>(&mut c).await.0, json!({"n": 8}));
    assert_eq!(pool.stats().publisher_links, 2);
    pool.shutdown().await;
}

/// A consumer that does not read keeps at most its queue; when it reads, it is told how many
/// events it lost, then gets the newest ones in order, their `seq` past the gap.
pub async fn a_slow_consumer_is_bounded_and_told_how_many_it_lost<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &[], via, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, via)])
        .event_queue_len(16)
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    let mut sub = pool.subscribe_event("ev", "tick").unwrap();
    prime::<H>(&srv, &mut sub, "tick").await;
    let before = pool.stats().events;
    let burst = 500u64;
    for k in 0..burst {
        srv.publish("ev", "tick", &n(k));
    }
    let stats = eventually::<H>(&pool, |s| s.events.received >= before.received + burst).await;
    assert_eq!(
        stats.events.received - before.received,
        burst,
        "all {burst} arrived"
    );
    assert!(
        sub.queued() <= 16,
        "the queue holds {} events",
        sub.queued()
    );
    let dropped = stats.events.lagged - before.lagged;
    assert_eq!(
        dropped,
        burst - 16,
        "everything beyond the queue was dropped and counted"
    );
    let EventItem::Lagged(lagged) = next_item::<H>(&mut sub).await else {
        panic!("the lag comes first");
    };
    assert_eq!(lagged, dropped);
    let mut seqs = Vec::new();
    for k in (burst - 16)..burst {
        let (value, seq) = next_event::<H>(&mut sub).await;
        assert_eq!(value, json!({"n": k}), "the newest events, in order");
        seqs.push(seq);
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(sub.queued(), 0);
    pool.shutdown().await;
}

/// A publisher killed and restarted is a gap, reported as `Disconnected` then `Reconnected`,
/// never the end of the subscription; events flow again after it.
pub async fn a_publisher_kill_and_restart_is_a_reported_gap<H: Harness>() {
    for via in Transport::ALL {
        let mut srv = server("ev", &[], via, Behaviour::Normal);
        let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
        let mut sub = pool.subscribe_event("ev", "tick").unwrap();
        prime::<H>(&srv, &mut sub, "tick").await;
        srv.publish("ev", "tick", &n(1));
        let (_, seq) = next_event::<H>(&mut sub).await;
        srv.kill();
        assert!(
            matches!(next_item::<H>(&mut sub).await, EventItem::Disconnected),
            "{via:?}: the loss is an item"
        );
        assert!(!sub.is_connected());
        srv.restart().unwrap();
        assert!(
            matches!(next_item::<H>(&mut sub).await, EventItem::Reconnected),
            "{via:?}: the return is an item"
        );
        prime::<H>(&srv, &mut sub, "tick").await;
        srv.publish("ev", "tick", &n(2));
        let (value, later) = next_event::<H>(&mut sub).await;
        assert_eq!(value, json!({"n": 2}), "{via:?}");
        assert!(later > seq);
        let stats = pool.stats();
        assert_eq!(stats.events.lost, 1, "{via:?}");
        pool.shutdown().await;
    }
}

/// Hostile event frames reach no subscriber and are counted; the good events around them
/// arrive; an event over the size limit costs the SUB connection (reported, reconnected), not
/// the process.
pub async fn hostile_event_frames_are_dropped_counted_and_survived<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &[], via, Behaviour::Normal);
    let pool = builder::<H::Rt>(&[(&srv, via)])
        .max_reply_len(64 * 1024)
        .build()
        .unwrap();
    pool.ready(secs(10.0)).await.unwrap();
    let mut sub = pool.subscribe_event("ev", "tick").unwrap();
    prime::<H>(&srv, &mut sub, "tick").await;
    let malformed = [
        HostileEvent::FrameCount(1),
        HostileEvent::FrameCount(3),
        HostileEvent::FrameCount(4),
        HostileEvent::FrameCount(7),
        HostileEvent::HeaderNotJson,
        HostileEvent::WrongMessageType,
        HostileEvent::MismatchedEventId,
    ];
    for kind in malformed {
        assert!(srv.publish_hostile("ev", "tick", kind));
        srv.publish_raw(vec![b"ev/tick".to_vec(), vec![0xff; 3]]);
    }
    srv.publish_hostile("ev", "tick", HostileEvent::UnsubscribedTopic);
    srv.publish("ev", "tick", &n(1));
    assert_eq!(
        next_event::<H>(&mut sub).await.0,
        json!({"n": 1}),
        "nothing hostile came through"
    );
    let stats = pool.stats();
    assert_eq!(stats.events.malformed, 2 * malformed.len() as u64);
    assert_eq!(stats.event_protocol_errors, 0);
    // Over the limit, refused at its frame header: the connection goes, the pool reconnects.
    srv.publish_hostile("ev", "tick", HostileEvent::Oversized(1 << 20));
    assert!(matches!(
        next_item::<H>(&mut sub).await,
        EventItem::Disconnected
    ));
    assert!(matches!(
        next_item::<H>(&mut sub).await,
        EventItem::Reconnected
    ));
    prime::<H>(&srv, &mut sub, "tick").await;
    srv.publish("ev", "tick", &n(2));
    assert_eq!(next_event::<H>(&mut sub).await.0, json!({"n": 2}));
    assert_eq!(pool.stats().event_protocol_errors, 1);
    // Requests never noticed.
    let r = pool.read_property("ev", "number").await.unwrap();
    assert_eq!(r.json::<f64>().unwrap(), 1.5);
    pool.shutdown().await;
}

/// Events of a Thing or an event nobody subscribed to reach nobody: another Thing's events are
/// filtered by the publisher, and an event whose id only starts with a subscribed one (which a
/// PUB lets through, matching by prefix) is dropped by the pool and counted.
pub async fn an_event_nobody_subscribed_to_reaches_nobody<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &["a", "b"], via, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
    let mut sub = pool.subscribe_event("a", "tick").unwrap();
    prime::<H>(&srv, &mut sub, "tick").await;
    let before = pool.stats().events;
    srv.publish("b", "tick", &n(1));
    srv.publish("a", "tick_longer", &n(2));
    srv.publish("a", "tick", &n(3));
    assert_eq!(next_event::<H>(&mut sub).await.0, json!({"n": 3}));
    let stats = eventually::<H>(&pool, |s| s.events.unmatched > before.unmatched).await;
    assert_eq!(
        stats.events.unmatched - before.unmatched,
        1,
        "a/tick_longer"
    );
    pool.shutdown().await;
}

/// `observe_property` yields each new value written to an observable property, in order.
pub async fn observe_property_yields_each_written_value<H: Harness>() {
    let via = Transport::Tcp;
    let config = pool_testkit::ServerConfig::builder("ev")
        .tcp()
        .observable("number")
        .build();
    let srv = TestServer::start(config).expect("testkit server starts");
    let pool = ready_pool::<H::Rt>(&[(&srv, via)]).await;
    let mut number = pool.observe_property("ev", "number").unwrap();
    assert_eq!(number.event_id(), "ev/number_change_event");
    // Prime by writing until a change arrives (a new value each time: the same value written
    // again publishes nothing, as on hololinked), then let the primers on their way pass.
    let mut primed = false;
    for k in 1..=400 {
        pool.write_property("ev", "number", &-f64::from(k))
            .await
            .unwrap();
        if let Some(Some(item)) = within::<H, _>(secs(0.05), number.next()).await {
            let primer = item.event().unwrap().value().unwrap();
            assert!(primer.as_f64().is_some_and(|v| v < 0.0), "{primer}");
            primed = true;
            break;
        }
    }
    assert!(primed, "no change event in 20 s");
    while let Some(Some(_)) = within::<H, _>(secs(0.2), number.next()).await {}
    for v in [2.5, 3.0, -7.25] {
        pool.write_property("ev", "number", &v).await.unwrap();
    }
    for v in [2.5, 3.0, -7.25] {
        assert_eq!(next_event::<H>(&mut number).await.0, json!(v));
    }
    // A property that is not observable publishes nothing; a read of an unchanged value and
    // a write of the same value publish nothing.
    let mut text = pool.observe_property("ev", "text").unwrap();
    pool.write_property("ev", "text", &"quiet").await.unwrap();
    pool.read_property("ev", "number").await.unwrap();
    pool.write_property("ev", "number", &-7.25).await.unwrap();
    pool.write_property("ev", "number", &9.0).await.unwrap();
    assert_eq!(next_event::<H>(&mut number).await.0, json!(9.0));
    assert!(within::<H, _>(secs(0.2), text.next()).await.is_none());
    pool.shutdown().await;
}

/// Removing a server ends its subscriptions after what is queued; closing the pool ends the
/// rest; neither hangs.
pub async fn removing_the_server_or_closing_the_pool_ends_its_subscriptions<H: Harness>() {
    let via = Transport::Tcp;
    let one = server("one", &[], via, Behaviour::Normal);
    let two = server("two", &[], via, Behaviour::Normal);
    let pool = ready_pool::<H::Rt>(&[(&one, via), (&two, via)]).await;
    let mut a = pool.subscribe_event("one", "tick").unwrap();
    let mut b = pool.subscribe_event("two", "tick").unwrap();
    prime::<H>(&one, &mut a, "tick").await;
    prime::<H>(&two, &mut b, "tick").await;
    one.publish("one", "tick", &n(1));
    eventually::<H>(&pool, |_| a.queued() == 1).await;
    bounded::<H, _>(pool.remove_server("one")).await.unwrap();
    assert_eq!(
        next_event::<H>(&mut a).await.0,
        json!({"n": 1}),
        "what was queued"
    );
    assert!(bounded::<H, _>(a.next()).await.is_none(), "then the end");
    assert!(matches!(
        pool.subscribe_event("one", "tick"),
        Err(Error::UnknownThing { .. })
    ));
    pool.shutdown().await;
    assert!(bounded::<H, _>(b.next()).await.is_none());
    assert!(matches!(
        pool.subscribe_event("two", "tick"),
        Err(Error::Closed { .. })
    ));
}

/// Bad subscriptions are refused with a clear error, and a full pool of subscriptions refuses
/// one more.
pub async fn subscriptions_are_checked<H: Harness>() {
    let via = Transport::Tcp;
    let srv = server("ev", &[], via, Behaviour::Normal);
    assert!(matches!(
        builder::<H::Rt>(&[(&srv, via)]).event_queue_len(0).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        builder::<H::Rt>(&[(&srv, via)])
            .publisher("nobody", "tcp://127.0.0.1:1")
            .build(),
        Err(Error::UnknownServer { .. })
    ));
    let pool = builder::<H::Rt>(&[(&srv, via)])
        .max_subscriptions(2)
        .build()
        .unwrap();
    assert!(matches!(
        pool.subscribe_event("nothing", "tick"),
        Err(Error::UnknownThing { .. })
    ));
    let _a = pool.subscribe_event("ev", "tick").unwrap();
    let _b = pool.subscribe_event("ev", "tock").unwrap();
    match pool.subscribe_event("ev", "more") {
        Err(Error::Config(message)) => assert!(message.contains("2 subscriptions"), "{message}"),
        other => panic!("{other:?}"),
    }
    pool.shutdown().await;
}
