//! The public pool handle: a façade over the engine. Each method checks what it can without
//! the lock, then makes one input to the engine.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{join_all, poll_fn, select, Either};
use serde::Serialize;

use crate::endpoint::checked_endpoint;
use crate::engine::{Deadline, Engine, Refused, TooFew};
use crate::error::Error;
use crate::pending::Pending;
use crate::reply::Reply;
use crate::request::Request;
use crate::server_info::ServerInfo;
use crate::settings::WhenFull;
use crate::slot_wait::SlotWait;
use crate::stats::PoolStats;
use crate::subscription::Subscription;
use crate::Runtime;
use pool_core::pool::is_valid_identity;

/// A pool of requests to hololinked servers, multiplexed by message id.
///
/// Cheap to clone: clones share one pool. The pool shuts down when the last clone is dropped
/// (or at [`shutdown`](Self::shutdown)); requests still running then end with
/// [`Error::Closed`].
pub struct Pool<Rt: Runtime> {
    engine: Arc<Engine<Rt>>,
    _owner: Arc<Owner<Rt>>,
}

impl<Rt: Runtime> Clone for Pool<Rt> {
    fn clone(&self) -> Self {
        Pool {
            engine: Arc::clone(&self.engine),
            _owner: Arc::clone(&self._owner),
        }
    }
}

/// The client id and counts of servers (and how many are ready), Things and requests in
/// flight. It never waits for the pool's lock: while another thread holds it, the counts are
/// left out (`busy: true`).
impl<Rt: Runtime> std::fmt::Debug for Pool<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Pool");
        out.field("client_id", &self.client_id());
        match self.engine.glance() {
            Some(glance) => out
                .field("servers", &glance.servers)
                .field("servers_ready", &glance.servers_ready)
                .field("things", &glance.things)
                .field("in_flight", &glance.in_flight)
                .field("closed", &glance.closed),
            None => out.field("busy", &true),
        };
        out.finish_non_exhaustive()
    }
}

/// Closes the pool when the last user handle goes (background tasks hold only the engine).
struct Owner<Rt: Runtime> {
    engine: Arc<Engine<Rt>>,
}

impl<Rt: Runtime> Drop for Owner<Rt> {
    fn drop(&mut self) {
        self.engine.close();
    }
}

/// How long `shutdown` waits for connections to hand what they were given to their sockets.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);

impl<Rt: Runtime> Pool<Rt> {
    pub(crate) fn new(engine: Arc<Engine<Rt>>) -> Pool<Rt> {
        Pool {
            _owner: Arc::new(Owner {
                engine: Arc::clone(&engine),
            }),
            engine,
        }
    }

    // ----- getters ----------------------------------------------------------------------------

    /// The client identity (`senderID`).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.engine.settings().client_id
    }

    /// The Things, sorted.
    #[must_use]
    pub fn things(&self) -> Vec<String> {
        self.engine.things()
    }

    /// The servers, sorted, each with whether it is ready (handshaken).
    #[must_use]
    pub fn servers(&self) -> Vec<(String, bool)> {
        self.engine.servers()
    }

    /// What the pool knows of server `id` (endpoint, protocol, readiness, Things, last
    /// error), or `None` for a server it does not have.
    #[must_use]
    pub fn server_info(&self, id: &str) -> Option<ServerInfo> {
        self.engine.server_info(id)
    }

    /// The server that serves `thing`, with its endpoint and protocol (hololinked's
    /// `get_client_id_from_thing_id` and `get_client_protocol`), or `None` for a Thing the pool
    /// does not have.
    ///
    /// ```no_run
    /// # fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) {
    /// if let Some(server) = pool.server_of("spectrometer") {
    ///     println!("{} at {} over {}", server.id, server.endpoint, server.protocol.as_str());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn server_of(&self, thing: &str) -> Option<ServerInfo> {
        self.engine.server_of(thing)
    }

    /// The Things of server `id`, sorted (empty for a server the pool does not have).
    #[must_use]
    pub fn things_of(&self, id: &str) -> Vec<String> {
        self.server_info(id).map(|s| s.things).unwrap_or_default()
    }

    /// Counters and gauges.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        self.engine.stats()
    }

    /// Background tasks still running (connections and the timer); 0 after
    /// [`shutdown`](Self::shutdown).
    #[must_use]
    pub fn live_tasks(&self) -> usize {
        self.engine.live_tasks()
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
        let mut deadline = self.deadline(&request);
        match self.engine.start(request, &mut deadline) {
            Ok(started) => Ok(Pending::started(Arc::clone(&self.engine), started)),
            Err(Refused::Full(request)) if self.when_full() == WhenFull::Wait => Ok(
                Pending::waiting(Arc::clone(&self.engine), request, deadline),
            ),
            Err(Refused::Full(request)) => Err(self.busy(request.thing)),
            Err(Refused::Error(e)) => Err(*e),
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
        self.fan_out(&request, None).await
    }

    /// [`execute_in_all`](Self::execute_in_all) over the Things `things` only (hololinked's
    /// `execute_in_all(thing_ids=...)`): one result per distinct Thing, sorted by Thing; a
    /// Thing the pool does not know gets [`Error::UnknownThing`] and the others run.
    ///
    /// ```no_run
    /// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) {
    /// use pool_driver::Request;
    ///
    /// let results = pool.execute_in(&["camera", "stage"], Request::invoke_all("ping")).await;
    /// assert_eq!(results.len(), 2);
    /// # }
    /// ```
    pub async fn execute_in(
        &self,
        things: &[&str],
        request: Request,
    ) -> Vec<(String, Result<Reply, Error>)> {
        let mut wanted: Vec<String> = things.iter().map(|t| (*t).to_owned()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let known = self.things();
        let (found, unknown): (Vec<String>, Vec<String>) = wanted
            .into_iter()
            .partition(|t| known.binary_search(t).is_ok());
        let mut results = if found.is_empty() {
            Vec::new()
        } else {
            self.fan_out(&request, Some(&found)).await
        };
        // A Thing removed meanwhile did not start: it is unknown now, and still answered.
        let started: Vec<&str> = results.iter().map(|(t, _)| t.as_str()).collect();
        let gone: Vec<String> = found
            .into_iter()
            .filter(|t| !started.contains(&t.as_str()))
            .collect();
        let known = self.things();
        for thing in unknown.into_iter().chain(gone) {
            let error = Error::unknown_thing(&thing, known.iter().map(String::as_str));
            results.push((thing, Err(error)));
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        results
    }

    /// One fan-out to every Thing, or to those of `only`.
    async fn fan_out(
        &self,
        request: &Request,
        only: Option<&[String]>,
    ) -> Vec<(String, Result<Reply, Error>)> {
        if let Some(message) = &request.encode_error {
            let members = only.map_or_else(|| self.things(), <[String]>::to_vec);
            return members
                .into_iter()
                .map(|t| (t, Err(Error::Encode(message.clone()))))
                .collect();
        }
        let mut deadline = self.deadline(request);
        let started = match self.engine.start_all(request, only, &mut deadline) {
            Ok(started) => started,
            // Waiting cannot help when there are more Things than slots in the whole pool.
            Err(TooFew { never_fits: true }) => return self.all_busy(only),
            Err(TooFew { never_fits: false }) if self.when_full() == WhenFull::Busy => {
                return self.all_busy(only)
            }
            Err(TooFew { never_fits: false }) => {
                let at = deadline.at().flatten();
                let mut wait = SlotWait::new();
                let waited = poll_fn(|cx| {
                    wait.poll(cx, &self.engine, at, || {
                        match self.engine.start_all(request, only, &mut deadline) {
                            Ok(started) => Some(Some(started)),
                            Err(TooFew { never_fits: true }) => Some(None),
                            Err(TooFew { never_fits: false }) => None,
                        }
                    })
                })
                .await;
                match waited.flatten() {
                    Some(started) => started,
                    None => return self.all_busy(only),
                }
            }
        };
        let (things, started): (Vec<String>, Vec<_>) = started.into_iter().unzip();
        let pendings = started
            .into_iter()
            .map(|started| Pending::started(Arc::clone(&self.engine), started));
        let results = join_all(pendings).await;
        things.into_iter().zip(results).collect()
    }

    /// Waits until every server has answered a HANDSHAKE, for at most `timeout`. Requests do
    /// not need this (they wait for their server within their deadline); it is for start-up
    /// checks. The error lists the servers that are not ready.
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let rt = self.engine.runtime();
        let mut sleep = Box::pin(rt.sleep_until(crate::runtime::instant_after(rt.now(), timeout)));
        loop {
            let listener = self.engine.readiness().listen();
            if self.not_ready().is_empty() {
                return Ok(());
            }
            if self.engine.is_closed() {
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

    // ----- servers and Things -----------------------------------------------------------------

    /// Adds a server at run time, with its Thing of the same id (add more with
    /// [`add_thing`](Self::add_thing)). The pool connects at once.
    pub fn add_server(&self, id: &str, endpoint: &str) -> Result<(), Error> {
        self.add_server_with_things(id, endpoint, &[id])
    }

    /// Adds a server at run time whose Things are `things` (its own id only if listed), all or
    /// nothing. The pool connects at once.
    pub fn add_server_with_things(
        &self,
        id: &str,
        endpoint: &str,
        things: &[&str],
    ) -> Result<(), Error> {
        checked_endpoint(endpoint)?;
        if !is_valid_identity(id) {
            return Err(Error::InvalidIdentity {
                identity: id.to_owned(),
            });
        }
        self.engine.add_server(id, endpoint, things)
    }

    /// Sets where server `id`'s event publisher is, for subscriptions that connect from now
    /// on (by default hololinked's convention: [`hololinked_event_endpoint`](crate::hololinked_event_endpoint)).
    pub fn set_publisher(&self, id: &str, endpoint: &str) -> Result<(), Error> {
        checked_endpoint(endpoint)?;
        self.engine.set_publisher(id, endpoint)
    }

    // ----- events -----------------------------------------------------------------------------

    /// Subscribes to `event` of `thing` (its event id `"<thing>/<event>"`). The first
    /// subscription to a server connects a SUB socket to its event publisher; the returned
    /// [`Subscription`] is a stream of [`EventItem`](crate::EventItem)s and unsubscribes when
    /// dropped.
    ///
    /// PUB/SUB has no handshake: events the Thing publishes before the publisher has seen the
    /// subscription (typically a few milliseconds) are not delivered.
    pub fn subscribe_event(&self, thing: &str, event: &str) -> Result<Subscription, Error> {
        let at = self.engine.resolve_publisher(thing)?;
        let event_id = format!("{}/{event}", at.thing());
        self.engine.subscribe(at, &event_id)
    }

    /// Observes `property` of `thing`: a subscription to the event hololinked publishes when
    /// an observable property changes (`<property>_change_event`), whose payload is the new
    /// value.
    pub fn observe_property(&self, thing: &str, property: &str) -> Result<Subscription, Error> {
        self.subscribe_event(thing, &format!("{property}_change_event"))
    }

    /// Adds a Thing served by an existing server.
    pub fn add_thing(&self, thing: &str, server: &str) -> Result<(), Error> {
        self.engine.map_thing(thing, server)
    }

    /// Removes a Thing: new requests for it are refused with [`Error::UnknownThing`]; requests
    /// already started for it run to their end.
    pub fn remove_thing(&self, thing: &str) -> Result<(), Error> {
        self.engine.unmap_thing(thing)
    }

    /// The endpoint of `thing`'s server.
    pub(crate) fn endpoint_of(&self, thing: &str) -> Option<Arc<str>> {
        self.engine.endpoint_of(thing)
    }

    /// Removes a server: its requests end [`Error::Closed`], its Things go, and its
    /// connection is closed (this returns once the socket is dropped).
    pub async fn remove_server(&self, id: &str) -> Result<(), Error> {
        if let Some(alive) = self.engine.remove_server(id)? {
            wait_until(self.engine.task_ended(), || Engine::<Rt>::has_ended(&alive)).await;
        }
        Ok(())
    }

    /// Closes the pool: every request still running ends [`Error::Closed`], every connection
    /// is closed, and this returns once all background tasks have ended.
    pub async fn shutdown(&self) {
        self.flush(SHUTDOWN_FLUSH).await;
        self.engine.close();
        wait_until(self.engine.task_ended(), || self.engine.live_tasks() == 0).await;
    }

    // ----- helpers ----------------------------------------------------------------------------

    /// A request's client deadline: its own timeout, or the pool's.
    fn deadline(&self, request: &Request) -> Deadline {
        Deadline::after(
            request
                .timeout
                .unwrap_or(self.engine.settings().request_timeout),
        )
    }

    fn when_full(&self) -> WhenFull {
        self.engine.settings().when_full
    }

    fn busy(&self, thing: String) -> Error {
        Error::Busy {
            thing,
            capacity: self.engine.settings().capacity,
        }
    }

    /// `Busy` for every Thing (of `only`, if given).
    fn all_busy(&self, only: Option<&[String]>) -> Vec<(String, Result<Reply, Error>)> {
        only.map_or_else(|| self.things(), <[String]>::to_vec)
            .into_iter()
            .map(|thing| (thing.clone(), Err(self.busy(thing))))
            .collect()
    }

    fn not_ready(&self) -> Vec<String> {
        self.servers()
            .into_iter()
            .filter(|(_, ready)| !ready)
            .map(|(name, _)| name)
            .collect()
    }

    /// Waits (at most `limit`) until every message the core has transmitted has been handed to
    /// its socket: a oneway request that ended `Sent` must not be dropped with its connection.
    async fn flush(&self, limit: Duration) {
        let rt = self.engine.runtime();
        let mut sleep = Box::pin(rt.sleep_until(crate::runtime::instant_after(rt.now(), limit)));
        loop {
            let listener = self.engine.batch_written_event().listen();
            if self.engine.is_flushed() {
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

#[cfg(test)]
mod tests {
    use super::Pool;
    use crate::Runtime;

    /// A runtime that runs nothing: enough to build a pool and look at it, no I/O happens.
    #[derive(Clone)]
    struct Idle;

    impl Runtime for Idle {
        type Sleep = futures::future::Pending<()>;

        fn current() -> Option<Self> {
            Some(Idle)
        }

        fn spawn<F>(&self, future: F)
        where
            F: std::future::Future<Output = ()> + Send + 'static,
        {
            drop(future);
        }

        fn sleep_until(&self, _: std::time::Instant) -> Self::Sleep {
            futures::future::pending()
        }
    }

    fn idle_pool() -> Pool<Idle> {
        Pool::<Idle>::builder()
            .server("spectrometer", "tcp://127.0.0.1:1")
            .thing("camera", "spectrometer")
            .client_id("debug-client")
            .build()
            .unwrap()
    }

    #[test]
    fn debug_shows_the_client_id_and_the_counts() {
        let shown = format!("{:?}", idle_pool());
        assert_eq!(
            shown,
            "Pool { client_id: \"debug-client\", servers: 1, servers_ready: 0, things: 2, \
             in_flight: 0, closed: false, .. }"
        );
    }

    #[test]
    fn debug_does_not_wait_for_a_lock_held_elsewhere() {
        let pool = idle_pool();
        // Held by this very thread: waiting for it would never end.
        let _held = pool.engine.held();
        assert_eq!(
            format!("{pool:?}"),
            "Pool { client_id: \"debug-client\", busy: true, .. }"
        );
    }
}
