//! Request lifecycles per second through the pool: start → transmit → reply → completion.
//!
//! * `core_alone`: the state machine only; the header is handed out unencoded
//!   (`poll_outgoing`) and the reply arrives pre-decoded (`handle_reply`).
//! * `with_json`: the same plus the hololinked JSON header encode (`poll_transmit`) and the
//!   tolerant reply-header decode (`handle_message`), as a driver runs it.
//!
//! Each is measured with 1 and with 1000 requests in flight. Run: `cargo bench -p pool-core --features bench-internals`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pool_core::pool::{
    Capacity, Config, HeapMemory, Pool, RequestId, RequestOptions, RequestSpec, Routed, ServerId,
    ThingId, TransmitKind,
};
use pool_core::wire::{self, RequestFields};
use pool_core::{Duration, Instant, MESSAGE_ID_LEN};
use std::hint::black_box;

#[derive(Debug)]
struct Read;

impl RequestSpec for Read {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("demo", "readproperty", "number")
    }
}

type BenchPool = Pool<Read, HeapMemory<Read>>;

const NOW: Instant = Instant(1_000_000);

/// A pool with one ready server and one Thing.
fn ready_pool(capacity: usize) -> (BenchPool, ServerId, ThingId) {
    let memory = HeapMemory::new(Capacity {
        requests: capacity,
        ..Capacity::default()
    });
    // Every request in flight on the wire at once (the default cap of 500 per server guards
    // libzmq ROUTER pipes; there is no ROUTER here).
    let config = Config {
        max_in_flight_per_server: u32::try_from(capacity).unwrap(),
        ..Config::default()
    };
    let mut pool = Pool::new(config, "bench-client", 7, memory).unwrap();
    let server = pool.add_server("demo", NOW).unwrap();
    let thing = pool.map_thing(server).unwrap();
    while pool.poll_event().is_some() {}
    pool.handle_connected(server, NOW);
    let mut buf = [0u8; 4096];
    let handshake = pool
        .poll_transmit(&mut buf)
        .map(|tx| tx.message_id)
        .unwrap();
    let reply = reply_header("HANDSHAKE", handshake.as_str());
    assert!(matches!(
        pool.handle_message(server, &[b"", &reply, b"null", b""], NOW),
        Routed::Handshake
    ));
    while pool.poll_event().is_some() {}
    (pool, server, thing)
}

fn reply_header(kind: &str, id: &str) -> Vec<u8> {
    format!(
        r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"bench-client","senderID":"demo","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#
    )
    .into_bytes()
}

/// A REPLY header whose message id can be overwritten in place, as a server would echo it.
struct ReplyTemplate {
    bytes: Vec<u8>,
    id_at: usize,
}

impl ReplyTemplate {
    fn new() -> Self {
        let placeholder = "0".repeat(MESSAGE_ID_LEN);
        let bytes = reply_header("REPLY", &placeholder);
        let id_at = bytes
            .windows(MESSAGE_ID_LEN)
            .position(|w| w == placeholder.as_bytes())
            .unwrap();
        ReplyTemplate { bytes, id_at }
    }

    fn with_id(&mut self, id: &[u8; MESSAGE_ID_LEN]) -> &[u8] {
        self.bytes[self.id_at..self.id_at + MESSAGE_ID_LEN].copy_from_slice(id);
        &self.bytes
    }
}

fn options() -> RequestOptions {
    RequestOptions {
        deadline: Some(NOW + Duration::from_secs(10)),
        oneway: false,
    }
}

/// `n` lifecycles through the state machine alone.
fn core_alone(
    pool: &mut BenchPool,
    server: ServerId,
    thing: ThingId,
    n: usize,
    ids: &mut Vec<[u8; 36]>,
) {
    ids.clear();
    for _ in 0..n {
        pool.start_request(thing, Read, options(), NOW)
            .ok()
            .unwrap();
    }
    while let Some(out) = pool.poll_outgoing() {
        if let TransmitKind::Request { .. } = out.kind {
            ids.push(*out.message_id.as_bytes());
        }
    }
    for id in ids.iter() {
        let reply = wire::Reply {
            header: wire::ReplyHeader {
                kind: wire::ReplyKind::Reply,
                message_id: Some(*id),
            },
            timeout: None,
            payload: b"1.5",
            preserialized: b"",
        };
        match pool.handle_reply(server, &reply, NOW) {
            Routed::Completed(done) => {
                drop(black_box(done));
            }
            other => panic!("{other:?}"),
        }
    }
    while let Some(event) = pool.poll_event() {
        drop(black_box(event));
    }
}

/// `n` lifecycles with the JSON header encoded and the reply header decoded.
fn with_json(
    pool: &mut BenchPool,
    server: ServerId,
    thing: ThingId,
    n: usize,
    ids: &mut Vec<[u8; 36]>,
    template: &mut ReplyTemplate,
    buf: &mut [u8],
) {
    ids.clear();
    for _ in 0..n {
        pool.start_request(thing, Read, options(), NOW)
            .ok()
            .unwrap();
    }
    while let Some(tx) = pool.poll_transmit(buf) {
        black_box(tx.header);
        ids.push(*tx.message_id.as_bytes());
    }
    for id in ids.iter() {
        let header = template.with_id(id);
        match pool.handle_message(server, &[b"", header, b"1.5", b""], NOW) {
            Routed::Completed(done) => {
                drop(black_box(done));
            }
            other => panic!("{other:?}"),
        }
    }
    while let Some(event) = pool.poll_event() {
        drop(black_box(event));
    }
}

fn lifecycles(c: &mut Criterion) {
    for in_flight in [1usize, 1000] {
        let mut group = c.benchmark_group(format!("lifecycle/{in_flight}_in_flight"));
        group.throughput(Throughput::Elements(in_flight as u64));

        let (mut pool, server, thing) = ready_pool(in_flight.max(16));
        let mut ids = Vec::with_capacity(in_flight);
        group.bench_function("core_alone", |b| {
            b.iter(|| core_alone(&mut pool, server, thing, in_flight, &mut ids))
        });

        let (mut pool, server, thing) = ready_pool(in_flight.max(16));
        let mut template = ReplyTemplate::new();
        let mut buf = vec![0u8; 4096];
        group.bench_function("with_json", |b| {
            b.iter(|| {
                with_json(
                    &mut pool,
                    server,
                    thing,
                    in_flight,
                    &mut ids,
                    &mut template,
                    &mut buf,
                )
            })
        });
        group.finish();
    }

    // The slow paths' cost in isolation: a request that times out, and a cancel.
    let mut group = c.benchmark_group("lifecycle/other_endings");
    group.throughput(Throughput::Elements(1));
    let (mut pool, _, thing) = ready_pool(16);
    group.bench_function("timeout", |b| {
        b.iter_batched(
            || (),
            |()| {
                let opts = RequestOptions {
                    deadline: Some(NOW),
                    oneway: false,
                };
                let id: RequestId = pool.start_request(thing, Read, opts, NOW).ok().unwrap();
                while pool.poll_outgoing().is_some() {}
                pool.handle_timeout(NOW);
                black_box((id, pool.poll_event()));
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("cancel", |b| {
        b.iter(|| {
            let id = pool
                .start_request(thing, Read, options(), NOW)
                .ok()
                .unwrap();
            pool.cancel(id, NOW);
            black_box(pool.poll_event());
        })
    });
    group.finish();
}

criterion_group!(benches, lifecycles);
criterion_main!(benches);
