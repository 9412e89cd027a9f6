//! The reference model: the pool's rules written the plain way (linear scans over every server
//! and request ever made, no slots, lists or heaps), and for each transition what the pool must
//! do, in `Model::step`: the return value, routed messages, transmits, events, completions,
//! and the state, loads, timers, slot accounting and `Stats` counters afterwards.
//!
//! Invariants:
//! * the model never looks at the pool: everything the test compares comes from `Model::step`
//!   alone, and the pool is checked against it (`sut.rs`), never the other way round;
//! * a request ends at most once (`Model::end` asserts it) and its completion is reported once
//!   (`reported`), through `poll_event` or at once through `handle_message`;
//! * `done`, `done_fanouts` and each server's `pending` bits are what `poll_event` still owes;
//!   they empty only in `drain_events`, which the driver skips while holding events;
//! * `preconditions` rejects exactly the transitions that name something the model has never
//!   seen (an index past its lists, a request id the driver does not know), so shrinking cannot
//!   produce a step the driver could not take; names of removed or ended things stay valid.

use pool_core::pool::{
    AddServerError, Dropped, LostReason, MapThingError, Outcome, ServerState, StartErrorKind, Stats,
};
use pool_core::{Duration, Instant};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use crate::fixture::*;
use crate::strategies;
use crate::transition::{Kind, Transition};

pub(crate) const PENDING_LOST: u8 = 1;
pub(crate) const PENDING_CONNECT: u8 = 2;
pub(crate) const PENDING_READY: u8 = 4;

#[derive(Clone, Debug)]
pub(crate) struct MServer {
    /// Index in the pool's server table.
    pub(crate) slot: usize,
    pub(crate) alive: bool,
    pub(crate) state: ServerState,
    /// Next handshake resend or end of backoff.
    pub(crate) timer: Option<Instant>,
    /// Losses since the server was last ready (drives the backoff).
    pub(crate) attempt: u32,
    /// A HANDSHAKE waits for `poll_transmit`.
    pub(crate) handshake_due: bool,
    pub(crate) pending: u8,
    pub(crate) lost_reason: LostReason,
    /// When anything well-formed last came from it (liveness).
    pub(crate) heard: Instant,
    /// When the unanswered liveness probe went out.
    pub(crate) probing: Option<Instant>,
    /// Fell silent (`Transition::Silence`) and not lost since: generation only.
    pub(crate) silent: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct MThing {
    /// Index in the pool's Thing table.
    pub(crate) slot: usize,
    pub(crate) server: usize,
    pub(crate) mapped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Server not ready.
    Waiting,
    /// Server ready; not yet handed to the transport.
    Queued,
    /// Handed to the transport, awaiting the reply.
    Sent,
    Ended(Outcome),
}

impl Status {
    pub(crate) fn live(self) -> bool {
        !matches!(self, Status::Ended(_))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MRequest {
    pub(crate) thing: usize,
    pub(crate) server: usize,
    pub(crate) fanout: Option<usize>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) oneway: bool,
    pub(crate) status: Status,
    /// Whether the driver has seen the request's `RequestId` (from `start_request`, or from
    /// `start_fanout*`'s `make`, which is given each member's id).
    pub(crate) id_known: bool,
    /// Whether its completion has been handed to the driver (and its slot freed).
    pub(crate) reported: bool,
    /// Send order among the requests of its server (lower first): start order, except that a
    /// request whose send failed goes to the front.
    pub(crate) order: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct MFanout {
    pub(crate) remaining: usize,
    /// `FanoutDone` has been polled (the fan-out entry is free again).
    pub(crate) reported: bool,
}

/// What a command returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Expect {
    #[default]
    Nothing,
    AddServer(Result<usize, AddServerError>),
    RemoveServer(bool),
    MapThing(Result<usize, MapThingError>),
    UnmapThing(bool),
    Start(Result<(), StartErrorKind>),
    Fanout(Result<(), StartErrorKind>),
    Routed(Route),
    Cancel(bool),
}

/// What `handle_message` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Completed(usize),
    Handshake,
    Dropped(Dropped),
    Malformed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Lost(LostReason),
    Connect,
    Ready,
}

impl Ev {
    pub(crate) fn rank(self) -> u8 {
        match self {
            Ev::Lost(_) => 0,
            Ev::Connect => 1,
            Ev::Ready => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tx {
    Handshake,
    Request(usize),
}

/// Everything one step produced (predicted by the model, observed on the pool).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StepOut {
    pub(crate) expect: Expect,
    pub(crate) completions: Vec<(usize, Outcome)>,
    pub(crate) events: Vec<(usize, Ev)>,
    pub(crate) fanouts_done: Vec<usize>,
    pub(crate) transmits: Vec<(usize, Tx)>,
}

impl StepOut {
    /// Order does not matter across servers and requests; sort for comparison.
    pub(crate) fn normalized(&self) -> StepOut {
        let mut out = self.clone();
        out.completions.sort_by_key(|&(serial, _)| serial);
        out.events.sort_by_key(|&(server, ev)| (server, ev.rank()));
        out.fanouts_done.sort_unstable();
        out.transmits.sort_unstable();
        out
    }
}

#[derive(Clone)]
pub(crate) struct Model {
    /// The commands that built the initial state (replayed on the pool by `init_test`).
    pub(crate) setup: Vec<Transition>,
    pub(crate) now: Instant,
    /// The driver does not drain `poll_transmit` after each step.
    pub(crate) hold_tx: bool,
    /// The driver does not drain `poll_event` after each step either.
    pub(crate) hold_events: bool,
    pub(crate) servers: Vec<MServer>,
    pub(crate) server_table: [Option<usize>; SERVERS],
    pub(crate) things: Vec<MThing>,
    pub(crate) thing_table: [Option<usize>; THINGS],
    pub(crate) requests: Vec<MRequest>,
    pub(crate) fanouts: Vec<MFanout>,
    pub(crate) stats: Stats,
    /// Outcomes waiting for `poll_event`.
    pub(crate) done: Vec<(usize, Outcome)>,
    /// Finished fan-outs waiting for `poll_event`.
    pub(crate) done_fanouts: Vec<usize>,
    /// What the last step produced.
    pub(crate) out: StepOut,
}

pub(crate) fn backoff(attempt: u32) -> u64 {
    // Exponential from `backoff_min`, capped at `backoff_max`.
    let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
    BACKOFF_MIN.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Only the setup: proptest prints the initial state of a failing case, and the transitions
/// after it tell the rest.
impl core::fmt::Debug for Model {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// A pool with `servers` servers (not connected yet) and a Thing on server `i % servers`
    /// for each `i` in `things`.
    pub(crate) fn with_setup(servers: usize, things: &[usize]) -> Self {
        let mut model = Model::new();
        let mut setup = vec![Transition::AddServer; servers];
        if servers > 0 {
            setup.extend(things.iter().map(|&i| Transition::MapThing(i % servers)));
        }
        for t in &setup {
            model.step(t);
        }
        model.setup = setup;
        model.out = StepOut::default();
        model
    }

    pub(crate) fn new() -> Self {
        Model {
            setup: Vec::new(),
            now: Instant::ZERO,
            hold_tx: false,
            hold_events: false,
            servers: Vec::new(),
            server_table: [None; SERVERS],
            things: Vec::new(),
            thing_table: [None; THINGS],
            requests: Vec::new(),
            fanouts: Vec::new(),
            stats: Stats::default(),
            done: Vec::new(),
            done_fanouts: Vec::new(),
            out: StepOut::default(),
        }
    }

    pub(crate) fn live_count(&self) -> usize {
        self.requests.iter().filter(|r| r.status.live()).count()
    }

    pub(crate) fn load(&self, server: usize) -> (usize, usize, usize) {
        let count = |status: Status| {
            self.requests
                .iter()
                .filter(|r| r.server == server && r.status == status)
                .count()
        };
        (
            count(Status::Waiting),
            count(Status::Queued),
            count(Status::Sent),
        )
    }

    /// The earliest live request deadline or server timer.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        let requests = self
            .requests
            .iter()
            .filter(|r| r.status.live())
            .filter_map(|r| r.deadline);
        let servers = self
            .servers
            .iter()
            .filter(|s| s.alive)
            .filter_map(|s| s.timer);
        requests.chain(servers).min()
    }

    pub(crate) fn notify(&mut self, server: usize, bit: u8) {
        let s = &mut self.servers[server];
        match bit {
            PENDING_LOST => s.pending &= !(PENDING_READY | PENDING_CONNECT),
            PENDING_CONNECT => s.pending &= !PENDING_READY,
            _ => {}
        }
        s.pending |= bit;
    }

    /// Slots in use: live requests and ended ones whose completion has not been polled.
    pub(crate) fn occupied(&self) -> usize {
        self.requests.iter().filter(|r| !r.reported).count()
    }

    /// Ends a request; its completion comes from `poll_event`.
    pub(crate) fn finish(&mut self, k: usize, outcome: Outcome) {
        self.end(k, outcome);
        self.done.push((k, outcome));
    }

    /// Ends a request whose completion `handle_message` returns at once.
    pub(crate) fn finish_now(&mut self, k: usize, outcome: Outcome) {
        self.end(k, outcome);
        self.report(k, outcome);
    }

    pub(crate) fn report(&mut self, k: usize, outcome: Outcome) {
        let request = &mut self.requests[k];
        request.reported = true;
        request.id_known = true;
        self.out.completions.push((k, outcome));
    }

    pub(crate) fn end(&mut self, k: usize, outcome: Outcome) {
        let request = &mut self.requests[k];
        assert!(request.status.live(), "model: request {k} ended twice");
        request.status = Status::Ended(outcome);
        let fanout = request.fanout;
        let st = &mut self.stats;
        st.ended += 1;
        let counter = match outcome {
            Outcome::Reply => &mut st.replies,
            Outcome::Exception => &mut st.exceptions,
            Outcome::InvalidMessage => &mut st.invalid_messages,
            Outcome::ServerTimeout(_) => &mut st.server_timeouts,
            Outcome::Timeout { .. } => &mut st.timeouts,
            Outcome::Cancelled => &mut st.cancelled,
            Outcome::Disconnected => &mut st.disconnected,
            Outcome::Closed => &mut st.closed,
            Outcome::Sent => &mut st.oneway_sent,
            Outcome::Unsendable => &mut st.unsendable,
        };
        *counter += 1;
        if let Some(f) = fanout {
            let fan = &mut self.fanouts[f];
            fan.remaining -= 1;
            if fan.remaining == 0 {
                self.done_fanouts.push(f);
            }
        }
    }

    pub(crate) fn queue_handshake(&mut self, server: usize) {
        let now = self.now;
        let s = &mut self.servers[server];
        s.handshake_due = true;
        let resend = now + Duration::from_micros(HANDSHAKE_INTERVAL);
        let give_up = match s.state {
            ServerState::Handshaking { since } => since + Duration::from_micros(HANDSHAKE_TIMEOUT),
            _ => resend,
        };
        s.timer = Some(resend.min(give_up));
    }

    pub(crate) fn become_ready(&mut self, server: usize) {
        let now = self.now;
        let s = &mut self.servers[server];
        s.state = ServerState::Ready;
        s.attempt = 0;
        s.handshake_due = false;
        s.heard = now;
        s.probing = None;
        s.timer = Some(now + Duration::from_micros(LIVENESS));
        for r in self.requests.iter_mut().filter(|r| r.server == server) {
            if r.status == Status::Waiting {
                r.status = Status::Queued;
            }
        }
        self.notify(server, PENDING_READY);
    }

    pub(crate) fn lose(&mut self, server: usize, reason: LostReason) {
        if matches!(self.servers[server].state, ServerState::Backoff { .. }) {
            return;
        }
        self.servers[server].handshake_due = false;
        for k in 0..self.requests.len() {
            if self.requests[k].server != server {
                continue;
            }
            match self.requests[k].status {
                Status::Queued => self.requests[k].status = Status::Waiting,
                Status::Sent => self.finish(k, Outcome::Disconnected),
                _ => {}
            }
        }
        let now = self.now;
        let s = &mut self.servers[server];
        // The reconnect reaches a fresh connection (or process): it answers again.
        s.silent = false;
        let until = now + Duration::from_micros(backoff(s.attempt));
        s.attempt = s.attempt.saturating_add(1);
        s.state = ServerState::Backoff { until };
        s.timer = Some(until);
        s.lost_reason = reason;
        self.stats.servers_lost += 1;
        self.notify(server, PENDING_LOST);
    }

    pub(crate) fn timer_fired(&mut self, server: usize) {
        match self.servers[server].state {
            ServerState::Handshaking { since } => {
                if self.now.saturating_since(since) >= Duration::from_micros(HANDSHAKE_TIMEOUT) {
                    self.lose(server, LostReason::HandshakeTimeout);
                } else {
                    self.queue_handshake(server);
                }
            }
            ServerState::Backoff { .. } => {
                let s = &mut self.servers[server];
                s.state = ServerState::Connecting;
                s.timer = None;
                self.notify(server, PENDING_CONNECT);
            }
            ServerState::Ready => self.check_liveness(server),
            ServerState::Connecting => self.servers[server].timer = None,
        }
    }

    /// Liveness: probe a ready server that has been quiet for the interval, whether or not
    /// requests are in flight to it (a busy server is probed like an idle one); lose it if
    /// nothing at all comes back within the timeout.
    pub(crate) fn check_liveness(&mut self, server: usize) {
        let now = self.now;
        let (interval, timeout) = (
            Duration::from_micros(LIVENESS),
            Duration::from_micros(PROBE_TIMEOUT),
        );
        let s = &mut self.servers[server];
        let next = if let Some(since) = s.probing {
            if now.saturating_since(since) >= timeout {
                self.lose(server, LostReason::Unresponsive);
                return;
            }
            since + timeout
        } else if now.saturating_since(s.heard) >= interval {
            s.probing = Some(now);
            s.handshake_due = true;
            self.stats.liveness_probes += 1;
            now + timeout
        } else {
            s.heard + interval
        };
        self.servers[server].timer = Some(next);
    }

    /// Something well-formed came from a live server: it is alive.
    pub(crate) fn heard_from(&mut self, server: usize) {
        let now = self.now;
        let s = &mut self.servers[server];
        s.heard = now;
        s.probing = None;
    }

    pub(crate) fn handle_timeout(&mut self) {
        let now = self.now;
        for k in 0..self.requests.len() {
            let r = &self.requests[k];
            if r.status.live() && r.deadline.is_some_and(|d| d <= now) {
                let sent = r.status == Status::Sent;
                self.finish(k, Outcome::Timeout { sent });
            }
        }
        let mut due: Vec<usize> = (0..self.servers.len())
            .filter(|&i| self.servers[i].alive && self.servers[i].timer.is_some_and(|t| t <= now))
            .collect();
        due.sort_by_key(|&i| self.servers[i].slot);
        for i in due {
            self.timer_fired(i);
        }
    }

    pub(crate) fn drain_transmits(&mut self) {
        for i in 0..self.servers.len() {
            let s = &mut self.servers[i];
            if s.alive && s.handshake_due {
                s.handshake_due = false;
                self.stats.handshakes_sent += 1;
                self.out.transmits.push((i, Tx::Handshake));
            }
        }
        let mut queued: Vec<usize> = (0..self.requests.len())
            .filter(|&k| self.requests[k].status == Status::Queued)
            .collect();
        queued.sort_by_key(|&k| self.requests[k].order);
        for k in queued {
            let server = self.requests[k].server;
            let in_flight = self
                .requests
                .iter()
                .filter(|r| r.server == server && r.status == Status::Sent)
                .count();
            if in_flight >= IN_FLIGHT_CAP {
                continue;
            }
            let r = &mut self.requests[k];
            r.status = Status::Sent;
            r.id_known = true;
            let (server, oneway) = (r.server, r.oneway);
            self.stats.requests_sent += 1;
            self.out.transmits.push((server, Tx::Request(k)));
            if oneway {
                self.finish(k, Outcome::Sent);
            }
        }
    }

    pub(crate) fn drain_events(&mut self) {
        for (k, outcome) in core::mem::take(&mut self.done) {
            self.report(k, outcome);
        }
        for f in core::mem::take(&mut self.done_fanouts) {
            self.fanouts[f].reported = true;
            self.out.fanouts_done.push(f);
        }
        for i in 0..self.servers.len() {
            let pending = core::mem::take(&mut self.servers[i].pending);
            if pending & PENDING_LOST != 0 {
                self.out
                    .events
                    .push((i, Ev::Lost(self.servers[i].lost_reason)));
            }
            if pending & PENDING_CONNECT != 0 {
                self.out.events.push((i, Ev::Connect));
            }
            if pending & PENDING_READY != 0 {
                self.out.events.push((i, Ev::Ready));
            }
        }
    }

    pub(crate) fn add_request(
        &mut self,
        thing: usize,
        fanout: Option<usize>,
        timeout_ms: Option<u64>,
        oneway: bool,
    ) {
        let server = self.things[thing].server;
        let ready = self.servers[server].state == ServerState::Ready;
        self.requests.push(MRequest {
            thing,
            server,
            fanout,
            deadline: timeout_ms.map(|ms| self.now + Duration::from_millis(ms)),
            oneway,
            status: if ready {
                Status::Queued
            } else {
                Status::Waiting
            },
            id_known: true,
            reported: false,
            order: self.requests.len() as i64,
        });
        self.stats.started += 1;
    }

    /// The routing of a well-formed message from `server` about request `k` (`None`: foreign).
    pub(crate) fn route_reply(&mut self, server: usize, request: Option<(usize, Kind)>) -> Route {
        if !self.servers[server].alive {
            self.stats.dropped_unknown_server += 1;
            return Route::Dropped(Dropped::UnknownServer);
        }
        self.heard_from(server);
        let Some((k, kind)) = request else {
            self.stats.dropped_foreign += 1;
            return Route::Dropped(Dropped::Foreign);
        };
        let r = &self.requests[k];
        if r.status != Status::Sent {
            self.stats.dropped_late += 1;
            Route::Dropped(Dropped::Late)
        } else if r.server != server {
            self.stats.dropped_wrong_server += 1;
            Route::Dropped(Dropped::WrongServer)
        } else {
            self.finish_now(k, kind.outcome());
            Route::Completed(k)
        }
    }

    pub(crate) fn step(&mut self, t: &Transition) {
        self.out = StepOut::default();
        let expect = match *t {
            Transition::AddServer => match self.server_table.iter().position(Option::is_none) {
                None => Expect::AddServer(Err(AddServerError::Full)),
                Some(slot) => {
                    let index = self.servers.len();
                    self.servers.push(MServer {
                        slot,
                        alive: true,
                        state: ServerState::Connecting,
                        timer: None,
                        attempt: 0,
                        handshake_due: false,
                        pending: 0,
                        lost_reason: LostReason::Disconnected,
                        heard: Instant(0),
                        probing: None,
                        silent: false,
                    });
                    self.server_table[slot] = Some(index);
                    self.notify(index, PENDING_CONNECT);
                    Expect::AddServer(Ok(slot))
                }
            },
            Transition::RemoveServer(i) => {
                if self.servers[i].alive {
                    for k in 0..self.requests.len() {
                        if self.requests[k].server == i && self.requests[k].status.live() {
                            self.finish(k, Outcome::Closed);
                        }
                    }
                    for thing in self.things.iter_mut().filter(|t| t.server == i && t.mapped) {
                        thing.mapped = false;
                        self.thing_table[thing.slot] = None;
                    }
                    let s = &mut self.servers[i];
                    s.alive = false;
                    s.pending = 0;
                    s.handshake_due = false;
                    s.timer = None;
                    self.server_table[s.slot] = None;
                    Expect::RemoveServer(true)
                } else {
                    Expect::RemoveServer(false)
                }
            }
            Transition::MapThing(i) => {
                if !self.servers[i].alive {
                    Expect::MapThing(Err(MapThingError::UnknownServer))
                } else if let Some(slot) = self.thing_table.iter().position(Option::is_none) {
                    self.thing_table[slot] = Some(self.things.len());
                    self.things.push(MThing {
                        slot,
                        server: i,
                        mapped: true,
                    });
                    Expect::MapThing(Ok(slot))
                } else {
                    Expect::MapThing(Err(MapThingError::Full))
                }
            }
            Transition::UnmapThing(j) => {
                let thing = &mut self.things[j];
                let mapped = thing.mapped;
                if mapped {
                    thing.mapped = false;
                    self.thing_table[thing.slot] = None;
                }
                Expect::UnmapThing(mapped)
            }
            Transition::Connect(i) => {
                let s = &mut self.servers[i];
                if s.alive && s.state == ServerState::Connecting {
                    s.state = ServerState::Handshaking { since: self.now };
                    self.queue_handshake(i);
                }
                Expect::Nothing
            }
            Transition::Disconnect(i) => {
                if self.servers[i].alive {
                    self.lose(i, LostReason::Disconnected);
                }
                Expect::Nothing
            }
            Transition::SendFailed { server, request } => {
                if self.servers[server].alive {
                    if let Some(k) = request {
                        let front = self.requests.iter().map(|r| r.order).min().unwrap_or(0) - 1;
                        let r = &mut self.requests[k];
                        if r.status == Status::Sent && r.server == server {
                            r.status = Status::Waiting;
                            r.order = front;
                        }
                    }
                    self.lose(server, LostReason::SendFailed);
                }
                Expect::Nothing
            }
            Transition::HandshakeReply { server, .. } => {
                let route = if self.servers[server].alive {
                    self.heard_from(server);
                    self.stats.handshake_replies += 1;
                    if matches!(self.servers[server].state, ServerState::Handshaking { .. }) {
                        self.become_ready(server);
                    }
                    Route::Handshake
                } else {
                    self.stats.dropped_unknown_server += 1;
                    Route::Dropped(Dropped::UnknownServer)
                };
                Expect::Routed(route)
            }
            Transition::Start {
                thing,
                timeout_ms,
                oneway,
            } => {
                if !self.things[thing].mapped {
                    self.stats.refused += 1;
                    Expect::Start(Err(StartErrorKind::UnknownThing))
                } else if self.occupied() == SLOTS {
                    self.stats.refused += 1;
                    Expect::Start(Err(StartErrorKind::Full))
                } else {
                    self.add_request(thing, None, timeout_ms, oneway);
                    Expect::Start(Ok(()))
                }
            }
            Transition::Fanout { timeout_ms, oneway } => {
                let members: Vec<usize> = self.thing_table.iter().flatten().copied().collect();
                let busy = self.fanouts.iter().filter(|f| !f.reported).count();
                if SLOTS - self.occupied() < members.len() || busy == FANOUTS {
                    self.stats.refused += 1;
                    Expect::Fanout(Err(StartErrorKind::Full))
                } else {
                    let f = self.fanouts.len();
                    self.fanouts.push(MFanout {
                        remaining: members.len(),
                        reported: false,
                    });
                    if members.is_empty() {
                        self.done_fanouts.push(f);
                    }
                    for thing in members {
                        self.add_request(thing, Some(f), timeout_ms, oneway);
                    }
                    Expect::Fanout(Ok(()))
                }
            }
            Transition::Reply { request, kind, via } => {
                let server = via.unwrap_or(self.requests[request].server);
                Expect::Routed(self.route_reply(server, Some((request, kind))))
            }
            Transition::Foreign { server, .. } => Expect::Routed(self.route_reply(server, None)),
            Transition::Malformed { .. } => {
                self.stats.malformed += 1;
                Expect::Routed(Route::Malformed)
            }
            Transition::Cancel(k) => {
                let live = self.requests[k].status.live();
                if live {
                    self.finish(k, Outcome::Cancelled);
                }
                Expect::Cancel(live)
            }
            Transition::Tick(ms) => {
                self.now = self.now + Duration::from_millis(ms);
                self.handle_timeout();
                Expect::Nothing
            }
            Transition::Wake { early } => {
                if let Some(at) = self.next_timer() {
                    let at = if early {
                        at - Duration::from_micros(1)
                    } else {
                        at
                    };
                    self.now = self.now.max(at);
                }
                self.handle_timeout();
                Expect::Nothing
            }
            Transition::Hold { events } => {
                self.hold_tx = true;
                self.hold_events |= events;
                Expect::Nothing
            }
            Transition::DrainTransmits => {
                self.hold_tx = false;
                self.hold_events = false;
                Expect::Nothing
            }
            Transition::Silence(i) => {
                let s = &mut self.servers[i];
                s.silent = s.alive;
                Expect::Nothing
            }
        };
        self.out.expect = expect;
        if !self.hold_tx {
            self.drain_transmits();
        }
        if !self.hold_events {
            self.drain_events();
        }
    }
}

pub(crate) struct PoolModel;

impl ReferenceStateMachine for PoolModel {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        strategies::init_state()
    }

    fn transitions(s: &Model) -> BoxedStrategy<Transition> {
        strategies::transitions(s)
    }

    fn preconditions(s: &Model, t: &Transition) -> bool {
        let server_ok = |i: usize| i < s.servers.len();
        let known = |k: usize| k < s.requests.len() && s.requests[k].id_known;
        match *t {
            Transition::RemoveServer(i)
            | Transition::MapThing(i)
            | Transition::Connect(i)
            | Transition::Disconnect(i)
            | Transition::HandshakeReply { server: i, .. }
            | Transition::Foreign { server: i, .. }
            | Transition::Malformed { server: i, .. }
            | Transition::Silence(i) => server_ok(i),
            Transition::SendFailed { server, request } => {
                server_ok(server) && request.is_none_or(known)
            }
            Transition::Start { thing, .. } | Transition::UnmapThing(thing) => {
                thing < s.things.len()
            }
            Transition::Reply { request, via, .. } => known(request) && via.is_none_or(server_ok),
            Transition::Cancel(k) => known(k),
            Transition::AddServer
            | Transition::Fanout { .. }
            | Transition::Tick(_)
            | Transition::Wake { .. }
            | Transition::Hold { .. }
            | Transition::DrainTransmits => true,
        }
    }

    fn apply(mut state: Model, t: &Transition) -> Model {
        state.step(t);
        state
    }
}
