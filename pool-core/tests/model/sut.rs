//! The system under test: the pool plus what a driver following its polling contract would
//! remember (handles by model index, ids seen, outcomes delivered), how each transition is
//! applied to it (`Sut::run`), and the checks after every step (`PoolTest::apply`) and on the
//! state in between (`PoolTest::check_invariants`).
//!
//! Invariants (each is asserted, a failure names the transition):
//! * after every step the pool produced exactly what the model predicted: return value,
//!   completions, server events, finished fan-outs and transmits, compared after sorting only
//!   across servers and requests (`StepOut::normalized`);
//! * every request ends in exactly one completion, carrying its own value, id, server, Thing and
//!   fan-out; a reply completes only the request whose id it carries, from that request's server;
//! * every transmit is a well-formed header for its server; a HANDSHAKE goes only to a
//!   handshaking or ready server with a fresh id, a request only to a ready server under one id
//!   that no other message used; `poll_transmit` runs dry within `SERVERS + SLOTS` calls;
//! * a client deadline fires at the first `handle_timeout(now >= deadline)`, never earlier and
//!   never later;
//! * between steps: every `Stats` counter equals the model's, `started == ended + in_flight`,
//!   slots are free or occupied as the model says, server states, loads and Thing mappings are
//!   the model's, and `poll_timeout` is exactly the model's earliest deadline or timer.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use pool_core::pool::{
    Completion, Dropped, Event, FanoutId, Outcome, Pool, RequestId, RequestOptions, Routed,
    ServerId, ServerState, ThingId, TransmitKind,
};
use pool_core::{Duration, IdCodec, Instant, MessageIdText};
use proptest_state_machine::StateMachineTest;

use crate::fixture::*;
use crate::reference::{Ev, Expect, Model, PoolModel, Route, Status, StepOut, Tx};
use crate::transition::{Bad, ForeignId, Transition};

/// The pool plus what a driver would remember about it.
pub(crate) struct Sut {
    pub(crate) pool: Pool<Req, Mem>,
    pub(crate) now: Instant,
    /// Handles, by model index.
    pub(crate) servers: Vec<ServerId>,
    pub(crate) things: Vec<ThingId>,
    pub(crate) fanouts: Vec<FanoutId>,
    /// Request serials of each fan-out's members.
    pub(crate) members: Vec<Vec<usize>>,
    /// Per request serial: its handle (once seen), deadline and outcome (once delivered).
    pub(crate) requests: Vec<Option<RequestId>>,
    pub(crate) deadlines: Vec<Option<Instant>>,
    pub(crate) outcomes: Vec<Option<Outcome>>,
    /// HANDSHAKE ids sent, per server.
    pub(crate) handshake_ids: Vec<Vec<MessageIdText>>,
    /// Every message id transmitted, with its request serial (`None` for a HANDSHAKE).
    pub(crate) id_owner: HashMap<MessageIdText, Option<usize>>,
    pub(crate) buf: Vec<u8>,
    /// What the current step produced.
    pub(crate) step: StepOut,
    /// The last step left events undrained.
    pub(crate) backlog: bool,
}

impl Sut {
    pub(crate) fn new() -> Self {
        Sut {
            pool: new_pool(),
            now: Instant::ZERO,
            servers: Vec::new(),
            things: Vec::new(),
            fanouts: Vec::new(),
            members: Vec::new(),
            requests: Vec::new(),
            deadlines: Vec::new(),
            outcomes: Vec::new(),
            handshake_ids: Vec::new(),
            id_owner: HashMap::new(),
            buf: vec![0; pool_config().max_header_len],
            step: StepOut::default(),
            backlog: false,
        }
    }

    pub(crate) fn server_index(&self, id: ServerId) -> usize {
        self.servers
            .iter()
            .position(|&s| s == id)
            .unwrap_or_else(|| panic!("unknown server {id:?}"))
    }

    pub(crate) fn push_request(&mut self, id: Option<RequestId>, deadline: Option<Instant>) {
        self.requests.push(id);
        self.deadlines.push(deadline);
        self.outcomes.push(None);
    }

    /// Every request ends in exactly one completion, carrying back its own value.
    pub(crate) fn record(&mut self, c: Completion<Req>, model: &Model) {
        let serial = c.user.serial;
        assert!(
            serial < self.requests.len(),
            "completion for an unknown request {c:?}"
        );
        if let Some(first) = self.outcomes[serial] {
            panic!(
                "request {serial} got a second outcome {:?} after {first:?}",
                c.outcome
            );
        }
        match self.requests[serial] {
            Some(id) => assert_eq!(
                c.id, id,
                "completion of request {serial} carries another id"
            ),
            None => self.requests[serial] = Some(c.id),
        }
        let m = &model.requests[serial];
        assert_eq!(
            c.server, self.servers[m.server],
            "completion server of request {serial}"
        );
        assert_eq!(
            c.thing, self.things[m.thing],
            "completion thing of request {serial}"
        );
        assert_eq!(
            c.fanout,
            m.fanout.map(|f| self.fanouts[f]),
            "fan-out of request {serial}"
        );
        self.outcomes[serial] = Some(c.outcome);
        self.step.completions.push((serial, c.outcome));
    }

    pub(crate) fn route(&mut self, routed: Routed<Req>, model: &Model) -> Route {
        match routed {
            Routed::Completed(c) => {
                let serial = c.user.serial;
                self.record(c, model);
                Route::Completed(serial)
            }
            Routed::Handshake => Route::Handshake,
            Routed::Dropped(d) => Route::Dropped(d),
            Routed::Malformed(_) => Route::Malformed,
        }
    }

    pub(crate) fn message(&mut self, server: usize, frames: &[&[u8]], model: &Model) -> Expect {
        let routed = self
            .pool
            .handle_message(self.servers[server], frames, self.now);
        Expect::Routed(self.route(routed, model))
    }

    pub(crate) fn drain_transmits(&mut self) {
        for polled in 0.. {
            // At most one HANDSHAKE per server and one transmit per slot can be due.
            assert!(
                polled <= SERVERS + SLOTS,
                "poll_transmit never returns None"
            );
            let Some(tx) = self.pool.poll_transmit(&mut self.buf) else {
                break;
            };
            let server = tx.server;
            let message_id = tx.message_id;
            let header = tx.header.to_vec();
            let request = match tx.kind {
                TransmitKind::Handshake => None,
                TransmitKind::Request { id, user } => Some((id, user.serial)),
            };
            let index = self.server_index(server);
            let state = self.pool.server_state(server);
            let header: serde_json::Value =
                serde_json::from_slice(&header).expect("request header is JSON");
            assert_eq!(header["messageID"], message_id.as_str());
            assert_eq!(header["senderID"], CLIENT);
            assert_eq!(header["receiverID"], identity(index).as_str());
            match request {
                None => {
                    assert_eq!(header["messageType"], "HANDSHAKE");
                    // Handshaking, or a liveness probe to a ready server (busy or idle).
                    assert!(
                        matches!(
                            state,
                            Some(ServerState::Handshaking { .. } | ServerState::Ready)
                        ),
                        "HANDSHAKE to server {index} in state {state:?}"
                    );
                    let fresh = self.id_owner.insert(message_id, None).is_none();
                    assert!(fresh, "HANDSHAKE id {message_id} reused");
                    self.handshake_ids[index].push(message_id);
                    self.step.transmits.push((index, Tx::Handshake));
                }
                Some((id, serial)) => {
                    assert_eq!(header["messageType"], "OPERATION");
                    assert_eq!(
                        state,
                        Some(ServerState::Ready),
                        "request {serial} sent to server {index} that is not ready"
                    );
                    assert!(
                        serial < self.requests.len(),
                        "transmit of unknown request {serial}"
                    );
                    match self.requests[serial] {
                        Some(known) => assert_eq!(known, id, "request {serial} changed id"),
                        None => self.requests[serial] = Some(id),
                    }
                    assert_eq!(message_id, self.pool.message_id(id));
                    match self.id_owner.entry(message_id) {
                        Entry::Occupied(e) => assert_eq!(
                            *e.get(),
                            Some(serial),
                            "message id {message_id} of request {serial} was used before"
                        ),
                        Entry::Vacant(e) => {
                            e.insert(Some(serial));
                        }
                    }
                    self.step.transmits.push((index, Tx::Request(serial)));
                }
            }
        }
    }

    pub(crate) fn drain_events(&mut self, model: &Model) {
        // Server notifications first, then request outcomes, then finished fan-outs.
        let mut rank = 0;
        for polled in 0.. {
            // At most three notifications per server, one outcome per slot, one per fan-out.
            assert!(
                polled <= 3 * SERVERS + SLOTS + FANOUTS,
                "poll_event never returns None"
            );
            let Some(event) = self.pool.poll_event() else {
                break;
            };
            let this = match event {
                Event::Connect(_) | Event::ServerReady(_) | Event::ServerLost(..) => 0,
                Event::Completed(_) => 1,
                Event::FanoutDone(_) => 2,
            };
            assert!(
                this >= rank,
                "poll_event order: {event:?} after a later kind"
            );
            rank = this;
            match event {
                Event::Connect(s) => {
                    let i = self.server_index(s);
                    self.step.events.push((i, Ev::Connect));
                }
                Event::ServerReady(s) => {
                    let i = self.server_index(s);
                    self.step.events.push((i, Ev::Ready));
                }
                Event::ServerLost(s, reason) => {
                    let i = self.server_index(s);
                    self.step.events.push((i, Ev::Lost(reason)));
                }
                Event::Completed(c) => self.record(c, model),
                Event::FanoutDone(f) => {
                    let i = self
                        .fanouts
                        .iter()
                        .position(|&x| x == f)
                        .expect("known fan-out");
                    for &serial in &self.members[i] {
                        assert!(
                            self.outcomes[serial].is_some(),
                            "fan-out {i} done before its member {serial} ended"
                        );
                    }
                    self.step.fanouts_done.push(i);
                }
            }
        }
    }

    pub(crate) fn foreign_id(&self, id: ForeignId) -> String {
        match id {
            ForeignId::Garbage => "my-id-1".to_owned(),
            ForeignId::OtherPool => IdCodec::new(OTHER_NONCE).encode(0, 0).as_str().to_owned(),
            ForeignId::OtherClient => "11111111-2222-4333-8444-555555555555".to_owned(),
            ForeignId::HandshakeId => self
                .handshake_ids
                .iter()
                .flatten()
                .next()
                .copied()
                .unwrap_or_else(|| IdCodec::new(NONCE).encode(u32::MAX, 7))
                .as_str()
                .to_owned(),
        }
    }

    /// Carries out one transition and returns what the command returned.
    pub(crate) fn run(&mut self, t: &Transition, model: &Model) -> Expect {
        let now = self.now;
        match *t {
            Transition::AddServer => {
                let name = identity(self.servers.len());
                match self.pool.add_server(&name, now) {
                    Ok(id) => {
                        self.servers.push(id);
                        self.handshake_ids.push(Vec::new());
                        assert_eq!(self.pool.server_identity(id), Some(name.as_str()));
                        Expect::AddServer(Ok(id.index()))
                    }
                    Err(e) => Expect::AddServer(Err(e)),
                }
            }
            Transition::RemoveServer(i) => {
                Expect::RemoveServer(self.pool.remove_server(self.servers[i], now))
            }
            Transition::MapThing(i) => match self.pool.map_thing(self.servers[i]) {
                Ok(id) => {
                    self.things.push(id);
                    Expect::MapThing(Ok(id.index()))
                }
                Err(e) => Expect::MapThing(Err(e)),
            },
            Transition::UnmapThing(j) => Expect::UnmapThing(self.pool.unmap_thing(self.things[j])),
            Transition::Connect(i) => {
                self.pool.handle_connected(self.servers[i], now);
                Expect::Nothing
            }
            Transition::Disconnect(i) => {
                let server = self.servers[i];
                let before = self.pool.server_load(server);
                let was_backoff = matches!(
                    self.pool.server_state(server),
                    Some(ServerState::Backoff { .. })
                );
                let disconnected = self.pool.stats().disconnected;
                self.pool.handle_disconnected(server, now);
                // At once, before any draining: every request in flight on the server ended
                // `Disconnected`; the unsent ones wait for the reconnect.
                if let (Some((waiting, queued, sent)), false) = (before, was_backoff) {
                    assert_eq!(
                        self.pool.server_load(server),
                        Some((waiting + queued, 0, 0))
                    );
                    assert_eq!(self.pool.stats().disconnected, disconnected + sent as u64);
                }
                Expect::Nothing
            }
            Transition::SendFailed { server, request } => {
                let request = request.map(|k| self.requests[k].expect("known request id"));
                self.pool
                    .handle_send_failed(self.servers[server], request.as_slice(), now);
                Expect::Nothing
            }
            Transition::HandshakeReply { server, latest } => {
                let ids = &self.handshake_ids[server];
                let id = if latest { ids.last() } else { ids.first() }
                    .copied()
                    .unwrap_or_else(|| IdCodec::new(NONCE).encode(u32::MAX, 0xdead));
                let header = reply_header("HANDSHAKE", id.as_str());
                self.message(server, &[b"", header.as_bytes(), b"null", b""], model)
            }
            Transition::Start {
                thing,
                timeout_ms,
                oneway,
            } => {
                let serial = self.requests.len();
                let deadline = timeout_ms.map(|ms| now + Duration::from_millis(ms));
                let options = RequestOptions { deadline, oneway };
                match self
                    .pool
                    .start_request(self.things[thing], Req::new(serial), options, now)
                {
                    Ok(id) => {
                        assert!(self.pool.is_live(id));
                        self.push_request(Some(id), deadline);
                        Expect::Start(Ok(()))
                    }
                    Err(e) => {
                        assert_eq!(
                            e.user.serial, serial,
                            "a refused request comes back untouched"
                        );
                        Expect::Start(Err(e.kind))
                    }
                }
            }
            Transition::Fanout { timeout_ms, oneway } => {
                let first = self.requests.len();
                let deadline = timeout_ms.map(|ms| now + Duration::from_millis(ms));
                let options = RequestOptions { deadline, oneway };
                let mut made: Vec<(ThingId, RequestId)> = Vec::new();
                let result = self.pool.start_fanout_all(
                    |thing, id| {
                        made.push((thing, id));
                        Req::new(first + made.len() - 1)
                    },
                    options,
                    now,
                );
                match result {
                    Ok(f) => {
                        self.fanouts.push(f);
                        self.members.push((first..first + made.len()).collect());
                        for (n, (thing, id)) in made.into_iter().enumerate() {
                            let serial = first + n;
                            assert!(
                                serial < model.requests.len(),
                                "fan-out has too many members"
                            );
                            assert_eq!(thing, self.things[model.requests[serial].thing]);
                            self.push_request(Some(id), deadline);
                        }
                        Expect::Fanout(Ok(()))
                    }
                    Err(kind) => {
                        assert!(made.is_empty(), "a refused fan-out built requests");
                        Expect::Fanout(Err(kind))
                    }
                }
            }
            Transition::Reply { request, kind, via } => {
                let id = self.requests[request].expect("known request id");
                let message_id = self.pool.message_id(id);
                let server = via.unwrap_or(model.requests[request].server);
                let (kind, payload) = kind.wire();
                let header = reply_header(kind, message_id.as_str());
                self.message(server, &[b"", header.as_bytes(), payload, b""], model)
            }
            Transition::Foreign { server, id } => {
                let header = reply_header("REPLY", &self.foreign_id(id));
                self.message(server, &[b"", header.as_bytes(), b"12.5", b""], model)
            }
            Transition::Malformed { server, bad } => {
                let good = reply_header("REPLY", IdCodec::new(NONCE).encode(0, 0).as_str());
                let good = good.as_bytes();
                let timeout = reply_header("TIMEOUT", IdCodec::new(NONCE).encode(0, 0).as_str());
                let unknown = reply_header("BOGUS", IdCodec::new(NONCE).encode(0, 0).as_str());
                let frames: Vec<&[u8]> = match bad {
                    Bad::NoFrames => vec![],
                    Bad::OneFrame => vec![good],
                    Bad::ThreeFrames => vec![b"", good, b"null"],
                    Bad::FiveFrames => vec![b"", good, b"null", b"", b""],
                    Bad::Delimiter => vec![b"x", good, b"null", b""],
                    Bad::NotJson => vec![b"", b"not json {", b"null", b""],
                    Bad::UnknownType => vec![b"", unknown.as_bytes(), b"null", b""],
                    Bad::TimeoutPayload => vec![b"", timeout.as_bytes(), br#""soon""#, b""],
                };
                self.message(server, &frames, model)
            }
            Transition::Cancel(k) => {
                let id = self.requests[k].expect("known request id");
                Expect::Cancel(self.pool.cancel(id, now))
            }
            Transition::Tick(ms) => {
                self.now = now + Duration::from_millis(ms);
                self.pool.handle_timeout(self.now);
                Expect::Nothing
            }
            Transition::Wake { early } => {
                if let Some(at) = self.pool.poll_timeout() {
                    let at = if early {
                        at - Duration::from_micros(1)
                    } else {
                        at
                    };
                    self.now = now.max(at);
                }
                self.pool.handle_timeout(self.now);
                Expect::Nothing
            }
            Transition::Hold { .. } | Transition::DrainTransmits | Transition::Silence(_) => {
                Expect::Nothing
            }
        }
    }
}

pub(crate) struct PoolTest;

impl StateMachineTest for PoolTest {
    type SystemUnderTest = Sut;
    type Reference = PoolModel;

    fn init_test(model: &Model) -> Sut {
        let mut sut = Sut::new();
        for t in &model.setup {
            sut.run(t, model);
            sut.drain_transmits();
            sut.drain_events(model);
        }
        sut.step = StepOut::default();
        sut
    }

    fn apply(mut sut: Sut, model: &Model, t: Transition) -> Sut {
        sut.step = StepOut::default();
        // Outcomes of earlier steps may still be waiting in `poll_event`.
        let backlog = sut.backlog;
        sut.backlog = model.hold_events;
        let before = *sut.pool.stats();
        sut.step.expect = sut.run(&t, model);
        // The polling contract: transmits first (unless the driver is holding them), then events.
        if !model.hold_tx {
            sut.drain_transmits();
        }
        if !model.hold_events {
            sut.drain_events(model);
        }

        let got = sut.step.normalized();
        let want = model.out.normalized();
        assert_eq!(got.expect, want.expect, "what {t:?} returned");
        assert_eq!(got.completions, want.completions, "outcomes of {t:?}");
        assert_eq!(got.events, want.events, "server events of {t:?}");
        assert_eq!(
            got.fanouts_done, want.fanouts_done,
            "fan-outs finished by {t:?}"
        );
        assert_eq!(got.transmits, want.transmits, "transmits after {t:?}");

        let stats = *sut.pool.stats();
        match got.expect {
            Expect::Routed(Route::Dropped(Dropped::Late)) => {
                assert_eq!(
                    stats.dropped_late,
                    before.dropped_late + 1,
                    "late reply not counted"
                );
            }
            Expect::Routed(Route::Malformed) => {
                assert_eq!(
                    stats.malformed,
                    before.malformed + 1,
                    "malformed input not counted"
                );
            }
            Expect::Routed(Route::Completed(serial)) => {
                // A reply reaches exactly the request whose id it carries, from its own server.
                let Transition::Reply { request, via, .. } = t else {
                    panic!("{t:?} completed request {serial}")
                };
                assert_eq!(serial, request);
                assert!(via.is_none_or(|v| v == model.requests[request].server));
            }
            _ => {}
        }

        // Client deadlines: a request times out at the first `handle_timeout(now >= deadline)`,
        // never before and never later.
        let is_tick = matches!(t, Transition::Tick(_) | Transition::Wake { .. });
        for &(serial, outcome) in &got.completions {
            if let Outcome::Timeout { .. } = outcome {
                assert!(
                    is_tick || backlog,
                    "request {serial} timed out outside handle_timeout ({t:?})"
                );
                let deadline = sut.deadlines[serial].expect("a timeout needs a deadline");
                assert!(
                    deadline <= sut.now,
                    "request {serial} timed out before its deadline"
                );
            }
        }
        if is_tick {
            for serial in 0..sut.outcomes.len() {
                let live = match sut.requests[serial] {
                    Some(id) => sut.pool.is_live(id),
                    None => sut.outcomes[serial].is_none() && !model.hold_events,
                };
                if live {
                    assert!(
                        sut.deadlines[serial].is_none_or(|d| d > sut.now),
                        "request {serial} is still live after handle_timeout past its deadline"
                    );
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let pool = &sut.pool;
        assert_eq!(sut.servers.len(), model.servers.len());
        assert_eq!(sut.things.len(), model.things.len());
        assert_eq!(sut.requests.len(), model.requests.len());
        assert_eq!(sut.fanouts.len(), model.fanouts.len());

        // Every counter.
        let stats = *pool.stats();
        assert_eq!(stats, model.stats, "stats");
        assert_eq!(
            stats.started,
            stats.ended + pool.in_flight() as u64,
            "started == ended + live"
        );

        // Slots: live requests plus ended ones whose completion has not been polled.
        let live = model.live_count();
        assert_eq!(pool.capacity(), SLOTS);
        assert_eq!(pool.in_flight(), live, "in_flight");
        assert!(pool.in_flight() <= pool.capacity());
        assert_eq!(
            pool.free_slots() + model.occupied(),
            pool.capacity(),
            "free slots + occupied"
        );
        if !model.hold_events {
            assert_eq!(
                pool.free_slots() + live,
                pool.capacity(),
                "slots released when polled"
            );
        }

        // Servers and Things.
        for (i, m) in model.servers.iter().enumerate() {
            let id = sut.servers[i];
            assert_eq!(id.index(), m.slot, "server {i} table index");
            if m.alive {
                assert_eq!(pool.server_state(id), Some(m.state), "state of server {i}");
                assert_eq!(
                    pool.server_load(id),
                    Some(model.load(i)),
                    "load of server {i}"
                );
            } else {
                assert_eq!(pool.server_state(id), None, "removed server {i}");
                assert_eq!(pool.server_load(id), None, "removed server {i}");
            }
        }
        assert_eq!(
            pool.servers().count(),
            model.servers.iter().filter(|s| s.alive).count()
        );
        for (j, m) in model.things.iter().enumerate() {
            let id = sut.things[j];
            assert_eq!(id.index(), m.slot, "thing {j} table index");
            let want = m.mapped.then(|| sut.servers[m.server]);
            assert_eq!(pool.thing_server(id), want, "server of thing {j}");
        }
        assert_eq!(
            pool.things().count(),
            model.things.iter().filter(|t| t.mapped).count()
        );

        // Requests: exactly one outcome once ended (and polled), none while live.
        for (k, m) in model.requests.iter().enumerate() {
            let want = match m.status {
                Status::Ended(outcome) if m.reported => Some(outcome),
                _ => None,
            };
            assert!(!m.reported || !m.status.live());
            assert_eq!(sut.outcomes[k], want, "outcome of request {k}");
            assert_eq!(
                sut.requests[k].is_some(),
                m.id_known,
                "id of request {k} seen"
            );
            if let Some(id) = sut.requests[k] {
                assert_eq!(pool.is_live(id), m.status.live(), "is_live of request {k}");
            }
        }

        // Timers: the earliest live deadline or server timer, exactly.
        let earliest_deadline = model
            .requests
            .iter()
            .filter(|r| r.status.live())
            .filter_map(|r| r.deadline)
            .min();
        let timeout = pool.poll_timeout();
        if let Some(deadline) = earliest_deadline {
            assert!(
                timeout.is_some_and(|t| t <= deadline),
                "poll_timeout {timeout:?} after {deadline:?}"
            );
        }
        assert_eq!(timeout, model.next_timer(), "poll_timeout");
    }
}
