//! A plain libzmq DEALER client for the tests (4 frames, identity set).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh messageID.
pub fn new_id() -> String {
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// The default execution context the Python pool sends.
pub const DEFAULT_CTX: &str = r#"{"invokationTimeout":5,"executionTimeout":5,"oneway":false}"#;

pub struct Client {
    pub id: String,
    pub server_id: String,
    socket: zmq::Socket,
    _ctx: zmq::Context,
}

/// A received message as a DEALER sees it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub frames: Vec<Vec<u8>>,
}

impl Msg {
    pub fn header(&self) -> Option<Value> {
        serde_json::from_slice(self.frames.get(1)?).ok()
    }
    pub fn message_type(&self) -> String {
        self.header()
            .and_then(|h| {
                h.get("messageType")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    }
    pub fn message_id(&self) -> String {
        self.header()
            .and_then(|h| {
                h.get("messageID")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    }
    pub fn payload(&self) -> Value {
        serde_json::from_slice(&self.frames[2]).expect("payload is JSON")
    }
    pub fn preserialized(&self) -> &[u8] {
        &self.frames[3]
    }
    /// `(type, message)` of an EXCEPTION / INVALID_MESSAGE payload.
    pub fn exception(&self) -> (String, String) {
        let p = self.payload();
        let e = &p["exception"];
        (
            e["type"].as_str().unwrap_or_default().to_owned(),
            e["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

#[allow(clippy::too_many_arguments)] // mirrors the header fields one to one
pub fn request_header(
    message_type: &str,
    message_id: &str,
    sender: &str,
    receiver: &str,
    ctx: &str,
    thing_id: &str,
    objekt: &str,
    operation: &str,
) -> String {
    format!(
        concat!(
            r#"{{"messageType":"{}","messageID":"{}","senderID":"{}","receiverID":"{}","#,
            r#""serverExecutionContext":{},"thingExecutionContext":{{"fetchExecutionLogs":false}},"#,
            r#""thingID":"{}","objekt":"{}","operation":"{}","payloadContentType":"application/json","#,
            r#""preencodedPayloadContentType":"text/plain"}}"#
        ),
        message_type, message_id, sender, receiver, ctx, thing_id, objekt, operation
    )
}

impl Client {
    pub fn connect(endpoint: &str, id: &str, server_id: &str) -> Client {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER).unwrap();
        socket.set_identity(id.as_bytes()).unwrap();
        socket.set_linger(0).unwrap();
        socket.connect(endpoint).unwrap();
        Client {
            id: id.to_owned(),
            server_id: server_id.to_owned(),
            socket,
            _ctx: ctx,
        }
    }

    pub fn send_frames(&self, frames: &[&[u8]]) {
        self.socket.send_multipart(frames, 0).unwrap();
    }

    pub fn send(&self, header: &str, payload: &[u8], pre: &[u8]) {
        self.send_frames(&[b"", header.as_bytes(), payload, pre]);
    }

    /// Sends an OPERATION; returns its messageID.
    pub fn op_ctx(
        &self,
        thing: &str,
        objekt: &str,
        operation: &str,
        payload: &str,
        ctx: &str,
    ) -> String {
        let id = new_id();
        let h = request_header(
            "OPERATION",
            &id,
            &self.id,
            &self.server_id,
            ctx,
            thing,
            objekt,
            operation,
        );
        self.send(&h, payload.as_bytes(), b"");
        id
    }

    pub fn op(&self, thing: &str, objekt: &str, operation: &str, payload: &str) -> String {
        self.op_ctx(thing, objekt, operation, payload, DEFAULT_CTX)
    }

    pub fn recv(&self, timeout: Duration) -> Option<Msg> {
        let mut items = [self.socket.as_poll_item(zmq::POLLIN)];
        let n = zmq::poll(&mut items, timeout.as_millis() as i64).unwrap();
        if n == 0 {
            return None;
        }
        Some(Msg {
            frames: self.socket.recv_multipart(0).unwrap(),
        })
    }

    /// Waits for the reply with this messageID, skipping anything else.
    pub fn recv_for(&self, message_id: &str, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let msg = self.recv(left)?;
            if msg.frames.len() == 4 && msg.message_id() == message_id {
                return Some(msg);
            }
        }
    }

    /// Sends an operation and waits for its reply.
    pub fn call(&self, thing: &str, objekt: &str, operation: &str, payload: &str) -> Msg {
        let id = self.op(thing, objekt, operation, payload);
        self.recv_for(&id, Duration::from_secs(5))
            .expect("reply within 5 s")
    }

    /// Sends HANDSHAKE every 100 ms until a HANDSHAKE reply arrives.
    pub fn handshake(&self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let id = new_id();
            let h = request_header(
                "HANDSHAKE",
                &id,
                &self.id,
                &self.server_id,
                DEFAULT_CTX,
                "",
                "",
                "",
            );
            self.send(&h, b"null", b"");
            let wait_until = Instant::now() + Duration::from_millis(100);
            while let Some(msg) = self.recv(wait_until.saturating_duration_since(Instant::now())) {
                if msg.message_type() == "HANDSHAKE" {
                    return Some(msg);
                }
            }
        }
        None
    }

    /// Everything that arrives until `quiet` passes without a message.
    pub fn drain(&self, quiet: Duration) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv(quiet) {
            out.push(m);
        }
        out
    }
}
