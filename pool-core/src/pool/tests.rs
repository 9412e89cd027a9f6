//! Unit tests per method, with time moved by hand (firezone `stun_binding.rs` style): exact
//! `poll_timeout` values, no duplicate transmits, one outcome per request.

use super::*;
use crate::time::Duration;
use crate::wire::TimeoutKind;
use std::format;
use std::string::String;
use std::vec::Vec;

#[derive(Debug, PartialEq, Eq)]
struct Req {
    serial: u32,
    objekt: &'static str,
}

impl RequestSpec for Req {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("thing", "readproperty", self.objekt)
    }
}

type TestPool = Pool<Req, FixedMemory<Req, 8, 3, 4, 2>>;

const T0: Instant = Instant(1_000_000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pool_with(config: Config) -> TestPool {
    Pool::new(config, "client", 42, FixedMemory::new()).unwrap()
}

/// The focused tests below leave the liveness probe out (its timer would show in every
/// `poll_timeout`) and the reconnect jitter too (they assert exact delays); the probe's and the
/// jitter's own tests turn them on.
fn pool() -> TestPool {
    pool_with(Config {
        liveness_interval: None,
        backoff_jitter: false,
        ..Config::default()
    })
}

fn req(serial: u32) -> Req {
    Req {
        serial,
        objekt: "number",
    }
}

fn opts(deadline: Option<Instant>) -> RequestOptions {
    RequestOptions {
        deadline,
        oneway: false,
    }
}

/// What a DEALER would receive from the server.
fn header(kind: &str, id: &str) -> String {
    format!(
        r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"client","senderID":"srv"}}"#
    )
}

fn answer(
    pool: &mut TestPool,
    server: ServerId,
    kind: &str,
    id: &str,
    payload: &[u8],
) -> Routed<Req> {
    answer_at(pool, server, kind, id, payload, T0)
}

fn answer_at(
    pool: &mut TestPool,
    server: ServerId,
    kind: &str,
    id: &str,
    payload: &[u8],
    now: Instant,
) -> Routed<Req> {
    let h = header(kind, id);
    pool.handle_message(server, &[b"", h.as_bytes(), payload, b""], now)
}

#[derive(Debug, PartialEq, Eq)]
enum Tx {
    Handshake(ServerId, String),
    Request(ServerId, RequestId, String),
}

fn drain_tx(pool: &mut TestPool) -> Vec<Tx> {
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    while let Some(tx) = pool.poll_transmit(&mut buf) {
        let id = String::from(tx.message_id.as_str());
        out.push(match tx.kind {
            TransmitKind::Handshake => Tx::Handshake(tx.server, id),
            TransmitKind::Request { id: rid, .. } => Tx::Request(tx.server, rid, id),
        });
    }
    out
}

fn drain_events(pool: &mut TestPool) -> Vec<Event<Req>> {
    core::iter::from_fn(|| pool.poll_event()).collect()
}

fn outcomes(events: &[Event<Req>]) -> Vec<(u32, Outcome)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Completed(c) => Some((c.user.serial, c.outcome)),
            _ => None,
        })
        .collect()
}

/// A server that is connected and has answered its handshake, with one Thing.
fn ready_server(pool: &mut TestPool, name: &str) -> (ServerId, ThingId) {
    let server = pool.add_server(name, T0).unwrap();
    let thing = pool.map_thing(server).unwrap();
    assert!(drain_events(pool)
        .iter()
        .any(|e| matches!(e, Event::Connect(s) if *s == server)));
    pool.handle_connected(server, T0);
    let txs = drain_tx(pool);
    let [Tx::Handshake(_, hs)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    assert!(matches!(
        answer(pool, server, "HANDSHAKE", hs, b"null"),
        Routed::Handshake
    ));
    assert!(matches!(drain_events(pool).as_slice(), [Event::ServerReady(s)] if *s == server));
    (server, thing)
}

fn sent_id(txs: &[Tx]) -> String {
    match txs {
        [Tx::Request(_, _, id)] => id.clone(),
        other => panic!("expected one request transmit, got {other:?}"),
    }
}

#[test]
fn add_server_asks_for_one_connect_and_sets_no_timer() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    assert_eq!(pool.server_state(server), Some(ServerState::Connecting));
    assert!(matches!(drain_events(&mut pool).as_slice(), [Event::Connect(s)] if *s == server));
    assert!(drain_events(&mut pool).is_empty());
    assert!(drain_tx(&mut pool).is_empty());
    assert_eq!(pool.poll_timeout(), None);
}

#[test]
fn handshake_is_resent_every_interval_with_a_fresh_id() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    pool.handle_connected(server, T0);
    assert_eq!(
        pool.server_state(server),
        Some(ServerState::Handshaking { since: T0 })
    );
    let first = drain_tx(&mut pool);
    assert!(matches!(first.as_slice(), [Tx::Handshake(..)]));
    assert!(drain_tx(&mut pool).is_empty(), "no duplicate transmit");
    assert_eq!(pool.poll_timeout(), Some(T0 + ms(500)));

    pool.handle_timeout(T0 + ms(499));
    assert!(drain_tx(&mut pool).is_empty());
    pool.handle_timeout(T0 + ms(500));
    let second = drain_tx(&mut pool);
    assert!(matches!(second.as_slice(), [Tx::Handshake(..)]));
    assert_ne!(first, second, "each HANDSHAKE carries a fresh id");
    assert_eq!(pool.poll_timeout(), Some(T0 + ms(1000)));
    assert_eq!(pool.stats().handshakes_sent, 2);
}

#[test]
fn any_handshake_reply_makes_the_server_ready_once() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    pool.handle_connected(server, T0);
    let Tx::Handshake(_, first) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    pool.handle_timeout(T0 + ms(500));
    drain_tx(&mut pool);
    // The reply to the *first* (stale) handshake counts.
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &first, b"null"),
        Routed::Handshake
    ));
    assert_eq!(pool.server_state(server), Some(ServerState::Ready));
    assert!(matches!(
        drain_events(&mut pool).as_slice(),
        [Event::ServerReady(_)]
    ));
    assert_eq!(pool.poll_timeout(), None, "no handshake timer once ready");
    // A later duplicate changes nothing.
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &first, b"null"),
        Routed::Handshake
    ));
    assert!(drain_events(&mut pool).is_empty());
    assert_eq!(pool.stats().handshake_replies, 2);
}

#[test]
fn request_to_ready_server_goes_out_once_and_its_reply_completes_it() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let deadline = T0 + ms(250);
    let id = pool
        .start_request(thing, req(7), opts(Some(deadline)), T0)
        .unwrap();
    assert_eq!(pool.poll_timeout(), Some(deadline));
    let txs = drain_tx(&mut pool);
    assert_eq!(
        txs,
        [Tx::Request(
            server,
            id,
            String::from(pool.message_id(id).as_str())
        )]
    );
    assert!(drain_tx(&mut pool).is_empty(), "no duplicate transmit");
    assert_eq!(pool.server_load(server), Some((0, 0, 1)));

    let mid = pool.message_id(id);
    match answer(&mut pool, server, "REPLY", mid.as_str(), b"1.5") {
        Routed::Completed(c) => {
            assert_eq!(
                (c.id, c.user.serial, c.outcome, c.server, c.thing),
                (id, 7, Outcome::Reply, server, thing)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        pool.poll_timeout(),
        None,
        "the deadline left with the request"
    );
    assert_eq!(pool.in_flight(), 0);
    assert_eq!(pool.free_slots(), pool.capacity());
    assert!(!pool.is_live(id));
}

#[test]
fn every_reply_type_maps_to_its_outcome() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let cases: [(&str, &[u8], Outcome); 5] = [
        ("REPLY", b"null", Outcome::Reply),
        ("EXCEPTION", br#"{"exception":{}}"#, Outcome::Exception),
        (
            "INVALID_MESSAGE",
            br#"{"exception":{}}"#,
            Outcome::InvalidMessage,
        ),
        (
            "TIMEOUT",
            br#""execution""#,
            Outcome::ServerTimeout(TimeoutKind::Execution),
        ),
        (
            "TIMEOUT",
            br#""invokation""#,
            Outcome::ServerTimeout(TimeoutKind::Invokation),
        ),
    ];
    for (n, (kind, payload, expected)) in cases.into_iter().enumerate() {
        let id = pool
            .start_request(thing, req(n as u32), opts(None), T0)
            .unwrap();
        let mid = sent_id(&drain_tx(&mut pool));
        assert_eq!(mid, pool.message_id(id).as_str());
        match answer(&mut pool, server, kind, &mid, payload) {
            Routed::Completed(c) => assert_eq!(c.outcome, expected, "{kind}"),
            other => panic!("{kind}: {other:?}"),
        }
    }
    let s = pool.stats();
    assert_eq!(
        (
            s.replies,
            s.exceptions,
            s.invalid_messages,
            s.server_timeouts
        ),
        (1, 1, 1, 2)
    );
    assert_eq!((s.started, s.ended), (5, 5));
}

#[test]
fn client_deadline_fires_exactly_at_the_deadline_and_late_reply_is_dropped() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let deadline = T0 + ms(100);
    let id = pool
        .start_request(thing, req(1), opts(Some(deadline)), T0)
        .unwrap();
    let mid = sent_id(&drain_tx(&mut pool));

    pool.handle_timeout(deadline - Duration::from_micros(1));
    assert!(
        drain_events(&mut pool).is_empty(),
        "never before the deadline"
    );
    pool.handle_timeout(deadline);
    assert_eq!(
        outcomes(&drain_events(&mut pool)),
        [(1, Outcome::Timeout { sent: true })]
    );
    assert_eq!(pool.poll_timeout(), None);
    pool.handle_timeout(deadline + ms(1));
    assert!(drain_events(&mut pool).is_empty(), "exactly one outcome");

    assert!(matches!(
        answer(&mut pool, server, "REPLY", &mid, b"1"),
        Routed::Dropped(Dropped::Late)
    ));
    assert_eq!(pool.stats().dropped_late, 1);
    assert!(!pool.cancel(id, T0), "an ended request cannot be cancelled");
}

#[test]
fn request_for_a_server_that_never_becomes_ready_times_out_unsent() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    let thing = pool.map_thing(server).unwrap();
    drain_events(&mut pool);
    pool.handle_connected(server, T0);
    drain_tx(&mut pool);
    let deadline = T0 + ms(1200);
    pool.start_request(thing, req(3), opts(Some(deadline)), T0)
        .unwrap();
    assert_eq!(pool.server_load(server), Some((1, 0, 0)));
    let mut now = T0;
    while now < deadline {
        now = pool.poll_timeout().unwrap();
        pool.handle_timeout(now);
        for tx in drain_tx(&mut pool) {
            assert!(
                matches!(tx, Tx::Handshake(..)),
                "no request before the handshake: {tx:?}"
            );
        }
    }
    assert_eq!(now, deadline);
    assert_eq!(
        outcomes(&drain_events(&mut pool)),
        [(3, Outcome::Timeout { sent: false })]
    );
}

#[test]
fn waiting_requests_go_out_in_order_after_the_handshake() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    let thing = pool.map_thing(server).unwrap();
    drain_events(&mut pool);
    let a = pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let b = pool.start_request(thing, req(2), opts(None), T0).unwrap();
    assert!(
        drain_tx(&mut pool).is_empty(),
        "nothing goes out before the connection"
    );
    pool.handle_connected(server, T0);
    let txs = drain_tx(&mut pool);
    let [Tx::Handshake(_, hs)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", hs, b"null"),
        Routed::Handshake
    ));
    let ids: Vec<RequestId> = drain_tx(&mut pool)
        .into_iter()
        .map(|tx| match tx {
            Tx::Request(_, id, _) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [a, b]);
}

#[test]
fn cancel_ends_the_request_once_and_drops_its_reply() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let id = pool
        .start_request(thing, req(9), opts(Some(T0 + ms(50))), T0)
        .unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    assert!(pool.cancel(id, T0));
    assert!(!pool.cancel(id, T0));
    assert_eq!(
        pool.poll_timeout(),
        None,
        "a cancelled request holds no timer"
    );
    assert_eq!(
        outcomes(&drain_events(&mut pool)),
        [(9, Outcome::Cancelled)]
    );
    assert!(matches!(
        answer(&mut pool, server, "REPLY", &mid, b"1"),
        Routed::Dropped(Dropped::Late)
    ));
    pool.handle_timeout(T0 + ms(60));
    assert!(drain_events(&mut pool).is_empty());
}

#[test]
fn disconnect_fails_in_flight_keeps_unsent_and_reconnects_after_backoff() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let in_flight = sent_id(&drain_tx(&mut pool));
    let b = pool
        .start_request(thing, req(2), opts(Some(T0 + ms(5000))), T0)
        .unwrap();

    pool.handle_disconnected(server, T0);
    let events = drain_events(&mut pool);
    assert!(matches!(
        events.first(),
        Some(Event::ServerLost(_, LostReason::Disconnected))
    ));
    assert_eq!(
        outcomes(&events),
        [(1, Outcome::Disconnected)],
        "only the sent one fails"
    );
    assert_eq!(pool.server_load(server), Some((1, 0, 0)));
    assert_eq!(
        pool.server_state(server),
        Some(ServerState::Backoff {
            until: T0 + ms(100)
        })
    );
    assert!(drain_tx(&mut pool).is_empty());
    assert_eq!(pool.poll_timeout(), Some(T0 + ms(100)));

    // A reply to the failed request, replayed after the restart, reaches nobody.
    pool.handle_timeout(T0 + ms(100));
    assert!(matches!(drain_events(&mut pool).as_slice(), [Event::Connect(s)] if *s == server));
    pool.handle_connected(server, T0 + ms(120));
    let txs = drain_tx(&mut pool);
    let [Tx::Handshake(_, hs)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", hs, b"null"),
        Routed::Handshake
    ));
    assert!(matches!(
        drain_events(&mut pool).as_slice(),
        [Event::ServerReady(_)]
    ));
    assert_eq!(
        drain_tx(&mut pool),
        [Tx::Request(
            server,
            b,
            String::from(pool.message_id(b).as_str())
        )]
    );
    assert!(matches!(
        answer(&mut pool, server, "REPLY", &in_flight, b"1"),
        Routed::Dropped(Dropped::Late)
    ));
}

#[test]
fn backoff_doubles_per_failed_attempt_up_to_the_cap_and_resets_when_ready() {
    let config = Config {
        backoff_min: ms(100),
        backoff_max: ms(1000),
        backoff_jitter: false,
        ..Config::default()
    };
    let mut pool = pool_with(config);
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    let (delays, now) = failed_connects(&mut pool, server, T0, 6);
    let delays: Vec<u64> = delays.iter().map(|d| d.as_micros() / 1000).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    // Reaching Ready resets the backoff.
    pool.handle_connected(server, now);
    let Tx::Handshake(_, hs) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &hs, b"null"),
        Routed::Handshake
    ));
    pool.handle_disconnected(server, now);
    assert_eq!(pool.poll_timeout(), Some(now + ms(100)));
}

/// `count` failed connects in a row from `now` on: each loss's reconnect delay (read from the
/// server's backoff state), and the time of the last `Connect`.
fn failed_connects(
    pool: &mut TestPool,
    server: ServerId,
    mut now: Instant,
    count: usize,
) -> (Vec<Duration>, Instant) {
    let mut delays = Vec::new();
    for _ in 0..count {
        pool.handle_disconnected(server, now); // the connect failed
        let Some(ServerState::Backoff { until }) = pool.server_state(server) else {
            panic!("{:?}", pool.server_state(server))
        };
        assert_eq!(pool.poll_timeout(), Some(until));
        delays.push(until.saturating_since(now));
        now = until;
        pool.handle_timeout(now);
        assert!(drain_events(pool)
            .iter()
            .any(|e| matches!(e, Event::Connect(s) if *s == server)));
    }
    (delays, now)
}

fn jitter_config() -> Config {
    Config {
        backoff_min: ms(100),
        backoff_max: ms(1000),
        liveness_interval: None,
        ..Config::default()
    }
}

/// The exponential delay before jitter after `attempt` losses in a row (100 ms to 1 s).
fn full_delay(attempt: usize) -> Duration {
    ms((100u64 << attempt.min(4)).min(1000))
}

#[test]
fn jittered_backoff_stays_between_half_and_full_over_many_losses() {
    let mut pool = pool_with(jitter_config());
    assert!(pool.config().backoff_jitter, "on by default");
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    let (delays, now) = failed_connects(&mut pool, server, T0, 300);
    for (attempt, &delay) in delays.iter().enumerate() {
        let full = full_delay(attempt);
        let half = Duration::from_micros(full.as_micros().div_ceil(2));
        assert!(
            half <= delay && delay <= full,
            "loss {attempt}: {delay:?} outside [{half:?}, {full:?}]"
        );
    }
    // At the cap the draws spread over the range, not stuck at one end.
    let capped = &delays[5..];
    let low = capped.iter().filter(|d| d.as_micros() < 750_000).count();
    let high = capped.iter().filter(|d| d.as_micros() >= 750_000).count();
    assert!(low > 50 && high > 50, "{low} low, {high} high");
    // Reaching Ready starts over from backoff_min, still jittered.
    pool.handle_connected(server, now);
    let Tx::Handshake(_, hs) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    assert!(matches!(
        answer_at(&mut pool, server, "HANDSHAKE", &hs, b"null", now),
        Routed::Handshake
    ));
    drain_events(&mut pool);
    let (again, _) = failed_connects(&mut pool, server, now, 1);
    assert!(ms(50) <= again[0] && again[0] <= ms(100), "{again:?}");
}

#[test]
fn jitter_differs_between_pools_with_different_nonces_and_replays_with_the_same() {
    let delays = |nonce: u64| {
        let mut pool = TestPool::new(jitter_config(), "client", nonce, FixedMemory::new()).unwrap();
        let server = pool.add_server("srv", T0).unwrap();
        drain_events(&mut pool);
        failed_connects(&mut pool, server, T0, 20).0
    };
    let (a, b) = (delays(1), delays(2));
    assert_ne!(
        a, b,
        "two clients of one server do not reconnect in lockstep"
    );
    assert_eq!(a, delays(1), "the same nonce replays the same delays");
    // The first losses already differ, where the spread matters most.
    let first = (0..100).map(delays).map(|d| d[0]).collect::<Vec<_>>();
    let mut distinct = first.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 90, "{first:?}");
}

#[test]
fn without_jitter_every_delay_is_exact() {
    let mut pool = pool_with(Config {
        backoff_jitter: false,
        ..jitter_config()
    });
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    let (delays, _) = failed_connects(&mut pool, server, T0, 50);
    for (attempt, &delay) in delays.iter().enumerate() {
        assert_eq!(delay, full_delay(attempt), "loss {attempt}");
    }
}

#[test]
fn send_failure_keeps_the_unsent_request_and_fails_the_others() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let c = pool.start_request(thing, req(2), opts(None), T0).unwrap();
    let txs = drain_tx(&mut pool);
    assert_eq!(txs.len(), 2);
    let d = pool.start_request(thing, req(3), opts(None), T0).unwrap();
    pool.handle_send_failed(server, &[c], T0);
    let events = drain_events(&mut pool);
    assert!(matches!(
        events.first(),
        Some(Event::ServerLost(_, LostReason::SendFailed))
    ));
    assert_eq!(outcomes(&events), [(1, Outcome::Disconnected)]);
    assert!(pool.is_live(c));
    pool.handle_timeout(T0 + ms(100));
    drain_events(&mut pool);
    pool.handle_connected(server, T0 + ms(100));
    let Tx::Handshake(_, hs) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &hs, b"null"),
        Routed::Handshake
    ));
    drain_events(&mut pool);
    let resent: Vec<RequestId> = drain_tx(&mut pool)
        .into_iter()
        .map(|tx| match tx {
            Tx::Request(_, id, mid) => {
                assert_eq!(mid, pool.message_id(id).as_str(), "same id as before");
                id
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        resent,
        [c, d],
        "the unsent request goes first, then the one queued after it"
    );
}

#[test]
fn lost_with_several_unsent_requests_resends_them_in_order_and_fails_only_the_sent() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let ids: Vec<RequestId> = (0..4)
        .map(|n| pool.start_request(thing, req(n), opts(None), T0).unwrap())
        .collect();
    assert_eq!(drain_tx(&mut pool).len(), 4);
    // The transport wrote the first; the peer vanished with the other three still queued.
    pool.handle_lost(server, LostReason::Disconnected, &ids[1..], T0);
    let events = drain_events(&mut pool);
    assert!(matches!(
        events.first(),
        Some(Event::ServerLost(_, LostReason::Disconnected))
    ));
    assert_eq!(outcomes(&events), [(0, Outcome::Disconnected)]);
    pool.handle_timeout(T0 + ms(100));
    drain_events(&mut pool);
    pool.handle_connected(server, T0 + ms(100));
    let Tx::Handshake(_, hs) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &hs, b"null"),
        Routed::Handshake
    ));
    drain_events(&mut pool);
    let resent: Vec<RequestId> = drain_tx(&mut pool)
        .into_iter()
        .map(|tx| match tx {
            Tx::Request(_, id, _) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(resent, ids[1..], "unsent requests keep their order");
    // Naming a request that already ended, or one on another server, changes nothing.
    pool.handle_lost(server, LostReason::SendFailed, &[ids[0]], T0 + ms(100));
    assert_eq!(
        outcomes(&drain_events(&mut pool)),
        [
            (1, Outcome::Disconnected),
            (2, Outcome::Disconnected),
            (3, Outcome::Disconnected)
        ]
    );
}

#[test]
fn full_pool_refuses_with_the_request_handed_back() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    for n in 0..8 {
        pool.start_request(thing, req(n), opts(None), T0).unwrap();
    }
    let err = pool
        .start_request(thing, req(99), opts(None), T0)
        .unwrap_err();
    assert_eq!(err.kind, StartErrorKind::Full);
    assert_eq!(err.user.serial, 99);
    assert_eq!(pool.stats().refused, 1);
    let first = match drain_tx(&mut pool).remove(0) {
        Tx::Request(_, _, mid) => mid,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        answer(&mut pool, server, "REPLY", &first, b"1"),
        Routed::Completed(_)
    ));
    assert!(pool.start_request(thing, req(100), opts(None), T0).is_ok());
    assert_eq!(pool.in_flight(), 8);
}

#[test]
fn unknown_and_unmapped_things_are_refused() {
    let mut pool = pool();
    let (_, thing) = ready_server(&mut pool, "srv");
    assert!(pool.unmap_thing(thing));
    assert!(!pool.unmap_thing(thing));
    let err = pool
        .start_request(thing, req(1), opts(None), T0)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.user.serial),
        (StartErrorKind::UnknownThing, 1)
    );
}

#[test]
fn remove_server_closes_its_requests_and_stales_its_handles() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let (other, other_thing) = ready_server(&mut pool, "other");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    pool.start_request(other_thing, req(2), opts(None), T0)
        .unwrap();
    let txs = drain_tx(&mut pool);
    let mid = match &txs[0] {
        Tx::Request(s, _, mid) if *s == server => mid.clone(),
        other => panic!("{other:?}"),
    };
    pool.start_request(thing, req(3), opts(Some(T0 + ms(10))), T0)
        .unwrap();
    assert!(pool.remove_server(server, T0));
    assert!(!pool.remove_server(server, T0));
    let mut ended = outcomes(&drain_events(&mut pool));
    ended.sort_by_key(|(serial, _)| *serial);
    assert_eq!(ended, [(1, Outcome::Closed), (3, Outcome::Closed)]);
    assert_eq!(pool.thing_server(thing), None);
    assert_eq!(pool.server_state(server), None);
    assert_eq!(pool.poll_timeout(), None);
    assert!(matches!(
        answer(&mut pool, server, "REPLY", &mid, b"1"),
        Routed::Dropped(Dropped::UnknownServer)
    ));
    pool.handle_disconnected(server, T0);
    assert!(
        drain_events(&mut pool).is_empty(),
        "stale handles are ignored"
    );
    assert_eq!(pool.server_state(other), Some(ServerState::Ready));
    assert_eq!(pool.in_flight(), 1);
    // The freed entry is reused with a new generation.
    let again = pool.add_server("again", T0).unwrap();
    assert_ne!(again, server);
    assert_eq!(again.index(), server.index());
}

#[test]
fn a_reply_from_the_wrong_server_is_dropped() {
    let mut pool = pool();
    let (a, thing_a) = ready_server(&mut pool, "a");
    let (b, _) = ready_server(&mut pool, "b");
    pool.start_request(thing_a, req(1), opts(None), T0).unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    assert!(matches!(
        answer(&mut pool, b, "REPLY", &mid, b"1"),
        Routed::Dropped(Dropped::WrongServer)
    ));
    assert!(matches!(
        answer(&mut pool, a, "REPLY", &mid, b"1"),
        Routed::Completed(_)
    ));
    assert_eq!(pool.stats().dropped_wrong_server, 1);
}

#[test]
fn malformed_and_foreign_messages_are_counted_and_change_nothing() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    let h = header("REPLY", &mid);
    let bad: [&[&[u8]]; 5] = [
        &[b"", h.as_bytes(), b"1"],
        &[b"x", h.as_bytes(), b"1", b""],
        &[b"", b"{not json", b"1", b""],
        &[],
        &[
            b"",
            br#"{"messageType":"TIMEOUT","messageID":"x"}"#,
            b"\"soon\"",
            b"",
        ],
    ];
    for frames in bad {
        assert!(
            matches!(
                pool.handle_message(server, frames, T0),
                Routed::Malformed(_)
            ),
            "{frames:?}"
        );
    }
    let foreign = header("REPLY", "11111111-2222-4333-8444-555555555555");
    let routed = pool.handle_message(server, &[b"", foreign.as_bytes(), b"1", b""], T0);
    assert!(matches!(routed, Routed::Dropped(Dropped::Foreign)));
    let other_pool_id = IdCodec::new(43).encode(0, 0);
    assert!(matches!(
        answer(&mut pool, server, "REPLY", other_pool_id.as_str(), b"1"),
        Routed::Dropped(Dropped::Foreign)
    ));
    assert_eq!(pool.stats().malformed, 5);
    assert_eq!(pool.stats().dropped_foreign, 2);
    assert!(matches!(
        answer(&mut pool, server, "REPLY", &mid, b"1"),
        Routed::Completed(_)
    ));
}

#[test]
fn oneway_ends_sent_at_transmit_and_unsolicited_timeout_is_dropped() {
    let mut pool = pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let options = RequestOptions {
        deadline: Some(T0 + ms(100)),
        oneway: true,
    };
    pool.start_request(thing, req(5), options, T0).unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    assert_eq!(outcomes(&drain_events(&mut pool)), [(5, Outcome::Sent)]);
    assert_eq!(pool.poll_timeout(), None);
    assert_eq!(pool.in_flight(), 0);
    assert!(matches!(
        answer(&mut pool, server, "TIMEOUT", &mid, br#""execution""#),
        Routed::Dropped(Dropped::Late)
    ));
}

#[test]
fn fanout_gives_one_outcome_per_thing_then_fanout_done() {
    let mut pool = pool();
    let (a, _) = ready_server(&mut pool, "a");
    let (b, _) = ready_server(&mut pool, "b");
    pool.map_thing(a).unwrap(); // a second Thing on server a
    let mut serial = 0;
    let fanout = pool
        .start_fanout_all(
            |_, _| {
                serial += 1;
                req(serial)
            },
            opts(Some(T0 + ms(100))),
            T0,
        )
        .unwrap();
    let txs = drain_tx(&mut pool);
    assert_eq!(txs.len(), 3);
    // Servers take turns.
    let servers: Vec<ServerId> = txs
        .iter()
        .map(|tx| match tx {
            Tx::Request(s, ..) => *s,
            Tx::Handshake(..) => panic!(),
        })
        .collect();
    assert_eq!(servers, [a, b, a]);
    // Two replies, one timeout.
    for tx in &txs[..2] {
        let Tx::Request(s, _, mid) = tx else { panic!() };
        match answer(&mut pool, *s, "REPLY", mid, b"1") {
            Routed::Completed(c) => assert_eq!(c.fanout, Some(fanout)),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        drain_events(&mut pool).is_empty(),
        "not done while a member is live"
    );
    pool.handle_timeout(T0 + ms(100));
    let events = drain_events(&mut pool);
    assert_eq!(events.len(), 2);
    assert!(
        matches!(&events[0], Event::Completed(c) if c.outcome == Outcome::Timeout { sent: true })
    );
    assert!(matches!(events[1], Event::FanoutDone(id) if id == fanout));
}

#[test]
fn fanout_is_all_or_nothing() {
    let mut pool = pool();
    let (_, thing) = ready_server(&mut pool, "a");
    for n in 0..7 {
        pool.start_request(thing, req(n), opts(None), T0).unwrap();
    }
    let things = [thing, thing];
    assert_eq!(
        pool.start_fanout(&things, |_, _| req(0), opts(None), T0),
        Err(StartErrorKind::Full)
    );
    assert_eq!(pool.in_flight(), 7);
    let stale = ThingId {
        index: 3,
        generation: 9,
    };
    assert_eq!(
        pool.start_fanout(&[stale], |_, _| req(0), opts(None), T0),
        Err(StartErrorKind::UnknownThing)
    );
    // An empty fan-out is done at once.
    let empty = pool
        .start_fanout(&[], |_, _| req(0), opts(None), T0)
        .unwrap();
    assert!(matches!(drain_events(&mut pool).as_slice(), [Event::FanoutDone(id)] if *id == empty));
}

#[test]
fn oversized_headers_are_refused_at_start() {
    let config = Config {
        max_header_len: 64,
        ..Config::default()
    };
    let mut pool = pool_with(config);
    let server = pool.add_server("srv", T0).unwrap();
    let thing = pool.map_thing(server).unwrap();
    let err = pool
        .start_request(thing, req(1), opts(None), T0)
        .unwrap_err();
    assert_eq!(err.kind, StartErrorKind::HeaderTooLarge);
}

#[test]
fn handshake_timeout_loses_the_server_and_reconnects() {
    let config = Config {
        handshake_timeout: Some(ms(1000)),
        backoff_jitter: false,
        ..Config::default()
    };
    let mut pool = pool_with(config);
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    pool.handle_connected(server, T0);
    let mut now = T0;
    let mut handshakes = 0;
    loop {
        handshakes += drain_tx(&mut pool).len();
        let events = drain_events(&mut pool);
        if let Some(Event::ServerLost(_, reason)) = events.first() {
            assert_eq!(*reason, LostReason::HandshakeTimeout);
            break;
        }
        now = pool.poll_timeout().unwrap();
        pool.handle_timeout(now);
    }
    assert_eq!(now, T0 + ms(1000));
    assert_eq!(handshakes, 2, "at 0 and 500 ms");
    assert_eq!(pool.poll_timeout(), Some(now + ms(100)));
}

#[test]
fn identities_are_validated() {
    let long = "x".repeat(256);
    assert!(TestPool::new(Config::default(), "", 1, FixedMemory::new()).is_err());
    assert!(TestPool::new(Config::default(), "\0id", 1, FixedMemory::new()).is_err());
    assert!(TestPool::new(Config::default(), &long, 1, FixedMemory::new()).is_err());
    let mut pool = pool();
    assert_eq!(
        pool.add_server("", T0),
        Err(AddServerError::InvalidIdentity)
    );
    assert_eq!(
        pool.add_server(&long, T0),
        Err(AddServerError::InvalidIdentity)
    );
    assert!(pool.add_server(&long[..255], T0).is_ok());
    pool.add_server("b", T0).unwrap();
    pool.add_server("c", T0).unwrap();
    assert_eq!(pool.add_server("d", T0), Err(AddServerError::Full));
}

#[test]
fn transmits_carry_the_client_and_server_identities() {
    let mut pool = pool();
    let (_, thing) = ready_server(&mut pool, "srv-A");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let mut buf = [0u8; 4096];
    let tx = pool.poll_transmit(&mut buf).unwrap();
    let header = core::str::from_utf8(tx.header).unwrap();
    assert!(header.contains(r#""senderID":"client""#), "{header}");
    assert!(header.contains(r#""receiverID":"srv-A""#), "{header}");
    assert!(header.contains(tx.message_id.as_str()));
    assert!(!header.contains("EXIT"));
    let TransmitKind::Request { user, .. } = tx.kind else {
        panic!()
    };
    assert_eq!(user.serial, 1);
}

#[test]
fn a_too_small_transmit_buffer_makes_the_request_unsendable_not_a_panic() {
    let mut pool = pool();
    let (_, thing) = ready_server(&mut pool, "srv");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let mut tiny = [0u8; 8];
    assert!(pool.poll_transmit(&mut tiny).is_none());
    assert_eq!(
        outcomes(&drain_events(&mut pool)),
        [(1, Outcome::Unsendable)]
    );
}

#[test]
fn undrained_notifications_collapse_to_the_latest_state() {
    let mut pool = pool();
    let server = pool.add_server("srv", T0).unwrap();
    drain_events(&mut pool);
    pool.handle_connected(server, T0);
    let Tx::Handshake(_, hs) = drain_tx(&mut pool).remove(0) else {
        panic!()
    };
    assert!(matches!(
        answer(&mut pool, server, "HANDSHAKE", &hs, b"null"),
        Routed::Handshake
    ));
    // Ready is pending and not drained when the server is lost: only the loss is reported.
    pool.handle_disconnected(server, T0);
    let events = drain_events(&mut pool);
    assert!(
        matches!(events.as_slice(), [Event::ServerLost(s, _)] if *s == server),
        "{events:?}"
    );
    // The list of servers with events stays consistent afterwards.
    pool.handle_timeout(T0 + ms(100));
    assert!(matches!(
        drain_events(&mut pool).as_slice(),
        [Event::Connect(_)]
    ));
    assert!(drain_events(&mut pool).is_empty());
}

// ----- liveness probe ---------------------------------------------------------------------

const LIVENESS: u64 = 10_000;
const PROBE_TIMEOUT: u64 = 3_000;

fn probing_pool() -> TestPool {
    pool_with(Config {
        liveness_interval: Some(ms(LIVENESS)),
        liveness_timeout: ms(PROBE_TIMEOUT),
        ..Config::default()
    })
}

#[test]
fn a_quiet_ready_server_is_probed_and_lost_if_the_probe_goes_unanswered() {
    let mut pool = probing_pool();
    let (server, _) = ready_server(&mut pool, "srv");
    assert_eq!(pool.poll_timeout(), Some(T0 + ms(LIVENESS)));
    pool.handle_timeout(T0 + ms(LIVENESS) - ms(1));
    assert!(drain_tx(&mut pool).is_empty(), "not before the interval");
    pool.handle_timeout(T0 + ms(LIVENESS));
    let txs = drain_tx(&mut pool);
    assert!(
        matches!(txs.as_slice(), [Tx::Handshake(s, _)] if *s == server),
        "{txs:?}"
    );
    assert_eq!(pool.stats().liveness_probes, 1);
    assert_eq!(pool.server_state(server), Some(ServerState::Ready));
    let give_up = T0 + ms(LIVENESS) + ms(PROBE_TIMEOUT);
    assert_eq!(pool.poll_timeout(), Some(give_up));
    pool.handle_timeout(give_up - ms(1));
    assert!(drain_events(&mut pool).is_empty());
    pool.handle_timeout(give_up);
    let events = drain_events(&mut pool);
    assert!(
        matches!(events.as_slice(), [Event::ServerLost(s, LostReason::Unresponsive)] if *s == server),
        "{events:?}"
    );
    assert!(matches!(
        pool.server_state(server),
        Some(ServerState::Backoff { .. })
    ));
}

#[test]
fn an_answered_probe_keeps_the_server_ready_and_rearms_from_the_answer() {
    let mut pool = probing_pool();
    let (server, _) = ready_server(&mut pool, "srv");
    let probe_at = T0 + ms(LIVENESS);
    pool.handle_timeout(probe_at);
    let txs = drain_tx(&mut pool);
    let [Tx::Handshake(_, probe)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    let answered = probe_at + ms(5);
    assert!(matches!(
        answer_at(&mut pool, server, "HANDSHAKE", probe, b"null", answered),
        Routed::Handshake
    ));
    // The timer is not moved per message; when it fires early it re-arms from the answer.
    pool.handle_timeout(probe_at + ms(PROBE_TIMEOUT));
    assert!(drain_events(&mut pool).is_empty(), "no loss");
    assert!(drain_tx(&mut pool).is_empty(), "no second probe yet");
    assert_eq!(pool.poll_timeout(), Some(answered + ms(LIVENESS)));
    assert_eq!(pool.server_state(server), Some(ServerState::Ready));
    assert_eq!(pool.stats().servers_lost, 0);
}

#[test]
fn replies_postpone_the_probe() {
    let mut pool = probing_pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let sent_at = T0 + ms(4_000);
    pool.start_request(thing, req(1), opts(None), sent_at)
        .unwrap();
    let id = sent_id(&drain_tx(&mut pool));
    let replied = T0 + ms(6_000);
    assert!(matches!(
        answer_at(&mut pool, server, "REPLY", &id, b"1", replied),
        Routed::Completed(_)
    ));
    pool.handle_timeout(T0 + ms(LIVENESS));
    assert!(
        drain_tx(&mut pool).is_empty(),
        "heard from it 4 s ago: no probe"
    );
    assert_eq!(pool.poll_timeout(), Some(replied + ms(LIVENESS)));
    pool.handle_timeout(replied + ms(LIVENESS));
    assert!(matches!(
        drain_tx(&mut pool).as_slice(),
        [Tx::Handshake(..)]
    ));
}

#[test]
fn a_busy_server_that_goes_silent_is_probed_and_lost_and_its_request_ends_disconnected() {
    let mut pool = probing_pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    // No deadline: only the probe can notice a frozen or half-open server.
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    assert_eq!(pool.poll_timeout(), Some(T0 + ms(LIVENESS)));
    pool.handle_timeout(T0 + ms(LIVENESS) - ms(1));
    assert!(drain_tx(&mut pool).is_empty(), "not before the interval");
    pool.handle_timeout(T0 + ms(LIVENESS));
    let txs = drain_tx(&mut pool);
    assert!(
        matches!(txs.as_slice(), [Tx::Handshake(s, _)] if *s == server),
        "probed with the request in flight: {txs:?}"
    );
    assert_eq!(pool.stats().liveness_probes, 1);
    assert_eq!(pool.server_load(server), Some((0, 0, 1)));
    let give_up = T0 + ms(LIVENESS) + ms(PROBE_TIMEOUT);
    assert_eq!(pool.poll_timeout(), Some(give_up));
    pool.handle_timeout(give_up - ms(1));
    assert!(drain_events(&mut pool).is_empty());
    pool.handle_timeout(give_up);
    let events = drain_events(&mut pool);
    assert!(
        matches!(
            events.first(),
            Some(Event::ServerLost(s, LostReason::Unresponsive)) if *s == server
        ),
        "{events:?}"
    );
    assert_eq!(outcomes(&events), [(1, Outcome::Disconnected)]);
    assert_eq!(
        (pool.stats().servers_lost, pool.stats().disconnected),
        (1, 1)
    );
    assert_eq!(pool.in_flight(), 0);
    // It reconnects after the backoff, and a late reply to the failed request reaches nobody.
    let Some(ServerState::Backoff { until }) = pool.server_state(server) else {
        panic!("{:?}", pool.server_state(server))
    };
    assert_eq!(pool.poll_timeout(), Some(until));
    pool.handle_timeout(until);
    assert!(matches!(drain_events(&mut pool).as_slice(), [Event::Connect(s)] if *s == server));
    pool.handle_connected(server, until);
    let txs = drain_tx(&mut pool);
    let [Tx::Handshake(_, hs)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    assert!(matches!(
        answer_at(&mut pool, server, "HANDSHAKE", hs, b"null", until),
        Routed::Handshake
    ));
    assert!(matches!(drain_events(&mut pool).as_slice(), [Event::ServerReady(s)] if *s == server));
    assert!(matches!(
        answer_at(&mut pool, server, "REPLY", &mid, b"1", until),
        Routed::Dropped(Dropped::Late)
    ));
}

#[test]
fn a_busy_server_that_keeps_replying_is_never_probed() {
    let mut pool = probing_pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    // A long action, never answered during the test, no deadline.
    let long = pool.start_request(thing, req(0), opts(None), T0).unwrap();
    drain_tx(&mut pool);
    // Other requests come and go every 4 s (well inside the 10 s interval).
    let mut now = T0;
    let mut serial = 1;
    while now < T0 + ms(5 * LIVENESS) {
        now = now + ms(500);
        pool.handle_timeout(now);
        if (now.0 - T0.0).is_multiple_of(4_000_000) {
            pool.start_request(thing, req(serial), opts(None), now)
                .unwrap();
            let mid = sent_id(&drain_tx(&mut pool));
            assert!(matches!(
                answer_at(&mut pool, server, "REPLY", &mid, b"1", now),
                Routed::Completed(c) if c.user.serial == serial
            ));
            serial += 1;
        }
        assert!(drain_tx(&mut pool).is_empty(), "no probe at {now:?}");
        assert!(drain_events(&mut pool).is_empty(), "no loss at {now:?}");
    }
    assert_eq!(pool.stats().liveness_probes, 0);
    assert_eq!(pool.server_state(server), Some(ServerState::Ready));
    assert!(pool.is_live(long));
    // Once the replies stop, the silence is noticed one interval after the last of them.
    let last = T0 + ms(48_000);
    assert_eq!(pool.poll_timeout(), Some(last + ms(LIVENESS)));
    pool.handle_timeout(last + ms(LIVENESS));
    assert!(matches!(drain_tx(&mut pool).as_slice(), [Tx::Handshake(s, _)] if *s == server));
}

#[test]
fn an_answered_probe_keeps_a_busy_server_and_its_request() {
    let mut pool = probing_pool();
    let (server, thing) = ready_server(&mut pool, "srv");
    let id = pool.start_request(thing, req(1), opts(None), T0).unwrap();
    let mid = sent_id(&drain_tx(&mut pool));
    let probe_at = T0 + ms(LIVENESS);
    pool.handle_timeout(probe_at);
    let txs = drain_tx(&mut pool);
    let [Tx::Handshake(_, probe)] = txs.as_slice() else {
        panic!("{txs:?}")
    };
    let answered = probe_at + ms(5);
    assert!(matches!(
        answer_at(&mut pool, server, "HANDSHAKE", probe, b"null", answered),
        Routed::Handshake
    ));
    pool.handle_timeout(probe_at + ms(PROBE_TIMEOUT));
    assert!(drain_events(&mut pool).is_empty(), "no loss");
    assert!(drain_tx(&mut pool).is_empty(), "no second probe yet");
    assert_eq!(pool.poll_timeout(), Some(answered + ms(LIVENESS)));
    assert_eq!(pool.server_state(server), Some(ServerState::Ready));
    assert!(pool.is_live(id));
    // The next probe is answered by the long request's own reply: anything received counts.
    let second = answered + ms(LIVENESS);
    pool.handle_timeout(second);
    assert!(matches!(
        drain_tx(&mut pool).as_slice(),
        [Tx::Handshake(..)]
    ));
    assert!(matches!(
        answer_at(&mut pool, server, "REPLY", &mid, b"1", second + ms(1)),
        Routed::Completed(c) if c.id == id
    ));
    pool.handle_timeout(second + ms(PROBE_TIMEOUT));
    assert!(drain_events(&mut pool).is_empty(), "no loss");
    assert_eq!(pool.stats().servers_lost, 0);
    assert_eq!(pool.stats().liveness_probes, 2);
}

#[test]
fn a_probe_goes_out_even_at_the_in_flight_limit() {
    let mut pool = pool_with(Config {
        liveness_interval: Some(ms(LIVENESS)),
        liveness_timeout: ms(PROBE_TIMEOUT),
        max_in_flight_per_server: 1,
        ..Config::default()
    });
    let (server, thing) = ready_server(&mut pool, "srv");
    pool.start_request(thing, req(1), opts(None), T0).unwrap();
    pool.start_request(thing, req(2), opts(None), T0).unwrap();
    sent_id(&drain_tx(&mut pool));
    assert_eq!(pool.server_load(server), Some((0, 1, 1)));
    pool.handle_timeout(T0 + ms(LIVENESS));
    assert!(matches!(drain_tx(&mut pool).as_slice(), [Tx::Handshake(s, _)] if *s == server));
    assert_eq!(pool.server_load(server), Some((0, 1, 1)));
}
