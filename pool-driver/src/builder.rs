//! Building a pool: servers, Things, identities, timeouts and capacity, all checked up front.

use std::marker::PhantomData;
use std::time::Duration;

use crate::endpoint::checked_endpoint;
use crate::engine::{Core, Engine};
use crate::error::Error;
use crate::pool::Pool;
use crate::settings::{Settings, WhenFull};
use crate::Runtime;
use pool_core::pool::{is_valid_identity, Capacity, Config, HeapMemory};
use pool_core::wire::KeyStyle;

/// Builds a [`Pool`]. Every server and Thing is checked when [`build`](Self::build) runs, so a
/// bad endpoint or identity is an error there, not a silent failure later.
///
/// ```no_run
/// # async fn example<Rt: pool_driver::Runtime>() -> Result<(), pool_driver::Error> {
/// use std::time::Duration;
/// let pool = pool_driver::Pool::<Rt>::builder()
///     .server("spectrometer", "tcp://127.0.0.1:5555") // Thing `spectrometer`
///     .thing("camera", "spectrometer")                 // and Thing `camera`, on one server
///     .server_with_things("lab", "ipc:///tmp/lab.ipc", &["stage", "laser"]) // no Thing `lab`
///     .client_id("gateway-1")
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct PoolBuilder<Rt> {
    /// Each server with whether its id is one of its Things.
    servers: Vec<(String, String, bool)>,
    things: Vec<(String, String)>,
    publishers: Vec<(String, String)>,
    events: pool_core::events::Config,
    client_id: Option<String>,
    settings: Settings,
    config: Config,
    max_servers: usize,
    max_things: usize,
    _runtime: PhantomData<fn() -> Rt>,
}

/// Every setting and server given so far (the runtime is a type, not a value).
impl<Rt> std::fmt::Debug for PoolBuilder<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let servers: Vec<(&str, &str)> = self
            .servers
            .iter()
            .map(|(id, endpoint, _)| (id.as_str(), endpoint.as_str()))
            .collect();
        f.debug_struct("PoolBuilder")
            .field("servers", &servers)
            .field("things", &self.things)
            .field("publishers", &self.publishers)
            .field("client_id", &self.client_id)
            .field("settings", &self.settings)
            .field("config", &self.config)
            .field("events", &self.events)
            .field("max_servers", &self.max_servers)
            .field("max_things", &self.max_things)
            .finish_non_exhaustive()
    }
}

impl<Rt: Runtime> Pool<Rt> {
    /// A builder (servers, Things, identities, timeouts, capacity).
    pub fn builder() -> PoolBuilder<Rt> {
        PoolBuilder::default()
    }
}

impl<Rt: Runtime> Default for PoolBuilder<Rt> {
    fn default() -> Self {
        PoolBuilder {
            servers: Vec::new(),
            things: Vec::new(),
            publishers: Vec::new(),
            events: pool_core::events::Config::default(),
            client_id: None,
            settings: Settings::default(),
            config: Config::default(),
            max_servers: 64,
            max_things: 1024,
            _runtime: PhantomData,
        }
    }
}

impl<Rt: Runtime> PoolBuilder<Rt> {
    /// A server and its Thing of the same id (hololinked's usual setup): the id is the
    /// hololinked server id, which is its ROUTER identity; the endpoint is `tcp://host:port` or
    /// `ipc:///path` (see [`hololinked_ipc_endpoint`](crate::hololinked_ipc_endpoint)). Add
    /// more of its Things with [`thing`](Self::thing).
    pub fn server(mut self, id: impl Into<String>, endpoint: impl Into<String>) -> Self {
        self.servers.push((id.into(), endpoint.into(), true));
        self
    }

    /// A server whose Things are `things` (its own id is not one of them, unless listed): for
    /// a hololinked server that serves Things of other ids. Add more with [`thing`](Self::thing).
    pub fn server_with_things(
        mut self,
        id: impl Into<String>,
        endpoint: impl Into<String>,
        things: &[&str],
    ) -> Self {
        let id = id.into();
        self.things
            .extend(things.iter().map(|t| ((*t).to_owned(), id.clone())));
        self.servers.push((id, endpoint.into(), false));
        self
    }

    /// Adds Thing `thing`, served by `server`, to the server's other Things (many Things may
    /// share a server; a server added with [`server`](Self::server) keeps its own, and naming
    /// that one again changes nothing).
    pub fn thing(mut self, thing: impl Into<String>, server: impl Into<String>) -> Self {
        self.things.push((thing.into(), server.into()));
        self
    }

    /// The client identity (ZeroMQ identity and `senderID`). It must be unique among the
    /// clients of a server. Default: `mmpool-` and random hex, unique per pool.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client deadline of every request that does not set its own (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = Some(timeout);
        self
    }

    /// No client deadline by default (requests still end if their server is lost).
    pub fn no_request_timeout(mut self) -> Self {
        self.settings.request_timeout = None;
        self
    }

    /// Default server-side queueing limit sent with each request (default 5 s, as hololinked's
    /// own client; `None` sends `null`: no limit).
    pub fn invokation_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.server_context.invokation_timeout = timeout.map(Into::into);
        self
    }

    /// Default server-side execution limit sent with each request (default 5 s; `None`: no
    /// limit).
    pub fn execution_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.server_context.execution_timeout = timeout.map(Into::into);
        self
    }

    /// How many requests may be in flight at once (default 4096). Memory is allocated once.
    pub fn capacity(mut self, requests: usize) -> Self {
        self.settings.capacity = requests;
        self
    }

    /// How many servers the pool can hold, counting ones added later (default 64).
    pub fn max_servers(mut self, servers: usize) -> Self {
        self.max_servers = servers;
        self
    }

    /// How many Things the pool can hold, counting ones added later (default 1024).
    pub fn max_things(mut self, things: usize) -> Self {
        self.max_things = things;
        self
    }

    /// What to do when every request slot is taken (default: wait).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.settings.when_full = when_full;
        self
    }

    /// How long one connection attempt may take before the pool backs off and retries
    /// (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Give up a handshake after this long and reconnect (default: keep handshaking while the
    /// connection is up, as hololinked's client does).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.handshake_timeout = timeout.map(Into::into);
        self
    }

    /// Liveness probe (default: every 10 s, 10 s to answer): a ready server that has sent
    /// nothing for `interval`, idle or with requests in flight, gets a HANDSHAKE; if nothing
    /// comes back within `timeout` the server counts as lost and is reconnected: its requests
    /// in flight end [`Error::Disconnected`](crate::Error::Disconnected), queued ones wait for
    /// the new connection. This is how a peer that vanished without closing the connection
    /// (pulled cable, frozen process) is noticed, zeromq having no heartbeats of its own, so
    /// that even a request without a deadline ends once its server is gone. A hololinked
    /// server answers a HANDSHAKE while its Things work; one that cannot while it runs a long
    /// action needs a `timeout` longer than that action, or probing off. `None` turns probing
    /// off.
    pub fn liveness(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.config.liveness_interval = interval.map(Into::into);
        self.config.liveness_timeout = timeout.into();
        self
    }

    /// The largest reply accepted, all frames together (default 64 MiB). A reply up to 64 KiB
    /// over it (room for its header) is dropped as soon as it has arrived and its request ends
    /// with [`Error::ReplyTooLarge`](crate::Error::ReplyTooLarge), so no oversized payload is
    /// kept or handed on. A message announcing more than that, or more than 64 frames, is
    /// refused at its frame header, before anything is reserved for it, as a protocol
    /// violation: the connection is dropped (its requests in flight end
    /// [`Error::Disconnected`](crate::Error::Disconnected) saying so) and reconnected. So no
    /// server can make the pool hold more than this limit per connection.
    pub fn max_reply_len(mut self, bytes: usize) -> Self {
        self.settings.max_reply_len = bytes;
        self
    }

    /// Reconnect delays: first `min`, doubling up to `max` (default 100 ms to 5 s), each drawn
    /// at random between half and all of that (see [`reconnect_jitter`](Self::reconnect_jitter)).
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min.into();
        self.config.backoff_max = max.into();
        self
    }

    /// Whether each reconnect delay is drawn at random between half and all of the
    /// exponential delay (default `true`), so that the many clients of a restarted server do
    /// not reconnect in lockstep. `false` waits exactly the exponential delay.
    pub fn reconnect_jitter(mut self, jitter: bool) -> Self {
        self.config.backoff_jitter = jitter;
        self
    }

    /// Spelling of the execution-context keys (default: both, which every server line reads).
    pub fn key_style(mut self, style: KeyStyle) -> Self {
        self.config.key_style = style;
        self
    }

    /// Most requests in flight to one server; more wait in the pool (default 500). hololinked
    /// servers drop replies silently when a client's pipe holds 1000 of them (libzmq's default
    /// high-water mark), which can happen above ~500 in flight; raise this only for servers
    /// with a higher `ZMQ_SNDHWM`.
    pub fn max_in_flight_per_server(mut self, requests: u32) -> Self {
        self.config.max_in_flight_per_server = requests;
        self
    }

    /// Longest request header (default 4096 bytes).
    pub fn max_header_len(mut self, bytes: usize) -> Self {
        self.config.max_header_len = bytes;
        self
    }

    /// Builds the pool on the runtime the caller is running on and starts connecting.
    pub fn build(self) -> Result<Pool<Rt>, Error> {
        let rt = Rt::current().ok_or(Error::NoRuntime(
            "build the pool from inside the runtime its adapter uses (or use build_on)",
        ))?;
        self.build_on(rt)
    }

    /// The endpoint of server `server`'s event publisher, where its subscriptions connect.
    /// By default it follows hololinked's convention from the server's endpoint (see
    /// [`hololinked_event_endpoint`](crate::hololinked_event_endpoint)).
    pub fn publisher(mut self, server: impl Into<String>, endpoint: impl Into<String>) -> Self {
        self.publishers.push((server.into(), endpoint.into()));
        self
    }

    /// Events a subscription holds for a consumer that has not read them yet (default 1024):
    /// when it is full the oldest is dropped and the consumer gets
    /// [`EventItem::Lagged`](crate::EventItem::Lagged). A subscription that is being read also
    /// holds the burst of up to 64 items it took out of its queue at once, so memory per
    /// subscription is bounded by (this + 64) times the largest event (`max_reply_len`).
    pub fn event_queue_len(mut self, events: usize) -> Self {
        self.settings.event_queue_len = events;
        self
    }

    /// Most event subscriptions at once (default 4096).
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.events.max_subscriptions = subscriptions;
        self
    }

    /// Builds the pool on `rt` and starts connecting.
    pub fn build_on(mut self, rt: Rt) -> Result<Pool<Rt>, Error> {
        if self.settings.capacity == 0 {
            return Err(Error::Config("capacity must be at least 1".into()));
        }
        if self.servers.len() > self.max_servers {
            return Err(Error::Config(format!(
                "{} servers given, max_servers is {}",
                self.servers.len(),
                self.max_servers
            )));
        }
        if let Some((_, server)) = self
            .things
            .iter()
            .find(|(_, server)| !self.servers.iter().any(|(id, _, _)| id == server))
        {
            return Err(Error::UnknownServer {
                server: server.clone(),
            });
        }
        let client_id = self.client_id.take().unwrap_or_else(|| {
            format!(
                "mmpool-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        });
        if !is_valid_identity(&client_id) {
            return Err(Error::InvalidIdentity {
                identity: client_id,
            });
        }
        self.settings.client_id.clone_from(&client_id);
        let capacity = Capacity {
            requests: self.settings.capacity,
            servers: self.max_servers,
            things: self.max_things,
            // Every live fan-out holds at least one request slot (an empty one ends at once).
            fanouts: self.settings.capacity,
        };
        let nonce = uuid::Uuid::new_v4().as_u64_pair().0;
        let core =
            Core::new(self.config, &client_id, nonce, HeapMemory::new(capacity)).map_err(|_| {
                Error::InvalidIdentity {
                    identity: client_id.clone(),
                }
            })?;
        if self.settings.event_queue_len == 0
            || self.settings.event_queue_len > self.events.max_queue_len
        {
            return Err(Error::Config(format!(
                "event_queue_len must be 1 to {}",
                self.events.max_queue_len
            )));
        }
        for (server, endpoint) in &self.publishers {
            if !self.servers.iter().any(|(id, _, _)| id == server) {
                return Err(Error::UnknownServer {
                    server: server.clone(),
                });
            }
            checked_endpoint(endpoint)?;
        }
        let pool = Pool::new(Engine::run(rt, self.settings, core, self.events));
        for (id, endpoint, own_thing) in &self.servers {
            let named = self
                .things
                .iter()
                .filter(|(thing, server)| server == id && !(*own_thing && thing == id))
                .map(|(thing, _)| thing.as_str());
            let things: Vec<&str> = own_thing
                .then_some(id.as_str())
                .into_iter()
                .chain(named)
                .collect();
            pool.add_server_with_things(id, endpoint, &things)?;
        }
        for (server, endpoint) in &self.publishers {
            pool.set_publisher(server, endpoint)?;
        }
        Ok(pool)
    }
}
