//! The steps a case is made of: commands a driver gives the pool, inputs from the network and the
//! transport, clock moves, and the driver's own pace (`Hold`, `DrainTransmits`) and steering
//! (`Silence`).
//!
//! Invariants:
//! * a transition is pure data: servers, Things and requests are named by their position in the
//!   model's lists of everything ever added / mapped / started (never by a pool handle), so a
//!   failing case prints and shrinks on its own and stale handles are exercised too;
//! * `Kind` is the whole set of well-formed answers to a request, each with its wire form
//!   (`Kind::wire`) and the `Outcome` the pool must report for it (`Kind::outcome`);
//! * `ForeignId` and `Bad` cover input that must never complete a request: well-formed replies
//!   with ids not of this pool's requests, and input that is not a hololinked reply at all.

use pool_core::pool::Outcome;
use pool_core::wire::TimeoutKind;

/// What a server answers to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Reply,
    Exception,
    InvalidMessage,
    ExecutionTimeout,
    InvokationTimeout,
}

impl Kind {
    pub(crate) fn wire(self) -> (&'static str, &'static [u8]) {
        match self {
            Kind::Reply => ("REPLY", b"12.5"),
            Kind::Exception => (
                "EXCEPTION",
                br#"{"exception":{"message":"boom","type":"ValueError"}}"#,
            ),
            Kind::InvalidMessage => (
                "INVALID_MESSAGE",
                br#"{"exception":{"message":"no such thing"}}"#,
            ),
            Kind::ExecutionTimeout => ("TIMEOUT", br#""execution""#),
            Kind::InvokationTimeout => ("TIMEOUT", br#""invokation""#),
        }
    }

    pub(crate) fn outcome(self) -> Outcome {
        match self {
            Kind::Reply => Outcome::Reply,
            Kind::Exception => Outcome::Exception,
            Kind::InvalidMessage => Outcome::InvalidMessage,
            Kind::ExecutionTimeout => Outcome::ServerTimeout(TimeoutKind::Execution),
            Kind::InvokationTimeout => Outcome::ServerTimeout(TimeoutKind::Invokation),
        }
    }
}

/// A well-formed REPLY whose id is not one of this pool's request ids.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ForeignId {
    /// Not a UUID at all.
    Garbage,
    /// A UUID this pool's codec would write, but with another pool's nonce.
    OtherPool,
    /// Some other client's UUID.
    OtherClient,
    /// One of this pool's HANDSHAKE ids (no request slot).
    HandshakeId,
}

/// Input that is not a well-formed hololinked reply.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bad {
    NoFrames,
    OneFrame,
    ThreeFrames,
    FiveFrames,
    Delimiter,
    NotJson,
    UnknownType,
    TimeoutPayload,
}

/// One step. Servers, Things and requests are named by their position in the model's lists of
/// everything ever added / mapped / started, so stale handles are exercised too.
#[derive(Clone, Debug)]
pub(crate) enum Transition {
    AddServer,
    RemoveServer(usize),
    MapThing(usize),
    UnmapThing(usize),
    /// `handle_connected`.
    Connect(usize),
    /// `handle_disconnected`.
    Disconnect(usize),
    /// `handle_send_failed`, optionally naming a request in flight on it.
    SendFailed {
        server: usize,
        request: Option<usize>,
    },
    /// A HANDSHAKE reply with the latest (or the first, stale) HANDSHAKE id sent to the server.
    HandshakeReply {
        server: usize,
        latest: bool,
    },
    Start {
        thing: usize,
        timeout_ms: Option<u64>,
        oneway: bool,
    },
    Fanout {
        timeout_ms: Option<u64>,
        oneway: bool,
    },
    /// A reply carrying request `request`'s message id, from its own server or from `via`.
    /// Covers replies, duplicate and late replies (the request has ended) and wrong servers.
    Reply {
        request: usize,
        kind: Kind,
        via: Option<usize>,
    },
    Foreign {
        server: usize,
        id: ForeignId,
    },
    Malformed {
        server: usize,
        bad: Bad,
    },
    Cancel(usize),
    /// Advance the clock by this many milliseconds and call `handle_timeout(now)`.
    Tick(u64),
    /// What a driver does: sleep until `poll_timeout()` (or 1 µs short of it, `early`) and call
    /// `handle_timeout(now)`. Hits deadlines and timers exactly.
    Wake {
        early: bool,
    },
    /// Stop draining `poll_transmit` after each step (and `poll_event` too, if `events`).
    Hold {
        events: bool,
    },
    /// Drain every output again (and after every following step).
    DrainTransmits,
    /// The server falls silent (a frozen process, a half-open connection): from now until it is
    /// lost, the generator stops answering its requests and HANDSHAKEs (other arms may still
    /// reach it now and then). Nothing happens on the pool; it only steers generation, so
    /// that busy servers go quiet long enough for their liveness probes and losses.
    Silence(usize),
}
