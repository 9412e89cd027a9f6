//! What the pool tells its driver: request outcomes, server changes, and message routing.

use super::handles::{FanoutId, RequestId, ServerId, ThingId};
use crate::wire::{Malformed, TimeoutKind};

/// How a request ended. Every started request ends in exactly one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered `REPLY`; the payload frames are the result.
    Reply,
    /// The server answered `EXCEPTION`; the payload frame holds `{"exception": {...}}`.
    Exception,
    /// The server answered `INVALID_MESSAGE` (for example an unknown Thing id).
    InvalidMessage,
    /// The server answered `TIMEOUT`: its invokation or execution timeout fired.
    ServerTimeout(TimeoutKind),
    /// The client deadline passed. `sent` tells whether the request had gone out; if not, the
    /// server never became ready within the deadline.
    Timeout {
        /// Whether the request had been handed to the transport.
        sent: bool,
    },
    /// The application cancelled the request.
    Cancelled,
    /// The connection to the server was lost while the request was in flight. The request is
    /// never resent (at-most-once): the server may or may not have executed it.
    Disconnected,
    /// The server was removed from the pool before the request finished.
    Closed,
    /// A oneway request was handed to the transport; no reply is expected.
    Sent,
    /// The request's header did not fit the transmit buffer; it was never sent.
    Unsendable,
}

impl Outcome {
    /// Whether the outcome came from the server (a reply frame is attached).
    #[must_use]
    pub fn is_from_server(self) -> bool {
        matches!(
            self,
            Outcome::Reply
                | Outcome::Exception
                | Outcome::InvalidMessage
                | Outcome::ServerTimeout(_)
        )
    }
}

/// The one outcome of one request, with the caller's request data handed back.
#[derive(Debug)]
#[must_use = "a completion carries its request's value (the waiter): hand it on"]
pub struct Completion<R> {
    /// Which request.
    pub id: RequestId,
    /// The server it was addressed to.
    pub server: ServerId,
    /// The Thing it was addressed to.
    pub thing: ThingId,
    /// The fan-out it belongs to, if any.
    pub fanout: Option<FanoutId>,
    /// How it ended.
    pub outcome: Outcome,
    /// The data the caller gave to `start_request` (for example the waiter to wake).
    pub user: R,
}

/// Why a server was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// The transport reported a disconnect (or a failed connect).
    Disconnected,
    /// The transport could not send to the server.
    SendFailed,
    /// No HANDSHAKE reply came within `Config::handshake_timeout`.
    HandshakeTimeout,
    /// A ready server went quiet: nothing at all came from it within `Config::liveness_timeout`
    /// of a liveness probe, sent after `Config::liveness_interval` of silence whether or not
    /// requests were in flight (a vanished peer, a half-open connection, a frozen process, or
    /// a server too busy in a long action to answer a HANDSHAKE). Its requests in flight end
    /// `Disconnected`.
    Unresponsive,
}

/// Outputs other than transmits, drained with `Pool::poll_event`.
#[derive(Debug)]
#[must_use = "an event is taken from the pool: act on it (a dropped `Completed` loses its request's waiter)"]
pub enum Event<R> {
    /// Open a fresh connection to this server (drop any previous socket first), then report
    /// `handle_connected` or `handle_disconnected`.
    Connect(ServerId),
    /// The server answered a HANDSHAKE; requests for it are flowing.
    ServerReady(ServerId),
    /// The server was lost; in-flight requests failed `Disconnected`, queued ones wait for the
    /// reconnect. A `Connect` follows after the backoff.
    ServerLost(ServerId, LostReason),
    /// A request ended (replies come back from `handle_message` instead).
    Completed(Completion<R>),
    /// Every member of this fan-out has its outcome.
    FanoutDone(FanoutId),
}

/// Why an incoming message was dropped without reaching a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The id is not one of this pool's (another client's, another pool's, or not a UUID).
    Foreign,
    /// The id is ours but its request has already ended (late, duplicate or replayed reply,
    /// a reply after cancel or client timeout, an unsolicited TIMEOUT for a oneway request).
    Late,
    /// The id is of a live request, but the message came from another server.
    WrongServer,
    /// The message arrived for a server handle that no longer exists.
    UnknownServer,
}

/// What `Pool::handle_message` did with a message.
#[derive(Debug)]
#[must_use = "a routed reply may carry a completion (the waiter): hand it on"]
pub enum Routed<R> {
    /// The message is the reply to this request; hand the frames to its waiter.
    Completed(Completion<R>),
    /// A HANDSHAKE reply: the server is alive (it may have become ready).
    Handshake,
    /// Dropped and counted.
    Dropped(Dropped),
    /// Not a well-formed hololinked reply; dropped and counted.
    Malformed(Malformed),
}
