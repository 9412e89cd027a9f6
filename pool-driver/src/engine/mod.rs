//! The engine: the core and everything the driver keeps beside it, behind one lock, with one
//! method per input.
//!
//! Every input (a caller's command, a connection's message or loss, the timer) goes through
//! [`Engine::input`]: take the lock, read the clock once, give the core its input, and drain the
//! core per its polling contract (transmits, then events, then the timer) before the lock is
//! released. Draining routes each transmit to its server's outbox and wakes that connection
//! task, hands each outcome to its waiter, opens and closes connections, and re-arms the timer.
//! So a request costs no extra task hop: the caller's task starts it, the connection task
//! writes it, and the connection task that reads the reply completes the waiter.
//!
//! Invariants:
//! * the core's inputs arrive in time order: the clock is read under the lock;
//! * a request's waiter exists before its bytes (the job holding it is in the core's slot
//!   before the drain routes the transmit);
//! * a server known to the driver is known to the core and the other way round; one function
//!   ([`forget_server`]) undoes a server, whoever asks (rollback, removal, close);
//! * the transport's account of a loss lives for the one input that reports it.
//!
//! Files: this one holds the engine's state and its inputs; `drain` carries out the core's
//! outputs; `tasks` is what the connection and timer tasks see of the engine (`LinkHost`,
//! `TimerHost`); `records` the driver's records of servers and Things.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use futures::channel::oneshot;

use crate::error::Error;
use crate::health::Health;
use crate::outcome;
use crate::reply::Reply;
use crate::request::{Job, Request};
use crate::server_info::ServerInfo;
use crate::settings::Settings;
use crate::signal::Signal;
use crate::stats::{Counters, PoolStats};
use crate::timer;
use crate::Runtime;
use pool_core::pool::{HeapMemory, RequestId, RequestOptions, ServerId, StartErrorKind, ThingId};
use pool_core::wire::{ServerContext, ThingContext};
use pool_core::{Instant as CoreInstant, MessageIdText};

/// The core as the driver runs it: jobs in heap tables.
pub(crate) type Core = pool_core::pool::Pool<Job, HeapMemory<Job>>;

/// Bytes reserved at a time for header frames.
const HEADER_ARENA: usize = 64 * 1024;

/// A request's client deadline: the timeout it came from, and the instant it falls on, fixed
/// by the first attempt to start the request (one clock read, under the lock, serves the
/// deadline and the core's input). Whoever holds the request owns it: the caller's handle
/// while the request waits for a slot, the core once it started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    after: Option<Duration>,
    at: Option<Option<CoreInstant>>,
}

impl Deadline {
    /// A deadline `after` (no deadline for `None`) the first start attempt.
    pub(crate) fn after(after: Option<Duration>) -> Deadline {
        Deadline { after, at: None }
    }

    /// The timeout it came from.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.after
    }

    /// The instant, once fixed (`Some(None)`: no deadline).
    pub(crate) fn at(&self) -> Option<Option<CoreInstant>> {
        self.at
    }

    fn fix(&mut self, now: CoreInstant) -> Option<CoreInstant> {
        let after = self.after;
        *self.at.get_or_insert_with(|| after.map(|t| now + t.into()))
    }
}

/// A request the core has started: its id, where its result arrives, and whom it went to.
pub(crate) struct Started {
    pub(crate) id: RequestId,
    pub(crate) message_id: MessageIdText,
    pub(crate) result: oneshot::Receiver<Result<Reply, Error>>,
    pub(crate) thing: Arc<str>,
    pub(crate) server: Arc<str>,
}

/// What `Debug` shows of a pool's state: counts only, read in one short look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Glance {
    pub(crate) servers: usize,
    pub(crate) servers_ready: usize,
    pub(crate) things: usize,
    pub(crate) in_flight: usize,
    pub(crate) closed: bool,
}

/// Why a request did not start.
pub(crate) enum Refused {
    /// Every slot is taken: the request comes back.
    Full(Box<Request>),
    Error(Box<Error>),
}

/// A fan-out that did not start: not enough free slots.
pub(crate) struct TooFew {
    /// More Things than the pool has slots: waiting cannot help.
    pub(crate) never_fits: bool,
}

mod drain;
mod events;
mod records;
mod tasks;

use events::EventState;

use records::{
    forget_server, info_of, is_ready, map_thing_in, unknown_thing, ServerSlot, ThingSlot,
};

/// Everything behind the lock.
struct State {
    core: Core,
    servers: HashMap<ServerId, ServerSlot>,
    server_ids: HashMap<Arc<str>, ServerId>,
    things: HashMap<Arc<str>, ThingSlot>,
    /// When the timer task should next give the clock input.
    timer_at: Option<CoreInstant>,
    closed: bool,
    /// The transport's account of the loss the current input reports, taken by the drain's
    /// `ServerLost` (losses the core decides itself have none).
    loss_detail: Option<Arc<str>>,
    /// Requests completed during the current input (their slots are free).
    freed: usize,
    /// Scratch space the core writes each header into.
    header_buf: Vec<u8>,
    /// Where header frames are cut from: one allocation serves many headers.
    header_arena: BytesMut,
}

/// The driver's state and its inputs. Connection and timer tasks hold it through
/// [`LinkHost`] and [`TimerHost`]; the public handles hold it directly.
pub(crate) struct Engine<Rt: Runtime> {
    rt: Rt,
    /// Core time zero.
    epoch: std::time::Instant,
    settings: Settings,
    state: Mutex<State>,
    /// Wakes the timer task when the next deadline moved earlier (or the pool closed).
    timer: Signal,
    /// Notified when a server becomes ready or is lost.
    readiness: event_listener::Event,
    /// Notified when request slots free up.
    slots_freed: event_listener::Event,
    /// Notified when a background task ends.
    task_ended: event_listener::Event,
    /// Messages a connection writer has taken from its outbox and not yet handed to its socket.
    in_writers: AtomicUsize,
    /// Notified when a writer has handed a batch to its socket (or given it up).
    batch_written: event_listener::Event,
    live_tasks: AtomicUsize,
    counters: Counters,
    /// The event subscriptions (`events`); taken after `state` when both are needed.
    events: Mutex<EventState>,
}

impl<Rt: Runtime> Engine<Rt> {
    /// An engine over `core`, its timer task running.
    pub(crate) fn run(
        rt: Rt,
        settings: Settings,
        core: Core,
        events_config: pool_core::events::Config,
    ) -> Arc<Engine<Rt>> {
        let epoch = rt.now();
        let header_buf = vec![0; core.config().max_header_len];
        let engine = Arc::new(Engine {
            rt,
            epoch,
            settings,
            state: Mutex::new(State {
                core,
                servers: HashMap::new(),
                server_ids: HashMap::new(),
                things: HashMap::new(),
                timer_at: None,
                closed: false,
                loss_detail: None,
                freed: 0,
                header_buf,
                header_arena: BytesMut::new(),
            }),
            timer: Signal::default(),
            readiness: event_listener::Event::new(),
            slots_freed: event_listener::Event::new(),
            task_ended: event_listener::Event::new(),
            in_writers: AtomicUsize::new(0),
            batch_written: event_listener::Event::new(),
            live_tasks: AtomicUsize::new(0),
            counters: Counters::default(),
            events: Mutex::new(EventState::new(events_config)),
        });
        let timer = timer::run(Arc::clone(&engine));
        engine.spawn_task(Arc::new(AtomicBool::new(true)), timer);
        engine
    }

    // ----- getters ----------------------------------------------------------------------------

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn runtime(&self) -> &Rt {
        &self.rt
    }

    /// Core time now.
    pub(crate) fn now(&self) -> CoreInstant {
        let since = self.rt.now().saturating_duration_since(self.epoch);
        CoreInstant(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
    }

    /// The runtime instant of a core time.
    pub(crate) fn instant_of(&self, at: CoreInstant) -> std::time::Instant {
        crate::runtime::instant_after(self.epoch, Duration::from_micros(at.as_micros()))
    }

    /// The Things, sorted.
    pub(crate) fn things(&self) -> Vec<String> {
        let mut things: Vec<String> = self.lock().things.keys().map(|t| t.to_string()).collect();
        things.sort_unstable();
        things
    }

    /// What the pool knows of server `id`.
    pub(crate) fn server_info(&self, id: &str) -> Option<ServerInfo> {
        let state = self.lock();
        let server = *state.server_ids.get(id)?;
        info_of(&state, server)
    }

    /// What the pool knows of the server of `thing`.
    pub(crate) fn server_of(&self, thing: &str) -> Option<ServerInfo> {
        let state = self.lock();
        let server = state.things.get(thing)?.server;
        info_of(&state, server)
    }

    /// The endpoint of the server of `thing`.
    pub(crate) fn endpoint_of(&self, thing: &str) -> Option<Arc<str>> {
        let state = self.lock();
        let server = state.things.get(thing)?.server;
        state.servers.get(&server).map(|s| Arc::clone(&s.endpoint))
    }

    /// The servers, sorted, each with whether it is ready.
    pub(crate) fn servers(&self) -> Vec<(String, bool)> {
        let state = self.lock();
        let mut servers: Vec<(String, bool)> = state
            .servers
            .iter()
            .map(|(id, slot)| (slot.name.to_string(), is_ready(&state.core, *id)))
            .collect();
        servers.sort_unstable();
        servers
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.lock();
        let events = self.events_lock();
        let core = &state.core;
        let counters = &self.counters;
        PoolStats {
            requests: *core.stats(),
            in_flight: core.in_flight(),
            capacity: core.capacity(),
            servers: state.servers.len(),
            servers_ready: state
                .servers
                .keys()
                .filter(|id| is_ready(core, **id))
                .count(),
            connects: counters.connects.get(),
            connect_failures: counters.connect_failures.get(),
            recv_errors: counters.recv_errors.get(),
            protocol_errors: counters.protocol_errors.get(),
            stale_messages: counters.stale_messages.get(),
            oversized_replies: counters.oversized_replies.get(),
            requests_written: counters.requests_written.get(),
            events: events.stats(),
            subscriptions: events.len(),
            publisher_links: counters.publisher_connects.get(),
            event_protocol_errors: counters.event_protocol_errors.get(),
        }
    }

    /// A glance at the state for `Debug`, or `None` while another thread holds the lock
    /// (`Debug` never waits for it, so it cannot deadlock).
    pub(crate) fn glance(&self) -> Option<Glance> {
        let state = match self.state.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(Glance {
            servers: state.servers.len(),
            servers_ready: state
                .servers
                .keys()
                .filter(|id| is_ready(&state.core, **id))
                .count(),
            things: state.things.len(),
            in_flight: state.core.in_flight(),
            closed: state.closed,
        })
    }

    /// The lock, held by a test while it looks at what does not wait for it.
    #[cfg(test)]
    pub(crate) fn held(&self) -> impl Sized + '_ {
        self.lock()
    }

    /// Background tasks still running.
    pub(crate) fn live_tasks(&self) -> usize {
        self.live_tasks.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether every message the core transmitted has been handed to its socket.
    pub(crate) fn is_flushed(&self) -> bool {
        let outboxes_empty = self
            .lock()
            .servers
            .values()
            .filter_map(|s| s.link.as_ref())
            .all(|l| l.outbox.is_empty());
        outboxes_empty && self.in_writers.load(Ordering::Acquire) == 0
    }

    /// Whether the link whose `alive` flag this is has ended.
    pub(crate) fn has_ended(alive: &AtomicBool) -> bool {
        !alive.load(Ordering::Acquire)
    }

    pub(crate) fn slots_freed(&self) -> &event_listener::Event {
        &self.slots_freed
    }

    pub(crate) fn readiness(&self) -> &event_listener::Event {
        &self.readiness
    }

    pub(crate) fn task_ended(&self) -> &event_listener::Event {
        &self.task_ended
    }

    pub(crate) fn batch_written_event(&self) -> &event_listener::Event {
        &self.batch_written
    }

    // ----- inputs -----------------------------------------------------------------------------

    /// Starts `request` within `deadline` (fixed now if this is its first attempt).
    pub(crate) fn start(
        self: &Arc<Self>,
        request: Request,
        deadline: &mut Deadline,
    ) -> Result<Started, Refused> {
        self.input(|engine, state, now| {
            let at = deadline.fix(now);
            engine.start_in(state, request, at, deadline.after, now)
        })
    }

    /// Starts `request` for every Thing (or those of `only` the pool knows), sorted by Thing,
    /// as one fan-out of the core: all or none, `TooFew` when there are not enough free slots.
    /// A member whose header is too large ends on its own (`HeaderTooLarge`).
    pub(crate) fn start_all(
        self: &Arc<Self>,
        request: &Request,
        only: Option<&[String]>,
        deadline: &mut Deadline,
    ) -> Result<Vec<(String, Started)>, TooFew> {
        self.input(|engine, state, now| {
            let at = deadline.fix(now);
            let State {
                core,
                servers,
                things,
                closed,
                ..
            } = state;
            if *closed {
                return Ok(Vec::new());
            }
            let mut members: Vec<&ThingSlot> = match only {
                None => things.values().collect(),
                Some(only) => only.iter().filter_map(|t| things.get(t.as_str())).collect(),
            };
            members.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            let ids: Vec<ThingId> = members.iter().map(|t| t.id).collect();
            let options = RequestOptions {
                deadline: at,
                oneway: request.oneway,
            };
            // `make` runs once per member, in the order of `ids`.
            let mut made = Vec::with_capacity(members.len());
            let mut next = members.iter();
            let make = |thing: ThingId, id: RequestId| {
                let (waiter, result) = oneshot::channel();
                let member = next.next().copied().filter(|m| m.id == thing);
                let thing = member.map_or_else(|| Arc::from(""), |m| Arc::clone(&m.name));
                let server = member
                    .and_then(|m| servers.get(&m.server))
                    .map_or_else(|| Arc::from(""), |s| Arc::clone(&s.name));
                let job = engine.job(
                    request.clone().to_thing(thing.to_string()),
                    &thing,
                    &server,
                    deadline.timeout(),
                    waiter,
                );
                made.push((thing, server, id, result, job.span.clone()));
                job
            };
            match core.start_fanout(&ids, make, options, now) {
                Ok(_) => Ok(made
                    .into_iter()
                    .map(|(thing, server, id, result, span)| {
                        let to = (Arc::clone(&thing), server);
                        let started = started(id, core.message_id(id), result, &span, to);
                        (thing.to_string(), started)
                    })
                    .collect()),
                // Every member is mapped (listed from the records under this lock), so only a
                // lack of slots can refuse; anything else would refuse again, so it never fits.
                Err(kind) => Err(TooFew {
                    never_fits: kind != StartErrorKind::Full || ids.len() > core.capacity(),
                }),
            }
        })
    }

    /// Cancels a live request (a request that already ended is left alone).
    pub(crate) fn cancel(self: &Arc<Self>, id: RequestId) {
        self.input(|_, state, now| {
            state.core.cancel(id, now);
        });
    }

    /// Adds server `id` at `endpoint` serving `things`, all or nothing.
    pub(crate) fn add_server(
        self: &Arc<Self>,
        id: &str,
        endpoint: &str,
        things: &[&str],
    ) -> Result<(), Error> {
        self.input(|_, state, now| {
            if state.closed {
                return Err(outcome::closed(id));
            }
            if state.server_ids.contains_key(id) {
                return Err(Error::AlreadyExists { id: id.to_owned() });
            }
            let repeated = |i: usize, t: &&str| things[..i].contains(t);
            if let Some(thing) = things
                .iter()
                .enumerate()
                .find(|(i, t)| state.things.contains_key(**t) || repeated(*i, t))
                .map(|(_, t)| t)
            {
                return Err(Error::AlreadyExists {
                    id: (*thing).to_owned(),
                });
            }
            let server = state.core.add_server(id, now).map_err(|e| match e {
                pool_core::pool::AddServerError::InvalidIdentity => Error::InvalidIdentity {
                    identity: id.to_owned(),
                },
                pool_core::pool::AddServerError::Full => Error::Config(format!(
                    "cannot add `{id}`: the pool's max_servers is reached"
                )),
            })?;
            let name: Arc<str> = Arc::from(id);
            state.server_ids.insert(Arc::clone(&name), server);
            state.servers.insert(
                server,
                ServerSlot {
                    name,
                    endpoint: Arc::from(endpoint),
                    epochs: 0,
                    link: None,
                    last_error: None,
                    publisher: None,
                    health: Health::default(),
                },
            );
            for thing in things {
                if let Err(e) = map_thing_in(state, thing, id) {
                    forget_server(state, server, now);
                    return Err(e);
                }
            }
            Ok(())
        })
    }

    /// Maps `thing` onto the existing server `server`.
    pub(crate) fn map_thing(self: &Arc<Self>, thing: &str, server: &str) -> Result<(), Error> {
        self.input(|_, state, _| {
            if state.things.contains_key(thing) {
                return Err(Error::AlreadyExists {
                    id: thing.to_owned(),
                });
            }
            map_thing_in(state, thing, server)
        })
    }

    /// Unmaps `thing`: requests already started for it go on; new ones are refused.
    pub(crate) fn unmap_thing(self: &Arc<Self>, thing: &str) -> Result<(), Error> {
        self.input(|_, state, _| {
            let Some(slot) = state.things.remove(thing) else {
                return Err(unknown_thing(state, thing.to_owned()));
            };
            state.core.unmap_thing(slot.id);
            Ok(())
        })
    }

    /// Removes server `id`; its requests end `Closed`. Returns its connection task's `alive`
    /// flag, if one runs (the task drops its socket soon after).
    pub(crate) fn remove_server(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<Option<Arc<AtomicBool>>, Error> {
        self.input(|engine, state, now| {
            let server = *state
                .server_ids
                .get(id)
                .ok_or_else(|| Error::UnknownServer {
                    server: id.to_owned(),
                })?;
            engine.events_remove_server(server);
            Ok(forget_server(state, server, now))
        })
    }

    /// Closes the pool (idempotent): requests end `Closed`, links close, the timer stops.
    pub(crate) fn close(self: &Arc<Self>) {
        let closing = self.input(|engine, state, now| {
            if state.closed {
                return false;
            }
            state.closed = true;
            engine.events_close();
            let servers: Vec<ServerId> = state.servers.keys().copied().collect();
            for server in servers {
                forget_server(state, server, now);
            }
            true
        });
        if closing {
            self.timer.raise();
            self.readiness.notify(usize::MAX);
            self.slots_freed.notify(usize::MAX);
        }
    }

    // ----- the one path of every input --------------------------------------------------------

    /// Takes the lock, reads the clock, runs `input` (which gives the core its input) and
    /// drains the core before the lock is released.
    fn input<T>(
        self: &Arc<Self>,
        input: impl FnOnce(&Arc<Self>, &mut State, CoreInstant) -> T,
    ) -> T {
        let mut state = self.lock();
        let now = self.now();
        let result = input(self, &mut state, now);
        self.drain(&mut state);
        state.loss_detail = None;
        result
    }

    /// The lock. A panic while it was held cannot leave the core half-updated in a way that
    /// matters more than losing the pool, so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `request` in the core (lock held, `now` read under it); the drain that follows
    /// sends it.
    fn start_in(
        &self,
        state: &mut State,
        request: Request,
        deadline: Option<CoreInstant>,
        timeout: Option<Duration>,
        now: CoreInstant,
    ) -> Result<Started, Refused> {
        if state.closed {
            return Err(Refused::Error(Box::new(outcome::closed(&request.thing))));
        }
        let Some(thing) = state.things.get(request.thing.as_str()) else {
            return Err(Refused::Error(Box::new(unknown_thing(
                state,
                request.thing,
            ))));
        };
        let Some(server) = state.servers.get(&thing.server) else {
            return Err(Refused::Error(Box::new(outcome::closed(&request.thing))));
        };
        let (waiter, result) = oneshot::channel();
        let thing_id = thing.id;
        let options = RequestOptions {
            deadline,
            oneway: request.oneway,
        };
        let job = self.job(request, &thing.name, &server.name, timeout, waiter);
        let (span, to) = (
            job.span.clone(),
            (Arc::clone(&job.thing), Arc::clone(&job.server)),
        );
        match state.core.start_request(thing_id, job, options, now) {
            Ok(id) => Ok(started(id, state.core.message_id(id), result, &span, to)),
            Err(e) => {
                let job = e.user;
                Err(match e.kind {
                    StartErrorKind::Full => Refused::Full(Box::new(job.request)),
                    StartErrorKind::HeaderTooLarge => {
                        Refused::Error(Box::new(Error::HeaderTooLarge {
                            thing: job.request.thing,
                            max: state.core.config().max_header_len,
                        }))
                    }
                    _ => Refused::Error(Box::new(unknown_thing(state, job.request.thing))),
                })
            }
        }
    }

    /// What the core keeps for `request`: the request, its resolved contexts and its waiter.
    fn job(
        &self,
        request: Request,
        thing: &Arc<str>,
        server: &Arc<str>,
        timeout: Option<Duration>,
        waiter: crate::request::Waiter,
    ) -> Job {
        let defaults = self.settings.server_context;
        let limit = |own: Option<Option<Duration>>, default| {
            own.map_or_else(
                || raised_to_deadline(default, request.timeout),
                |t| t.map(Into::into),
            )
        };
        Job {
            thing: Arc::clone(thing),
            server: Arc::clone(server),
            server_context: ServerContext {
                invokation_timeout: limit(request.invokation_timeout, defaults.invokation_timeout),
                execution_timeout: limit(request.execution_timeout, defaults.execution_timeout),
                oneway: request.oneway,
            },
            thing_context: ThingContext {
                fetch_execution_logs: request.fetch_execution_logs,
            },
            timeout,
            waiter: Some(waiter),
            span: tracing::debug_span!(
                "request",
                thing = %request.thing,
                server = %server,
                operation = %request.operation,
                objekt = request.objekt.as_deref().unwrap_or("null"),
                // Recorded once the core has given the request its slot.
                message_id = tracing::field::Empty,
            ),
            request,
        }
    }
}

/// A request the core has started for `(thing, server)`, its message id recorded in its span.
fn started(
    id: RequestId,
    message_id: MessageIdText,
    result: oneshot::Receiver<Result<Reply, Error>>,
    span: &tracing::Span,
    (thing, server): (Arc<str>, Arc<str>),
) -> Started {
    span.record("message_id", message_id.as_str());
    Started {
        id,
        message_id,
        result,
        thing,
        server,
    }
}

/// A pool default server-side limit, for a request with its own client deadline: raised to
/// that deadline when shorter (no deadline: no limit), so the server does not give up before
/// the client would.
fn raised_to_deadline(
    default: Option<pool_core::Duration>,
    deadline: Option<Option<Duration>>,
) -> Option<pool_core::Duration> {
    match (default, deadline) {
        (Some(_), Some(None)) => None,
        (Some(limit), Some(Some(t))) => Some(limit.max(t.into())),
        (default, _) => default,
    }
}

#[cfg(test)]
mod tests {
    use super::{raised_to_deadline, Deadline};
    use pool_core::{Duration, Instant};
    use std::time::Duration as StdDuration;

    #[test]
    fn a_request_deadline_raises_the_shorter_server_defaults_it_did_not_set() {
        let five = Some(Duration::from_secs(5));
        let thirty = StdDuration::from_secs(30);
        assert_eq!(
            raised_to_deadline(five, None),
            five,
            "pool deadline: defaults"
        );
        assert_eq!(
            raised_to_deadline(five, Some(Some(thirty))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            raised_to_deadline(five, Some(Some(StdDuration::from_secs(1)))),
            five,
            "a shorter deadline leaves the server its default"
        );
        assert_eq!(
            raised_to_deadline(five, Some(None)),
            None,
            "no deadline: no limit"
        );
        assert_eq!(raised_to_deadline(None, Some(Some(thirty))), None);
    }

    #[test]
    fn a_deadline_is_fixed_by_the_first_attempt_and_never_moves() {
        let mut deadline = Deadline::after(Some(StdDuration::from_millis(50)));
        assert_eq!(deadline.at(), None, "not fixed before an attempt");
        let t0 = Instant::ZERO + Duration::from_millis(10);
        let at = deadline.fix(t0);
        assert_eq!(at, Some(t0 + Duration::from_millis(50)));
        // A later attempt (after waiting for a slot) keeps the first one's deadline.
        assert_eq!(deadline.fix(t0 + Duration::from_secs(1)), at);
        assert_eq!(deadline.at(), Some(at));
        assert_eq!(deadline.timeout(), Some(StdDuration::from_millis(50)));
    }

    #[test]
    fn no_timeout_means_no_deadline() {
        let mut deadline = Deadline::after(None);
        assert_eq!(deadline.fix(Instant::ZERO), None);
        assert_eq!(deadline.at(), Some(None));
    }
}
