//! Hostile input never panics the pool, never completes a request it does not belong to, and is
//! always counted. Random frames (random bytes, and mutations of real reply headers) go into a
//! pool with requests in flight; afterwards the real replies still complete every request.

use pool_core::pool::{
    Config, Dropped, FixedMemory, Pool, RequestOptions, RequestSpec, Routed, ServerId, ThingId,
};
use pool_core::wire::{self, RequestFields};
use pool_core::Instant;
use proptest::prelude::*;

#[derive(Debug)]
struct Read;

impl RequestSpec for Read {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("demo", "readproperty", "number")
    }
}

type TestPool = Pool<Read, FixedMemory<Read, 16, 2, 2, 1>>;
const NOW: Instant = Instant(5);

fn header(kind: &str, id: &str) -> Vec<u8> {
    format!(r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"c","senderID":"demo"}}"#)
        .into_bytes()
}

/// A pool with one ready server and `n` requests in flight; returns their message ids.
fn pool_with_requests(n: usize) -> (TestPool, ServerId, Vec<String>) {
    let mut pool: TestPool = Pool::new(Config::default(), "c", 99, FixedMemory::new()).unwrap();
    let server = pool.add_server("demo", NOW).unwrap();
    let thing: ThingId = pool.map_thing(server).unwrap();
    while pool.poll_event().is_some() {}
    pool.handle_connected(server, NOW);
    let mut buf = [0u8; 1024];
    let hs = pool.poll_transmit(&mut buf).unwrap().message_id;
    let reply = header("HANDSHAKE", hs.as_str());
    assert!(matches!(
        pool.handle_message(server, &[b"", &reply, b"null", b""], NOW),
        Routed::Handshake
    ));
    while pool.poll_event().is_some() {}
    for _ in 0..n {
        pool.start_request(thing, Read, RequestOptions::default(), NOW)
            .ok()
            .unwrap();
    }
    let mut ids = Vec::new();
    while let Some(tx) = pool.poll_transmit(&mut buf) {
        ids.push(tx.message_id.as_str().to_owned());
    }
    (pool, server, ids)
}

/// Byte strings that look like reply headers more often than random bytes do.
fn header_like() -> impl Strategy<Value = Vec<u8>> {
    let real = header("REPLY", "11111111-2222-4333-8444-555555555555");
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)).prop_map(move |edits| {
            let mut h = real.clone();
            for (at, byte) in edits {
                let at = at % h.len();
                h[at] = byte;
            }
            h
        }),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        Just(b"{}".to_vec()),
        Just(br#"{"messageType":"TIMEOUT","messageID":"x"}"#.to_vec()),
        Just("[".repeat(5000).into_bytes()),
    ]
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        (header_like(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(h, p)| vec![
            Vec::new(),
            h,
            p,
            Vec::new()
        ]),
        proptest::collection::vec(header_like(), 0..7),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_frames_never_complete_or_disturb_live_requests(batch in proptest::collection::vec(frames(), 1..20)) {
        let (mut pool, server, ids) = pool_with_requests(4);
        let before = *pool.stats();
        for frames in &batch {
            let slices: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            match pool.handle_message(server, &slices, NOW) {
                Routed::Completed(c) => prop_assert!(false, "hostile input completed {:?}", c.id),
                Routed::Handshake | Routed::Dropped(_) | Routed::Malformed(_) => {}
            }
        }
        let after = *pool.stats();
        prop_assert_eq!(
            after.dropped_total() + after.handshake_replies - before.dropped_total() - before.handshake_replies,
            batch.len() as u64,
            "every message is counted once"
        );
        prop_assert_eq!(pool.in_flight(), 4);
        for id in &ids {
            let reply = header("REPLY", id);
            let routed = pool.handle_message(server, &[b"", &reply, b"1", b""], NOW);
            prop_assert!(matches!(routed, Routed::Completed(_)), "{:?}", routed);
        }
        prop_assert_eq!(pool.in_flight(), 0);
    }

    #[test]
    fn decoder_never_panics(bytes in header_like()) {
        let _ = wire::decode_reply_header(&bytes);
        let _ = wire::decode_timeout_kind(&bytes);
    }
}

#[test]
fn replies_for_other_pools_and_other_clients_are_foreign() {
    let (mut pool, server, ids) = pool_with_requests(1);
    // Same slot and generation, another pool's nonce: not ours.
    let other = pool_core::IdCodec::new(100).encode(0, 0);
    let reply = header("REPLY", other.as_str());
    let routed = pool.handle_message(server, &[b"", &reply, b"1", b""], NOW);
    assert!(matches!(routed, Routed::Dropped(Dropped::Foreign)));
    // Our id with uppercase hex (not what we send) is not ours either.
    let upper = ids[0].to_uppercase();
    if upper != ids[0] {
        let reply = header("REPLY", &upper);
        let routed = pool.handle_message(server, &[b"", &reply, b"1", b""], NOW);
        assert!(matches!(routed, Routed::Dropped(Dropped::Foreign)));
    }
    // The id escaped as JSON \u sequences is the same id: tolerant decoding delivers it.
    let escaped: String = ids[0]
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let reply = header("REPLY", &escaped);
    assert!(matches!(
        pool.handle_message(server, &[b"", &reply, b"1", b""], NOW),
        Routed::Completed(_)
    ));
}
