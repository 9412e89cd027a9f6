//! The hololinked ZMQ wire codec, `no_std` and allocation-free.
//!
//! A DEALER client sends and receives 4 frames (the server's ROUTER adds and strips the routing
//! frame): `[b"", header JSON, payload, preserialized payload]`. This module writes request
//! headers into a caller buffer and reads reply headers tolerantly. Payload frames never need to
//! pass through here, except the tiny TIMEOUT payload that says which timeout fired.
//!
//! The format is the one hololinked's 0.3.x and 0.4.x servers speak. The golden vectors in
//! `tests/data/golden/` are the test of record (captured from live hololinked 0.4.2 servers), and
//! the live-interop tests (package `pool-tests`) run it against servers of both lines.
//!
//! * Requests carry exactly the 11 keys of hololinked's `RequestHeader`, in its field order, as
//!   compact UTF-8 JSON. A hololinked server drops a header with any other key.
//! * The execution contexts are always objects. [`KeyStyle::Both`] (the default) writes the
//!   camelCase keys the Python pool writes *and* the snake_case keys that 0.3.x servers read, so
//!   server-side timeouts work on both server lines (docs/protocol.md §12). [`KeyStyle::Camel`]
//!   reproduces the Python pool's bytes exactly.
//! * There is no way to encode `EXIT`: it stops a whole hololinked server.
//! * Replies may have their keys in any order, with whitespace, escapes and unknown keys.
//! * Events (the 5 frames a SUB receives from a Thing's publisher) are read as tolerantly by
//!   [`classify_event`]; the payload frames are borrowed, never parsed.
//! * With the `alloc` feature, [`RemoteException`] reads an exception payload into owned text:
//!   the one reader of hololinked's `{"exception": {...}}` for every crate of the project.

#[cfg(feature = "alloc")]
mod address;
mod content_type;
mod decode;
mod encode;
mod event;
#[cfg(feature = "alloc")]
mod exception;
mod json;

#[cfg(feature = "alloc")]
pub use address::hololinked_ipc_filename;
pub use content_type::{payload_content_type, ContentType, MAX_CONTENT_TYPE_LEN};
pub use decode::{
    classify_reply, decode_reply_header, decode_timeout_kind, Malformed, Reply, ReplyHeader,
    ReplyKind, TimeoutKind,
};
pub use encode::{encode_request, encoded_len, encoded_len_at_most, BufferTooSmall};
pub use event::{
    classify_event, decode_event_header, EventFrames, EventHeader, MalformedEvent, EVENT_FRAMES,
};
#[cfg(feature = "alloc")]
pub use exception::RemoteException;

use crate::time::Duration;

/// Number of frames a DEALER sends and receives.
pub const DEALER_FRAMES: usize = 4;

/// The payload frame that means "no payload" (JSON `null`). Never send an empty JSON frame: the
/// server fails to decode it and may lose the Thing's worker thread (docs/protocol.md §8, §14).
pub const NULL_PAYLOAD: &[u8] = b"null";

/// Content type of JSON payloads (hololinked's default).
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Content type of msgpack payloads (registered by every hololinked server).
pub const CONTENT_TYPE_MSGPACK: &str = "application/msgpack";

/// Content type label of the preserialized frame when it is empty (what hololinked sends).
pub const CONTENT_TYPE_TEXT: &str = "text/plain";

/// Content type of postcard payloads (see [`crate::codec`]).
pub const CONTENT_TYPE_POSTCARD: &str = "application/x-postcard";

/// The request message types a client may send. `EXIT` is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `"OPERATION"`: a property read/write, an action, ...
    Operation,
    /// `"HANDSHAKE"`: a stateless liveness ping the server answers with `HANDSHAKE`.
    Handshake,
}

impl RequestKind {
    /// The literal on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestKind::Operation => "OPERATION",
            RequestKind::Handshake => "HANDSHAKE",
        }
    }
}

/// Which spelling of the execution-context keys to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStyle {
    /// camelCase only, as hololinked's Python pool sends (honoured by 0.4.x servers only).
    Camel,
    /// snake_case only, as hololinked's Python object proxies send (honoured by both lines).
    Snake,
    /// Both spellings: camelCase first, then snake_case (docs/protocol.md §12; harmless on both
    /// lines).
    #[default]
    Both,
}

/// `serverExecutionContext`: server-side timeouts and the oneway flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerContext {
    /// How long the request may wait in the Thing's queue; `None` is JSON `null` (no limit).
    pub invokation_timeout: Option<Duration>,
    /// How long the Thing may execute; `None` is JSON `null` (no limit).
    pub execution_timeout: Option<Duration>,
    /// The server sends no reply (it may still send a `TIMEOUT` on 0.4.x).
    pub oneway: bool,
}

impl Default for ServerContext {
    /// The Python pool's default: 5 s and 5 s, not oneway.
    fn default() -> Self {
        ServerContext {
            invokation_timeout: Some(Duration::from_secs(5)),
            execution_timeout: Some(Duration::from_secs(5)),
            oneway: false,
        }
    }
}

/// `thingExecutionContext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThingContext {
    /// Ask the server to return the Thing's log lines with the result (fragile upstream,
    /// docs/protocol.md §12).
    pub fetch_execution_logs: bool,
}

/// The per-request fields of a request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFields<'a> {
    /// `thingID`: which Thing on the server.
    pub thing_id: &'a str,
    /// `objekt`: property or action name (hololinked's spelling); `None` is written as JSON
    /// `null`, which `readallproperties` and the other whole-Thing operations take.
    pub objekt: Option<&'a str>,
    /// `operation`: `readproperty`, `writeproperty`, `invokeaction`, ...
    pub operation: &'a str,
    /// `payloadContentType`: content type of the payload frame.
    pub payload_content_type: &'a str,
    /// `preencodedPayloadContentType`: label of the preserialized frame (servers ignore it).
    pub preencoded_content_type: &'a str,
    /// `serverExecutionContext`.
    pub server_context: ServerContext,
    /// `thingExecutionContext`.
    pub thing_context: ThingContext,
}

impl<'a> RequestFields<'a> {
    /// A request with default content types and contexts.
    #[must_use]
    pub fn new(thing_id: &'a str, operation: &'a str, objekt: &'a str) -> Self {
        RequestFields {
            thing_id,
            objekt: Some(objekt),
            operation,
            payload_content_type: CONTENT_TYPE_JSON,
            preencoded_content_type: CONTENT_TYPE_TEXT,
            server_context: ServerContext::default(),
            thing_context: ThingContext::default(),
        }
    }

    /// The fields hololinked sends with a HANDSHAKE: empty names, default contexts.
    #[must_use]
    pub fn handshake() -> RequestFields<'static> {
        RequestFields::new("", "", "")
    }
}

/// Everything that goes into one request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader<'a> {
    /// `messageType`.
    pub kind: RequestKind,
    /// `messageID` (the pool writes UUID-shaped ids; any string is legal on the wire).
    pub message_id: &'a str,
    /// `senderID`: must equal the client socket identity, or the reply is lost (docs/protocol.md
    /// §4, routing by `senderID`).
    pub sender_id: &'a str,
    /// `receiverID`: the server id (not checked by servers).
    pub receiver_id: &'a str,
    /// Spelling of the execution-context keys.
    pub key_style: KeyStyle,
    /// The per-request fields.
    pub fields: RequestFields<'a>,
}
