//! A raw hololinked client on one `zmq` DEALER socket: builds request frames by hand, so tests can check
//! exactly what a real server answers to exactly which bytes.
//!
//! Wire format (docs/protocol.md §4–§5): a DEALER sends 4 frames `["", header_json, payload, preserialized]`
//! and receives 4 frames `["", header_json, payload, preserialized]`. The request header has exactly the 11 keys
//! of [`request_header`] (an unknown top-level key makes the server drop the request silently), `senderID` must
//! equal the socket identity (the server routes its reply by it), and the payload frame is `null` when there is
//! no payload (an empty JSON frame is an error, and the first-ever failing operation can kill a Thing's thread).
//!
//! Every receive is bounded by `ZMQ_RCVTIMEO`, so nothing here can hang.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pool_core::wire::RemoteException;
use pool_core::SplitMix64;
use serde_json::{json, Value};

use crate::protocol::uuid4;

/// Default time a [`RawClient`] waits for one reply.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`RawClient::handshake`] resends HANDSHAKE while no reply came (the Python client uses 500 ms).
pub const HANDSHAKE_RESEND: Duration = Duration::from_millis(200);

/// An error of the raw client.
#[derive(Debug)]
pub enum RawError {
    /// A libzmq call failed.
    Zmq(zmq::Error),
    /// Nothing (matching) arrived in time.
    Timeout(String),
    /// A reply did not have the hololinked shape.
    Malformed(String),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawError::Zmq(e) => write!(f, "zmq error: {e}"),
            RawError::Timeout(what) => write!(f, "timed out: {what}"),
            RawError::Malformed(what) => write!(f, "malformed reply: {what}"),
        }
    }
}

impl std::error::Error for RawError {}

impl From<zmq::Error> for RawError {
    fn from(e: zmq::Error) -> Self {
        RawError::Zmq(e)
    }
}

/// A fresh random message id formatted like a UUID4 (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`,
/// lowercase): the next of one process-wide splitmix64 stream, seeded once from the standard
/// library's per-process random hasher keys and the clock, so ids differ between runs.
pub fn new_message_id() -> String {
    static STREAM: OnceLock<Mutex<SplitMix64>> = OnceLock::new();
    let stream = STREAM.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Mutex::new(SplitMix64::new(h.finish()))
    });
    let mut rng = stream
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    uuid4(&mut rng)
}

/// Which key spelling an execution context uses (docs/protocol.md §12, §16).
///
/// * 0.3.x servers read only snake_case (`invokation_timeout`, `execution_timeout`, `fetch_execution_logs`).
/// * 0.4.x servers read either, snake_case first.
/// * `oneway` is spelled the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKeys {
    /// `invokationTimeout` / `executionTimeout` / `fetchExecutionLogs` only (what the Python defaults send).
    Camel,
    /// `invokation_timeout` / `execution_timeout` / `fetch_execution_logs` only (what the Python proxies send).
    Snake,
    /// Both spellings with the same values (what the Rust pool should send; harmless on both lines).
    Both,
}

/// A `serverExecutionContext` object. `None` timeouts are JSON `null` (no server timeout on either line).
pub fn server_context(
    keys: ContextKeys,
    invokation_timeout: Option<f64>,
    execution_timeout: Option<f64>,
    oneway: bool,
) -> Value {
    let mut ctx = serde_json::Map::new();
    if matches!(keys, ContextKeys::Camel | ContextKeys::Both) {
        ctx.insert("invokationTimeout".into(), json!(invokation_timeout));
        ctx.insert("executionTimeout".into(), json!(execution_timeout));
    }
    ctx.insert("oneway".into(), json!(oneway));
    if matches!(keys, ContextKeys::Snake | ContextKeys::Both) {
        ctx.insert("invokation_timeout".into(), json!(invokation_timeout));
        ctx.insert("execution_timeout".into(), json!(execution_timeout));
    }
    Value::Object(ctx)
}

/// A `thingExecutionContext` object.
pub fn thing_context(keys: ContextKeys, fetch_execution_logs: bool) -> Value {
    let mut ctx = serde_json::Map::new();
    if matches!(keys, ContextKeys::Camel | ContextKeys::Both) {
        ctx.insert("fetchExecutionLogs".into(), json!(fetch_execution_logs));
    }
    if matches!(keys, ContextKeys::Snake | ContextKeys::Both) {
        ctx.insert("fetch_execution_logs".into(), json!(fetch_execution_logs));
    }
    Value::Object(ctx)
}

/// One request to send. Build it with [`Request::operation`] / [`Request::handshake`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `messageType`: `OPERATION` or `HANDSHAKE` (never send `EXIT`: it stops the whole server).
    pub message_type: String,
    /// `messageID`; fresh per request.
    pub message_id: String,
    /// `thingID`.
    pub thing_id: String,
    /// `objekt` (property or action name; the key really is spelled `objekt`).
    pub objekt: String,
    /// `operation`, e.g. `readproperty`, `writeproperty`, `invokeaction`.
    pub operation: String,
    /// Frame 3 (JSON by default; `null` when there is no payload).
    pub payload: Vec<u8>,
    /// Frame 4 (opaque bytes, usually empty).
    pub preserialized: Vec<u8>,
    /// `serverExecutionContext` (always sent as an object).
    pub server_context: Value,
    /// `thingExecutionContext` (always sent as an object).
    pub thing_context: Value,
    /// `payloadContentType`.
    pub payload_content_type: String,
}

impl Request {
    /// An `OPERATION` request with payload `null`, both context spellings and no server timeouts.
    pub fn operation(thing_id: &str, objekt: &str, operation: &str) -> Request {
        Request {
            message_type: "OPERATION".into(),
            message_id: new_message_id(),
            thing_id: thing_id.into(),
            objekt: objekt.into(),
            operation: operation.into(),
            payload: b"null".to_vec(),
            preserialized: Vec::new(),
            server_context: server_context(ContextKeys::Both, None, None, false),
            thing_context: thing_context(ContextKeys::Both, false),
            payload_content_type: "application/json".into(),
        }
    }

    /// `readproperty` of `name` on `thing_id`.
    pub fn read_property(thing_id: &str, name: &str) -> Request {
        Request::operation(thing_id, name, "readproperty")
    }

    /// `writeproperty` of `name` on `thing_id` with a JSON value.
    pub fn write_property(thing_id: &str, name: &str, value: &Value) -> Request {
        Request::operation(thing_id, name, "writeproperty").with_json(value)
    }

    /// `invokeaction` of `action` on `thing_id` with a JSON payload (an object of kwargs, `__args__` for
    /// positional arguments, or `null`).
    pub fn invoke_action(thing_id: &str, action: &str, payload: &Value) -> Request {
        Request::operation(thing_id, action, "invokeaction").with_json(payload)
    }

    /// A `HANDSHAKE` request (empty thing/objekt/operation, default contexts, payload `null`).
    pub fn handshake() -> Request {
        Request {
            message_type: "HANDSHAKE".into(),
            thing_id: String::new(),
            objekt: String::new(),
            operation: String::new(),
            ..Request::operation("", "", "")
        }
    }

    /// Replace the payload with the JSON encoding of `value`.
    pub fn with_json(mut self, value: &Value) -> Request {
        self.payload = serde_json::to_vec(value).expect("a serde_json::Value always serializes");
        self
    }

    /// Replace the preserialized frame.
    pub fn with_preserialized(mut self, bytes: &[u8]) -> Request {
        self.preserialized = bytes.to_vec();
        self
    }

    /// Replace the `serverExecutionContext`.
    pub fn with_server_context(mut self, ctx: Value) -> Request {
        self.server_context = ctx;
        self
    }

    /// Replace the `thingExecutionContext`.
    pub fn with_thing_context(mut self, ctx: Value) -> Request {
        self.thing_context = ctx;
        self
    }

    /// The header JSON for this request as sent by `sender_id` to `receiver_id`.
    pub fn header(&self, sender_id: &str, receiver_id: &str) -> Value {
        request_header(self, sender_id, receiver_id)
    }
}

/// The request header: exactly the 11 keys of docs/protocol.md §5 (serialized in serde_json's key order, which the
/// server accepts: it decodes any key order).
pub fn request_header(req: &Request, sender_id: &str, receiver_id: &str) -> Value {
    // serde_json's Map keeps insertion order only with `preserve_order`; order does not matter to the server
    // (it decodes any key order), so a plain map is fine.
    json!({
        "messageType": req.message_type,
        "messageID": req.message_id,
        "senderID": sender_id,
        "receiverID": receiver_id,
        "serverExecutionContext": req.server_context,
        "thingExecutionContext": req.thing_context,
        "thingID": req.thing_id,
        "objekt": req.objekt,
        "operation": req.operation,
        "payloadContentType": req.payload_content_type,
        "preencodedPayloadContentType": "text/plain",
    })
}

/// One reply as a DEALER receives it (4 frames; the leading empty delimiter is dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The whole header object (unknown keys kept).
    pub header: Value,
    /// `messageType`: `HANDSHAKE`, `REPLY`, `EXCEPTION`, `INVALID_MESSAGE` or `TIMEOUT`.
    pub message_type: String,
    /// `messageID` (echo of the request's).
    pub message_id: String,
    /// Frame 3 (the serialized payload; `null` when empty).
    pub payload: Vec<u8>,
    /// Frame 4 (the preserialized payload; empty when absent).
    pub preserialized: Vec<u8>,
}

impl Reply {
    /// Parse the 4 frames a DEALER receives.
    pub fn from_frames(frames: &[Vec<u8>]) -> Result<Reply, RawError> {
        if frames.len() != 4 {
            return Err(RawError::Malformed(format!(
                "expected 4 frames, got {}",
                frames.len()
            )));
        }
        if !frames[0].is_empty() {
            return Err(RawError::Malformed(
                "frame 0 is not the empty delimiter".into(),
            ));
        }
        let header: Value = serde_json::from_slice(&frames[1])
            .map_err(|e| RawError::Malformed(format!("header is not JSON: {e}")))?;
        let text = |key: &str| {
            header
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| RawError::Malformed(format!("header has no string {key}: {header}")))
        };
        Ok(Reply {
            message_type: text("messageType")?,
            message_id: text("messageID")?,
            payload: frames[2].clone(),
            preserialized: frames[3].clone(),
            header,
        })
    }

    /// Frame 3 decoded as JSON.
    pub fn json(&self) -> Result<Value, RawError> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            RawError::Malformed(format!(
                "payload is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.payload)
            ))
        })
    }

    /// A header string field, if present.
    pub fn header_str(&self, key: &str) -> Option<&str> {
        self.header.get(key).and_then(Value::as_str)
    }

    /// For `EXCEPTION` / `INVALID_MESSAGE`: the payload read by pool-core's lenient reader
    /// (the one the pool uses), which never fails.
    pub fn exception(&self) -> RemoteException {
        RemoteException::parse(&self.payload)
    }
}

/// A DEALER socket connected to one hololinked server, with its own `zmq::Context`.
pub struct RawClient {
    // The socket must be dropped before the context; fields drop in declaration order.
    socket: zmq::Socket,
    _ctx: zmq::Context,
    identity: String,
    server_id: String,
    endpoint: String,
}

impl fmt::Debug for RawClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawClient")
            .field("identity", &self.identity)
            .field("server_id", &self.server_id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl RawClient {
    /// Connect a DEALER with `identity` (1–255 bytes, unique per server) to `endpoint`; `server_id` goes into
    /// the `receiverID` header (the server does not check it). Linger 0, no heartbeats.
    pub fn connect(endpoint: &str, identity: &str, server_id: &str) -> Result<RawClient, RawError> {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER)?;
        socket.set_linger(0)?;
        socket.set_identity(identity.as_bytes())?;
        socket.set_sndtimeo(5_000)?;
        socket.connect(endpoint)?;
        Ok(RawClient {
            socket,
            _ctx: ctx,
            identity: identity.into(),
            server_id: server_id.into(),
            endpoint: endpoint.into(),
        })
    }

    /// The socket identity (= the `senderID` of every request).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The endpoint this client connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The underlying socket (for tests that need to send odd frames).
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Send `req` (4 frames); returns its message id.
    pub fn send(&self, req: &Request) -> Result<String, RawError> {
        let header = serde_json::to_vec(&req.header(&self.identity, &self.server_id))
            .expect("a serde_json::Value always serializes");
        let frames: [&[u8]; 4] = [b"", &header, &req.payload, &req.preserialized];
        self.socket.send_multipart(frames, 0)?;
        Ok(req.message_id.clone())
    }

    /// Send a hand-made header (e.g. one with a key removed) with the given payload frames. The header is sent
    /// exactly as given: nothing is added, so `senderID` must be this client's identity to get a reply.
    pub fn send_raw(
        &self,
        header: &Value,
        payload: &[u8],
        preserialized: &[u8],
    ) -> Result<(), RawError> {
        let header = serde_json::to_vec(header).expect("a serde_json::Value always serializes");
        let frames: [&[u8]; 4] = [b"", &header, payload, preserialized];
        self.socket.send_multipart(frames, 0)?;
        Ok(())
    }

    /// Receive the next reply of any id, waiting at most `timeout`.
    pub fn recv_any(&self, timeout: Duration) -> Result<Reply, RawError> {
        let ms = i32::try_from(timeout.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        self.socket.set_rcvtimeo(ms)?;
        match self.socket.recv_multipart(0) {
            Ok(frames) => Reply::from_frames(&frames),
            Err(zmq::Error::EAGAIN) => Err(RawError::Timeout(format!(
                "no reply within {timeout:?} from {}",
                self.endpoint
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Receive until the reply to `message_id` arrives (other replies, e.g. late HANDSHAKEs, are skipped),
    /// waiting at most `timeout` in total.
    pub fn recv_reply(&self, message_id: &str, timeout: Duration) -> Result<Reply, RawError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RawError::Timeout(format!(
                    "no reply to {message_id} within {timeout:?} from {}",
                    self.endpoint
                )));
            }
            match self.recv_any(left) {
                Ok(reply) if reply.message_id == message_id => return Ok(reply),
                Ok(_) => continue,
                Err(RawError::Timeout(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Receive the replies to all of `message_ids`, in whatever order they arrive (other ids are skipped),
    /// waiting at most `timeout` in total. Returns them in arrival order.
    pub fn recv_replies(
        &self,
        message_ids: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Reply>, RawError> {
        let deadline = Instant::now() + timeout;
        let mut got: Vec<Reply> = Vec::with_capacity(message_ids.len());
        while got.len() < message_ids.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let missing: Vec<&&str> = message_ids
                    .iter()
                    .filter(|id| !got.iter().any(|r| r.message_id == **id))
                    .collect();
                return Err(RawError::Timeout(format!(
                    "no reply to {missing:?} within {timeout:?} from {}",
                    self.endpoint
                )));
            }
            match self.recv_any(left) {
                Ok(reply)
                    if message_ids.contains(&reply.message_id.as_str())
                        && !got.iter().any(|r| r.message_id == reply.message_id) =>
                {
                    got.push(reply)
                }
                Ok(_) | Err(RawError::Timeout(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    /// Send `req` and wait for its reply (at most `timeout`).
    pub fn request_with_timeout(
        &self,
        req: &Request,
        timeout: Duration,
    ) -> Result<Reply, RawError> {
        let id = self.send(req)?;
        self.recv_reply(&id, timeout)
    }

    /// Send `req` and wait for its reply (at most [`DEFAULT_REPLY_TIMEOUT`]).
    pub fn request(&self, req: &Request) -> Result<Reply, RawError> {
        self.request_with_timeout(req, DEFAULT_REPLY_TIMEOUT)
    }

    /// Send HANDSHAKE (a fresh id each time) every [`HANDSHAKE_RESEND`] until any HANDSHAKE reply arrives
    /// (requests sent before the connection exists are dropped by the server's ROUTER, hence the resend).
    pub fn handshake(&self, timeout: Duration) -> Result<Reply, RawError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RawError::Timeout(format!(
                    "no HANDSHAKE reply within {timeout:?} from {}",
                    self.endpoint
                )));
            }
            self.send(&Request::handshake())?;
            let round_end = Instant::now() + HANDSHAKE_RESEND.min(left);
            loop {
                let wait = round_end.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    break;
                }
                match self.recv_any(wait) {
                    Ok(reply) if reply.message_type == "HANDSHAKE" => return Ok(reply),
                    Ok(_) | Err(RawError::Timeout(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_uuid4() {
        let a = new_message_id();
        let b = new_message_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(a
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }

    #[test]
    fn header_has_exactly_the_eleven_keys() {
        let req = Request::read_property("t", "number");
        let header = req.header("cli", "srv");
        let obj = header.as_object().unwrap();
        assert_eq!(obj.len(), 11);
        assert_eq!(obj["senderID"], "cli");
        assert_eq!(obj["objekt"], "number");
        assert!(obj["serverExecutionContext"].is_object());
        assert!(obj["thingExecutionContext"].is_object());
        assert_eq!(req.payload, b"null");
    }

    #[test]
    fn context_spellings() {
        let both = server_context(ContextKeys::Both, Some(1.0), None, true);
        assert_eq!(both["invokationTimeout"], 1.0);
        assert_eq!(both["invokation_timeout"], 1.0);
        assert!(both["execution_timeout"].is_null());
        assert_eq!(both["oneway"], true);
        let snake = server_context(ContextKeys::Snake, Some(1.0), Some(2.0), false);
        assert!(snake.get("invokationTimeout").is_none());
        let camel = thing_context(ContextKeys::Camel, false);
        assert!(camel.get("fetch_execution_logs").is_none());
    }
}
