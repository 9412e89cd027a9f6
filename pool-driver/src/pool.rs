//! The public pool handle and the pending-request future.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{join_all, select, Either};
use futures::FutureExt;
use serde::Serialize;

use crate::builder::{endpoint_ok, PoolBuilder, WhenFull};
use crate::error::Error;
use crate::reply::Reply;
use crate::request::{Job, Request};
use crate::shared::{close_link, Inner, ServerSlot, Shared, ThingSlot};
use crate::Runtime;
use pool_core::pool::{is_valid_identity, RequestId, RequestOptions, ServerState, StartErrorKind};
use pool_core::wire::ServerContext;
use pool_core::{Instant as CoreInstant, MessageIdText};

/// A pool of requests to hololinked servers, multiplexed by message id.
///
/// Cheap to clone: clones share one pool. The pool shuts down when the last clone is dropped
/// (or at [`shutdown`](Self::shutdown)); requests still running then end with
/// [`Error::Closed`].
pub struct Pool<Rt: Runtime> {
    shared: Arc<Shared<Rt>>,
    _owner: Arc<Owner<Rt>>,
}

impl<Rt: Runtime> Clone for Pool<Rt> {
    fn clone(&self) -> Self {
        Pool {
            shared: Arc::clone(&self.shared),
            _owner: Arc::clone(&self._owner),
        }
    }
}

/// Closes the pool when the last user handle goes (background tasks hold only `Shared`).
struct Owner<Rt: Runtime> {
    shared: Arc<Shared<Rt>>,
}

impl<Rt: Runtime> Drop for Owner<Rt> {
    fn drop(&mut self) {
        close(&self.shared);
    }
}

/// Counters and gauges of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The core's counters: requests started and ended by outcome, messages sent, dropped
    /// replies by reason, malformed messages, servers lost.
    pub requests: pool_core::pool::Stats,
    /// Requests started and not yet ended.
    pub in_flight: usize,
    /// Request slots in total.
    pub capacity: usize,
    /// Servers configured.
    pub servers: usize,
    /// Servers that answered a HANDSHAKE on their current connection.
    pub servers_ready: usize,
    /// Connection attempts started.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Harmless receive errors on live connections: ZMTP commands zeromq does not know (such
    /// as a heartbeat PING), ignored.
    pub recv_errors: u64,
    /// Connections lost to a protocol violation or a broken stream: a message over the size or
    /// frame limit, undecodable bytes, a stream cut inside a frame, a receive I/O error.
    pub protocol_errors: u64,
    /// Messages that arrived on a connection the pool had already given up.
    pub stale_messages: u64,
    /// Replies over `PoolBuilder::max_reply_len` (dropped; their requests ended
    /// `ReplyTooLarge`).
    pub oversized_replies: u64,
    /// Requests handed to their connection's socket (`requests.requests_sent` counts them
    /// when the core hands them to the connection task, a step earlier). A request written is
    /// on its way: if the connection breaks now it ends `Disconnected`; one not yet written
    /// goes out again after the reconnect.
    pub requests_written: u64,
}

impl<Rt: Runtime> Pool<Rt> {
    /// A builder (servers, Things, identities, timeouts, capacity).
    pub fn builder() -> PoolBuilder<Rt> {
        PoolBuilder::default()
    }

    pub(crate) fn start(shared: Arc<Shared<Rt>>) -> Pool<Rt> {
        let timer = crate::timer::run(Arc::clone(&shared));
        shared.spawn_task(Arc::new(AtomicBool::new(true)), timer);
        Pool {
            _owner: Arc::new(Owner {
                shared: Arc::clone(&shared),
            }),
            shared,
        }
    }

    // ----- getters ----------------------------------------------------------------------------

    /// The client identity (`senderID`).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.shared.settings.client_id
    }

    /// The Things, sorted.
    #[must_use]
    pub fn things(&self) -> Vec<String> {
        let mut things: Vec<String> = self
            .shared
            .lock()
            .things
            .keys()
            .map(|t| t.to_string())
            .collect();
        things.sort();
        things
    }

    /// The servers, sorted, each with whether it is ready (handshaken).
    #[must_use]
    pub fn servers(&self) -> Vec<(String, bool)> {
        let inner = self.shared.lock();
        let mut servers: Vec<(String, bool)> = inner
            .servers
            .iter()
            .map(|(id, slot)| {
                let ready = inner.core.server_state(*id) == Some(ServerState::Ready);
                (slot.name.to_string(), ready)
            })
            .collect();
        servers.sort();
        servers
    }

    /// Counters and gauges.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let inner = self.shared.lock();
        let counters = &self.shared.counters;
        PoolStats {
            requests: *inner.core.stats(),
            in_flight: inner.core.in_flight(),
            capacity: inner.core.capacity(),
            servers: inner.servers.len(),
            servers_ready: inner
                .servers
                .keys()
                .filter(|id| inner.core.server_state(**id) == Some(ServerState::Ready))
                .count(),
            connects: counters.connects.load(Ordering::Relaxed),
            connect_failures: counters.connect_failures.load(Ordering::Relaxed),
            recv_errors: counters.recv_errors.load(Ordering::Relaxed),
            protocol_errors: counters.protocol_errors.load(Ordering::Relaxed),
            stale_messages: counters.stale_messages.load(Ordering::Relaxed),
            oversized_replies: counters.oversized_replies.load(Ordering::Relaxed),
            requests_written: counters.requests_written.load(Ordering::Relaxed),
        }
    }

    /// Background tasks still running (connections and the timer); 0 after
    /// [`shutdown`](Self::shutdown).
    #[must_use]
    pub fn live_tasks(&self) -> usize {
        self.shared.live_tasks.load(Ordering::Acquire)
    }

    // ----- requests ---------------------------------------------------------------------------

    /// Starts a request and returns its handle; await the handle for the result. Dropping the
    /// handle cancels the request (a reply that still arrives is dropped and counted).
    ///
    /// Errors at once for an unknown Thing, a payload that could not be encoded, a closed
    /// pool, or a full pool set to [`WhenFull::Busy`]. With [`WhenFull::Wait`] (the default) a
    /// full pool makes the handle wait for a free slot within the request's deadline.
    ///
    /// ```no_run
    /// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) -> Result<(), pool_driver::Error> {
    /// use pool_driver::Request;
    /// use std::time::Duration;
    ///
    /// let pending = pool.request(
    ///     Request::invoke_action("spectrometer", "acquire")
    ///         .kwargs(&serde_json::json!({"n": 10}))
    ///         .execution_timeout(Some(Duration::from_secs(2))) // the server gives up after 2 s
    ///         .timeout(Duration::from_secs(5)),               // the pool gives up after 5 s
    /// )?;
    /// println!("sent as {:?}", pending.message_id());
    /// let spectrum: Vec<f64> = pending.await?.json()?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, request: Request) -> Result<Pending<Rt>, Error> {
        if let Some(message) = &request.encode_error {
            return Err(Error::Encode(message.clone()));
        }
        let timeout = request
            .timeout
            .unwrap_or(self.shared.settings.request_timeout);
        let mut inner = self.shared.lock();
        // One clock read serves the deadline and the core's input (read under the lock, so the
        // core's inputs stay in time order).
        let now = self.shared.now();
        let deadline = timeout.map(|t| now + t.into());
        match start_job(&self.shared, &mut inner, request, (deadline, timeout), now) {
            Ok(started) => Ok(Pending::started(Arc::clone(&self.shared), started)),
            Err(Refused::Full(request)) if self.shared.settings.when_full == WhenFull::Wait => {
                drop(inner);
                Ok(Pending::waiting(
                    Arc::clone(&self.shared),
                    request,
                    deadline,
                    timeout,
                ))
            }
            Err(Refused::Full(request)) => Err(Error::Busy {
                thing: request.thing,
                capacity: self.shared.settings.capacity,
            }),
            Err(Refused::Error(e)) => Err(e),
        }
    }

    /// Starts a request and waits for its result.
    pub async fn call(&self, request: Request) -> Result<Reply, Error> {
        self.request(request)?.await
    }

    /// Reads property `name` of `thing`.
    pub async fn read_property(&self, thing: &str, name: &str) -> Result<Reply, Error> {
        self.call(Request::read_property(thing, name)).await
    }

    /// Writes property `name` of `thing` (the value as JSON).
    pub async fn write_property<T: Serialize + ?Sized>(
        &self,
        thing: &str,
        name: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.call(Request::write_property(thing, name).json(value))
            .await
            .map(drop)
    }

    /// Invokes action `name` of `thing` with keyword arguments (a JSON object, or `()` /
    /// `serde_json::Value::Null` for none). For positional arguments use
    /// [`Request::args`] with [`call`](Self::call).
    pub async fn invoke_action<T: Serialize + ?Sized>(
        &self,
        thing: &str,
        name: &str,
        kwargs: &T,
    ) -> Result<Reply, Error> {
        self.call(Request::invoke_action(thing, name).kwargs(kwargs))
            .await
    }

    /// Reads several properties of `thing` at once (hololinked's `_get_properties` action,
    /// which both server lines implement); the reply is a JSON object `{name: value}`.
    pub async fn read_properties(&self, thing: &str, names: &[&str]) -> Result<Reply, Error> {
        let kwargs = serde_json::json!({ "names": names });
        self.invoke_action(thing, "_get_properties", &kwargs).await
    }

    /// Writes several properties of `thing` at once (`_set_properties`), given as a JSON
    /// object `{name: value}`.
    pub async fn write_properties<T: Serialize + ?Sized>(
        &self,
        thing: &str,
        values: &T,
    ) -> Result<(), Error> {
        self.invoke_action(thing, "_set_properties", values)
            .await
            .map(drop)
    }

    /// Sends `request` to every Thing of the pool at once (its Thing is ignored) and returns
    /// one result per Thing, sorted by Thing. All requests start together or none does: when
    /// there are not enough free slots the pool waits for them within the request's deadline
    /// ([`WhenFull::Wait`]) or every result is [`Error::Busy`].
    ///
    /// ```no_run
    /// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) {
    /// use pool_driver::Request;
    ///
    /// for (thing, result) in pool.execute_in_all(Request::invoke_all("ping")).await {
    ///     match result {
    ///         Ok(_) => println!("{thing}: alive"),
    ///         Err(e) => println!("{thing}: {e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn execute_in_all(&self, request: Request) -> Vec<(String, Result<Reply, Error>)> {
        let timeout = request
            .timeout
            .unwrap_or(self.shared.settings.request_timeout);
        let deadline = timeout.map(|t| self.shared.now() + t.into());
        let mut things = self.things();
        let mut sleep =
            deadline.map(|at| Box::pin(self.shared.rt.sleep_until(self.shared.instant_of(at))));
        let pendings = loop {
            let listener = self.shared.slots_freed.listen();
            if let Some(pendings) = self.start_all(&request, &mut things, deadline, timeout) {
                break pendings;
            }
            let busy = || {
                things
                    .iter()
                    .map(|thing| {
                        let error = Error::Busy {
                            thing: thing.clone(),
                            capacity: self.shared.settings.capacity,
                        };
                        (thing.clone(), Err(error))
                    })
                    .collect()
            };
            // Waiting cannot help when there are more Things than slots in the whole pool.
            let never_fits = things.len() > self.shared.settings.capacity;
            if self.shared.settings.when_full == WhenFull::Busy || never_fits {
                return busy();
            }
            match sleep.as_mut() {
                Some(sleep) => {
                    if let Either::Right(_) = select(listener, sleep.as_mut()).await {
                        return busy();
                    }
                }
                None => listener.await,
            }
        };
        let results = join_all(pendings.into_iter().map(|p| async move {
            match p {
                Ok(pending) => pending.await,
                Err(e) => Err(e),
            }
        }))
        .await;
        things.into_iter().zip(results).collect()
    }

    /// Starts `request` for each of `things` (dropping Things that went away), or `None` if
    /// there are not enough free slots for all of them.
    fn start_all(
        &self,
        request: &Request,
        things: &mut Vec<String>,
        deadline: Option<CoreInstant>,
        timeout: Option<Duration>,
    ) -> Option<Vec<Result<Pending<Rt>, Error>>> {
        let mut inner = self.shared.lock();
        things.retain(|t| inner.things.contains_key(t.as_str()));
        if inner.core.free_slots() < things.len() && !inner.closed {
            return None;
        }
        let now = self.shared.now();
        let started = things
            .iter()
            .map(|thing| {
                let request = request.clone().to_thing(thing.clone());
                match start_job(&self.shared, &mut inner, request, (deadline, timeout), now) {
                    Ok(started) => Ok(Pending::started(Arc::clone(&self.shared), started)),
                    Err(Refused::Full(_)) => Err(Error::Busy {
                        thing: thing.clone(),
                        capacity: self.shared.settings.capacity,
                    }),
                    Err(Refused::Error(e)) => Err(e),
                }
            })
            .collect();
        Some(started)
    }

    /// Waits until every server has answered a HANDSHAKE, for at most `timeout`. Requests do
    /// not need this (they wait for their server within their deadline); it is for start-up
    /// checks. The error lists the servers that are not ready.
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = crate::runtime::instant_after(self.shared.rt.now(), timeout);
        let mut sleep = Box::pin(self.shared.rt.sleep_until(deadline));
        loop {
            let listener = self.shared.readiness.listen();
            let waiting = self.not_ready();
            if waiting.is_empty() {
                return Ok(());
            }
            if self.shared.lock().closed {
                return Err(Error::Closed {
                    thing: String::new(),
                    server: String::new(),
                });
            }
            if let Either::Right(_) = select(listener, sleep.as_mut()).await {
                let servers = self.not_ready();
                if servers.is_empty() {
                    return Ok(());
                }
                return Err(Error::NotReady {
                    servers,
                    after: timeout,
                });
            }
        }
    }

    fn not_ready(&self) -> Vec<String> {
        let mut servers: Vec<String> = self
            .servers()
            .into_iter()
            .filter(|(_, ready)| !ready)
            .map(|(name, _)| name)
            .collect();
        servers.sort();
        servers
    }

    // ----- servers and Things -----------------------------------------------------------------

    /// Adds a server at run time; its Thing is the server id (add more with
    /// [`add_thing`](Self::add_thing)). The pool connects at once.
    pub fn add_server(&self, id: &str, endpoint: &str) -> Result<(), Error> {
        self.add_server_with_things(id, endpoint, &[id])
    }

    pub(crate) fn add_server_with_things(
        &self,
        id: &str,
        endpoint: &str,
        things: &[&str],
    ) -> Result<(), Error> {
        endpoint_ok(endpoint)?;
        if !is_valid_identity(id) {
            return Err(Error::InvalidIdentity {
                identity: id.to_owned(),
            });
        }
        let mut inner = self.shared.lock();
        if inner.closed {
            return Err(closed_error(id));
        }
        if inner.server_ids.contains_key(id) {
            return Err(Error::AlreadyExists { id: id.to_owned() });
        }
        let repeated = |i: usize, t: &&str| things[..i].contains(t);
        if let Some(thing) = things
            .iter()
            .enumerate()
            .find(|(i, t)| inner.things.contains_key(**t) || repeated(*i, t))
            .map(|(_, t)| t)
        {
            return Err(Error::AlreadyExists {
                id: (*thing).to_owned(),
            });
        }
        let now = self.shared.now();
        let server = inner.core.add_server(id, now).map_err(|e| match e {
            pool_core::pool::AddServerError::InvalidIdentity => Error::InvalidIdentity {
                identity: id.to_owned(),
            },
            pool_core::pool::AddServerError::Full => Error::Config(format!(
                "cannot add `{id}`: the pool's max_servers is reached"
            )),
        })?;
        let name: Arc<str> = Arc::from(id);
        inner.server_ids.insert(Arc::clone(&name), server);
        inner.servers.insert(
            server,
            ServerSlot {
                name,
                endpoint: Arc::from(endpoint),
                epochs: 0,
                link: None,
                last_error: None,
            },
        );
        for thing in things {
            if let Err(e) = map_thing(&mut inner, thing, id) {
                let _ = inner.core.remove_server(server, now);
                inner.servers.remove(&server);
                inner.server_ids.remove(id);
                inner.things.retain(|_, t| t.server != server);
                return Err(e);
            }
        }
        self.shared.drain(&mut inner);
        Ok(())
    }

    /// Adds a Thing served by an existing server.
    pub fn add_thing(&self, thing: &str, server: &str) -> Result<(), Error> {
        let mut inner = self.shared.lock();
        if inner.things.contains_key(thing) {
            return Err(Error::AlreadyExists {
                id: thing.to_owned(),
            });
        }
        map_thing(&mut inner, thing, server)
    }

    /// Removes a server: its requests end [`Error::Closed`], its Things go, and its
    /// connection is closed (this returns once the socket is dropped).
    pub async fn remove_server(&self, id: &str) -> Result<(), Error> {
        let alive = {
            let mut inner = self.shared.lock();
            let server = *inner
                .server_ids
                .get(id)
                .ok_or_else(|| Error::UnknownServer {
                    server: id.to_owned(),
                })?;
            let now = self.shared.now();
            inner.core.remove_server(server, now);
            let alive = inner
                .servers
                .get(&server)
                .and_then(|s| s.link.as_ref())
                .map(|l| Arc::clone(&l.alive));
            close_link(&mut inner, server);
            inner.servers.remove(&server);
            inner.server_ids.remove(id);
            inner.things.retain(|_, t| t.server != server);
            self.shared.drain(&mut inner);
            alive
        };
        if let Some(alive) = alive {
            wait_until(&self.shared.task_ended, || !alive.load(Ordering::Acquire)).await;
        }
        Ok(())
    }

    /// Closes the pool: every request still running ends [`Error::Closed`], every connection
    /// is closed, and this returns once all background tasks have ended.
    pub async fn shutdown(&self) {
        self.flush(SHUTDOWN_FLUSH).await;
        close(&self.shared);
        wait_until(&self.shared.task_ended, || {
            self.shared.live_tasks.load(Ordering::Acquire) == 0
        })
        .await;
    }
}

/// How long `shutdown` waits for connections to hand what they were given to their sockets.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);

impl<Rt: Runtime> Pool<Rt> {
    /// Waits (at most `limit`) until every message the core has transmitted has been handed to
    /// its socket: a oneway request that ended `Sent` must not be dropped with its connection.
    async fn flush(&self, limit: Duration) {
        let shared = &self.shared;
        let mut sleep = Box::pin(
            shared
                .rt
                .sleep_until(crate::runtime::instant_after(shared.rt.now(), limit)),
        );
        loop {
            let listener = shared.batch_written.listen();
            let idle = {
                let inner = shared.lock();
                inner
                    .servers
                    .values()
                    .filter_map(|s| s.link.as_ref())
                    .all(|l| l.outbox.is_empty())
            } && shared.in_writers.load(Ordering::Acquire) == 0;
            if idle {
                return;
            }
            if let Either::Right(_) = select(listener, sleep.as_mut()).await {
                return;
            }
        }
    }
}

async fn wait_until(event: &event_listener::Event, mut done: impl FnMut() -> bool) {
    loop {
        let listener = event.listen();
        if done() {
            return;
        }
        listener.await;
    }
}

fn closed_error(thing: &str) -> Error {
    Error::Closed {
        thing: thing.to_owned(),
        server: String::new(),
    }
}

fn map_thing(inner: &mut Inner, thing: &str, server: &str) -> Result<(), Error> {
    let server_id = *inner
        .server_ids
        .get(server)
        .ok_or_else(|| Error::UnknownServer {
            server: server.to_owned(),
        })?;
    let id = inner.core.map_thing(server_id).map_err(|e| match e {
        pool_core::pool::MapThingError::UnknownServer => Error::UnknownServer {
            server: server.to_owned(),
        },
        pool_core::pool::MapThingError::Full => Error::Config(format!(
            "cannot add Thing `{thing}`: the pool's max_things is reached"
        )),
    })?;
    let name: Arc<str> = Arc::from(thing);
    inner.things.insert(
        Arc::clone(&name),
        ThingSlot {
            id,
            server: server_id,
            name,
        },
    );
    Ok(())
}

/// Closes the pool (idempotent): requests end `Closed`, links close, the timer stops.
fn close<Rt: Runtime>(shared: &Arc<Shared<Rt>>) {
    let mut inner = shared.lock();
    if inner.closed {
        return;
    }
    inner.closed = true;
    let now = shared.now();
    let servers: Vec<_> = inner.servers.keys().copied().collect();
    for server in servers {
        inner.core.remove_server(server, now);
        close_link(&mut inner, server);
    }
    inner.servers.clear();
    inner.server_ids.clear();
    inner.things.clear();
    shared.drain(&mut inner);
    shared.timer.raise();
    shared.readiness.notify(usize::MAX);
    shared.slots_freed.notify(usize::MAX);
}

/// A request the pool has started: its id and where its result arrives.
pub(crate) struct Started {
    id: RequestId,
    message_id: MessageIdText,
    result: oneshot::Receiver<Result<Reply, Error>>,
}

pub(crate) enum Refused {
    /// Every slot is taken: the request comes back.
    Full(Box<Request>),
    Error(Error),
}

/// Starts `request` in the core (lock held, `now` read under it) and drains: the request's
/// waiter exists before its bytes. `limits` are its client deadline and the timeout it came
/// from (for the error).
pub(crate) fn start_job<Rt: Runtime>(
    shared: &Arc<Shared<Rt>>,
    inner: &mut Inner,
    request: Request,
    (deadline, timeout): (Option<CoreInstant>, Option<Duration>),
    now: CoreInstant,
) -> Result<Started, Refused> {
    if inner.closed {
        return Err(Refused::Error(closed_error(&request.thing)));
    }
    let Some(thing) = inner.things.get(request.thing.as_str()) else {
        let mut known: Vec<&str> = inner.things.keys().map(|t| &**t).collect();
        known.sort_unstable();
        return Err(Refused::Error(Error::UnknownThing {
            thing: request.thing.clone(),
            known: if known.is_empty() {
                "no Things".into()
            } else {
                known.join(", ")
            },
        }));
    };
    let Some(server) = inner.servers.get(&thing.server) else {
        return Err(Refused::Error(closed_error(&request.thing)));
    };
    let defaults = shared.settings.server_context;
    let (waiter, result) = oneshot::channel();
    let thing_id = thing.id;
    let options = RequestOptions {
        deadline,
        oneway: request.oneway,
    };
    let job = Job {
        thing: Arc::clone(&thing.name),
        server: Arc::clone(&server.name),
        server_context: ServerContext {
            invokation_timeout: request
                .invokation_timeout
                .map_or(defaults.invokation_timeout, |t| t.map(Into::into)),
            execution_timeout: request
                .execution_timeout
                .map_or(defaults.execution_timeout, |t| t.map(Into::into)),
            oneway: request.oneway,
        },
        thing_context: pool_core::wire::ThingContext {
            fetch_execution_logs: request.fetch_execution_logs,
        },
        timeout,
        waiter: Some(waiter),
        span: tracing::debug_span!(
            "request",
            thing = %request.thing,
            operation = %request.operation,
            objekt = %request.objekt,
        ),
        request,
    };
    match inner.core.start_request(thing_id, job, options, now) {
        Ok(id) => {
            let message_id = inner.core.message_id(id);
            shared.drain(inner);
            Ok(Started {
                id,
                message_id,
                result,
            })
        }
        Err(e) => {
            let job = e.user;
            Err(match e.kind {
                StartErrorKind::Full => Refused::Full(Box::new(job.request)),
                StartErrorKind::HeaderTooLarge => Refused::Error(Error::HeaderTooLarge {
                    thing: job.request.thing,
                    max: inner.core.config().max_header_len,
                }),
                _ => Refused::Error(Error::UnknownThing {
                    thing: job.request.thing,
                    known: String::new(),
                }),
            })
        }
    }
}

/// A request in progress. Await it for the result; drop it to cancel the request.
#[must_use = "dropping a Pending cancels its request"]
pub struct Pending<Rt: Runtime> {
    shared: Arc<Shared<Rt>>,
    state: State<Rt>,
}

enum State<Rt: Runtime> {
    /// The pool was full: waiting for a slot within the deadline.
    Waiting {
        /// `None` only while a start attempt holds it.
        request: Option<Box<Request>>,
        deadline: Option<CoreInstant>,
        timeout: Option<Duration>,
        listener: Option<event_listener::EventListener>,
        sleep: Option<Pin<Box<Rt::Sleep>>>,
    },
    Started(Started),
    Done,
}

impl<Rt: Runtime> Pending<Rt> {
    fn started(shared: Arc<Shared<Rt>>, started: Started) -> Pending<Rt> {
        Pending {
            shared,
            state: State::Started(started),
        }
    }

    fn waiting(
        shared: Arc<Shared<Rt>>,
        request: Box<Request>,
        deadline: Option<CoreInstant>,
        timeout: Option<Duration>,
    ) -> Pending<Rt> {
        let sleep = deadline.map(|at| Box::pin(shared.rt.sleep_until(shared.instant_of(at))));
        Pending {
            shared,
            state: State::Waiting {
                request: Some(request),
                deadline,
                timeout,
                listener: None,
                sleep,
            },
        }
    }

    /// The request's message id, once it has a slot (always, unless it is waiting for room in
    /// a full pool).
    #[must_use]
    pub fn message_id(&self) -> Option<&str> {
        match &self.state {
            State::Started(started) => Some(started.message_id.as_str()),
            _ => None,
        }
    }

    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let State::Waiting {
            request,
            deadline,
            timeout,
            listener,
            sleep,
        } = &mut self.state
        else {
            return Poll::Ready(Ok(()));
        };
        loop {
            if let Some(l) = listener.as_mut() {
                if l.poll_unpin(cx).is_pending() {
                    if let Some(s) = sleep.as_mut() {
                        if s.as_mut().poll(cx).is_ready() {
                            let thing = request.as_ref().map(|r| r.thing.clone());
                            return Poll::Ready(Err(Error::Timeout {
                                thing: thing.unwrap_or_default(),
                                server: String::new(),
                                message_id: String::new(),
                                after: timeout.unwrap_or_default(),
                                sent: false,
                                server_ready: true,
                                server_error: None,
                            }));
                        }
                    }
                    return Poll::Pending;
                }
            }
            // Listen first, then try: a slot freed in between is not missed.
            *listener = Some(self.shared.slots_freed.listen());
            let Some(taken) = request.take() else {
                return Poll::Ready(Err(closed_error("")));
            };
            let mut inner = self.shared.lock();
            let now = self.shared.now();
            match start_job(&self.shared, &mut inner, *taken, (*deadline, *timeout), now) {
                Ok(started) => {
                    self.state = State::Started(started);
                    return Poll::Ready(Ok(()));
                }
                Err(Refused::Full(back)) => *request = Some(back),
                Err(Refused::Error(e)) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl<Rt: Runtime> Future for Pending<Rt> {
    type Output = Result<Reply, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_waiting(cx) {
            this.state = State::Done;
            return Poll::Ready(Err(e));
        }
        let State::Started(started) = &mut this.state else {
            return Poll::Pending;
        };
        match started.result.poll_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                this.state = State::Done;
                // The waiter is only dropped unanswered if the pool itself was dropped.
                Poll::Ready(result.unwrap_or_else(|_| Err(closed_error(""))))
            }
        }
    }
}

impl<Rt: Runtime> Drop for Pending<Rt> {
    fn drop(&mut self) {
        if let State::Started(started) = &self.state {
            let mut inner = self.shared.lock();
            let now = self.shared.now();
            if inner.core.cancel(started.id, now) {
                self.shared.drain(&mut inner);
            }
        }
    }
}
