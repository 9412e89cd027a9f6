//! Wire-level helpers: request header parsing (serde_json) and byte-exact reply crafting, as a
//! hololinked 0.4.x `ZMQServer` does it.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// Number of frames a hololinked request or reply has on a ROUTER socket (routing frame included).
pub const MESSAGE_LENGTH: usize = 5;

/// `messageType` of a handshake request and of its reply.
pub const HANDSHAKE: &str = "HANDSHAKE";
/// `messageType` of a request that stops the whole server.
pub const EXIT: &str = "EXIT";
/// `messageType` of an operation request (any type other than HANDSHAKE/EXIT is executed).
pub const OPERATION: &str = "OPERATION";
/// `messageType` of a successful reply.
pub const REPLY: &str = "REPLY";
/// `messageType` of an error reply (hololinked's `ERROR` constant).
pub const EXCEPTION: &str = "EXCEPTION";
/// `messageType` of a server-side timeout reply.
pub const TIMEOUT: &str = "TIMEOUT";
/// `messageType` of a reply to a malformed request.
pub const INVALID_MESSAGE: &str = "INVALID_MESSAGE";

/// Default content type of the payload frame.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Content type reported for an empty preserialized frame.
pub const TEXT_PLAIN: &str = "text/plain";

/// Top-level request header keys hololinked's `RequestHeader` struct accepts. Any other key makes
/// `RequestHeader(**json)` raise, and the message is dropped without a reply.
const REQUEST_KEYS: [&str; 11] = [
    "messageType",
    "messageID",
    "senderID",
    "receiverID",
    "serverExecutionContext",
    "thingExecutionContext",
    "thingID",
    "objekt",
    "operation",
    "payloadContentType",
    "preencodedPayloadContentType",
];

/// The server-side execution limits of one request (0.4.x `as_execution_kwargs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionContext {
    /// Longest time the job may wait in the Thing's queue; `None` = forever.
    pub invokation_timeout: Option<Duration>,
    /// Longest time the job may execute; `None` = forever.
    pub execution_timeout: Option<Duration>,
    /// Whether REPLY/EXCEPTION are suppressed (TIMEOUTs are still sent).
    pub oneway: bool,
}

impl ExecutionContext {
    /// The 0.4.x struct default applied when `serverExecutionContext` is absent: 5 s and 5 s.
    pub const DEFAULT: ExecutionContext = ExecutionContext {
        invokation_timeout: Some(Duration::from_secs(5)),
        execution_timeout: Some(Duration::from_secs(5)),
        oneway: false,
    };

    fn from_json(value: Option<&Value>) -> ExecutionContext {
        let Some(value) = value else {
            return ExecutionContext::DEFAULT;
        };
        let Some(obj) = value.as_object() else {
            return ExecutionContext {
                invokation_timeout: None,
                execution_timeout: None,
                oneway: false,
            };
        };
        ExecutionContext {
            invokation_timeout: timeout_key(obj, "invokation_timeout", "invokationTimeout"),
            execution_timeout: timeout_key(obj, "execution_timeout", "executionTimeout"),
            oneway: obj.get("oneway").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// Snake_case first, then camelCase; `null`, missing or non-numeric = no limit. Negative values
/// count as zero (an immediate timeout, as `asyncio.wait_for` does).
fn timeout_key(obj: &Map<String, Value>, snake: &str, camel: &str) -> Option<Duration> {
    let value = match obj.get(snake) {
        Some(v) if !v.is_null() => v,
        _ => obj.get(camel)?,
    };
    let secs = value.as_f64()?;
    if !secs.is_finite() {
        return None;
    }
    Some(Duration::from_secs_f64(secs.clamp(0.0, 1.0e9)))
}

/// A request header that passed hololinked's (lax) `RequestHeader(**json)` construction.
#[derive(Debug, Clone)]
pub struct RequestHeader {
    /// `messageType` (HANDSHAKE, EXIT, or anything else = operation).
    pub message_type: String,
    /// `messageID`, echoed in the reply.
    pub message_id: String,
    /// `senderID`: the reply is routed to this identity.
    pub sender_id: String,
    /// `thingID`: `None` for JSON `null`, `""` when missing.
    pub thing_id: Option<String>,
    /// `objekt`: property or action name (`None` for JSON `null`).
    pub objekt: Option<String>,
    /// `operation`, e.g. `readproperty`.
    pub operation: String,
    /// `payloadContentType` of frame 3.
    pub payload_content_type: String,
    /// Timeouts and oneway flag.
    pub context: ExecutionContext,
    /// `thingExecutionContext` `fetch_execution_logs` (snake_case first, then
    /// `fetchExecutionLogs`, as 0.4.x reads it; 0.3.x reads only the snake_case key).
    pub fetch_execution_logs: bool,
}

/// A uuid4-shaped message id (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lowercase, RFC 4122
/// variant) from two draws of `rng`: what hololinked puts in `messageID` (docs/protocol.md §9).
pub fn uuid4(rng: &mut pool_core::SplitMix64) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// Parses a request header the way hololinked 0.4.x does. `None` means the server drops the
/// message silently: invalid JSON, not an object, an unknown top-level key, or a missing or
/// non-string `messageType`/`messageID`/`senderID`/`receiverID`.
pub fn parse_request_header(bytes: &[u8]) -> Option<RequestHeader> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let obj = value.as_object()?;
    if obj.keys().any(|k| !REQUEST_KEYS.contains(&k.as_str())) {
        return None;
    }
    let string = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
    let optional = |key: &str| match obj.get(key) {
        None => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) => None,
        Some(other) => Some(other.to_string()),
    };
    string("receiverID")?;
    Some(RequestHeader {
        message_type: string("messageType")?,
        message_id: string("messageID")?,
        sender_id: string("senderID")?,
        thing_id: optional("thingID"),
        objekt: optional("objekt"),
        operation: optional("operation").unwrap_or_default(),
        payload_content_type: obj
            .get("payloadContentType")
            .and_then(Value::as_str)
            .unwrap_or(JSON_CONTENT_TYPE)
            .to_owned(),
        context: ExecutionContext::from_json(obj.get("serverExecutionContext")),
        fetch_execution_logs: fetch_execution_logs(obj.get("thingExecutionContext")),
    })
}

/// `fetch_execution_logs` of a `thingExecutionContext`: the first spelling present wins
/// (`fetch_execution_logs`, then `fetchExecutionLogs`), truthy as Python's `bool()` for JSON
/// booleans; anything else is false.
fn fetch_execution_logs(context: Option<&Value>) -> bool {
    let Some(obj) = context.and_then(Value::as_object) else {
        return false;
    };
    let value = obj
        .get("fetch_execution_logs")
        .or_else(|| obj.get("fetchExecutionLogs"));
    value.and_then(Value::as_bool).unwrap_or(false)
}

/// hololinked's `ResponseHeader`, in wire key order.
#[derive(Serialize)]
struct ResponseHeader<'a> {
    #[serde(rename = "messageType")]
    message_type: &'a str,
    #[serde(rename = "messageID")]
    message_id: &'a str,
    #[serde(rename = "receiverID")]
    receiver_id: &'a str,
    #[serde(rename = "senderID")]
    sender_id: &'a str,
    #[serde(rename = "payloadContentType")]
    payload_content_type: &'a str,
    #[serde(rename = "preencodedPayloadContentType")]
    preencoded_payload_content_type: &'a str,
}

/// Encodes a reply header exactly as hololinked does (compact JSON, fixed key order).
pub fn response_header(
    message_type: &str,
    message_id: &str,
    receiver_id: &str,
    sender_id: &str,
    payload_content_type: &str,
    preencoded_payload_content_type: &str,
) -> Vec<u8> {
    serde_json::to_vec(&ResponseHeader {
        message_type,
        message_id,
        receiver_id,
        sender_id,
        payload_content_type,
        preencoded_payload_content_type,
    })
    .expect("serialising a struct of strings cannot fail")
}

/// An error payload in hololinked's `format_exception_as_json` shape:
/// `{"exception":{"message":..,"type":..,"traceback":[..],"notes":..}}`.
pub fn exception_payload(
    type_name: &str,
    message: &str,
    traceback: &[String],
    notes: &Value,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Inner<'a> {
        message: &'a str,
        #[serde(rename = "type")]
        type_name: &'a str,
        traceback: &'a [String],
        notes: &'a Value,
    }
    #[derive(Serialize)]
    struct Outer<'a> {
        exception: Inner<'a>,
    }
    serde_json::to_vec(&Outer {
        exception: Inner {
            message,
            type_name,
            traceback,
            notes,
        },
    })
    .expect("serialising an exception payload cannot fail")
}

/// A Python-looking traceback for an exception raised inside the fake Thing.
pub fn fake_traceback(function: &str, type_name: &str, message: &str) -> Vec<String> {
    vec![
        "Traceback (most recent call last):".to_owned(),
        format!("  File \"pool_testkit/thing.rs\", line 1, in {function}"),
        format!("{type_name}: {message}"),
    ]
}

/// The traceback hololinked attaches to INVALID_MESSAGE payloads built outside an `except`.
pub fn none_traceback() -> Vec<String> {
    vec!["NoneType: None".to_owned()]
}

/// Python's `repr()` of a string (what `str(KeyError(key))` shows).
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The message of a `KeyError` for an optional key (`None` when the key was JSON `null`).
pub fn key_error_message(key: Option<&str>) -> String {
    match key {
        Some(k) => py_repr_str(k),
        None => "None".to_owned(),
    }
}

/// Python's type name of a JSON value (for error messages).
pub fn py_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid4_shape() {
        let mut rng = pool_core::SplitMix64::new(7);
        let u = uuid4(&mut rng);
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, uuid4(&mut rng));
    }

    #[test]
    fn header_key_order() {
        let h = response_header(
            "HANDSHAKE",
            "id",
            "cli",
            "srv",
            JSON_CONTENT_TYPE,
            TEXT_PLAIN,
        );
        assert_eq!(
            std::str::from_utf8(&h).unwrap(),
            r#"{"messageType":"HANDSHAKE","messageID":"id","receiverID":"cli","senderID":"srv","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
    }

    #[test]
    fn context_rules() {
        let h = br#"{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":{"invokationTimeout":5,"executionTimeout":0.3,"execution_timeout":null,"invokation_timeout":1,"oneway":true}}"#;
        let h = parse_request_header(h).unwrap();
        assert_eq!(h.context.invokation_timeout, Some(Duration::from_secs(1)));
        assert_eq!(
            h.context.execution_timeout,
            Some(Duration::from_secs_f64(0.3))
        );
        assert!(h.context.oneway);
        let h = parse_request_header(
            br#"{"messageType":"X","messageID":"1","senderID":"c","receiverID":"s"}"#,
        )
        .unwrap();
        assert_eq!(h.context, ExecutionContext::DEFAULT);
        assert_eq!(h.thing_id.as_deref(), Some(""));
        let h = parse_request_header(
            br#"{"messageType":"X","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":{}}"#,
        )
        .unwrap();
        assert_eq!(h.context.invokation_timeout, None);
        assert!(parse_request_header(
            br#"{"messageType":"X","messageID":"1","senderID":"c","receiverID":"s","x":1}"#
        )
        .is_none());
        assert!(
            parse_request_header(br#"{"messageType":"X","messageID":"1","senderID":"c"}"#)
                .is_none()
        );
        assert!(parse_request_header(b"{").is_none());
    }

    #[test]
    fn repr() {
        assert_eq!(py_repr_str("abc"), "'abc'");
        assert_eq!(py_repr_str("a'b"), "\"a'b\"");
        assert_eq!(py_repr_str("a'\"b"), "'a\\'\"b'");
    }
}
