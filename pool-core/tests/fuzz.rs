//! Fuzz targets (bolero): the reply-header decoder, and random sequences of every core input.
//!
//! Under `cargo test` bolero runs each target on random inputs (`BOLERO_RANDOM_ITERATIONS`,
//! default below); offline, the same targets run under libFuzzer with coverage guidance:
//!
//! ```sh
//! cargo install cargo-bolero
//! cargo +nightly bolero test -p pool-core core_input_sequences -T 10min
//! cargo +nightly bolero test -p pool-core reply_decoder -T 10min
//! ```
//!
//! The properties: nothing panics; every started request ends exactly once (never twice, never
//! to another request's waiter); the counters add up after every step; once all deadlines have
//! passed and the rest is cancelled, nothing is left in flight.

use std::collections::HashMap;

use bolero::check;
use pool_core::pool::{
    Config, Event, FixedMemory, Pool, RequestId, RequestOptions, RequestSpec, Routed, ServerId,
    ThingId, TransmitKind,
};
use pool_core::wire::{self, RequestFields};
use pool_core::{Duration, Instant};

/// Random inputs per target under `cargo test` (bolero's own default is smaller).
const ITERATIONS: usize = 2_000;

fn iterations() -> usize {
    std::env::var("BOLERO_RANDOM_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ITERATIONS)
}

#[test]
fn reply_decoder() {
    check!()
        .with_iterations(iterations())
        .for_each(|bytes: &[u8]| {
            // Any bytes as a header, and as each frame position of a DEALER message.
            let _ = wire::decode_reply_header(bytes);
            let split = bytes.len() / 2;
            let (a, b) = bytes.split_at(split);
            let _ = wire::classify_reply(&[b"", a, b, b""]);
            let _ = wire::classify_reply(&[a, b]);
            let _ = wire::classify_reply(&[b"", bytes, b"", b""]);
        });
}

#[derive(Debug)]
struct Req {
    serial: u32,
}

impl RequestSpec for Req {
    fn fields(&self) -> RequestFields<'_> {
        RequestFields::new("thing", "readproperty", "number")
    }
}

type FuzzPool = Pool<Req, FixedMemory<Req, 8, 3, 4, 2>>;

/// One input to the pool.
#[derive(Debug, Clone)]
enum Op {
    AddServer,
    RemoveServer(u8),
    MapThing(u8),
    Connect(u8),
    Disconnect(u8),
    SendFailed(u8, bool),
    Start {
        thing: u8,
        timeout_ms: Option<u16>,
        oneway: bool,
    },
    FanoutAll {
        timeout_ms: Option<u16>,
    },
    Cancel(u8),
    /// A well-formed reply of `kind` carrying one of the message ids seen on the wire
    /// (requests and HANDSHAKEs), from `server`.
    Answer {
        id: u8,
        kind: u8,
        server: u8,
    },
    /// Arbitrary frames from a server.
    Garbage {
        server: u8,
        frames: Vec<Vec<u8>>,
    },
    /// Moves the clock by 2 ms per unit (up to about half a second).
    Advance(u8),
    DrainTransmits,
    DrainEvents,
}

impl Op {
    /// Decodes one step from fuzzer bytes, weighted so that the common driver steps (start,
    /// transmit, answer, time) dominate and the destructive ones (remove, disconnect) stay rare
    /// enough for requests to complete between them.
    fn from_raw(
        (select, a, b, c): (u8, u8, u8, u16),
        garbage: &mut impl Iterator<Item = Vec<Vec<u8>>>,
    ) -> Op {
        let timeout_ms = (c % 4 != 0).then_some(c / 4);
        match select % 100 {
            0..22 => Op::Start {
                thing: a,
                timeout_ms,
                oneway: b % 8 == 0,
            },
            22..37 => Op::DrainTransmits,
            37..57 => Op::Answer {
                id: a,
                kind: b,
                server: (c & 0xff) as u8,
            },
            57..67 => Op::Advance(a),
            67..75 => Op::DrainEvents,
            75..81 => Op::Cancel(a),
            81..84 => Op::FanoutAll { timeout_ms },
            84..89 => Op::Garbage {
                server: a,
                frames: garbage.next().unwrap_or_default(),
            },
            89..92 => Op::Connect(a),
            92..94 => Op::Disconnect(a),
            94..96 => Op::SendFailed(a, b % 2 == 0),
            96 => Op::AddServer,
            97 => Op::RemoveServer(a),
            _ => Op::MapThing(a),
        }
    }
}

/// The pool plus what a driver would know.
struct Harness {
    pool: FuzzPool,
    now: Instant,
    servers: Vec<ServerId>,
    things: Vec<ThingId>,
    /// Message ids seen on the wire, with the server they went to.
    wire_ids: Vec<(String, ServerId)>,
    /// Request ids known to the driver (started, or seen in a transmit).
    requests: Vec<RequestId>,
    next_serial: u32,
    /// Outcomes per request serial: must reach exactly 1 each.
    ended: HashMap<u32, u32>,
}

impl Harness {
    fn new() -> Self {
        let config = Config {
            liveness_interval: Some(Duration::from_millis(300)),
            liveness_timeout: Duration::from_millis(200),
            handshake_timeout: Some(Duration::from_millis(700)),
            max_in_flight_per_server: 2,
            ..Config::default()
        };
        Harness {
            pool: Pool::new(config, "fuzz-client", 7, FixedMemory::new()).unwrap(),
            now: Instant(1_000),
            servers: Vec::new(),
            things: Vec::new(),
            wire_ids: Vec::new(),
            requests: Vec::new(),
            next_serial: 0,
            ended: HashMap::new(),
        }
    }

    /// Two ready servers with three Things, so random steps reach replies quickly.
    fn ready() -> Self {
        let mut h = Harness::new();
        for op in [
            Op::AddServer,
            Op::AddServer,
            Op::MapThing(0),
            Op::MapThing(1),
            Op::MapThing(1),
            Op::Connect(0),
            Op::Connect(1),
            Op::DrainTransmits,
        ] {
            h.apply(&op);
        }
        for id in 0..h.wire_ids.len() as u8 {
            h.apply(&Op::Answer {
                id,
                kind: 4,
                server: 1,
            });
        }
        h.drain_events();
        h
    }

    fn pick<T: Copy>(list: &[T], n: u8) -> Option<T> {
        (!list.is_empty()).then(|| list[usize::from(n) % list.len()])
    }

    fn serial(&mut self) -> Req {
        self.next_serial += 1;
        Req {
            serial: self.next_serial,
        }
    }

    fn ended(&mut self, serial: u32) {
        let count = self.ended.entry(serial).or_default();
        *count += 1;
        assert_eq!(*count, 1, "request {serial} ended twice");
    }

    fn options(&self, timeout_ms: Option<u16>, oneway: bool) -> RequestOptions {
        RequestOptions {
            deadline: timeout_ms.map(|ms| self.now + Duration::from_millis(u64::from(ms))),
            oneway,
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match *op {
            Op::AddServer => {
                let name = format!("server-{}", self.servers.len());
                if let Ok(server) = self.pool.add_server(&name, now) {
                    self.servers.push(server);
                }
            }
            Op::RemoveServer(n) => {
                if let Some(server) = Self::pick(&self.servers, n) {
                    self.pool.remove_server(server, now);
                }
            }
            Op::MapThing(n) => {
                if let Some(server) = Self::pick(&self.servers, n) {
                    if let Ok(thing) = self.pool.map_thing(server) {
                        self.things.push(thing);
                    }
                }
            }
            Op::Connect(n) => {
                if let Some(server) = Self::pick(&self.servers, n) {
                    self.pool.handle_connected(server, now);
                }
            }
            Op::Disconnect(n) => {
                if let Some(server) = Self::pick(&self.servers, n) {
                    self.pool.handle_disconnected(server, now);
                }
            }
            Op::SendFailed(n, with_request) => {
                if let Some(server) = Self::pick(&self.servers, n) {
                    let unsent: Vec<RequestId> = if with_request {
                        self.requests.last().copied().into_iter().collect()
                    } else {
                        Vec::new()
                    };
                    self.pool.handle_send_failed(server, &unsent, now);
                }
            }
            Op::Start {
                thing,
                timeout_ms,
                oneway,
            } => {
                let Some(thing) = Self::pick(&self.things, thing) else {
                    return;
                };
                let user = self.serial();
                let options = self.options(timeout_ms, oneway);
                if let Ok(id) = self.pool.start_request(thing, user, options, now) {
                    self.requests.push(id);
                }
            }
            Op::FanoutAll { timeout_ms } => {
                let options = self.options(timeout_ms, false);
                let mut serial = self.next_serial;
                let started = self.pool.start_fanout_all(
                    |_, _| {
                        serial += 1;
                        Req { serial }
                    },
                    options,
                    now,
                );
                if started.is_ok() {
                    self.next_serial = serial;
                }
            }
            Op::Cancel(n) => {
                if let Some(id) = Self::pick(&self.requests, n) {
                    self.pool.cancel(id, now);
                }
            }
            Op::Answer { id, kind, server } => {
                // Mostly one of the latest ids (a request likely still in flight), sometimes
                // any id ever sent (late, duplicate, HANDSHAKE ids).
                let len = self.wire_ids.len();
                let index = if id < 200 {
                    len.wrapping_sub(1 + usize::from(id) % 4)
                } else {
                    usize::from(id) % len.max(1)
                };
                let Some((message_id, to)) = self.wire_ids.get(index).cloned() else {
                    return;
                };
                let from = if server % 4 == 0 {
                    Self::pick(&self.servers, server).unwrap_or(to)
                } else {
                    to
                };
                let (kind, payload): (&str, &[u8]) = match kind % 5 {
                    0 => ("REPLY", b"1.5"),
                    1 => ("EXCEPTION", br#"{"message":"boom","type":"ValueError"}"#),
                    2 => ("TIMEOUT", br#""execution""#),
                    3 => ("INVALID_MESSAGE", br#"{"message":"no"}"#),
                    _ => ("HANDSHAKE", b"null"),
                };
                let header = format!(
                    r#"{{"messageType":"{kind}","messageID":"{message_id}","receiverID":"fuzz-client","senderID":"s"}}"#
                );
                let routed =
                    self.pool
                        .handle_message(from, &[b"", header.as_bytes(), payload, b""], now);
                self.routed(routed);
            }
            Op::Garbage { server, ref frames } => {
                if let Some(server) = Self::pick(&self.servers, server) {
                    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                    let routed = self.pool.handle_message(server, &refs, now);
                    self.routed(routed);
                }
            }
            Op::Advance(ms) => {
                self.now = now + Duration::from_millis(2 * u64::from(ms));
                self.pool.handle_timeout(self.now);
            }
            Op::DrainTransmits => self.drain_transmits(),
            Op::DrainEvents => self.drain_events(),
        }
    }

    fn routed(&mut self, routed: Routed<Req>) {
        if let Routed::Completed(done) = routed {
            self.ended(done.user.serial);
        }
    }

    fn drain_transmits(&mut self) {
        let mut buf = vec![0u8; self.pool.config().max_header_len];
        while let Some(tx) = self.pool.poll_transmit(&mut buf) {
            let header: serde_json::Value =
                serde_json::from_slice(tx.header).expect("headers are JSON");
            let kind = header["messageType"].as_str().unwrap_or_default();
            assert!(
                kind == "HANDSHAKE" || kind == "OPERATION",
                "the pool sent a {kind} message"
            );
            self.wire_ids
                .push((tx.message_id.as_str().to_owned(), tx.server));
            if let TransmitKind::Request { id, .. } = tx.kind {
                self.requests.push(id);
            }
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.pool.poll_event() {
            if let Event::Completed(done) = event {
                self.ended(done.user.serial);
            }
        }
    }

    fn check_accounting(&self) {
        let stats = self.pool.stats();
        assert_eq!(
            stats.started - stats.ended,
            self.pool.in_flight() as u64,
            "{stats:?}"
        );
        assert!(self.pool.in_flight() <= self.pool.capacity());
    }

    /// Everything drained, every deadline passed, everything else cancelled: nothing is left,
    /// and every request that started ended exactly once.
    fn finish(mut self) {
        self.drain_transmits();
        self.drain_events();
        self.now = self.now + Duration::from_secs(3_600);
        self.pool.handle_timeout(self.now);
        self.drain_events();
        for id in self.requests.clone() {
            self.pool.cancel(id, self.now);
        }
        for server in self.servers.clone() {
            self.pool.remove_server(server, self.now);
        }
        self.drain_transmits();
        self.drain_events();
        assert_eq!(self.pool.in_flight(), 0, "{:?}", self.pool.stats());
        let started = self.pool.stats().started;
        assert_eq!(self.ended.len() as u64, started, "every request ended");
        assert_eq!(self.pool.free_slots(), self.pool.capacity());
    }
}

#[test]
fn core_input_sequences() {
    check!()
        .with_type::<(Vec<(u8, u8, u8, u16)>, Vec<Vec<Vec<u8>>>)>()
        .with_iterations(iterations())
        .for_each(|(steps, garbage)| {
            let mut garbage = garbage.iter().cloned().cycle();
            let mut h = Harness::ready();
            for &raw in steps {
                h.apply(&Op::from_raw(raw, &mut garbage));
                h.check_accounting();
            }
            h.finish();
        });
}
