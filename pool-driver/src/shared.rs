//! The state every task of one pool shares: the core behind one short critical section, the
//! per-server links to the connection tasks, and the drain that carries out the core's outputs.
//!
//! Every input to the core (a command from a caller, a message or a disconnect from a
//! connection task, the timer) takes the lock, feeds the core and drains it per its polling
//! contract before releasing the lock. Draining routes each transmit to its server's outbox and
//! wakes that connection task, hands each outcome to its waiter, opens and closes connections,
//! and re-arms the timer. So a request costs no extra task hop: the caller's task starts it, the
//! connection task writes it, and the connection task that reads the reply completes the waiter.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use zeromq::ZmqMessage;

use crate::builder::Settings;
use crate::error::Error;
use crate::reply::Reply;
use crate::request::Job;
use crate::signal::Signal;
use crate::Runtime;
use pool_core::pool::{
    Completion, Event, HeapMemory, LostReason, Outcome, RequestId, Routed, ServerId, ServerState,
    ThingId,
};
use pool_core::wire::NULL_PAYLOAD;
use pool_core::Instant as CoreInstant;

pub(crate) type Core = pool_core::pool::Pool<Job, HeapMemory<Job>>;

/// One message for a connection task: the request it carries (`None` for a HANDSHAKE) and its
/// frames.
pub(crate) type Outbound = (Option<RequestId>, ZmqMessage);

/// The pool's side of one connection attempt to a server.
pub(crate) struct Link {
    /// Which attempt; a task whose epoch is not the current one is stale.
    pub(crate) epoch: u64,
    /// Messages the core has transmitted, not yet taken by the connection task. Bounded by the
    /// pool's capacity plus the HANDSHAKEs of one connection attempt (the core sends at most
    /// one message per request slot, and HANDSHAKEs only until the first answer).
    pub(crate) outbox: VecDeque<Outbound>,
    /// Wakes the connection task (new messages, or the link was closed).
    pub(crate) wake: Arc<Signal>,
    /// Cleared when the task has ended and dropped its socket.
    pub(crate) alive: Arc<AtomicBool>,
}

pub(crate) struct ServerSlot {
    pub(crate) name: Arc<str>,
    pub(crate) endpoint: Arc<str>,
    pub(crate) epochs: u64,
    /// The current connection attempt, if any.
    pub(crate) link: Option<Link>,
    /// Why the server's last connection ended or its last connect failed, until it is ready
    /// again: what `Disconnected` and never-ready `Timeout` errors say.
    pub(crate) last_error: Option<Arc<str>>,
}

pub(crate) struct ThingSlot {
    pub(crate) id: ThingId,
    pub(crate) server: ServerId,
    pub(crate) name: Arc<str>,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) core: Core,
    pub(crate) servers: HashMap<ServerId, ServerSlot>,
    pub(crate) server_ids: HashMap<Arc<str>, ServerId>,
    pub(crate) things: HashMap<Arc<str>, ThingSlot>,
    /// When the timer task should next call `handle_timeout`.
    pub(crate) timer_at: Option<CoreInstant>,
    pub(crate) closed: bool,
    /// The transport's account of a loss it is about to report to the core, taken by the
    /// drain's `ServerLost` (losses the core decides itself have none).
    pub(crate) loss_detail: Option<Arc<str>>,
    /// Scratch space the core writes each header into.
    header_buf: Vec<u8>,
    /// Where header frames are cut from: one allocation serves many headers.
    header_arena: BytesMut,
}

/// Bytes reserved at a time for header frames.
const HEADER_ARENA: usize = 64 * 1024;

/// Driver counters that the core cannot see.
#[derive(Default)]
pub(crate) struct DriverCounters {
    pub(crate) connects: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) recv_errors: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) stale_messages: AtomicU64,
    pub(crate) oversized_replies: AtomicU64,
    pub(crate) requests_written: AtomicU64,
}

pub(crate) struct Shared<Rt: Runtime> {
    pub(crate) rt: Rt,
    /// Core time zero.
    pub(crate) epoch: std::time::Instant,
    pub(crate) settings: Settings,
    pub(crate) inner: Mutex<Inner>,
    /// Wakes the timer task when the next deadline moved earlier (or the pool closed).
    pub(crate) timer: Signal,
    /// Notified when a server becomes ready or is lost.
    pub(crate) readiness: event_listener::Event,
    /// Notified when request slots free up.
    pub(crate) slots_freed: event_listener::Event,
    /// Notified when a background task ends.
    pub(crate) task_ended: event_listener::Event,
    /// Messages a connection writer has taken from its outbox and not yet handed to its socket.
    pub(crate) in_writers: AtomicUsize,
    /// Notified when a writer has handed a batch to its socket (or given it up).
    pub(crate) batch_written: event_listener::Event,
    pub(crate) live_tasks: AtomicUsize,
    pub(crate) counters: DriverCounters,
}

impl<Rt: Runtime> Shared<Rt> {
    pub(crate) fn new(rt: Rt, settings: Settings, core: Core) -> Shared<Rt> {
        let epoch = rt.now();
        let header_buf = vec![0; core.config().max_header_len];
        Shared {
            rt,
            epoch,
            settings,
            inner: Mutex::new(Inner {
                core,
                servers: HashMap::new(),
                server_ids: HashMap::new(),
                things: HashMap::new(),
                timer_at: None,
                closed: false,
                loss_detail: None,
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
            counters: DriverCounters::default(),
        }
    }

    /// The lock. A panic while it was held cannot leave the core half-updated in a way that
    /// matters more than losing the pool, so a poisoned lock is used as it is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Core time now.
    pub(crate) fn now(&self) -> CoreInstant {
        let since = self.rt.now().saturating_duration_since(self.epoch);
        CoreInstant(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
    }

    /// The std instant of a core time.
    pub(crate) fn instant_of(&self, at: CoreInstant) -> std::time::Instant {
        crate::runtime::instant_after(self.epoch, std::time::Duration::from_micros(at.as_micros()))
    }

    /// Carries out everything the core has to say, per its polling contract: transmits, then
    /// events, then the timer.
    pub(crate) fn drain(self: &Arc<Self>, inner: &mut Inner) {
        self.route_transmits(inner);
        let mut freed = 0;
        let mut readiness_changed = false;
        while let Some(event) = inner.core.poll_event() {
            match event {
                Event::Connect(server) => self.open_link(inner, server),
                Event::ServerReady(server) => {
                    tracing::debug!(server = ?name_of(inner, server), "server ready");
                    if let Some(slot) = inner.servers.get_mut(&server) {
                        slot.last_error = None;
                    }
                    readiness_changed = true;
                }
                Event::ServerLost(server, reason) => {
                    let detail = inner
                        .loss_detail
                        .take()
                        .unwrap_or_else(|| describe_loss(reason).into());
                    tracing::debug!(server = ?name_of(inner, server), ?reason, %detail, "server lost");
                    if let Some(slot) = inner.servers.get_mut(&server) {
                        slot.last_error = Some(detail);
                    }
                    close_link(inner, server);
                    readiness_changed = true;
                }
                Event::Completed(done) => {
                    freed += 1;
                    deliver(inner, done, Vec::new());
                }
                Event::FanoutDone(_) => {}
            }
            // A completion may have freed a slot for a request that the core then sent.
            self.route_transmits(inner);
        }
        if freed > 0 {
            self.slots_freed.notify(freed);
        }
        if readiness_changed {
            self.readiness.notify(usize::MAX);
        }
        self.rearm_timer(inner);
    }

    fn route_transmits(&self, inner: &mut Inner) {
        let Inner {
            core,
            servers,
            header_buf,
            header_arena,
            ..
        } = inner;
        let mut orphans: Vec<(ServerId, Option<RequestId>)> = Vec::new();
        while let Some(tx) = core.poll_transmit(header_buf) {
            if header_arena.capacity() < tx.header.len() {
                header_arena.reserve(HEADER_ARENA.max(tx.header.len()));
            }
            header_arena.extend_from_slice(tx.header);
            let header = header_arena.split().freeze();
            let (request, payload, preserialized) = match tx.kind {
                pool_core::pool::TransmitKind::Handshake => {
                    (None, Bytes::from_static(NULL_PAYLOAD), Bytes::new())
                }
                pool_core::pool::TransmitKind::Request { id, user } => (
                    Some(id),
                    user.request.payload.clone(),
                    user.request.preserialized.clone(),
                ),
            };
            let frames = vec![Bytes::new(), header, payload, preserialized];
            // Only an empty frame list is refused, and this one has four.
            let Ok(message) = ZmqMessage::try_from(frames) else {
                orphans.push((tx.server, request));
                continue;
            };
            match servers.get_mut(&tx.server).and_then(|s| s.link.as_mut()) {
                Some(link) => {
                    link.outbox.push_back((request, message));
                    link.wake.raise();
                }
                None => orphans.push((tx.server, request)),
            }
        }
        // The core only transmits to a connected server, so its link exists; if it does not (a
        // bug), the request must still end: report the server lost, the request unsent. The
        // drain's loop drains what this reports.
        for (server, request) in orphans {
            tracing::error!(?server, "transmit for a server without a connection");
            let unsent: Vec<RequestId> = request.into_iter().collect();
            core.handle_lost(server, LostReason::SendFailed, &unsent, self.now());
        }
    }

    fn rearm_timer(&self, inner: &mut Inner) {
        let next = inner.core.poll_timeout();
        let earlier = match (next, inner.timer_at) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            inner.timer_at = next;
            self.timer.raise();
        }
    }

    /// Starts a connection task for `server` (after [`Event::Connect`]).
    fn open_link(self: &Arc<Self>, inner: &mut Inner, server: ServerId) {
        let Some(slot) = inner.servers.get_mut(&server) else {
            return;
        };
        slot.epochs += 1;
        let link = Link {
            epoch: slot.epochs,
            outbox: VecDeque::new(),
            wake: Arc::new(Signal::default()),
            alive: Arc::new(AtomicBool::new(true)),
        };
        let task = crate::connection::run(
            Arc::clone(self),
            crate::connection::Target {
                server,
                epoch: link.epoch,
                name: Arc::clone(&slot.name),
                endpoint: Arc::clone(&slot.endpoint),
                wake: Arc::clone(&link.wake),
            },
        );
        let alive = Arc::clone(&link.alive);
        slot.link = Some(link);
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        self.spawn_task(alive, task);
    }

    /// Spawns a background task that the pool waits for on shutdown; `alive` is cleared when
    /// it ends.
    pub(crate) fn spawn_task<F>(self: &Arc<Self>, alive: Arc<AtomicBool>, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.live_tasks.fetch_add(1, Ordering::AcqRel);
        let shared = Arc::clone(self);
        self.rt.spawn(async move {
            let guard = TaskGuard { shared, alive };
            task.await;
            drop(guard);
        });
    }

    /// A message arrived on the connection `(server, epoch)`.
    pub(crate) fn on_message(self: &Arc<Self>, server: ServerId, epoch: u64, message: ZmqMessage) {
        let frames = message.into_vec();
        let size: usize = frames.iter().map(Bytes::len).sum();
        let mut inner = self.lock();
        if !is_current(&inner, server, epoch) {
            self.counters.stale_messages.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = self.now();
        let routed = match frames.as_slice() {
            [a, b, c, d] => inner.core.handle_message(server, &[a, b, c, d], now),
            other => {
                let refs: Vec<&[u8]> = other.iter().map(|f| &f[..]).collect();
                inner.core.handle_message(server, &refs, now)
            }
        };
        match routed {
            Routed::Completed(done) if size > self.settings.max_reply_len => {
                self.counters
                    .oversized_replies
                    .fetch_add(1, Ordering::Relaxed);
                drop(frames);
                deliver_too_large(&inner, done, size, self.settings.max_reply_len);
                self.slots_freed.notify(1);
            }
            Routed::Completed(done) => {
                deliver(&inner, done, frames);
                self.slots_freed.notify(1);
            }
            Routed::Handshake => {}
            Routed::Dropped(why) => {
                tracing::debug!(server = ?name_of(&inner, server), ?why, "reply dropped");
            }
            Routed::Malformed(why) => {
                tracing::debug!(server = ?name_of(&inner, server), ?why, "malformed message dropped");
            }
        }
        self.drain(&mut inner);
    }
}

/// Decrements the live-task count when a background task ends (or is dropped by its runtime).
struct TaskGuard<Rt: Runtime> {
    shared: Arc<Shared<Rt>>,
    alive: Arc<AtomicBool>,
}

impl<Rt: Runtime> Drop for TaskGuard<Rt> {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        self.shared.live_tasks.fetch_sub(1, Ordering::AcqRel);
        self.shared.task_ended.notify(usize::MAX);
    }
}

pub(crate) fn is_current(inner: &Inner, server: ServerId, epoch: u64) -> bool {
    inner
        .servers
        .get(&server)
        .and_then(|s| s.link.as_ref())
        .is_some_and(|l| l.epoch == epoch)
}

fn name_of(inner: &Inner, server: ServerId) -> Option<&str> {
    inner.servers.get(&server).map(|s| &*s.name)
}

/// A loss the core decided, in words (the transport words its own).
fn describe_loss(reason: LostReason) -> &'static str {
    match reason {
        LostReason::Disconnected => "the connection closed",
        LostReason::SendFailed => "a send failed",
        LostReason::HandshakeTimeout => "no HANDSHAKE answer within the handshake timeout",
        LostReason::Unresponsive => "no answer to a liveness probe within the liveness timeout",
    }
}

fn last_error_of(inner: &Inner, server: ServerId) -> Option<&Arc<str>> {
    inner
        .servers
        .get(&server)
        .and_then(|s| s.last_error.as_ref())
}

/// Ends the current connection attempt: its task sees the link gone and stops without
/// reporting (the core already knows).
pub(crate) fn close_link(inner: &mut Inner, server: ServerId) {
    if let Some(link) = inner.servers.get_mut(&server).and_then(|s| s.link.take()) {
        link.wake.raise();
    }
}

/// Hands a finished request's result to its waiter. `frames` are the reply's frames when the
/// outcome came from the server (empty otherwise); they move into the reply, never copied.
pub(crate) fn deliver(inner: &Inner, mut done: Completion<Job>, mut frames: Vec<Bytes>) {
    let job = &mut done.user;
    let Some(waiter) = job.waiter.take() else {
        return;
    };
    let result = result_of(inner, &done, &mut frames);
    let _span = done.user.span.enter();
    match &result {
        Ok(_) => tracing::debug!(outcome = ?done.outcome, "request done"),
        Err(e) => tracing::debug!(outcome = ?done.outcome, error = %e, "request failed"),
    }
    // The caller may have stopped waiting (dropped its handle): nothing to do then.
    let _ = waiter.send(result);
}

/// Ends a request whose reply was over the size limit (the reply itself is already dropped).
fn deliver_too_large(inner: &Inner, mut done: Completion<Job>, size: usize, limit: usize) {
    let Some(waiter) = done.user.waiter.take() else {
        return;
    };
    let error = Error::ReplyTooLarge {
        thing: done.user.thing.to_string(),
        server: done.user.server.to_string(),
        message_id: inner.core.message_id(done.id).as_str().to_owned(),
        size,
        limit,
    };
    let _span = done.user.span.enter();
    tracing::debug!(error = %error, "request failed");
    let _ = waiter.send(Err(error));
}

fn result_of(inner: &Inner, done: &Completion<Job>, frames: &mut [Bytes]) -> Result<Reply, Error> {
    let job = &done.user;
    // Only errors own their names; a reply shares the pool's.
    let thing = || job.thing.to_string();
    let server = || job.server.to_string();
    let message_id = inner.core.message_id(done.id);
    let mut frame = |i: usize| frames.get_mut(i).map(std::mem::take).unwrap_or_default();
    match done.outcome {
        Outcome::Reply | Outcome::Sent => Ok(Reply {
            thing: Arc::clone(&job.thing),
            server: Arc::clone(&job.server),
            message_id,
            header: frame(1),
            payload: frame(2),
            preserialized: frame(3),
            oneway: done.outcome == Outcome::Sent,
        }),
        Outcome::Exception => {
            let remote = RemoteException::parse(&frame(2));
            Err(Error::Remote {
                thing: thing(),
                server: server(),
                message_id: message_id.as_str().to_owned(),
                kind: remote.kind,
                message: remote.message,
                traceback: remote.traceback,
            })
        }
        Outcome::InvalidMessage => Err(Error::InvalidMessage {
            thing: thing(),
            server: server(),
            message_id: message_id.as_str().to_owned(),
            message: RemoteException::parse(&frame(2)).message,
        }),
        Outcome::ServerTimeout(kind) => Err(Error::ServerTimeout {
            thing: thing(),
            server: server(),
            message_id: message_id.as_str().to_owned(),
            kind,
        }),
        Outcome::Timeout { sent } => {
            let server_ready = inner.core.server_state(done.server) == Some(ServerState::Ready);
            Err(Error::Timeout {
                thing: thing(),
                server: server(),
                message_id: message_id.as_str().to_owned(),
                after: job.timeout.unwrap_or_default(),
                sent,
                server_ready,
                server_error: (!sent && !server_ready)
                    .then(|| last_error_of(inner, done.server).map(|e| e.to_string()))
                    .flatten(),
            })
        }
        Outcome::Cancelled => Err(Error::Cancelled {
            thing: thing(),
            server: server(),
            message_id: message_id.as_str().to_owned(),
        }),
        Outcome::Disconnected => Err(Error::Disconnected {
            thing: thing(),
            server: server(),
            message_id: message_id.as_str().to_owned(),
            reason: last_error_of(inner, done.server)
                .map_or_else(|| "the connection closed".into(), |e| e.to_string()),
        }),
        Outcome::Closed => Err(Error::Closed {
            thing: thing(),
            server: server(),
        }),
        Outcome::Unsendable => Err(Error::HeaderTooLarge {
            thing: thing(),
            max: inner.core.config().max_header_len,
        }),
    }
}

/// hololinked's exception payload: `{"exception": {"message", "type", "traceback", "notes"}}`.
struct RemoteException {
    kind: String,
    message: String,
    traceback: Vec<String>,
}

impl RemoteException {
    fn parse(payload: &[u8]) -> RemoteException {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Body {
            message: Option<serde_json::Value>,
            #[serde(rename = "type")]
            kind: Option<String>,
            traceback: Option<Vec<serde_json::Value>>,
        }
        #[derive(serde::Deserialize)]
        struct Wrapper {
            exception: Body,
        }
        match serde_json::from_slice::<Wrapper>(payload) {
            Ok(Wrapper { exception }) => RemoteException {
                kind: exception.kind.unwrap_or_else(|| "Exception".into()),
                message: match exception.message {
                    Some(serde_json::Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                traceback: exception
                    .traceback
                    .unwrap_or_default()
                    .into_iter()
                    .map(|line| match line {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
            },
            // Not hololinked's format: keep what the server said, readable.
            Err(_) => RemoteException {
                kind: "Exception".into(),
                message: String::from_utf8_lossy(payload).into_owned(),
                traceback: Vec::new(),
            },
        }
    }
}
