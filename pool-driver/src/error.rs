//! The one error type: what happened, to which Thing, on which server, under which message id.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::execution_log::ExecutionLog;
pub use pool_core::wire::TimeoutKind;

/// Everything that can go wrong with a request or with the pool's configuration.
///
/// Request errors name the Thing, the server and the message id, so a log line is enough to
/// find the request in the server's log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Thing raised an exception (an `EXCEPTION` reply).
    #[error("{thing}: remote {kind}: {message} (server {server}, message id {message_id})")]
    Remote {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
        /// The Python exception type, such as `ValueError`.
        kind: String,
        /// The exception message.
        message: String,
        /// The server's traceback lines.
        traceback: Vec<String>,
        /// The exception's notes (hololinked's `notes`: for a failed `_set_properties`, which
        /// properties failed and why).
        notes: Vec<String>,
        /// The Thing's log lines, for a request that asked for them
        /// ([`Request::fetch_execution_logs`](crate::Request::fetch_execution_logs)).
        execution_logs: Vec<ExecutionLog>,
        /// The exception payload as the server sent it (frame 3), to pass on unchanged.
        payload: Bytes,
    },
    /// The server refused the request (`INVALID_MESSAGE`), for example because it serves no
    /// Thing with this id.
    #[error(
        "{thing}: server {server} answered INVALID_MESSAGE: {kind}: {message} (message id {message_id})"
    )]
    InvalidMessage {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
        /// The Python exception type the server named, such as `KeyError`.
        kind: String,
        /// The server's explanation.
        message: String,
        /// The payload as the server sent it (frame 3).
        payload: Bytes,
    },
    /// The server gave up (`TIMEOUT`): the request waited too long in the Thing's queue
    /// (`Invokation`) or ran too long (`Execution`).
    #[error("{thing}: {} timeout on server {server}{} (message id {message_id})", kind.as_str(),
        ServerLimit(*limit))]
    ServerTimeout {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
        /// Which server-side timeout.
        kind: TimeoutKind,
        /// The limit the request carried for it (`None`: it carried none, and the server used
        /// its own).
        limit: Option<Duration>,
    },
    /// The client deadline passed with no answer.
    #[error("{thing}: no reply within {after:?}: {}{} (server {server}{}{})",
        timeout_reason(*sent, *server_ready),
        server_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default(),
        At(endpoint),
        SentAs(*sent, message_id))]
    Timeout {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The server's endpoint (empty when the request never reached a server).
        endpoint: String,
        /// The request's message id (it was never on the wire unless `sent`).
        message_id: String,
        /// The client deadline that passed.
        after: Duration,
        /// The request had been sent.
        sent: bool,
        /// The server was ready (handshaken) when the deadline passed.
        server_ready: bool,
        /// For a request never sent to a server that never became ready: why its last
        /// connection attempt failed or ended (connection refused, a protocol violation, no
        /// HANDSHAKE answer, ...), if one did.
        server_error: Option<String>,
    },
    /// The connection to the server broke while the request was in flight. It may or may not
    /// have run; it is not resent.
    #[error("{thing}: server {server} disconnected with the request in flight: {reason} (message id {message_id})")]
    Disconnected {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
        /// Why the connection ended: the server closed it, a send failed, a protocol violation
        /// (an oversized or undecodable message, a stream cut inside a frame), no answer to a
        /// liveness probe, ...
        reason: String,
    },
    /// The request was cancelled.
    #[error("{thing}: request cancelled (server {server}, message id {message_id})")]
    Cancelled {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
    },
    /// The pool shut down, or the server was removed, before the request ended.
    #[error("{thing}: the pool closed or server {server} was removed before a reply")]
    Closed {
        /// Thing id.
        thing: String,
        /// Server id (empty if the pool was already closed when the request was made).
        server: String,
    },
    /// The request's header could not be written (longer than the configured maximum).
    #[error("{thing}: the request header is longer than the pool's maximum ({max} bytes)")]
    HeaderTooLarge {
        /// Thing id.
        thing: String,
        /// The maximum header length.
        max: usize,
    },
    /// The reply was larger than the pool accepts (`PoolBuilder::max_reply_len`): it was
    /// dropped and the request ended with this error.
    #[error("{thing}: reply of {size} bytes exceeds the limit of {limit} bytes (server {server}, message id {message_id})")]
    ReplyTooLarge {
        /// Thing id.
        thing: String,
        /// Server id.
        server: String,
        /// The request's message id.
        message_id: String,
        /// The reply's size (all frames).
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The Thing has no property, action or event of this name, by its Thing Description
    /// (checked locally, before any request).
    #[error("{thing}: no {kind} `{name}`; its {}: {known}", kind.plural())]
    UnknownAffordance {
        /// Thing id.
        thing: String,
        /// What was asked for.
        kind: AffordanceKind,
        /// The name asked for.
        name: String,
        /// The names the Thing has, comma separated (`none` when it has none).
        known: String,
    },
    /// The property is read-only, by the Thing's Description (checked locally).
    #[error("{thing}: property `{property}` is read-only")]
    ReadOnly {
        /// Thing id.
        thing: String,
        /// The property.
        property: String,
    },
    /// The property is not observable, by the Thing's Description (checked locally): its
    /// server publishes no changes of it.
    #[error("{thing}: property `{property}` is not observable; its observable ones: {observable}")]
    NotObservable {
        /// Thing id.
        thing: String,
        /// The property.
        property: String,
        /// The observable properties, comma separated (`none` when it has none).
        observable: String,
    },
    /// No Thing with this id is configured in the pool.
    #[error("unknown Thing `{thing}`: the pool knows {known}")]
    UnknownThing {
        /// Thing id asked for.
        thing: String,
        /// The Things the pool knows, comma separated.
        known: String,
    },
    /// No server with this id is configured in the pool.
    #[error("unknown server `{server}`")]
    UnknownServer {
        /// Server id asked for.
        server: String,
    },
    /// A server or Thing with this id already exists.
    #[error("`{id}` is already configured")]
    AlreadyExists {
        /// The id.
        id: String,
    },
    /// Every request slot is taken (the pool's `capacity`) and the pool is set to refuse.
    #[error("{thing}: the pool is full ({capacity} requests in flight)")]
    Busy {
        /// Thing id.
        thing: String,
        /// The pool's capacity.
        capacity: usize,
    },
    /// Servers did not become ready in time (see `Pool::ready`).
    #[error("not ready after {after:?}: {}", servers.join(", "))]
    NotReady {
        /// The servers that had not answered a HANDSHAKE.
        servers: Vec<String>,
        /// How long the pool waited.
        after: Duration,
    },
    /// An endpoint string cannot be used.
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// An identity (client id or server id) cannot be used as a ZeroMQ identity.
    #[error("invalid identity `{identity}`: identities are 1 to 255 bytes and must not start with a NUL byte")]
    InvalidIdentity {
        /// The identity.
        identity: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A payload could not be encoded.
    #[error("cannot encode the payload: {0}")]
    Encode(String),
    /// A reply payload could not be decoded as asked.
    #[error("cannot decode the {content_type} payload of {thing}: {message}")]
    Decode {
        /// Thing id.
        thing: String,
        /// The content type tried.
        content_type: String,
        /// The decoder's message.
        message: String,
    },
    /// The pool was built outside the runtime its adapter needs.
    #[error("no async runtime: {0}")]
    NoRuntime(&'static str),
}

/// Which kind of interaction affordance an [`Error::UnknownAffordance`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AffordanceKind {
    /// A property.
    Property,
    /// An action.
    Action,
    /// An event.
    Event,
}

impl AffordanceKind {
    /// `properties`, `actions`, `events`.
    #[must_use]
    pub const fn plural(self) -> &'static str {
        match self {
            AffordanceKind::Property => "properties",
            AffordanceKind::Action => "actions",
            AffordanceKind::Event => "events",
        }
    }
}

impl fmt::Display for AffordanceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AffordanceKind::Property => "property",
            AffordanceKind::Action => "action",
            AffordanceKind::Event => "event",
        })
    }
}

/// ` (limit 5s)` for a server timeout whose limit the request carried.
struct ServerLimit(Option<Duration>);

impl fmt::Display for ServerLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(limit) => write!(f, " (limit {limit:?})"),
            None => Ok(()),
        }
    }
}

/// ` at tcp://...` when the endpoint is known.
struct At<'a>(&'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " at {}", self.0)
        }
    }
}

/// `, message id ...` only for a request that went out.
struct SentAs<'a>(bool, &'a str);

impl fmt::Display for SentAs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SentAs(true, id) if !id.is_empty() => write!(f, ", message id {id}"),
            _ => Ok(()),
        }
    }
}

fn timeout_reason(sent: bool, server_ready: bool) -> &'static str {
    match (sent, server_ready) {
        (true, _) => "the request was sent but not answered",
        (false, false) => "the server never became ready",
        (false, true) => "the request was still waiting to be sent",
    }
}

impl Error {
    /// `UnknownThing` for `thing`, listing the Things the pool knows (sorted here).
    pub(crate) fn unknown_thing<'a>(
        thing: &str,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Error {
        let mut known: Vec<&str> = known.into_iter().collect();
        known.sort_unstable();
        Error::UnknownThing {
            thing: thing.to_owned(),
            known: if known.is_empty() {
                "no Things".into()
            } else {
                known.join(", ")
            },
        }
    }

    /// The Thing the error is about, if it is about one.
    #[must_use]
    pub fn thing(&self) -> Option<&str> {
        match self {
            Error::Remote { thing, .. }
            | Error::InvalidMessage { thing, .. }
            | Error::ServerTimeout { thing, .. }
            | Error::Timeout { thing, .. }
            | Error::Disconnected { thing, .. }
            | Error::Cancelled { thing, .. }
            | Error::Closed { thing, .. }
            | Error::HeaderTooLarge { thing, .. }
            | Error::ReplyTooLarge { thing, .. }
            | Error::UnknownThing { thing, .. }
            | Error::UnknownAffordance { thing, .. }
            | Error::ReadOnly { thing, .. }
            | Error::NotObservable { thing, .. }
            | Error::Busy { thing, .. }
            | Error::Decode { thing, .. } => Some(thing),
            _ => None,
        }
    }

    /// The message id the request was sent with; `None` for a request that never went out
    /// (refused, or still waiting when its deadline passed or it was cancelled).
    #[must_use]
    pub fn message_id(&self) -> Option<&str> {
        let id = match self {
            Error::Remote { message_id, .. }
            | Error::InvalidMessage { message_id, .. }
            | Error::ServerTimeout { message_id, .. }
            | Error::Disconnected { message_id, .. }
            | Error::Cancelled { message_id, .. }
            | Error::ReplyTooLarge { message_id, .. } => message_id,
            Error::Timeout {
                message_id,
                sent: true,
                ..
            } => message_id,
            _ => return None,
        };
        (!id.is_empty()).then_some(id.as_str())
    }
}
