//! pool-core with no async runtime at all: one thread, a blocking `zmq::poll` loop over libzmq
//! DEALER sockets, and `std::time::Instant` as the clock.
//!
//! ```sh
//! # Two in-process hololinked-compatible test servers and a checked tour (exit code 1 on any
//! # wrong result): 100 concurrent requests over both, a remote exception, a server-side
//! # execution timeout, a client deadline, a server killed and restarted mid-request.
//! cargo run -p pool-examples --example blocking
//! # Real servers (the Thing id is the server id): read one property of each, default `number`.
//! cargo run -p pool-examples --example blocking -- my-thing=tcp://127.0.0.1:5555 [property]
//! ```
//!
//! [`pool_core::pool::Pool`] owns everything protocol-shaped: message ids, waiters, deadlines,
//! each server's handshake and readiness, the hololinked header encoding and the reply
//! decoding. This file owns only what the core leaves to a driver: sockets, a clock and a
//! loop. It follows the core's polling contract:
//!
//! ```text
//! loop {
//!     drain   poll_transmit → send_multipart,  poll_event → open sockets / collect outcomes
//!     wait    zmq::poll(all DEALERs and their monitors, until poll_timeout())
//!     feed    recv_multipart → handle_message,  monitor events → handle_connected/_disconnected,
//!             handle_timeout(now) when due
//! }
//! ```
//!
//! Nothing here is specific to libzmq except the socket calls: the same loop would drive the
//! core over any transport that can send and receive 4-frame messages.

use std::collections::HashMap;
use std::error::Error;
use std::hash::BuildHasher;
use std::time::{Duration, Instant as WallClock};

use pool_core::pool::{
    Capacity, Completion, Config, Event, HeapMemory, Outcome, Pool, RequestId, RequestOptions,
    RequestSpec, Routed, ServerId, ServerState, ThingId, TransmitKind,
};
use pool_core::wire::{self, RemoteException, RequestFields, ServerContext, TimeoutKind};
use pool_core::MessageIdText;
use pool_testkit::{ServerConfig, TestServer};
use serde_json::{json, Value};

type BoxError = Box<dyn Error>;

/// Monitor events the loop listens to (see [`Link::open`] for why these two).
const MONITORED: i32 =
    zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32 | zmq::SocketEvent::DISCONNECTED as i32;

// ===== the request type ==========================================================================

/// One request, as the application builds it. The core keeps it in the request's slot from
/// start to outcome, reads the header fields from it when the request goes out, and hands it
/// back in the [`Completion`].
#[derive(Debug)]
struct Call {
    thing: String,
    operation: &'static str,
    objekt: String,
    /// Frame 2 (JSON); frame 3 (preserialized) is always empty here.
    payload: Vec<u8>,
    server_context: ServerContext,
}

impl RequestSpec for Call {
    fn fields(&self) -> RequestFields<'_> {
        let mut fields = RequestFields::new(&self.thing, self.operation, &self.objekt);
        fields.server_context = self.server_context;
        fields
    }
}

impl Call {
    fn read_property(thing: &str, name: &str) -> Call {
        Call {
            thing: thing.to_owned(),
            operation: "readproperty",
            objekt: name.to_owned(),
            payload: wire::NULL_PAYLOAD.to_vec(),
            server_context: ServerContext::default(),
        }
    }

    fn invoke_action(thing: &str, action: &str, kwargs: &Value) -> Call {
        Call {
            thing: thing.to_owned(),
            operation: "invokeaction",
            objekt: action.to_owned(),
            payload: kwargs.to_string().into_bytes(),
            server_context: ServerContext::default(),
        }
    }

    /// The server gives up executing after `limit` and answers `TIMEOUT`.
    fn execution_timeout(mut self, limit: Duration) -> Call {
        self.server_context.execution_timeout = Some(limit.into());
        self
    }
}

/// A request's one outcome, with the reply frames when the server answered.
#[derive(Debug)]
struct Finished {
    completion: Completion<Call>,
    /// Frames 1 and 2 (header, payload) of the server's answer; `None` for outcomes the core
    /// decided locally (client deadline, disconnect, ...).
    reply: Option<(Vec<u8>, Vec<u8>)>,
}

impl Finished {
    fn outcome(&self) -> Outcome {
        self.completion.outcome
    }

    fn payload_json(&self) -> Result<Value, BoxError> {
        let (_, payload) = self.reply.as_ref().ok_or("no reply frames")?;
        Ok(serde_json::from_slice(payload)?)
    }

    /// `"Type: message"` of an `EXCEPTION` or `INVALID_MESSAGE` reply, read by pool-core's
    /// lenient reader of hololinked's `{"exception": {...}}` payload.
    fn exception(&self) -> Result<String, BoxError> {
        let (_, payload) = self.reply.as_ref().ok_or("no reply frames")?;
        let exception = RemoteException::parse(payload);
        Ok(format!("{}: {}", exception.kind, exception.message))
    }
}

// ===== one server's connection ==================================================================

/// One DEALER with its monitor. Dropping it closes both (linger 0).
struct Connection {
    dealer: zmq::Socket,
    monitor: zmq::Socket,
}

/// A server of the pool and its current connection, if any.
struct Link {
    id: ServerId,
    name: String,
    endpoint: String,
    conn: Option<Connection>,
}

impl Link {
    /// A fresh DEALER connected to the server, and a PAIR socket receiving its monitor events.
    ///
    /// libzmq connects (and retries connecting) in the background and queues what is sent
    /// meanwhile, so `connect()` returning says nothing about the server. The monitor does:
    /// `HANDSHAKE_SUCCEEDED` means the ZMTP handshake finished and the server's ROUTER can
    /// route answers to this identity, the moment to tell the core `handle_connected` (its own
    /// HANDSHAKE/readiness logic takes over from there). `DISCONNECTED` is the loss the core
    /// must hear about: requests in flight end `Disconnected` instead of waiting for their
    /// deadline, and the core decides when to reconnect (its backoff), so the socket is closed
    /// rather than left to libzmq's own silent reconnects.
    fn open(
        zmq: &zmq::Context,
        identity: &str,
        endpoint: &str,
        monitor_endpoint: &str,
    ) -> zmq::Result<Connection> {
        let dealer = zmq.socket(zmq::DEALER)?;
        // Before connect: the ROUTER learns the identity in the ZMTP handshake, and hololinked
        // routes replies by it (it must equal every header's senderID, the core's client id).
        dealer.set_identity(identity.as_bytes())?;
        // Requests not yet sent belong to the core (it ends them), not to libzmq's queue.
        dealer.set_linger(0)?;
        dealer.monitor(monitor_endpoint, MONITORED)?;
        let monitor = zmq.socket(zmq::PAIR)?;
        monitor.set_linger(0)?;
        monitor.connect(monitor_endpoint)?;
        dealer.connect(endpoint)?;
        Ok(Connection { dealer, monitor })
    }
}

/// What a monitor reported.
enum LinkEvent {
    Connected,
    Disconnected,
}

/// Decodes one monitor message: frame 1 is a native-endian u16 event and a u32 value.
fn parse_monitor_event(frames: &[Vec<u8>]) -> Option<LinkEvent> {
    let first = frames.first()?;
    let raw = u16::from_ne_bytes([*first.first()?, *first.get(1)?]);
    match zmq::SocketEvent::from_raw(raw) {
        zmq::SocketEvent::HANDSHAKE_SUCCEEDED => Some(LinkEvent::Connected),
        zmq::SocketEvent::DISCONNECTED => Some(LinkEvent::Disconnected),
        // Not subscribed to; ignored.
        _ => None,
    }
}

// ===== the driver: sockets, clock, loop ==========================================================

/// The core plus the sockets it asks for. Single-threaded, blocking, no runtime.
struct Driver {
    pool: Pool<Call, HeapMemory<Call>>,
    zmq: zmq::Context,
    /// The core's clock epoch: `pool_core::Instant` is µs since this moment.
    epoch: WallClock,
    links: Vec<Link>,
    /// Where `poll_transmit` writes each header (`Config::max_header_len` bytes).
    header_buf: Vec<u8>,
    /// Outcomes not yet taken by the application.
    finished: Vec<Finished>,
    /// Makes every monitor endpoint unique, so a new socket never hears an old one's events.
    monitors: u64,
}

impl Driver {
    fn new(client_id: &str) -> Result<Driver, BoxError> {
        let config = Config::default();
        let capacity = Capacity {
            requests: 1024,
            servers: 16,
            things: 16,
            fanouts: 1,
        };
        let pool = Pool::new(config, client_id, random_nonce(), HeapMemory::new(capacity))?;
        Ok(Driver {
            pool,
            zmq: zmq::Context::new(),
            epoch: WallClock::now(),
            links: Vec::new(),
            header_buf: vec![0; config.max_header_len],
            finished: Vec::new(),
            monitors: 0,
        })
    }

    /// The core's clock: it never reads one, it is given this (µs since `epoch`).
    fn now(&self) -> pool_core::Instant {
        let micros = self.epoch.elapsed().as_micros();
        pool_core::Instant(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    fn wall(&self, at: pool_core::Instant) -> WallClock {
        self.epoch + Duration::from_micros(at.as_micros())
    }

    /// Adds a server whose one Thing has the server's id (hololinked's default).
    fn add_server(&mut self, name: &str, endpoint: &str) -> Result<ThingId, BoxError> {
        let id = self.pool.add_server(name, self.now())?;
        let thing = self.pool.map_thing(id)?;
        self.links.push(Link {
            id,
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            conn: None,
        });
        // The core asks for the connection (`Event::Connect`) right away.
        self.drain();
        Ok(thing)
    }

    fn start(
        &mut self,
        thing: ThingId,
        call: Call,
        deadline: Duration,
    ) -> Result<RequestId, BoxError> {
        let now = self.now();
        let options = RequestOptions {
            deadline: Some(now + deadline.into()),
            oneway: false,
        };
        let id = self
            .pool
            .start_request(thing, call, options, now)
            .map_err(|e| e.kind)?;
        Ok(id)
    }

    /// Takes the outcome of `id` if it has arrived.
    fn take(&mut self, id: RequestId) -> Option<Finished> {
        let index = self.finished.iter().position(|f| f.completion.id == id)?;
        Some(self.finished.swap_remove(index))
    }

    fn has_finished(&self, id: RequestId) -> bool {
        self.finished.iter().any(|f| f.completion.id == id)
    }

    /// Starts one request and runs the loop until its outcome (the core guarantees one by the
    /// deadline; `deadline` plus a margin bounds the wait in case of a bug).
    fn call(
        &mut self,
        thing: ThingId,
        call: Call,
        deadline: Duration,
    ) -> Result<Finished, BoxError> {
        let id = self.start(thing, call, deadline)?;
        self.run_until(deadline + Duration::from_secs(1), |d| d.has_finished(id));
        self.take(id)
            .ok_or_else(|| "the pool lost a request".into())
    }

    /// Runs the loop until `done` holds or `limit` has passed; returns whether `done` held.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Driver) -> bool) -> bool {
        let until = WallClock::now() + limit;
        loop {
            self.drain();
            if done(self) {
                return true;
            }
            if WallClock::now() >= until {
                return false;
            }
            self.wait_and_feed(until);
        }
    }

    // ----- outputs -------------------------------------------------------------------------------

    /// The polling contract's drain: transmits until none, then events until none; an event
    /// (a new connection) may produce transmits, so repeat until both are empty (`|`, not
    /// `||`: both run every round).
    fn drain(&mut self) {
        while self.send_transmits() | self.handle_events() {}
    }

    /// Sends what the core wants sent; returns whether there was anything.
    fn send_transmits(&mut self) -> bool {
        let mut any = false;
        let mut failed: HashMap<ServerId, Vec<RequestId>> = HashMap::new();
        while let Some(tx) = self.pool.poll_transmit(&mut self.header_buf) {
            any = true;
            let (payload, request) = match tx.kind {
                TransmitKind::Handshake => (wire::NULL_PAYLOAD, None),
                TransmitKind::Request { id, user } => (user.payload.as_slice(), Some(id)),
            };
            // After one failure on a server, the rest of this batch is not tried there either:
            // reported as unsent, the core puts it all back in order, to go out after the
            // reconnect's handshake (requests already on the wire end `Disconnected`).
            let sent = !failed.contains_key(&tx.server)
                && self
                    .links
                    .iter()
                    .find(|l| l.id == tx.server)
                    .and_then(|l| l.conn.as_ref())
                    .is_some_and(|c| {
                        let frames: [&[u8]; 4] = [b"", tx.header, payload, b""];
                        // DONTWAIT: this loop must never block on one server (libzmq says
                        // EAGAIN when the DEALER's send high-water mark is reached).
                        c.dealer.send_multipart(frames, zmq::DONTWAIT).is_ok()
                    });
            if !sent {
                failed.entry(tx.server).or_default().extend(request);
            }
        }
        let now = self.now();
        for (server, unsent) in failed {
            self.pool.handle_send_failed(server, &unsent, now);
        }
        any
    }

    /// Acts on the core's events; returns whether there were any.
    fn handle_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.pool.poll_event() {
            any = true;
            match event {
                Event::Connect(server) => self.connect(server),
                Event::ServerLost(server, reason) => {
                    eprintln!(
                        "  (server {} lost: {reason:?}; the core reconnects after its backoff)",
                        self.name(server)
                    );
                    self.close(server);
                }
                Event::Completed(completion) => self.finished.push(Finished {
                    completion,
                    reply: None,
                }),
                Event::ServerReady(_) | Event::FanoutDone(_) => {}
            }
        }
        any
    }

    /// Opens a fresh connection (dropping any previous one first), as `Event::Connect` asks.
    fn connect(&mut self, server: ServerId) {
        self.close(server);
        self.monitors += 1;
        let monitor_endpoint = format!("inproc://blocking-monitor-{}", self.monitors);
        let identity = self.pool.client_id().to_owned();
        let Some(link) = self.links.iter_mut().find(|l| l.id == server) else {
            return;
        };
        match Link::open(&self.zmq, &identity, &link.endpoint, &monitor_endpoint) {
            Ok(conn) => link.conn = Some(conn),
            Err(e) => {
                eprintln!(
                    "  cannot connect to {} at {}: {e}",
                    link.name, link.endpoint
                );
                // The core backs off and sends another `Connect`.
                let now = self.now();
                self.pool.handle_disconnected(server, now);
            }
        }
    }

    fn close(&mut self, server: ServerId) {
        if let Some(link) = self.links.iter_mut().find(|l| l.id == server) {
            link.conn = None;
        }
    }

    fn name(&self, server: ServerId) -> &str {
        self.links
            .iter()
            .find(|l| l.id == server)
            .map_or("?", |l| l.name.as_str())
    }

    // ----- inputs --------------------------------------------------------------------------------

    /// Blocks in `zmq::poll` until a socket is readable, the core's next timer, or `until`;
    /// then feeds the core everything that happened.
    fn wait_and_feed(&mut self, until: WallClock) {
        let wake = match self.pool.poll_timeout() {
            Some(at) => self.wall(at).min(until),
            None => until,
        };
        // Rounded up: waking a little late is harmless, waking early would spin.
        let timeout_ms = wake
            .saturating_duration_since(WallClock::now())
            .as_micros()
            .div_ceil(1000);
        for (index, dealer_ready, monitor_ready) in self.poll(timeout_ms) {
            if monitor_ready {
                self.feed_monitor(index);
            }
            if dealer_ready {
                self.feed_messages(index);
            }
        }
        let now = self.now();
        if self.pool.poll_timeout().is_some_and(|at| at <= now) {
            self.pool.handle_timeout(now);
        }
    }

    /// Which links have a readable DEALER and/or monitor: `(link index, dealer, monitor)`.
    fn poll(&self, timeout_ms: u128) -> Vec<(usize, bool, bool)> {
        let open: Vec<(usize, &Connection)> = self
            .links
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.conn.as_ref().map(|c| (i, c)))
            .collect();
        let mut items: Vec<zmq::PollItem<'_>> = open
            .iter()
            .flat_map(|(_, c)| {
                [
                    c.dealer.as_poll_item(zmq::POLLIN),
                    c.monitor.as_poll_item(zmq::POLLIN),
                ]
            })
            .collect();
        // With no sockets open (all backing off) zmq::poll simply sleeps for the timeout.
        if zmq::poll(&mut items, i64::try_from(timeout_ms).unwrap_or(i64::MAX)).is_err() {
            return Vec::new();
        }
        open.iter()
            .zip(items.chunks(2))
            .map(|((index, _), pair)| (*index, pair[0].is_readable(), pair[1].is_readable()))
            .collect()
    }

    /// Every message waiting on a DEALER, into the core.
    fn feed_messages(&mut self, index: usize) {
        loop {
            let Some(link) = self.links.get(index) else {
                return;
            };
            let server = link.id;
            let Some(frames) = link
                .conn
                .as_ref()
                .and_then(|c| c.dealer.recv_multipart(zmq::DONTWAIT).ok())
            else {
                return;
            };
            let now = self.now();
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            match self.pool.handle_message(server, &refs, now) {
                Routed::Completed(completion) => {
                    let mut frames = frames.into_iter().skip(1);
                    let header = frames.next().unwrap_or_default();
                    let payload = frames.next().unwrap_or_default();
                    self.finished.push(Finished {
                        completion,
                        reply: Some((header, payload)),
                    });
                }
                // Late replies (after a client deadline) and handshake answers are the core's
                // business: counted in `stats()`, nothing to do here.
                Routed::Handshake | Routed::Dropped(_) => {}
                Routed::Malformed(why) => eprintln!("  malformed message dropped: {why}"),
            }
        }
    }

    /// Every monitor event waiting for a link, into the core.
    fn feed_monitor(&mut self, index: usize) {
        let Some(link) = self.links.get(index) else {
            return;
        };
        let server = link.id;
        let mut events = Vec::new();
        if let Some(conn) = &link.conn {
            while let Ok(frames) = conn.monitor.recv_multipart(zmq::DONTWAIT) {
                events.extend(parse_monitor_event(&frames));
            }
        }
        let now = self.now();
        for event in events {
            match event {
                LinkEvent::Connected => self.pool.handle_connected(server, now),
                LinkEvent::Disconnected => {
                    self.close(server);
                    self.pool.handle_disconnected(server, now);
                    return;
                }
            }
        }
    }

    /// Whether the reply frames of `finished` carry the message id of its request: the core
    /// matched them by that id, this re-checks it from the outside.
    fn matched_by_id(&self, finished: &Finished) -> bool {
        let expected: MessageIdText = self.pool.message_id(finished.completion.id);
        finished
            .reply
            .as_ref()
            .and_then(|(header, _)| wire::decode_reply_header(header).ok())
            .and_then(|h| h.message_id)
            .is_some_and(|id| &id == expected.as_bytes())
    }

    fn all_ready(&self) -> bool {
        self.links
            .iter()
            .all(|l| self.pool.server_state(l.id) == Some(ServerState::Ready))
    }
}

/// std has no random number generator, but each `RandomState` is randomly seeded: enough for
/// the per-pool nonce that keeps message ids unique across pools and restarts.
fn random_nonce() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

// ===== the demo: two in-process test servers =====================================================

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        demo()
    } else {
        read_from_servers(&args)
    }
}

fn demo() -> Result<(), BoxError> {
    let mut servers = [start_test_server("alpha")?, start_test_server("beta")?];
    let mut driver = Driver::new(&format!("blocking-example-{}", std::process::id()))?;
    let mut things = Vec::new();
    for server in &servers {
        let endpoint = server.tcp_endpoint().ok_or("test server without tcp")?;
        things.push(driver.add_server(server.server_id(), endpoint)?);
    }
    let [alpha, beta] = things[..] else {
        return Err("two servers expected".into());
    };
    wait_ready(&mut driver)?;
    concurrent_requests(&mut driver, &[alpha, beta], 100)?;
    remote_exception(&mut driver, alpha)?;
    server_timeout(&mut driver, beta)?;
    client_deadline(&mut driver, alpha)?;
    server_restart(&mut driver, beta, &mut servers[1])?;
    check_stats(&driver)?;
    println!("blocking example: all checks passed");
    Ok(())
}

fn start_test_server(id: &str) -> Result<TestServer, BoxError> {
    Ok(TestServer::start(ServerConfig::builder(id).tcp().build())?)
}

fn wait_ready(driver: &mut Driver) -> Result<(), BoxError> {
    let started = WallClock::now();
    if !driver.run_until(Duration::from_secs(5), Driver::all_ready) {
        return Err("servers not ready within 5 s".into());
    }
    let names: Vec<String> = driver
        .links
        .iter()
        .map(|l| format!("{} ({})", l.name, l.endpoint))
        .collect();
    println!(
        "ready:            {} in {:.1?}",
        names.join(", "),
        started.elapsed()
    );
    Ok(())
}

/// `count` `add` requests at once, alternating between the servers, each with its own
/// operands: every reply must be the right sum, for the right message id, from the right
/// server.
fn concurrent_requests(
    driver: &mut Driver,
    things: &[ThingId],
    count: i64,
) -> Result<(), BoxError> {
    let started = WallClock::now();
    let mut expected: HashMap<RequestId, (ThingId, i64)> = HashMap::new();
    for i in 0..count {
        let thing = things[usize::try_from(i)? % things.len()];
        let name = thing_name(driver, thing)?;
        let call = Call::invoke_action(&name, "add", &json!({"a": i, "b": 1000}));
        let id = driver.start(thing, call, Duration::from_secs(5))?;
        expected.insert(id, (thing, i + 1000));
    }
    let all = driver.run_until(Duration::from_secs(6), |d| {
        expected.keys().all(|id| d.has_finished(*id))
    });
    if !all {
        return Err("not every request ended".into());
    }
    let mut per_server: HashMap<String, usize> = HashMap::new();
    for (id, (thing, sum)) in &expected {
        let finished = driver.take(*id).ok_or("outcome missing")?;
        check_sum(driver, &finished, *thing, *sum)?;
        *per_server
            .entry(driver.name(finished.completion.server).to_owned())
            .or_default() += 1;
    }
    let mut spread: Vec<String> = per_server.iter().map(|(s, n)| format!("{s} {n}")).collect();
    spread.sort();
    println!(
        "concurrent:       {count} `add` requests in flight at once, {count} correct replies \
         matched by message id ({}) in {:.1?}",
        spread.join(", "),
        started.elapsed()
    );
    Ok(())
}

fn check_sum(
    driver: &Driver,
    finished: &Finished,
    thing: ThingId,
    sum: i64,
) -> Result<(), BoxError> {
    let c = &finished.completion;
    if c.outcome != Outcome::Reply || c.thing != thing {
        return Err(format!("add: unexpected outcome {:?} for {:?}", c.outcome, c.thing).into());
    }
    if driver.pool.thing_server(thing) != Some(c.server) {
        return Err("add: reply from the wrong server".into());
    }
    if !driver.matched_by_id(finished) {
        return Err("add: reply header carries another message id".into());
    }
    let got = finished.payload_json()?;
    if got != json!(sum) {
        return Err(format!("add: expected {sum}, got {got}").into());
    }
    Ok(())
}

fn remote_exception(driver: &mut Driver, thing: ThingId) -> Result<(), BoxError> {
    let name = thing_name(driver, thing)?;
    let call = Call::invoke_action(&name, "fail", &json!({"message": "boom"}));
    let finished = driver.call(thing, call, Duration::from_secs(5))?;
    let exception = finished.exception()?;
    if finished.outcome() != Outcome::Exception || exception != "ValueError: boom" {
        return Err(format!("fail: got {:?} {exception}", finished.outcome()).into());
    }
    println!("remote exception: {name}.fail(message=\"boom\") -> EXCEPTION {exception}");
    Ok(())
}

/// The server stops waiting for a 1 s action after 200 ms and answers `TIMEOUT`.
fn server_timeout(driver: &mut Driver, thing: ThingId) -> Result<(), BoxError> {
    let name = thing_name(driver, thing)?;
    let call = Call::invoke_action(&name, "sleep_for", &json!({"seconds": 1.0}))
        .execution_timeout(Duration::from_millis(200));
    let started = WallClock::now();
    let finished = driver.call(thing, call, Duration::from_secs(5))?;
    let expected = Outcome::ServerTimeout(TimeoutKind::Execution);
    if finished.outcome() != expected {
        return Err(format!(
            "sleep_for: expected {expected:?}, got {:?}",
            finished.outcome()
        )
        .into());
    }
    println!(
        "server timeout:   {name}.sleep_for(1.0) with a 200 ms execution limit -> TIMEOUT \
         (execution) after {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// The client gives up on a 500 ms action after 150 ms; the reply that still comes is dropped
/// by the core as late, never delivered.
fn client_deadline(driver: &mut Driver, thing: ThingId) -> Result<(), BoxError> {
    let name = thing_name(driver, thing)?;
    let call = Call::invoke_action(&name, "sleep_for", &json!({"seconds": 0.5}));
    let started = WallClock::now();
    let finished = driver.call(thing, call, Duration::from_millis(150))?;
    let elapsed = started.elapsed();
    if finished.outcome() != (Outcome::Timeout { sent: true }) {
        return Err(format!("deadline: got {:?}", finished.outcome()).into());
    }
    let late_before = driver.pool.stats().dropped_late;
    let late_dropped = driver.run_until(Duration::from_secs(2), |d| {
        d.pool.stats().dropped_late > late_before
    });
    if !late_dropped {
        return Err("deadline: the late reply never came".into());
    }
    println!(
        "client deadline:  {name}.sleep_for(0.5) with a 150 ms deadline -> Timeout after \
         {elapsed:.1?}; its late reply was dropped, not delivered"
    );
    Ok(())
}

/// The server dies with a request in flight: the monitor reports the disconnect, the request
/// ends `Disconnected` at once (at-most-once: never resent), and once the server is back the
/// core reconnects and handshakes by itself.
fn server_restart(
    driver: &mut Driver,
    thing: ThingId,
    server: &mut TestServer,
) -> Result<(), BoxError> {
    let name = thing_name(driver, thing)?;
    let call = Call::invoke_action(&name, "sleep_for", &json!({"seconds": 2.0}));
    let id = driver.start(thing, call, Duration::from_secs(5))?;
    let sent_before = driver.pool.stats().requests_sent;
    if !driver.run_until(Duration::from_secs(2), |d| {
        d.pool.stats().requests_sent > sent_before
    }) {
        return Err("restart: the request was never sent".into());
    }
    let killed = WallClock::now();
    server.kill();
    driver.run_until(Duration::from_secs(3), |d| d.has_finished(id));
    let outcome = driver.take(id).map(|f| f.outcome());
    if outcome != Some(Outcome::Disconnected) {
        return Err(format!("restart: expected Disconnected, got {outcome:?}").into());
    }
    let lost_after = killed.elapsed();
    server.restart()?;
    let restarted = WallClock::now();
    let call = Call::invoke_action(&name, "add", &json!({"a": 20, "b": 22}));
    let finished = driver.call(thing, call, Duration::from_secs(5))?;
    check_sum(driver, &finished, thing, 42)?;
    println!(
        "server restart:   {name} killed with {name}.sleep_for(2.0) in flight -> Disconnected \
         after {lost_after:.1?} (not resent); restarted, next request answered after {:.1?}",
        restarted.elapsed()
    );
    Ok(())
}

fn check_stats(driver: &Driver) -> Result<(), BoxError> {
    let s = driver.pool.stats();
    println!(
        "pool stats:       started {}, replies {}, exceptions {}, server timeouts {}, \
         client timeouts {}, disconnected {}, late replies dropped {}, servers lost {}, \
         handshakes sent {}",
        s.started,
        s.replies,
        s.exceptions,
        s.server_timeouts,
        s.timeouts,
        s.disconnected,
        s.dropped_late,
        s.servers_lost,
        s.handshakes_sent
    );
    // 100 + fail + server timeout + client deadline + restart (2), each ended exactly once.
    let expected = (105, 105, 101, 1, 1, 1, 1, 1, 1, 0);
    let got = (
        s.started,
        s.ended,
        s.replies,
        s.exceptions,
        s.server_timeouts,
        s.timeouts,
        s.disconnected,
        s.dropped_late,
        s.servers_lost,
        s.malformed + s.dropped_foreign + s.dropped_wrong_server,
    );
    if got != expected || driver.pool.in_flight() != 0 || !driver.finished.is_empty() {
        return Err(format!("stats: expected {expected:?}, got {got:?}").into());
    }
    Ok(())
}

fn thing_name(driver: &Driver, thing: ThingId) -> Result<String, BoxError> {
    let server = driver.pool.thing_server(thing).ok_or("unmapped Thing")?;
    Ok(driver.name(server).to_owned())
}

// ===== real servers: SERVER_ID=ENDPOINT... [property] ============================================

/// Reads one property (default `number`) of every server given, all at once.
fn read_from_servers(args: &[String]) -> Result<(), BoxError> {
    let property = args
        .iter()
        .find(|a| !a.contains('='))
        .map_or("number", String::as_str);
    let mut driver = Driver::new(&format!("blocking-example-{}", std::process::id()))?;
    let mut started = Vec::new();
    for arg in args.iter().filter(|a| a.contains('=')) {
        let (id, endpoint) = arg.split_once('=').ok_or("SERVER_ID=ENDPOINT expected")?;
        let thing = driver.add_server(id, endpoint)?;
        let request = driver.start(
            thing,
            Call::read_property(id, property),
            Duration::from_secs(5),
        )?;
        started.push((id.to_owned(), request));
    }
    driver.run_until(Duration::from_secs(6), |d| {
        started.iter().all(|(_, id)| d.has_finished(*id))
    });
    if started.is_empty() {
        return Err("usage: blocking [SERVER_ID=ENDPOINT... [PROPERTY]]".into());
    }
    let mut failures = 0;
    for (server, id) in started {
        let finished = driver.take(id).ok_or("outcome missing")?;
        match describe(&finished) {
            Ok(value) => println!("{server}.{property} = {value}"),
            Err(why) => {
                failures += 1;
                println!("{server}.{property}: {why}");
            }
        }
    }
    if failures > 0 {
        return Err(format!("{failures} read(s) failed").into());
    }
    Ok(())
}

/// A reply's JSON value, or what went wrong, in words.
fn describe(finished: &Finished) -> Result<Value, String> {
    let exception = || finished.exception().unwrap_or_else(|e| e.to_string());
    match finished.outcome() {
        Outcome::Reply => finished
            .payload_json()
            .map_err(|e| format!("undecodable reply: {e}")),
        Outcome::Exception => Err(format!("EXCEPTION {}", exception())),
        Outcome::InvalidMessage => Err(format!("INVALID_MESSAGE {}", exception())),
        Outcome::ServerTimeout(kind) => {
            Err(format!("the server's {} timeout fired", kind.as_str()))
        }
        Outcome::Timeout { sent: false } => {
            Err("no reply by the deadline: the server never became ready".into())
        }
        Outcome::Timeout { sent: true } => Err("no reply by the deadline".into()),
        other => Err(format!("{other:?}")),
    }
}

/// `cargo test -p pool-examples` runs the same demo as `cargo run` (the example is built with
/// `test = true`), so a wrong result fails the tests, not only the exit code.
#[cfg(test)]
mod tests {
    #[test]
    fn demo_against_two_test_servers() {
        super::demo().expect("the demo passes");
    }
}
