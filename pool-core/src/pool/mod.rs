//! The sans-IO request pool.
//!
//! See [`Pool`] for the method families and the polling contract.

mod config;
mod deadlines;
mod engine;
mod error;
mod event;
mod fanout;
mod handles;
mod input;
mod list;
mod memory;
mod outgoing;
mod route;
mod stats;
mod transmit;

pub use config::{Config, MAX_HANDSHAKE_INTERVAL};
pub use error::{
    is_valid_identity, AddServerError, InvalidIdentity, MapThingError, StartError, StartErrorKind,
};
pub use event::{Completion, Dropped, Event, LostReason, Outcome, Routed};
pub use handles::{FanoutId, RequestId, ServerId, ThingId};
#[cfg(feature = "alloc")]
pub use memory::HeapMemory;
pub use memory::{
    Capacity, FanoutEntry, FixedMemory, Memory, ServerEntry, ServerState, Slot, ThingEntry,
    MAX_IDENTITY_LEN,
};
pub use stats::Stats;
pub use transmit::{Transmit, TransmitKind};

#[cfg(test)]
mod tests;

use engine::{fanout_links, slot_links, State, View};
use memory::{pending, Identity, SlotState};
#[cfg(feature = "bench-internals")]
pub use outgoing::Outgoing;

use crate::id::{IdCodec, MessageIdText};
use crate::time::Instant;
use crate::wire::{self, RequestFields, RequestHeader, RequestKind};
use crate::SplitMix64;

/// What the pool needs to know about a request to write its header.
///
/// The pool stores the caller's request value (`R`) in the request's slot from start to outcome
/// and hands it back in the [`Completion`]; this trait is how it reads the header fields when the
/// request goes out. A driver typically puts the waiter and the payload frames in `R`.
pub trait RequestSpec {
    /// The header fields (Thing, operation, objekt, content types, execution contexts).
    fn fields(&self) -> RequestFields<'_>;
}

/// How a request should be handled by the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestOptions {
    /// The client deadline: at the first `handle_timeout(now >= deadline)` the request ends
    /// `Timeout`. `None` means no client deadline (drivers should always set one).
    pub deadline: Option<Instant>,
    /// Oneway: no reply is expected; the request ends `Sent` once it is handed to the transport.
    pub oneway: bool,
}

/// The message-mapped request pool: a deterministic state machine with no I/O and no clock.
///
/// It owns message ids, waiters (as caller data `R` in slots), client deadlines, cancellation,
/// each server's connect → handshake → ready → lost → backoff cycle, the Thing → server map and
/// fan-out. A driver feeds it inputs and carries out its outputs.
///
/// # Method families (after quinn-proto's `Connection`)
///
/// * **Getters** (`&self`): [`stats`](Self::stats), [`server_state`](Self::server_state),
///   [`in_flight`](Self::in_flight), [`poll_timeout`](Self::poll_timeout), ...
/// * **Commands** from the application: [`add_server`](Self::add_server),
///   [`remove_server`](Self::remove_server), [`map_thing`](Self::map_thing),
///   [`start_request`](Self::start_request), [`start_fanout`](Self::start_fanout),
///   [`cancel`](Self::cancel).
/// * **Inputs** from the transport and the clock: [`handle_connected`](Self::handle_connected),
///   [`handle_disconnected`](Self::handle_disconnected),
///   [`handle_send_failed`](Self::handle_send_failed), [`handle_message`](Self::handle_message),
///   [`handle_timeout`](Self::handle_timeout).
/// * **Outputs**: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// # Polling contract
///
/// After every command or input, drain the outputs in this order: `poll_transmit` until `None`
/// (send each), then `poll_event` until `None` (act on each), then re-arm one timer at
/// `poll_timeout()` and call `handle_timeout(now)` when it fires. `now` must never decrease
/// between calls. Calling `handle_timeout` early or more often is harmless. Outputs left undrained
/// are not lost, but the pool cannot send or report anything until they are drained.
///
/// # Guarantees
///
/// * Every started request ends in exactly one [`Completion`]: returned by `handle_message` for
///   a reply, or yielded by `poll_event` for every other outcome. Nothing is delivered after a
///   cancel or a timeout: the late reply is dropped and counted.
/// * The slot (the waiter) exists before the request's bytes do, so no reply can beat its waiter.
/// * A request for a server that is not ready waits within its deadline and goes out only after
///   a HANDSHAKE is answered. A request in flight when its server is lost ends `Disconnected`
///   at once and is never resent.
/// * Memory is the tables given at creation; the pool never allocates, never panics on any
///   input, and never sends `EXIT`.
///
/// # Example
///
/// ```
/// use pool_core::pool::{Config, Event, FixedMemory, Pool, RequestOptions, RequestSpec, Routed};
/// use pool_core::wire::RequestFields;
/// use pool_core::{Duration, Instant};
///
/// #[derive(Debug)]
/// struct Read(&'static str);
/// impl RequestSpec for Read {
///     fn fields(&self) -> RequestFields<'_> {
///         RequestFields::new("spectrometer", "readproperty", self.0)
///     }
/// }
///
/// let mut pool: Pool<Read, FixedMemory<Read, 16, 2, 4, 2>> =
///     Pool::new(Config::default(), "gateway-1", 0x5eed, FixedMemory::new()).unwrap();
/// let t0 = Instant::ZERO;
/// let server = pool.add_server("spectrometer", t0).unwrap();
/// let thing = pool.map_thing(server).unwrap();
/// assert!(matches!(pool.poll_event(), Some(Event::Connect(s)) if s == server));
///
/// // The request waits: the server is not ready yet.
/// let opts = RequestOptions { deadline: Some(t0 + Duration::from_secs(5)), oneway: false };
/// let id = pool.start_request(thing, Read("integration_time"), opts, t0).ok().unwrap();
///
/// // The transport connected: the pool handshakes first.
/// pool.handle_connected(server, t0);
/// let mut buf = [0u8; 4096];
/// let hs = pool.poll_transmit(&mut buf).unwrap();
/// let handshake_id = hs.message_id;
/// assert!(pool.poll_transmit(&mut buf).is_none());
///
/// // The server answers the HANDSHAKE (as a DEALER receives it: 4 frames).
/// let reply = |kind: &str, id: &str| {
///     format!(r#"{{"messageType":"{kind}","messageID":"{id}","receiverID":"gateway-1","senderID":"spectrometer"}}"#)
/// };
/// let hs_reply = reply("HANDSHAKE", handshake_id.as_str());
/// let routed = pool.handle_message(server, &[b"", hs_reply.as_bytes(), b"null", b""], t0);
/// assert!(matches!(routed, Routed::Handshake));
///
/// // Now the request goes out, and its reply comes back to it.
/// let tx = pool.poll_transmit(&mut buf).unwrap();
/// let message_id = tx.message_id;
/// let answer = reply("REPLY", message_id.as_str());
/// match pool.handle_message(server, &[b"", answer.as_bytes(), b"12.5", b""], t0) {
///     Routed::Completed(done) => assert_eq!(done.id, id),
///     other => panic!("{other:?}"),
/// }
/// ```
pub struct Pool<R, M: Memory<R>> {
    config: Config,
    ids: IdCodec,
    client_id: Identity,
    mem: M,
    state: State,
    _request: core::marker::PhantomData<fn() -> R>,
}

impl<R, M: Memory<R>> Pool<R, M> {
    /// A pool with identity `client_id` (the DEALER identity and every header's `senderID`),
    /// random `nonce` (choose a fresh random value per pool: it keeps message ids unique across
    /// pools and restarts, and seeds the reconnect jitter of `Config::backoff_jitter`) and its
    /// tables.
    pub fn new(
        config: Config,
        client_id: &str,
        nonce: u64,
        mut memory: M,
    ) -> Result<Self, InvalidIdentity> {
        if !is_valid_identity(client_id) {
            return Err(InvalidIdentity);
        }
        let client_id = Identity::try_from(client_id).map_err(|_| InvalidIdentity)?;
        let mut state = State {
            rng: SplitMix64::new(nonce),
            ..State::default()
        };
        let parts = memory.parts();
        for index in 0..parts.slots.len() as u32 {
            state.free.push_back(parts.slots, index, slot_links);
        }
        for index in 0..parts.fanouts.len() as u32 {
            state
                .free_fanouts
                .push_back(parts.fanouts, index, fanout_links);
        }
        Ok(Pool {
            config,
            ids: IdCodec::new(nonce),
            client_id,
            mem: memory,
            state,
            _request: core::marker::PhantomData,
        })
    }

    /// Records the latest time an input or command carried (time never goes back).
    fn observe(&mut self, now: Instant) {
        self.state.now = self.state.now.max(now);
    }

    fn view(&mut self) -> View<'_, R> {
        View {
            tables: self.mem.parts(),
            state: &mut self.state,
            config: &self.config,
        }
    }

    // ===== getters ===========================================================================

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The client identity.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Counters since creation.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Requests started and not yet ended.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.state.live as usize
    }

    /// Free request slots (a slot is reused once its outcome has been polled).
    #[must_use]
    pub fn free_slots(&self) -> usize {
        self.state.free.len() as usize
    }

    /// Total request slots.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.mem.parts_ref().slots.len()
    }

    /// State of a server, `None` if the handle is stale.
    #[must_use]
    pub fn server_state(&self, server: ServerId) -> Option<ServerState> {
        self.server_entry(server).map(|e| e.state)
    }

    /// Identity of a server, `None` if the handle is stale.
    #[must_use]
    pub fn server_identity(&self, server: ServerId) -> Option<&str> {
        self.server_entry(server).map(|e| e.identity.as_str())
    }

    /// Requests of a server by phase: (waiting for readiness, queued to send, in flight).
    #[must_use]
    pub fn server_load(&self, server: ServerId) -> Option<(usize, usize, usize)> {
        self.server_entry(server).map(|e| {
            (
                e.waiting.len() as usize,
                e.queued.len() as usize,
                e.sent.len() as usize,
            )
        })
    }

    /// The server a Thing is mapped to, `None` if the handle is stale.
    #[must_use]
    pub fn thing_server(&self, thing: ThingId) -> Option<ServerId> {
        let entry = self.mem.parts_ref().things.get(thing.index())?;
        if entry.generation != thing.generation {
            return None;
        }
        entry.server
    }

    /// Every mapped Thing with its server.
    pub fn things(&self) -> impl Iterator<Item = (ThingId, ServerId)> + '_ {
        self.mem
            .parts_ref()
            .things
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let thing = ThingId {
                    index: index as u16,
                    generation: entry.generation,
                };
                entry.server.map(|server| (thing, server))
            })
    }

    /// Every server.
    pub fn servers(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.mem
            .parts_ref()
            .servers
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                entry.in_use.then_some(ServerId {
                    index: index as u16,
                    generation: entry.generation,
                })
            })
    }

    /// Whether the request is still waiting for its outcome.
    #[must_use]
    pub fn is_live(&self, id: RequestId) -> bool {
        self.mem
            .parts_ref()
            .slots
            .get(id.slot())
            .is_some_and(|slot| {
                slot.generation == id.generation
                    && matches!(
                        slot.state,
                        SlotState::Waiting | SlotState::Queued | SlotState::Sent
                    )
            })
    }

    /// The message id a request carries (or would carry) on the wire.
    #[must_use]
    pub fn message_id(&self, id: RequestId) -> MessageIdText {
        self.ids.encode(id.slot, id.generation)
    }

    fn server_entry(&self, server: ServerId) -> Option<&ServerEntry> {
        let entry = self.mem.parts_ref().servers.get(server.index())?;
        (entry.in_use && entry.generation == server.generation).then_some(entry)
    }

    // ===== commands ==========================================================================

    /// Adds a server whose ROUTER identity (hololinked server id) is `identity`. A
    /// [`Event::Connect`] for it follows.
    pub fn add_server(&mut self, identity: &str, now: Instant) -> Result<ServerId, AddServerError> {
        self.observe(now);
        if !is_valid_identity(identity) {
            return Err(AddServerError::InvalidIdentity);
        }
        let identity = Identity::try_from(identity).map_err(|_| AddServerError::InvalidIdentity)?;
        let mut v = self.view();
        let index = v
            .tables
            .servers
            .iter()
            .position(|s| !s.in_use)
            .ok_or(AddServerError::Full)?;
        let entry = v
            .tables
            .servers
            .get_mut(index)
            .ok_or(AddServerError::Full)?;
        let generation = entry.generation;
        *entry = ServerEntry::new();
        entry.generation = generation;
        entry.in_use = true;
        entry.identity = identity;
        v.notify(index as u32, pending::CONNECT);
        Ok(ServerId {
            index: index as u16,
            generation,
        })
    }

    /// Removes a server: its requests end `Closed`, its Things are unmapped, its handle goes
    /// stale. The driver closes the connection. Returns `false` for a stale handle.
    pub fn remove_server(&mut self, server: ServerId, now: Instant) -> bool {
        self.observe(now);
        let mut v = self.view();
        let Some(index) = v.server_index(server) else {
            return false;
        };
        loop {
            let next = v.tables.servers.get(index as usize).and_then(|e| {
                e.sent
                    .front()
                    .or_else(|| e.queued.front())
                    .or_else(|| e.waiting.front())
            });
            let Some(slot) = next else { break };
            v.finish_later(slot, Outcome::Closed);
        }
        for thing in v
            .tables
            .things
            .iter_mut()
            .filter(|t| t.server == Some(server))
        {
            thing.server = None;
            thing.generation = thing.generation.wrapping_add(1);
        }
        if v.tables
            .servers
            .get(index as usize)
            .is_some_and(|e| e.pending != 0)
        {
            v.state
                .event_servers
                .unlink(v.tables.servers, index, engine::event_links);
        }
        if let Some(entry) = v.tables.servers.get_mut(index as usize) {
            entry.handshake_due = false;
            entry.pending = 0;
        }
        v.rotate_tx(index);
        if let Some(entry) = v.tables.servers.get_mut(index as usize) {
            entry.in_use = false;
            entry.generation = entry.generation.wrapping_add(1);
        }
        v.set_server_timer(index, None);
        true
    }

    /// Maps a new Thing onto `server` (many Things may share a server).
    pub fn map_thing(&mut self, server: ServerId) -> Result<ThingId, MapThingError> {
        let v = self.view();
        v.server_index(server).ok_or(MapThingError::UnknownServer)?;
        let index = v
            .tables
            .things
            .iter()
            .position(|t| t.server.is_none())
            .ok_or(MapThingError::Full)?;
        let entry = v.tables.things.get_mut(index).ok_or(MapThingError::Full)?;
        entry.server = Some(server);
        Ok(ThingId {
            index: index as u16,
            generation: entry.generation,
        })
    }

    /// Unmaps a Thing (requests already started for it continue). `false` for a stale handle.
    pub fn unmap_thing(&mut self, thing: ThingId) -> bool {
        let v = self.view();
        match v.tables.things.get_mut(thing.index()) {
            Some(entry) if entry.generation == thing.generation && entry.server.is_some() => {
                entry.server = None;
                entry.generation = entry.generation.wrapping_add(1);
                true
            }
            _ => false,
        }
    }

    /// Cancels a live request: it ends `Cancelled` (yielded by `poll_event`) and a reply that
    /// still arrives is dropped. Returns `false` if the request had already ended.
    pub fn cancel(&mut self, id: RequestId, now: Instant) -> bool {
        self.observe(now);
        let mut v = self.view();
        let Some(index) = v.live_slot(id) else {
            return false;
        };
        v.finish_later(index, Outcome::Cancelled);
        true
    }

    // ===== outputs ===========================================================================

    /// The next event: server notifications first, then request outcomes, then finished
    /// fan-outs.
    #[must_use = "an event is taken off the pool: act on it"]
    pub fn poll_event(&mut self) -> Option<Event<R>> {
        let mut v = self.view();
        if let Some(server) = v.state.event_servers.front() {
            let id = v.server_id_at(server);
            let entry = v.tables.servers.get_mut(server as usize)?;
            let event = if entry.pending & pending::LOST != 0 {
                entry.pending &= !pending::LOST;
                Event::ServerLost(id, entry.lost_reason)
            } else if entry.pending & pending::CONNECT != 0 {
                entry.pending &= !pending::CONNECT;
                Event::Connect(id)
            } else {
                entry.pending &= !pending::READY;
                Event::ServerReady(id)
            };
            if entry.pending == 0 {
                v.state
                    .event_servers
                    .unlink(v.tables.servers, server, engine::event_links);
            }
            return Some(event);
        }
        while let Some(index) = v.state.done.pop_front(v.tables.slots, slot_links) {
            let outcome = match v.tables.slots.get(index as usize).map(|s| s.state) {
                Some(SlotState::Done(outcome)) => outcome,
                _ => continue,
            };
            if let Some(done) = v.release(index, outcome) {
                return Some(Event::Completed(done));
            }
        }
        let index = v
            .state
            .done_fanouts
            .pop_front(v.tables.fanouts, fanout_links)?;
        let entry = v.tables.fanouts.get_mut(index as usize)?;
        let id = FanoutId {
            index,
            generation: entry.generation,
        };
        entry.in_use = false;
        entry.generation = entry.generation.wrapping_add(1);
        v.state
            .free_fanouts
            .push_back(v.tables.fanouts, index, fanout_links);
        Some(Event::FanoutDone(id))
    }

    /// When to call `handle_timeout` next: the earliest request deadline or server timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let parts = self.mem.parts_ref();
        let request = self.state.deadlines.peek(parts.heap).map(|(_, at)| at);
        match (request, self.state.server_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<R: RequestSpec, M: Memory<R>> Pool<R, M> {
    /// Starts a request to `thing`. The slot (the waiter) exists before any byte is written; the
    /// request goes out at the next `poll_transmit` if its server is ready, or after the
    /// server's handshake otherwise. On error the request value comes back untouched.
    pub fn start_request(
        &mut self,
        thing: ThingId,
        user: R,
        options: RequestOptions,
        now: Instant,
    ) -> Result<RequestId, StartError<R>> {
        self.observe(now);
        let server = match self.thing_server(thing) {
            Some(server) => server,
            None => return Err(self.refuse(StartErrorKind::UnknownThing, user)),
        };
        if !self.header_fits(server, &user) {
            return Err(self.refuse(StartErrorKind::HeaderTooLarge, user));
        }
        let mut v = self.view();
        let Some(index) = v.allocate() else {
            return Err(self.refuse(StartErrorKind::Full, user));
        };
        v.fill(index, server, thing, None, options, user);
        v.enqueue(index);
        let generation = v
            .tables
            .slots
            .get(index as usize)
            .map_or(0, |s| s.generation);
        Ok(RequestId {
            slot: index,
            generation,
        })
    }

    fn header_fits(&self, server: ServerId, user: &R) -> bool {
        let Some(entry) = self.server_entry(server) else {
            return false;
        };
        let placeholder = [b'0'; crate::id::MESSAGE_ID_LEN];
        let header = RequestHeader {
            kind: RequestKind::Operation,
            message_id: core::str::from_utf8(&placeholder).unwrap_or(""),
            sender_id: &self.client_id,
            receiver_id: &entry.identity,
            key_style: self.config.key_style,
            fields: user.fields(),
        };
        wire::encoded_len_at_most(&header, self.config.max_header_len)
    }

    fn refuse(&mut self, kind: StartErrorKind, user: R) -> StartError<R> {
        self.state.stats.refused = self.state.stats.refused.wrapping_add(1);
        StartError { kind, user }
    }
}
