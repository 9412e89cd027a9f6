//! The pool never allocates on the hot path: in steady state a request lifecycle (start,
//! transmit with JSON header, reply decode, completion), a timeout, a cancel, a fan-out and a
//! server loss/reconnect cycle perform zero heap allocations. Counted with a counting global
//! allocator (`allocation-counter`), not timed.

use allocation_counter::measure;
use pool_core::pool::{
    Capacity, Config, Event, HeapMemory, Pool, RequestOptions, RequestSpec, Routed, ServerId,
    ThingId,
};
use pool_core::wire::RequestFields;
use pool_core::{Duration, Instant, MESSAGE_ID_LEN};

#[derive(Debug)]
struct Read;

impl RequestSpec for Read {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("demo", "readproperty", "number")
    }
}

type TestPool = Pool<Read, HeapMemory<Read>>;

const REPLY: &[u8] = br#"{"messageType":"REPLY","messageID":"000000000000000000000000000000000000","receiverID":"c","senderID":"demo"}"#;
const HANDSHAKE: &[u8] = br#"{"messageType":"HANDSHAKE","messageID":"000000000000000000000000000000000000","receiverID":"c","senderID":"demo"}"#;

/// Copies `id` into the messageID of a header template, on the stack.
fn with_id(template: &[u8], id: &[u8; MESSAGE_ID_LEN]) -> [u8; 160] {
    let mut out = [b' '; 160];
    out[..template.len()].copy_from_slice(template);
    let at = template
        .windows(MESSAGE_ID_LEN)
        .position(|w| w.iter().all(|&b| b == b'0'))
        .unwrap();
    out[at..at + MESSAGE_ID_LEN].copy_from_slice(id);
    out
}

fn handshake(pool: &mut TestPool, server: ServerId, now: Instant, buf: &mut [u8]) {
    pool.handle_connected(server, now);
    let mut id = None;
    while let Some(tx) = pool.poll_transmit(buf) {
        id = Some(*tx.message_id.as_bytes());
    }
    let header = with_id(HANDSHAKE, &id.unwrap());
    assert!(matches!(
        pool.handle_message(server, &[b"", &header, b"null", b""], now),
        Routed::Handshake
    ));
    while pool.poll_event().is_some() {}
}

/// One round of every kind of traffic; returns the number of outcomes seen.
fn round(
    pool: &mut TestPool,
    server: ServerId,
    thing: ThingId,
    now: &mut Instant,
    buf: &mut [u8],
) -> u32 {
    let mut outcomes = 0;
    let opts = RequestOptions {
        deadline: Some(*now + Duration::from_millis(100)),
        oneway: false,
    };
    // Replies, with the JSON header encoded and the reply decoded.
    for _ in 0..64 {
        pool.start_request(thing, Read, opts, *now).ok().unwrap();
    }
    let mut ids = [[0u8; MESSAGE_ID_LEN]; 64];
    let mut sent = 0;
    while let Some(tx) = pool.poll_transmit(buf) {
        ids[sent] = *tx.message_id.as_bytes();
        sent += 1;
    }
    for id in &ids[..sent] {
        let header = with_id(REPLY, id);
        if let Routed::Completed(_) =
            pool.handle_message(server, &[b"", &header, b"1.5", b""], *now)
        {
            outcomes += 1;
        }
    }
    // A timeout and a cancel.
    pool.start_request(thing, Read, opts, *now).ok().unwrap();
    let cancelled = pool.start_request(thing, Read, opts, *now).ok().unwrap();
    while pool.poll_transmit(buf).is_some() {}
    pool.cancel(cancelled, *now);
    *now = *now + Duration::from_millis(100);
    pool.handle_timeout(*now);
    // A fan-out.
    pool.start_fanout_all(|_, _| Read, opts, *now).unwrap();
    while pool.poll_transmit(buf).is_some() {}
    // The server is lost and comes back.
    pool.handle_disconnected(server, *now);
    *now = pool.poll_timeout().unwrap();
    pool.handle_timeout(*now);
    while let Some(event) = pool.poll_event() {
        if let Event::Completed(_) = event {
            outcomes += 1;
        }
    }
    handshake(pool, server, *now, buf);
    outcomes
}

#[test]
fn steady_state_request_traffic_allocates_nothing() {
    // The counter sees allocations at all (so a zero below means something).
    let probe = measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert!(probe.count_total >= 1, "{probe:?}");

    let memory = HeapMemory::new(Capacity {
        requests: 256,
        ..Capacity::default()
    });
    let mut pool: TestPool = Pool::new(Config::default(), "c", 3, memory).unwrap();
    let mut now = Instant(1);
    let server = pool.add_server("demo", now).unwrap();
    let thing = pool.map_thing(server).unwrap();
    pool.map_thing(server).unwrap();
    while pool.poll_event().is_some() {}
    let mut buf = vec![0u8; 4096];
    handshake(&mut pool, server, now, &mut buf);
    // Warm up once (nothing in the pool should need it, but the test harness might).
    let warm = round(&mut pool, server, thing, &mut now, &mut buf);
    assert_eq!(
        warm,
        64 + 2 + 2,
        "replies, timeout, cancel, two fan-out members disconnected"
    );

    let mut outcomes = 0;
    let info = measure(|| {
        for _ in 0..50 {
            outcomes += round(&mut pool, server, thing, &mut now, &mut buf);
        }
    });
    assert_eq!(outcomes, 50 * 68);
    assert_eq!(
        info.count_total, 0,
        "allocations during steady-state traffic: {info:?}"
    );
    assert_eq!(pool.in_flight(), 0);
    assert_eq!(pool.stats().started, pool.stats().ended);
}
