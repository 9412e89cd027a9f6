use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

type Frames = Vec<u8>;

fn event(topic: &str, n: u64) -> [Frames; 5] {
    let header = format!(
        r#"{{"messageType":"EVENT","messageID":"11111111-2222-4333-8444-555555555555","senderID":"s/event-publisher","eventID":"{topic}","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#
    );
    [
        topic.as_bytes().to_vec(),
        vec![],
        header.into_bytes(),
        format!(r#"{{"n":{n}}}"#).into_bytes(),
        vec![],
    ]
}

fn subs() -> Subscriptions<u8, Frames> {
    Subscriptions::new(Config::default())
}

/// Everything `id` holds now, events as their payload text.
fn drain(s: &mut Subscriptions<u8, Frames>, id: SubscriptionId) -> Vec<alloc::string::String> {
    let mut out = Vec::new();
    loop {
        match s.pop(id) {
            Pop::Item(Item::Event(e)) => out.push(format!(
                "{}:{}",
                e.seq,
                core::str::from_utf8(&e.payload).unwrap()
            )),
            Pop::Item(other) => out.push(format!("{other:?}")),
            Pop::Empty => return out,
            Pop::Ended => {
                out.push("end".into());
                return out;
            }
            Pop::Unknown => {
                out.push("unknown".into());
                return out;
            }
        }
    }
}

#[test]
fn one_topic_is_shared_by_its_subscribers_and_released_by_the_last() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 4).unwrap();
    assert_eq!(s.poll_change(), Some(1));
    let b = s.subscribe(1, "t/e", 4).unwrap();
    assert_eq!(s.poll_change(), None, "the topic was already wanted");
    assert_eq!(s.wanted(1).collect::<Vec<_>>(), ["t/e"]);
    assert_eq!(s.handle_event(1, &event("t/e", 0)), Ok(2));
    assert_eq!(
        (s.poll_woken(), s.poll_woken(), s.poll_woken()),
        (Some(a), Some(b), None)
    );
    assert_eq!(drain(&mut s, a), [r#"1:{"n":0}"#]);
    assert_eq!(drain(&mut s, b), [r#"1:{"n":0}"#]);
    assert!(s.unsubscribe(a));
    assert_eq!(s.poll_change(), None, "b still wants it");
    assert!(s.unsubscribe(b));
    assert!(!s.unsubscribe(b));
    assert_eq!(s.poll_change(), Some(1));
    assert_eq!(s.wanted(1).count(), 0);
    assert_eq!(s.pop(a), Pop::Unknown);
}

#[test]
fn events_arrive_in_order_and_wake_once_until_polled() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    for n in 0..3 {
        s.handle_event(1, &event("t/e", n)).unwrap();
    }
    assert_eq!(s.poll_woken(), Some(a));
    assert_eq!(s.poll_woken(), None);
    assert_eq!(
        drain(&mut s, a),
        [r#"1:{"n":0}"#, r#"2:{"n":1}"#, r#"3:{"n":2}"#]
    );
}

#[test]
fn a_full_queue_drops_the_oldest_and_reports_the_lag_before_what_remains() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 2).unwrap();
    for n in 0..5 {
        s.handle_event(1, &event("t/e", n)).unwrap();
    }
    assert_eq!(s.queued(a), 2);
    assert_eq!(s.stats().lagged, 3);
    assert_eq!(
        drain(&mut s, a),
        ["Lagged(3)", r#"4:{"n":3}"#, r#"5:{"n":4}"#]
    );
}

#[test]
fn a_loss_and_a_return_are_items_in_their_place() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    s.handle_connected(1);
    s.handle_event(1, &event("t/e", 0)).unwrap();
    assert_eq!(s.handle_lost(1), Duration::from_millis(50));
    assert_eq!(
        s.handle_lost(1),
        Duration::from_millis(100),
        "a failed connect backs off"
    );
    s.handle_connected(1);
    s.handle_event(1, &event("t/e", 1)).unwrap();
    assert_eq!(
        drain(&mut s, a),
        [
            r#"1:{"n":0}"#,
            "Disconnected",
            "Reconnected",
            r#"2:{"n":1}"#
        ]
    );
    assert_eq!(s.stats().lost, 1);
    assert_eq!(
        s.handle_lost(1),
        Duration::from_millis(50),
        "connected resets the backoff"
    );
}

#[test]
fn a_first_connect_and_its_failures_are_no_items() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    s.handle_lost(1);
    s.handle_connected(1);
    assert_eq!(drain(&mut s, a), Vec::<alloc::string::String>::new());
}

#[test]
fn a_subscription_made_during_an_outage_gets_no_return_marker() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    s.handle_connected(1);
    s.handle_lost(1);
    let b = s.subscribe(1, "t/f", 8).unwrap();
    let c = s.subscribe(1, "t/e", 8).unwrap();
    while s.poll_woken().is_some() {}
    s.handle_connected(1);
    assert_eq!(s.poll_woken(), Some(a), "only the one that saw the loss");
    assert_eq!(s.poll_woken(), None);
    assert_eq!(drain(&mut s, a), ["Disconnected", "Reconnected"]);
    assert_eq!(drain(&mut s, b), Vec::<alloc::string::String>::new());
    assert_eq!(drain(&mut s, c), Vec::<alloc::string::String>::new());
    // The next outage is theirs too.
    s.handle_lost(1);
    s.handle_connected(1);
    for id in [a, b, c] {
        assert_eq!(drain(&mut s, id), ["Disconnected", "Reconnected"]);
    }
}

#[test]
fn a_flapping_publisher_nobody_reads_stays_bounded() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 3).unwrap();
    s.handle_connected(1);
    for n in 0..1000 {
        s.handle_event(1, &event("t/e", n)).unwrap();
        s.handle_lost(1);
        s.handle_connected(1);
    }
    let items = drain(&mut s, a);
    assert!(items.len() <= 3 * 4 + 3, "{items:?}");
    assert_eq!(items[0], "Lagged(997)");
    assert_eq!(items.last().unwrap(), "Reconnected");
}

#[test]
fn a_lost_publisher_reported_then_back_reports_the_return() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    s.handle_connected(1);
    s.handle_lost(1);
    assert_eq!(drain(&mut s, a), ["Disconnected"]);
    s.handle_connected(1);
    assert_eq!(drain(&mut s, a), ["Reconnected"]);
}

#[test]
fn a_consumer_told_of_a_loss_never_hears_of_another_before_the_return() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 2).unwrap();
    s.handle_connected(1);
    s.handle_lost(1);
    assert_eq!(drain(&mut s, a), ["Disconnected"]);
    // Back and lost again before the consumer looks: as far as it knows, still lost.
    s.handle_connected(1);
    s.handle_lost(1);
    assert_eq!(drain(&mut s, a), Vec::<alloc::string::String>::new());
    s.handle_connected(1);
    s.handle_event(1, &event("t/e", 0)).unwrap();
    assert_eq!(drain(&mut s, a), ["Reconnected", r#"1:{"n":0}"#]);
    // The same when the reported loss sits before a queued event that a full queue drops.
    s.handle_lost(1);
    assert_eq!(drain(&mut s, a), ["Disconnected"]);
    s.handle_connected(1);
    s.handle_event(1, &event("t/e", 1)).unwrap();
    s.handle_lost(1);
    s.handle_connected(1);
    s.handle_event(1, &event("t/e", 2)).unwrap();
    s.handle_event(1, &event("t/e", 3)).unwrap();
    assert_eq!(
        drain(&mut s, a),
        ["Lagged(1)", "Reconnected", r#"3:{"n":2}"#, r#"4:{"n":3}"#]
    );
}

#[test]
fn bad_and_unwanted_events_are_counted_and_reach_nobody() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    let mut short = event("t/e", 0).to_vec();
    short.pop();
    assert_eq!(
        s.handle_event(1, &short),
        Err(Refused::Malformed(MalformedEvent::FrameCount(4)))
    );
    let mut lying = event("t/e", 0);
    lying[0] = b"t/other".to_vec();
    assert_eq!(
        s.handle_event(1, &lying),
        Err(Refused::Malformed(MalformedEvent::EventIdMismatch))
    );
    assert_eq!(
        s.handle_event(1, &event("t/other", 0)),
        Err(Refused::Unmatched)
    );
    assert_eq!(s.handle_event(2, &event("t/e", 0)), Err(Refused::Unmatched));
    assert_eq!(
        s.handle_event(1, &event("t/e/longer", 0)),
        Err(Refused::Unmatched),
        "a topic is matched exactly, never by prefix"
    );
    let st = s.stats();
    assert_eq!(
        (st.malformed, st.unmatched, st.received, st.delivered),
        (2, 3, 3, 0)
    );
    assert_eq!(s.poll_woken(), None);
    assert_eq!(s.pop(a), Pop::Empty);
}

#[test]
fn removing_a_server_ends_its_subscriptions_after_what_is_queued() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 8).unwrap();
    let b = s.subscribe(2, "u/e", 8).unwrap();
    s.handle_event(1, &event("t/e", 0)).unwrap();
    while s.poll_change().is_some() {}
    s.remove_server(1);
    assert_eq!(s.poll_change(), Some(1));
    assert_eq!(s.wanted(1).count(), 0);
    assert_eq!(s.poll_woken(), Some(a));
    assert_eq!(drain(&mut s, a), [r#"1:{"n":0}"#, "end"]);
    assert_eq!(s.pop(b), Pop::Empty);
    assert!(s.unsubscribe(a));
    assert_eq!(s.poll_change(), None, "an ended subscription wants nothing");
    s.close();
    assert_eq!(drain(&mut s, b), ["end"]);
    assert_eq!(s.subscribe(2, "u/e", 8), Err(SubscribeError::Closed));
}

#[test]
fn limits_are_checked_before_anything_is_kept() {
    let mut s: Subscriptions<u8, Frames> = Subscriptions::new(Config {
        max_subscriptions: 1,
        max_queue_len: 10,
        max_topic_len: 4,
        ..Config::default()
    });
    assert_eq!(s.subscribe(1, "", 1), Err(SubscribeError::EmptyTopic));
    assert_eq!(
        s.subscribe(1, "t/e/x", 1),
        Err(SubscribeError::TopicTooLong { limit: 4 })
    );
    assert_eq!(
        s.subscribe(1, "t/e", 0),
        Err(SubscribeError::QueueLen { limit: 10 })
    );
    assert_eq!(
        s.subscribe(1, "t/e", 11),
        Err(SubscribeError::QueueLen { limit: 10 })
    );
    assert_eq!(s.poll_change(), None);
    s.subscribe(1, "t/e", 10).unwrap();
    assert_eq!(
        s.subscribe(1, "t/e", 1),
        Err(SubscribeError::TooMany { limit: 1 })
    );
}

#[test]
fn ids_are_never_reused() {
    let mut s = subs();
    let a = s.subscribe(1, "t/e", 1).unwrap();
    s.unsubscribe(a);
    let b = s.subscribe(1, "t/e", 1).unwrap();
    assert_ne!(a, b);
    assert_eq!(s.pop(a), Pop::Unknown);
}
