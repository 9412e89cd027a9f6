//! The simulated world of `tests/simulation.rs`: fake hololinked servers, a lossy link and a
//! driver that follows the pool's polling contract, all on virtual time, every random choice
//! drawn from one seeded [`SplitMix64`] (the core's own stream), so a seed replays exactly.

use std::collections::{BTreeMap, HashMap, HashSet};

use pool_core::pool::{
    Capacity, Completion, Config, Dropped, Event, FanoutId, HeapMemory, LostReason, Outcome, Pool,
    RequestId, RequestOptions, RequestSpec, Routed, ServerId, ServerState, StartError,
    StartErrorKind, Stats, ThingId, TransmitKind,
};
use pool_core::wire::{RequestFields, TimeoutKind};
use pool_core::{Duration, Instant, SplitMix64};
use serde_json::Value;

pub const CLIENT: &str = "sim-client";
pub const OBJEKTS: [&str; 4] = ["integration_time", "wavelength", "status", "temperature"];

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

// ===== the request type ===========================================================================

/// A property read; `serial` is unique per simulation so every completion can be matched with
/// the request value that was started.
#[derive(Debug)]
pub struct Req {
    pub thing: &'static str,
    pub objekt: &'static str,
    pub serial: u64,
    pub oneway: bool,
}

impl RequestSpec for Req {
    fn fields(&self) -> RequestFields<'_> {
        let mut fields = RequestFields::new(self.thing, "readproperty", self.objekt);
        fields.server_context.oneway = self.oneway;
        fields
    }
}

// ===== fake hololinked servers ====================================================================

/// What a server answers to a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Reply,
    Exception,
    Invalid,
    Timeout(TimeoutKind),
    /// Never answer.
    Drop,
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    /// HANDSHAKEs received at or after this time are answered; `None`: never.
    pub handshake_from: Option<Instant>,
    /// Processing delay range, µs.
    pub delay: (u64, u64),
    /// Weighted answers.
    pub answers: Vec<(Answer, u64)>,
    /// Probability of answering twice, `dup_gap` apart.
    pub dup: f64,
    pub dup_gap: Duration,
    /// Send an unsolicited `TIMEOUT` for oneway requests.
    pub oneway_timeout: bool,
}

impl Behaviour {
    pub fn ok(delay_ms: u64) -> Self {
        Behaviour {
            handshake_from: Some(Instant::ZERO),
            delay: (delay_ms * 1000, delay_ms * 1000),
            answers: vec![(Answer::Reply, 1)],
            dup: 0.0,
            dup_gap: ms(30),
            oneway_timeout: false,
        }
    }
    pub fn answering(mut self, answer: Answer) -> Self {
        self.answers = vec![(answer, 1)];
        self
    }
    pub fn mute() -> Self {
        Behaviour {
            handshake_from: None,
            ..Behaviour::ok(1)
        }
    }
}

/// The transport's view of one server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Idle,
    Connecting,
    Connected,
}

pub struct FakeServer {
    pub id: ServerId,
    pub name: &'static str,
    pub things: Vec<&'static str>,
    pub up: bool,
    pub link: Link,
    /// Bumped on every connection change: deliveries tagged with an older epoch are lost.
    pub epoch: u64,
    pub behaviour: Behaviour,
    pub got_requests: Vec<String>,
    pub got_handshakes: usize,
}

// ===== the simulated world ========================================================================

#[derive(Debug, Clone, Copy)]
pub struct LinkCfg {
    pub latency: u64,
    pub jitter: u64,
    pub loss: f64,
    pub dup: f64,
}

impl LinkCfg {
    pub fn perfect(latency_ms: u64) -> Self {
        LinkCfg {
            latency: latency_ms * 1000,
            jitter: 0,
            loss: 0.0,
            dup: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Ev {
    ToServer {
        srv: usize,
        epoch: u64,
        header: Vec<u8>,
    },
    ToClient {
        srv: usize,
        epoch: u64,
        frames: Vec<Vec<u8>>,
    },
    ConnectDone {
        srv: usize,
        epoch: u64,
    },
    Restart {
        srv: usize,
    },
}

pub struct Started {
    pub thing: ThingId,
    pub id: Option<RequestId>,
    pub oneway: bool,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy)]
pub struct Done {
    pub at: Instant,
    pub seq: u64,
    pub id: RequestId,
    pub serial: u64,
    pub thing: ThingId,
    pub fanout: Option<FanoutId>,
    pub outcome: Outcome,
    pub via_reply: bool,
}

#[derive(Debug, Clone)]
pub struct Tx {
    pub at: Instant,
    pub seq: u64,
    pub srv: usize,
    pub message_id: String,
    pub request: Option<(RequestId, u64)>,
    pub state: Option<ServerState>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Note {
    Connect(usize),
    Ready(usize),
    Lost(usize, LostReason),
    FanoutDone(FanoutId),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoutedKind {
    Completed,
    Handshake,
    Dropped(Dropped),
    Malformed,
}

/// One transmit copied out of the pool: server, message id, header, and for a request its id,
/// serial, Thing name and oneway flag.
pub type Outgoing = (
    ServerId,
    String,
    Vec<u8>,
    Option<(RequestId, u64, &'static str, bool)>,
);

pub struct Sim {
    pub pool: Pool<Req, HeapMemory<Req>>,
    pub now: Instant,
    pub rng: SplitMix64,
    pub link: LinkCfg,
    pub connect_delay: Duration,
    pub servers: Vec<FakeServer>,
    pub thing_names: HashMap<ThingId, (&'static str, usize)>,
    pub queue: BTreeMap<(Instant, u64), Ev>,
    pub seq: u64,
    pub buf: Vec<u8>,
    pub next_serial: u64,
    pub refused: u64,
    pub reqs: HashMap<u64, Started>,
    pub sent_ids: HashSet<RequestId>,
    pub done: Vec<Done>,
    pub done_serials: HashSet<u64>,
    pub done_ids: HashSet<RequestId>,
    pub txs: Vec<Tx>,
    pub notes: Vec<(Instant, u64, Note)>,
    pub routed: Vec<(Instant, usize, RoutedKind)>,
    pub spins: (Instant, u32),
}

impl Sim {
    pub fn new(seed: u64, capacity: usize, config: Config, link: LinkCfg) -> Self {
        let memory = HeapMemory::new(Capacity {
            requests: capacity,
            servers: 8,
            things: 32,
            fanouts: 4,
        });
        let pool = Pool::new(config, CLIENT, 0x5eed_0000 ^ seed, memory).expect("valid identity");
        Sim {
            pool,
            now: Instant::ZERO,
            rng: SplitMix64::new(seed),
            link,
            connect_delay: ms(5),
            servers: Vec::new(),
            thing_names: HashMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            buf: vec![0; config.max_header_len],
            next_serial: 0,
            refused: 0,
            reqs: HashMap::new(),
            sent_ids: HashSet::new(),
            done: Vec::new(),
            done_serials: HashSet::new(),
            done_ids: HashSet::new(),
            txs: Vec::new(),
            notes: Vec::new(),
            routed: Vec::new(),
            spins: (Instant::ZERO, 0),
        }
    }

    pub fn tick_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ----- setup and commands --------------------------------------------------------------

    pub fn add_server(
        &mut self,
        name: &'static str,
        behaviour: Behaviour,
        things: &[&'static str],
    ) -> (usize, Vec<ThingId>) {
        let id = self
            .pool
            .add_server(name, self.now)
            .expect("server table has room");
        let srv = self.servers.len();
        self.servers.push(FakeServer {
            id,
            name,
            things: things.to_vec(),
            up: true,
            link: Link::Idle,
            epoch: 0,
            behaviour,
            got_requests: Vec::new(),
            got_handshakes: 0,
        });
        let mut ids = Vec::new();
        for &thing in things {
            let tid = self.pool.map_thing(id).expect("thing table has room");
            self.thing_names.insert(tid, (thing, srv));
            ids.push(tid);
        }
        self.drain();
        (srv, ids)
    }

    pub fn make_req(&mut self, thing: ThingId, oneway: bool) -> Req {
        self.next_serial += 1;
        let serial = self.next_serial;
        Req {
            thing: self.thing_names[&thing].0,
            objekt: OBJEKTS[serial as usize % 4],
            serial,
            oneway,
        }
    }

    pub fn options(&self, deadline: Option<Duration>, oneway: bool) -> RequestOptions {
        RequestOptions {
            deadline: deadline.map(|d| self.now + d),
            oneway,
        }
    }

    /// `start_request` without draining the outputs.
    pub fn start_raw(
        &mut self,
        thing: ThingId,
        deadline: Option<Duration>,
        oneway: bool,
    ) -> Result<RequestId, StartError<Req>> {
        let req = self.make_req(thing, oneway);
        let serial = req.serial;
        let options = self.options(deadline, oneway);
        match self.pool.start_request(thing, req, options, self.now) {
            Ok(id) => {
                let started = Started {
                    thing,
                    id: Some(id),
                    oneway,
                    at: self.now,
                };
                assert!(self.reqs.insert(serial, started).is_none());
                Ok(id)
            }
            Err(err) => {
                assert_eq!(
                    err.user.serial, serial,
                    "the refused request value comes back"
                );
                self.refused += 1;
                Err(err)
            }
        }
    }

    pub fn request(
        &mut self,
        thing: ThingId,
        deadline: Option<Duration>,
        oneway: bool,
    ) -> Result<RequestId, StartError<Req>> {
        let result = self.start_raw(thing, deadline, oneway);
        self.drain();
        result
    }

    pub fn fanout(
        &mut self,
        listed: Option<&[ThingId]>,
        deadline: Duration,
    ) -> Result<FanoutId, StartErrorKind> {
        let names = &self.thing_names;
        let mut serial = self.next_serial;
        let mut made = Vec::new();
        let make = |thing: ThingId, _id| {
            serial += 1;
            made.push((serial, thing));
            Req {
                thing: names[&thing].0,
                objekt: "status",
                serial,
                oneway: false,
            }
        };
        let options = RequestOptions {
            deadline: Some(self.now + deadline),
            oneway: false,
        };
        let result = match listed {
            Some(things) => self.pool.start_fanout(things, make, options, self.now),
            None => self.pool.start_fanout_all(make, options, self.now),
        };
        self.next_serial = serial;
        match result {
            Ok(_) => {
                for (serial, thing) in made {
                    self.reqs.insert(
                        serial,
                        Started {
                            thing,
                            id: None,
                            oneway: false,
                            at: self.now,
                        },
                    );
                }
            }
            Err(_) => self.refused += 1,
        }
        self.drain();
        result
    }

    pub fn cancel(&mut self, id: RequestId) -> bool {
        let cancelled = self.pool.cancel(id, self.now);
        self.drain();
        cancelled
    }

    /// The server process dies: the transport reports the disconnect at once; deliveries to and
    /// from it are lost. It comes back after `restart_after`, if given.
    pub fn kill(&mut self, srv: usize, restart_after: Option<Duration>) {
        let server = &mut self.servers[srv];
        server.up = false;
        server.epoch += 1;
        if server.link != Link::Idle {
            server.link = Link::Idle;
            let id = server.id;
            self.pool.handle_disconnected(id, self.now);
        }
        if let Some(delay) = restart_after {
            self.schedule(self.now + delay, Ev::Restart { srv });
        }
        self.drain();
    }

    pub fn remove_server(&mut self, srv: usize) {
        let server = &mut self.servers[srv];
        server.link = Link::Idle;
        server.epoch += 1;
        let id = server.id;
        assert!(self.pool.remove_server(id, self.now));
        self.drain();
    }

    /// A message arrives now on `srv`'s connection, whoever sent it.
    pub fn inject(&mut self, srv: usize, frames: Vec<Vec<u8>>) -> RoutedKind {
        self.deliver(srv, &frames);
        self.routed.last().expect("routed").2
    }

    // ----- the driver: polling contract ----------------------------------------------------

    pub fn drain(&mut self) {
        loop {
            let mut any = false;
            while let Some(tx) = self.next_transmit() {
                any = true;
                self.on_transmit(tx);
            }
            while let Some(event) = self.pool.poll_event() {
                any = true;
                self.on_event(event);
            }
            if !any {
                break;
            }
        }
    }

    pub fn next_transmit(&mut self) -> Option<Outgoing> {
        let tx = self.pool.poll_transmit(&mut self.buf)?;
        let request = match tx.kind {
            TransmitKind::Handshake => None,
            TransmitKind::Request { id, user } => Some((id, user.serial, user.thing, user.oneway)),
        };
        Some((
            tx.server,
            tx.message_id.as_str().to_owned(),
            tx.header.to_vec(),
            request,
        ))
    }

    pub fn srv_of(&self, id: ServerId) -> usize {
        self.servers
            .iter()
            .position(|s| s.id == id)
            .expect("a server of the simulation")
    }

    pub fn on_transmit(&mut self, (server, message_id, header, request): Outgoing) {
        let srv = self.srv_of(server);
        let state = self.pool.server_state(server);
        // The header is what a hololinked server would parse.
        let v: Value = serde_json::from_slice(&header).expect("request header is JSON");
        assert_eq!(v["messageID"], message_id.as_str());
        assert_eq!(v["senderID"], CLIENT);
        assert_eq!(v["receiverID"], self.servers[srv].name);
        assert_ne!(v["messageType"], "EXIT", "rule 9: never EXIT");
        let seq = self.tick_seq();
        let request = request.map(|(id, serial, thing, oneway)| {
            assert_eq!(
                state,
                Some(ServerState::Ready),
                "rule 5: requests only to Ready servers"
            );
            assert_eq!(v["messageType"], "OPERATION");
            assert_eq!(v["thingID"], thing);
            assert!(
                self.servers[srv].things.contains(&thing),
                "{thing} sent to the wrong server"
            );
            assert!(
                self.sent_ids.insert(id),
                "request {id:?} transmitted twice (never resend)"
            );
            let started = self
                .reqs
                .get_mut(&serial)
                .expect("transmit of a started request");
            assert_eq!(started.id.get_or_insert(id), &id);
            assert_eq!(started.oneway, oneway);
            (id, serial)
        });
        if request.is_none() {
            assert!(matches!(state, Some(ServerState::Handshaking { .. })));
            assert_eq!(v["messageType"], "HANDSHAKE");
        }
        self.txs.push(Tx {
            at: self.now,
            seq,
            srv,
            message_id,
            request,
            state,
        });
        let s = &self.servers[srv];
        if s.link == Link::Connected {
            let ev = Ev::ToServer {
                srv,
                epoch: s.epoch,
                header,
            };
            self.link_send(self.now, ev);
        }
    }

    pub fn on_event(&mut self, event: Event<Req>) {
        let seq = self.tick_seq();
        let note = match event {
            Event::Completed(done) => return self.record(done, false),
            Event::Connect(id) => {
                let srv = self.srv_of(id);
                let server = &mut self.servers[srv];
                server.link = Link::Connecting;
                server.epoch += 1;
                let ev = Ev::ConnectDone {
                    srv,
                    epoch: server.epoch,
                };
                self.schedule(self.now + self.connect_delay, ev);
                Note::Connect(srv)
            }
            Event::ServerReady(id) => Note::Ready(self.srv_of(id)),
            Event::ServerLost(id, reason) => {
                let srv = self.srv_of(id);
                self.servers[srv].link = Link::Idle;
                self.servers[srv].epoch += 1;
                Note::Lost(srv, reason)
            }
            Event::FanoutDone(id) => Note::FanoutDone(id),
        };
        self.notes.push((self.now, seq, note));
    }

    /// Every completion is checked here: started, the right value back, exactly once.
    pub fn record(&mut self, done: Completion<Req>, via_reply: bool) {
        let seq = self.tick_seq();
        let serial = done.user.serial;
        let started = self
            .reqs
            .get_mut(&serial)
            .expect("completion of a request that never started");
        assert_eq!(started.thing, done.thing, "serial {serial}: wrong Thing");
        assert_eq!(
            started.id.get_or_insert(done.id),
            &done.id,
            "serial {serial} came back under another id"
        );
        assert_eq!(done.user.thing, self.thing_names[&done.thing].0);
        assert_eq!(
            done.server,
            self.servers[self.thing_names[&done.thing].1].id
        );
        assert!(
            self.done_serials.insert(serial),
            "second outcome for serial {serial}: {:?}",
            done.outcome
        );
        assert!(
            self.done_ids.insert(done.id),
            "second outcome for {:?}",
            done.id
        );
        assert_eq!(via_reply, done.outcome.is_from_server());
        let record = Done {
            at: self.now,
            seq,
            id: done.id,
            serial,
            thing: done.thing,
            fanout: done.fanout,
            outcome: done.outcome,
            via_reply,
        };
        self.done.push(record);
    }

    pub fn deliver(&mut self, srv: usize, frames: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let routed = self
            .pool
            .handle_message(self.servers[srv].id, &refs, self.now);
        let kind = match routed {
            Routed::Completed(done) => {
                self.record(done, true);
                RoutedKind::Completed
            }
            Routed::Handshake => RoutedKind::Handshake,
            Routed::Dropped(why) => RoutedKind::Dropped(why),
            Routed::Malformed(_) => RoutedKind::Malformed,
        };
        self.routed.push((self.now, srv, kind));
        self.drain();
    }

    // ----- the link and the servers --------------------------------------------------------

    pub fn schedule(&mut self, when: Instant, ev: Ev) {
        assert!(when >= self.now);
        let seq = self.tick_seq();
        self.queue.insert((when, seq), ev);
    }

    pub fn link_send(&mut self, when: Instant, ev: Ev) {
        if self.rng.chance(self.link.loss) {
            return;
        }
        let copies = if self.rng.chance(self.link.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.link.latency + self.rng.below(self.link.jitter + 1);
            self.schedule(when + Duration(delay), ev.clone());
        }
    }

    pub fn server_receive(&mut self, srv: usize, header: &[u8]) {
        let v: Value = serde_json::from_slice(header).expect("JSON header");
        let id = v["messageID"].as_str().expect("messageID").to_owned();
        let epoch = self.servers[srv].epoch;
        let b = self.servers[srv].behaviour.clone();
        if v["messageType"] == "HANDSHAKE" {
            self.servers[srv].got_handshakes += 1;
            if b.handshake_from.is_some_and(|t| self.now >= t) {
                let frames = reply_frames("HANDSHAKE", &id, b"null");
                self.link_send(self.now, Ev::ToClient { srv, epoch, frames });
            }
            return;
        }
        self.servers[srv].got_requests.push(id.clone());
        let thing = v["thingID"].as_str().expect("thingID");
        let oneway = v["serverExecutionContext"]["oneway"]
            .as_bool()
            .expect("oneway");
        let answer = if !self.servers[srv].things.contains(&thing) {
            Answer::Invalid
        } else if oneway {
            if b.oneway_timeout {
                Answer::Timeout(TimeoutKind::Execution)
            } else {
                Answer::Drop
            }
        } else {
            let total: u64 = b.answers.iter().map(|a| a.1).sum();
            let mut pick = self.rng.below(total);
            let mut chosen = Answer::Reply;
            for &(answer, weight) in &b.answers {
                if pick < weight {
                    chosen = answer;
                    break;
                }
                pick -= weight;
            }
            chosen
        };
        let (kind, payload): (&str, &[u8]) = match answer {
            Answer::Drop => return,
            Answer::Reply => ("REPLY", b"12.5"),
            Answer::Exception => (
                "EXCEPTION",
                br#"{"exception":{"message":"boom","type":"ValueError"}}"#,
            ),
            Answer::Invalid => (
                "INVALID_MESSAGE",
                br#"{"exception":{"message":"unknown thing"}}"#,
            ),
            Answer::Timeout(TimeoutKind::Execution) => ("TIMEOUT", b"\"execution\""),
            Answer::Timeout(TimeoutKind::Invokation) => ("TIMEOUT", b"\"invokation\""),
        };
        let frames = reply_frames(kind, &id, payload);
        let when = self.now + Duration(self.rng.range(b.delay.0, b.delay.1));
        let dup = self.rng.chance(b.dup);
        self.link_send(
            when,
            Ev::ToClient {
                srv,
                epoch,
                frames: frames.clone(),
            },
        );
        if dup {
            self.link_send(when + b.dup_gap, Ev::ToClient { srv, epoch, frames });
        }
    }

    pub fn process(&mut self, ev: Ev) {
        match ev {
            Ev::ToServer { srv, epoch, header } => {
                let s = &self.servers[srv];
                if s.up && s.epoch == epoch && s.link == Link::Connected {
                    self.server_receive(srv, &header);
                }
            }
            Ev::ToClient { srv, epoch, frames } => {
                let s = &self.servers[srv];
                if epoch == s.epoch && s.link == Link::Connected {
                    self.deliver(srv, &frames);
                }
            }
            Ev::ConnectDone { srv, epoch } => {
                let s = &mut self.servers[srv];
                if s.epoch != epoch || s.link != Link::Connecting {
                    return;
                }
                let id = s.id;
                if s.up {
                    s.link = Link::Connected;
                    self.pool.handle_connected(id, self.now);
                } else {
                    s.link = Link::Idle;
                    s.epoch += 1;
                    self.pool.handle_disconnected(id, self.now);
                }
                self.drain();
            }
            Ev::Restart { srv } => self.servers[srv].up = true,
        }
    }

    // ----- virtual time ----------------------------------------------------------------------

    pub fn next_time(&self) -> Option<Instant> {
        let queued = self.queue.keys().next().map(|k| k.0);
        match (self.pool.poll_timeout(), queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn step(&mut self) -> bool {
        let Some(next) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(next);
        if self.pool.poll_timeout().is_some_and(|t| t <= self.now) {
            if self.spins.0 == self.now {
                self.spins.1 += 1;
                assert!(
                    self.spins.1 < 10_000,
                    "poll_timeout stuck at {:?}",
                    self.now
                );
            } else {
                self.spins = (self.now, 0);
            }
            self.pool.handle_timeout(self.now);
            self.drain();
            return true;
        }
        if let Some(key) = self.queue.keys().next().copied() {
            let ev = self.queue.remove(&key).expect("queued event");
            self.process(ev);
        }
        true
    }

    pub fn run_until(&mut self, until: Instant) {
        while self.next_time().is_some_and(|t| t <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Steps while `busy` holds, at most until `limit`; returns whether `busy` became false.
    pub fn run_while(&mut self, limit: Instant, busy: impl Fn(&Sim) -> bool) -> bool {
        while busy(self) {
            match self.next_time() {
                Some(t) if t <= limit => {
                    self.step();
                }
                _ => return false,
            }
        }
        true
    }

    /// Calls `handle_timeout(when)` directly (harmless early or often, per the contract).
    pub fn tick(&mut self, when: Instant) {
        self.now = self.now.max(when);
        self.pool.handle_timeout(self.now);
        self.drain();
    }

    // ----- checks ----------------------------------------------------------------------------

    pub fn outcome_by_id(&self, id: RequestId) -> Option<Done> {
        self.done.iter().find(|d| d.id == id).copied()
    }

    pub fn serial_of(&self, id: RequestId) -> u64 {
        self.reqs
            .iter()
            .find(|(_, s)| s.id == Some(id))
            .map(|(&k, _)| k)
            .expect("known id")
    }

    pub fn request_txs(&self, srv: usize) -> Vec<Tx> {
        self.txs
            .iter()
            .filter(|t| t.srv == srv && t.request.is_some())
            .cloned()
            .collect()
    }

    pub fn handshake_txs(&self, srv: usize) -> Vec<Tx> {
        self.txs
            .iter()
            .filter(|t| t.srv == srv && t.request.is_none())
            .cloned()
            .collect()
    }

    pub fn notes_of(&self, wanted: impl Fn(&Note) -> bool) -> Vec<(Instant, u64, Note)> {
        self.notes
            .iter()
            .filter(|n| wanted(&n.2))
            .copied()
            .collect()
    }

    pub fn routed_count(&self, kind: RoutedKind) -> u64 {
        self.routed.iter().filter(|r| r.2 == kind).count() as u64
    }

    /// The stats the pool should report, recomputed from what the driver saw.
    pub fn expected_stats(&self) -> Stats {
        let n =
            |f: &dyn Fn(Outcome) -> bool| self.done.iter().filter(|d| f(d.outcome)).count() as u64;
        let dropped = |why| self.routed_count(RoutedKind::Dropped(why));
        Stats {
            started: self.reqs.len() as u64,
            ended: self.done.len() as u64,
            replies: n(&|o| o == Outcome::Reply),
            exceptions: n(&|o| o == Outcome::Exception),
            invalid_messages: n(&|o| o == Outcome::InvalidMessage),
            server_timeouts: n(&|o| matches!(o, Outcome::ServerTimeout(_))),
            timeouts: n(&|o| matches!(o, Outcome::Timeout { .. })),
            cancelled: n(&|o| o == Outcome::Cancelled),
            disconnected: n(&|o| o == Outcome::Disconnected),
            closed: n(&|o| o == Outcome::Closed),
            oneway_sent: n(&|o| o == Outcome::Sent),
            unsendable: n(&|o| o == Outcome::Unsendable),
            refused: self.refused,
            requests_sent: self.txs.iter().filter(|t| t.request.is_some()).count() as u64,
            handshakes_sent: self.txs.iter().filter(|t| t.request.is_none()).count() as u64,
            handshake_replies: self.routed_count(RoutedKind::Handshake),
            dropped_foreign: dropped(Dropped::Foreign),
            dropped_late: dropped(Dropped::Late),
            dropped_wrong_server: dropped(Dropped::WrongServer),
            dropped_unknown_server: dropped(Dropped::UnknownServer),
            malformed: self.routed_count(RoutedKind::Malformed),
            servers_lost: self.notes_of(|n| matches!(n, Note::Lost(..))).len() as u64,
            // A HANDSHAKE sent while the server was ready is a liveness probe.
            liveness_probes: self
                .txs
                .iter()
                .filter(|t| t.request.is_none() && t.state == Some(ServerState::Ready))
                .count() as u64,
        }
    }

    pub fn check_accounting(&self) {
        assert_eq!(*self.pool.stats(), self.expected_stats());
        let stats = self.pool.stats();
        assert_eq!(self.pool.in_flight() as u64, stats.started - stats.ended);
    }

    /// Every started request has its one outcome, the pool is empty, the counters add up.
    pub fn check_quiescent(&self) {
        for (serial, started) in &self.reqs {
            assert!(
                self.done_serials.contains(serial),
                "serial {serial} (started {:?}) never ended",
                started.at
            );
        }
        assert_eq!(self.done.len(), self.reqs.len());
        assert_eq!(self.pool.in_flight(), 0);
        assert_eq!(self.pool.free_slots(), self.pool.capacity());
        self.check_accounting();
    }
}

pub fn reply_frames(kind: &str, id: &str, payload: &[u8]) -> Vec<Vec<u8>> {
    let header = format!(
        r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"{CLIENT}","senderID":"srv","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#
    );
    vec![
        Vec::new(),
        header.into_bytes(),
        payload.to_vec(),
        Vec::new(),
    ]
}

pub fn default_sim(seed: u64, capacity: usize, link: LinkCfg) -> Sim {
    Sim::new(seed, capacity, Config::default(), link)
}

/// Runs until every server of `srvs` is Ready.
pub fn run_until_ready(sim: &mut Sim, srvs: &[usize]) {
    let ids: Vec<ServerId> = srvs.iter().map(|&s| sim.servers[s].id).collect();
    let limit = sim.now + Duration::from_secs(10);
    let ready = sim.run_while(limit, |s| {
        ids.iter()
            .any(|&id| s.pool.server_state(id) != Some(ServerState::Ready))
    });
    assert!(ready, "servers never became ready");
}
