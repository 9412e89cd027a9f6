//! Server configuration and fault-injection behaviours.

use std::time::Duration;

use crate::error::Error;
use crate::events::EventStream;
use crate::thing::PROPERTY_NAMES;

/// Where a [`crate::TestServer`] binds (one of its endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// TCP on the given endpoint, e.g. `tcp://127.0.0.1:0` (port 0 = any free port; the port the
    /// OS chose is kept across [`crate::TestServer::restart`]).
    Tcp(String),
    /// IPC at `ipc://<tempdir>/<sanitized id>.ipc` in a temporary directory owned by the server.
    Ipc,
    /// IPC at the given path (`ipc://<path>`), e.g. hololinked's default access point.
    IpcAt(std::path::PathBuf),
}

/// How a server answers, for fault tests. Changeable at run time with
/// [`crate::TestServer::set_behaviour`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Behaviour {
    /// Answer like a hololinked 0.4.x server.
    #[default]
    Normal,
    /// Like `Normal`, but every reply (HANDSHAKE, REPLY, EXCEPTION, TIMEOUT, INVALID_MESSAGE) is
    /// held back this long before it is sent. Delays do not block the server: other requests keep
    /// being received and executed meanwhile.
    Delay(Duration),
    /// Receive (and count) every request but never execute or answer an operation.
    NeverReply {
        /// Whether HANDSHAKE requests are still answered.
        answer_handshake: bool,
    },
    /// Like `Normal`, but interleave bad messages with the good replies (see [`HostileConfig`]).
    Hostile(HostileConfig),
}

/// The kinds of bad message a [`Behaviour::Hostile`] server sends. Frame counts are counted as
/// the server's ROUTER sends them, routing frame included (a DEALER client sees one frame less).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostileKind {
    /// A message whose header frame is not valid JSON (5 frames).
    InvalidJsonHeader,
    /// A 3-frame message `[identity, "", header]` (a DEALER sees 2 frames).
    ThreeFrames,
    /// A 6-frame message (the good reply's frames plus one extra; a DEALER sees 5 frames).
    SixFrames,
    /// A well-formed REPLY with a messageID the client never used.
    UnknownMessageId,
    /// The good reply sent a second time, right after the first.
    Duplicate,
    /// A copy of a reply sent earlier (an id that was already answered) re-sent.
    Replay,
    /// A TIMEOUT for a messageID that is not in flight (random or already answered).
    UnsolicitedTimeout,
    /// The good reply itself carries an extra header key `"hostileExtra":true` (a tolerant client
    /// must still accept it).
    ExtraKeys,
    /// A copy of the good reply with `messageID` or `messageType` removed from the header.
    MissingKeys,
    /// A REPLY with an unknown messageID whose preserialized frame is `large_frame_size` bytes.
    LargeFrame,
}

impl HostileKind {
    /// Every kind, in the order a server considers them for each good reply.
    pub const ALL: [HostileKind; 10] = [
        HostileKind::InvalidJsonHeader,
        HostileKind::ThreeFrames,
        HostileKind::SixFrames,
        HostileKind::UnknownMessageId,
        HostileKind::Replay,
        HostileKind::UnsolicitedTimeout,
        HostileKind::MissingKeys,
        HostileKind::LargeFrame,
        HostileKind::ExtraKeys,
        HostileKind::Duplicate,
    ];
}

/// Rates of each bad message in [`Behaviour::Hostile`]. For every good reply the server sends,
/// each kind fires independently with its probability (0.0 = never, 1.0 = always), drawn from a
/// PRNG seeded with `seed`, so a given request sequence gives the same bad messages every run.
/// Bad messages go to the same client as the good reply, before it (except `Duplicate`, after it).
#[derive(Debug, Clone, PartialEq)]
pub struct HostileConfig {
    /// PRNG seed.
    pub seed: u64,
    /// Probability of [`HostileKind::InvalidJsonHeader`].
    pub invalid_json_header: f64,
    /// Probability of [`HostileKind::ThreeFrames`].
    pub three_frames: f64,
    /// Probability of [`HostileKind::SixFrames`].
    pub six_frames: f64,
    /// Probability of [`HostileKind::UnknownMessageId`].
    pub unknown_message_id: f64,
    /// Probability of [`HostileKind::Duplicate`].
    pub duplicate: f64,
    /// Probability of [`HostileKind::Replay`] (needs at least one earlier reply).
    pub replay: f64,
    /// Probability of [`HostileKind::UnsolicitedTimeout`].
    pub unsolicited_timeout: f64,
    /// Probability of [`HostileKind::ExtraKeys`].
    pub extra_keys: f64,
    /// Probability of [`HostileKind::MissingKeys`].
    pub missing_keys: f64,
    /// Probability of [`HostileKind::LargeFrame`].
    pub large_frame: f64,
    /// Size in bytes of the large frame.
    pub large_frame_size: usize,
}

impl Default for HostileConfig {
    /// All rates 0, seed 0, large frames of 16 MiB.
    fn default() -> Self {
        HostileConfig {
            seed: 0,
            invalid_json_header: 0.0,
            three_frames: 0.0,
            six_frames: 0.0,
            unknown_message_id: 0.0,
            duplicate: 0.0,
            replay: 0.0,
            unsolicited_timeout: 0.0,
            extra_keys: 0.0,
            missing_keys: 0.0,
            large_frame: 0.0,
            large_frame_size: 16 * 1024 * 1024,
        }
    }
}

impl HostileConfig {
    /// Every kind except [`HostileKind::LargeFrame`] at `rate`, with the given seed.
    pub fn all(rate: f64, seed: u64) -> HostileConfig {
        let mut c = HostileConfig {
            seed,
            ..HostileConfig::default()
        };
        for kind in HostileKind::ALL {
            if kind != HostileKind::LargeFrame {
                c.set_rate(kind, rate);
            }
        }
        c
    }

    /// Only `kind`, at `rate`.
    pub fn only(kind: HostileKind, rate: f64, seed: u64) -> HostileConfig {
        HostileConfig {
            seed,
            ..HostileConfig::default()
        }
        .with(kind, rate)
    }

    /// Sets the rate of one kind (builder style).
    #[must_use]
    pub fn with(mut self, kind: HostileKind, rate: f64) -> HostileConfig {
        self.set_rate(kind, rate);
        self
    }

    /// Sets the rate of one kind.
    pub fn set_rate(&mut self, kind: HostileKind, rate: f64) {
        *self.rate_mut(kind) = rate;
    }

    /// The rate of one kind.
    pub fn rate(&self, kind: HostileKind) -> f64 {
        match kind {
            HostileKind::InvalidJsonHeader => self.invalid_json_header,
            HostileKind::ThreeFrames => self.three_frames,
            HostileKind::SixFrames => self.six_frames,
            HostileKind::UnknownMessageId => self.unknown_message_id,
            HostileKind::Duplicate => self.duplicate,
            HostileKind::Replay => self.replay,
            HostileKind::UnsolicitedTimeout => self.unsolicited_timeout,
            HostileKind::ExtraKeys => self.extra_keys,
            HostileKind::MissingKeys => self.missing_keys,
            HostileKind::LargeFrame => self.large_frame,
        }
    }

    fn rate_mut(&mut self, kind: HostileKind) -> &mut f64 {
        match kind {
            HostileKind::InvalidJsonHeader => &mut self.invalid_json_header,
            HostileKind::ThreeFrames => &mut self.three_frames,
            HostileKind::SixFrames => &mut self.six_frames,
            HostileKind::UnknownMessageId => &mut self.unknown_message_id,
            HostileKind::Duplicate => &mut self.duplicate,
            HostileKind::Replay => &mut self.replay,
            HostileKind::UnsolicitedTimeout => &mut self.unsolicited_timeout,
            HostileKind::ExtraKeys => &mut self.extra_keys,
            HostileKind::MissingKeys => &mut self.missing_keys,
            HostileKind::LargeFrame => &mut self.large_frame,
        }
    }
}

/// Configuration of a [`crate::TestServer`]; build it with [`ServerConfig::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Server id: the ROUTER identity and the `senderID` of every reply.
    pub server_id: String,
    /// Ids of the Things served (each with its own worker thread).
    pub thing_ids: Vec<String>,
    /// What to bind.
    pub transports: Vec<Bind>,
    /// Initial behaviour.
    pub behaviour: Behaviour,
    /// The ROUTER's send high-water mark per client (`ZMQ_SNDHWM`; 0 = unlimited). Default
    /// 1000, libzmq's default, which hololinked servers keep: a reply that finds a client's pipe
    /// full is dropped, as on a real server. Benchmarks that keep more than ~500 requests in
    /// flight to one server raise it.
    pub send_hwm: i32,
    /// The event publisher's send high-water mark per subscriber (`ZMQ_SNDHWM`; 0 = unlimited);
    /// default [`DEFAULT_SEND_HWM`]. Events a slow subscriber's full pipe cannot take are dropped.
    pub event_send_hwm: i32,
    /// Properties (of [`PROPERTY_NAMES`]) that are observable on every Thing: a successful
    /// `writeproperty` or `readproperty` of one that finds a value other than the last one
    /// published publishes `{name}_change_event` with it, as hololinked does (the same value
    /// written twice publishes once). [`crate::TestServer`] only.
    pub observable: Vec<String>,
    /// Event streams started with every run of the server. [`crate::TestServer`] only.
    pub event_streams: Vec<EventStream>,
}

/// libzmq's default `ZMQ_SNDHWM`, which hololinked servers keep.
pub const DEFAULT_SEND_HWM: i32 = 1000;

impl ServerConfig {
    /// A builder for a server with this id.
    pub fn builder(server_id: impl Into<String>) -> ServerConfigBuilder {
        ServerConfigBuilder {
            server_id: server_id.into(),
            thing_ids: Vec::new(),
            transports: Vec::new(),
            behaviour: Behaviour::Normal,
            send_hwm: DEFAULT_SEND_HWM,
            event_send_hwm: DEFAULT_SEND_HWM,
            observable: Vec::new(),
            event_streams: Vec::new(),
        }
    }

    /// A server with one Thing whose id is the server id, bound on `tcp://127.0.0.1:0` and IPC.
    pub fn new(server_id: impl Into<String>) -> ServerConfig {
        ServerConfig::builder(server_id).tcp().ipc().build()
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let id_ok = |id: &str| !id.is_empty() && id.len() <= 255 && !id.starts_with('\0');
        if !id_ok(&self.server_id) {
            return Err(Error::Config(format!(
                "server id {:?} is not a valid ZeroMQ identity (1..=255 bytes, no leading NUL)",
                self.server_id
            )));
        }
        if self.thing_ids.is_empty() {
            return Err(Error::Config(
                "a server needs at least one Thing".to_owned(),
            ));
        }
        let mut ids = self.thing_ids.clone();
        ids.sort();
        ids.dedup();
        if ids.len() != self.thing_ids.len() {
            return Err(Error::Config("duplicate Thing id".to_owned()));
        }
        if self.transports.is_empty() {
            return Err(Error::Config("no transport to bind".to_owned()));
        }
        if let Some(name) = self
            .observable
            .iter()
            .find(|n| !PROPERTY_NAMES.contains(&n.as_str()))
        {
            return Err(Error::Config(format!(
                "observable property {name:?} is not one of {PROPERTY_NAMES:?}"
            )));
        }
        self.event_streams
            .iter()
            .try_for_each(EventStream::validate)
    }
}

/// Builder for [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct ServerConfigBuilder {
    server_id: String,
    thing_ids: Vec<String>,
    transports: Vec<Bind>,
    behaviour: Behaviour,
    send_hwm: i32,
    event_send_hwm: i32,
    observable: Vec<String>,
    event_streams: Vec<EventStream>,
}

impl ServerConfigBuilder {
    /// Adds a Thing. Without any, the server serves one Thing whose id is the server id.
    #[must_use]
    pub fn thing(mut self, id: impl Into<String>) -> Self {
        self.thing_ids.push(id.into());
        self
    }

    /// Adds several Things.
    #[must_use]
    pub fn things<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.thing_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Binds `tcp://127.0.0.1:0` (any free port).
    #[must_use]
    pub fn tcp(self) -> Self {
        self.tcp_at("tcp://127.0.0.1:0")
    }

    /// Binds the given TCP endpoint, e.g. `tcp://127.0.0.1:5555`.
    #[must_use]
    pub fn tcp_at(mut self, endpoint: impl Into<String>) -> Self {
        self.transports.push(Bind::Tcp(endpoint.into()));
        self
    }

    /// Binds an endpoint given as text: `tcp://host:port` or `ipc:///path`.
    pub fn bind(self, endpoint: &str) -> Result<Self, Error> {
        if endpoint.starts_with("tcp://") {
            Ok(self.tcp_at(endpoint))
        } else if let Some(path) = endpoint.strip_prefix("ipc://").filter(|p| !p.is_empty()) {
            Ok(self.ipc_at(path))
        } else {
            Err(Error::Config(format!(
                "cannot bind {endpoint:?}: expected tcp://host:port or ipc:///path"
            )))
        }
    }

    /// Binds IPC at `path` (the socket file; its directory must exist).
    #[must_use]
    pub fn ipc_at(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.transports.push(Bind::IpcAt(path.into()));
        self
    }

    /// Binds an IPC endpoint in a temporary directory.
    #[must_use]
    pub fn ipc(mut self) -> Self {
        if !self.transports.contains(&Bind::Ipc) {
            self.transports.push(Bind::Ipc);
        }
        self
    }

    /// Sets the ROUTER's send high-water mark per client (0 = unlimited; see
    /// [`ServerConfig::send_hwm`]).
    pub fn send_hwm(mut self, messages: i32) -> Self {
        self.send_hwm = messages;
        self
    }

    /// Sets the event publisher's send high-water mark per subscriber (0 = unlimited; see
    /// [`ServerConfig::event_send_hwm`]).
    #[must_use]
    pub fn event_send_hwm(mut self, messages: i32) -> Self {
        self.event_send_hwm = messages;
        self
    }

    /// Makes property `name` observable on every Thing (see [`ServerConfig::observable`]).
    #[must_use]
    pub fn observable(mut self, name: impl Into<String>) -> Self {
        self.observable.push(name.into());
        self
    }

    /// Adds an event stream started with every run (see [`ServerConfig::event_streams`]).
    #[must_use]
    pub fn event_stream(mut self, stream: EventStream) -> Self {
        self.event_streams.push(stream);
        self
    }

    /// Sets the initial behaviour.
    #[must_use]
    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Finishes the configuration (TCP on any free port if no transport was chosen).
    pub fn build(self) -> ServerConfig {
        let thing_ids = if self.thing_ids.is_empty() {
            vec![self.server_id.clone()]
        } else {
            self.thing_ids
        };
        let transports = if self.transports.is_empty() {
            vec![Bind::Tcp("tcp://127.0.0.1:0".to_owned())]
        } else {
            self.transports
        };
        ServerConfig {
            server_id: self.server_id,
            thing_ids,
            transports,
            behaviour: self.behaviour,
            send_hwm: self.send_hwm,
            event_send_hwm: self.event_send_hwm,
            observable: self.observable,
            event_streams: self.event_streams,
        }
    }
}

/// hololinked's `get_sanitized_filename_from_random_string(id, "ipc")` (one implementation for
/// the whole project, in pool-core).
pub use pool_core::wire::hololinked_ipc_filename as sanitized_ipc_filename;
