//! Tolerant reply decoding: any key order, whitespace, escapes and unknown keys.

use core::fmt;

use super::json::{RawStr, Scanner};
use super::DEALER_FRAMES;
use crate::id::MESSAGE_ID_LEN;

/// The reply message types a server sends (`messageType` of a reply header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// `"REPLY"`: the operation's result.
    Reply,
    /// `"EXCEPTION"`: the operation raised; the payload is `{"exception": {...}}`.
    Exception,
    /// `"TIMEOUT"`: a server-side timeout fired; the payload says which ([`TimeoutKind`]).
    Timeout,
    /// `"INVALID_MESSAGE"`: the server rejected the request; the payload is `{"exception": {...}}`.
    InvalidMessage,
    /// `"HANDSHAKE"`: the answer to a handshake (a liveness signal).
    Handshake,
}

impl ReplyKind {
    /// The literal on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Reply => "REPLY",
            ReplyKind::Exception => "EXCEPTION",
            ReplyKind::Timeout => "TIMEOUT",
            ReplyKind::InvalidMessage => "INVALID_MESSAGE",
            ReplyKind::Handshake => "HANDSHAKE",
        }
    }

    /// The kind whose wire literal is `literal` (already unescaped).
    #[must_use]
    pub fn from_literal(literal: &[u8]) -> Option<Self> {
        Some(match literal {
            b"REPLY" => ReplyKind::Reply,
            b"EXCEPTION" => ReplyKind::Exception,
            b"TIMEOUT" => ReplyKind::Timeout,
            b"INVALID_MESSAGE" => ReplyKind::InvalidMessage,
            b"HANDSHAKE" => ReplyKind::Handshake,
            _ => return None,
        })
    }
}

/// Which server-side timeout a `TIMEOUT` reply reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// `"invokation"`: the request waited too long in the Thing's queue.
    Invokation,
    /// `"execution"`: the Thing took too long to execute it.
    Execution,
}

impl TimeoutKind {
    /// The payload string on the wire (without the JSON quotes).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Invokation => "invokation",
            TimeoutKind::Execution => "execution",
        }
    }
}

/// What the pool needs from a reply header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyHeader {
    /// `messageType`.
    pub kind: ReplyKind,
    /// `messageID` after JSON unescaping, if it is exactly [`MESSAGE_ID_LEN`] bytes long.
    /// `None` means a valid header whose id cannot be one this crate sent.
    pub message_id: Option<[u8; MESSAGE_ID_LEN]>,
}

/// Why a reply could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// The reply did not have [`DEALER_FRAMES`] frames; carries the count it had.
    FrameCount(usize),
    /// Frame 0 (the empty delimiter) was not empty.
    Delimiter,
    /// The header is not a JSON object: invalid JSON, invalid UTF-8, another top-level type,
    /// nesting deeper than the scanner allows, or bytes after the object.
    HeaderJson,
    /// The header has no `messageType` string.
    MissingMessageType,
    /// The header has no `messageID` string.
    MissingMessageId,
    /// `messageType` is a string but not one of the reply types.
    UnknownMessageType,
    /// A `TIMEOUT` whose payload is not `"invokation"` or `"execution"`.
    TimeoutPayload,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::FrameCount(n) => {
                write!(f, "reply has {n} frames, expected {DEALER_FRAMES}")
            }
            Malformed::Delimiter => f.write_str("reply delimiter frame is not empty"),
            Malformed::HeaderJson => f.write_str("reply header is not a valid JSON object"),
            Malformed::MissingMessageType => f.write_str("reply header has no messageType string"),
            Malformed::MissingMessageId => f.write_str("reply header has no messageID string"),
            Malformed::UnknownMessageType => f.write_str("reply header has an unknown messageType"),
            Malformed::TimeoutPayload => {
                f.write_str("TIMEOUT payload is neither \"invokation\" nor \"execution\"")
            }
        }
    }
}

impl core::error::Error for Malformed {}

/// A decoded 4-frame DEALER reply. The payload frames are borrowed, not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The decoded header (frame 1).
    pub header: ReplyHeader,
    /// Which timeout fired: `Some` exactly when `header.kind` is [`ReplyKind::Timeout`].
    pub timeout: Option<TimeoutKind>,
    /// Frame 2: the payload, serialized as the header's `payloadContentType` says.
    pub payload: &'a [u8],
    /// Frame 3: the preserialized payload, opaque bytes (often empty).
    pub preserialized: &'a [u8],
}

#[derive(Clone, Copy)]
enum TypeField {
    Missing,
    Known(ReplyKind),
    Unknown,
}

#[derive(Clone, Copy)]
enum IdField {
    Missing,
    Id(Option<[u8; MESSAGE_ID_LEN]>),
}

enum Key {
    MessageType,
    MessageId,
    Other,
}

#[inline]
fn classify_key(key: &RawStr<'_>) -> Key {
    if key.eq_bytes(b"messageType") {
        Key::MessageType
    } else if key.eq_bytes(b"messageID") {
        Key::MessageId
    } else {
        Key::Other
    }
}

#[inline]
fn read_type(value: &RawStr<'_>) -> TypeField {
    let mut buf = [0u8; 16];
    match value
        .unescape_into(&mut buf)
        .and_then(ReplyKind::from_literal)
    {
        Some(kind) => TypeField::Known(kind),
        None => TypeField::Unknown,
    }
}

#[inline]
fn read_id(value: &RawStr<'_>) -> Option<[u8; MESSAGE_ID_LEN]> {
    if !value.escaped {
        return value.raw.try_into().ok();
    }
    // One spare byte tells "exactly 36" from "longer".
    let mut wide = [0u8; MESSAGE_ID_LEN + 1];
    value.unescape_into(&mut wide)?.try_into().ok()
}

/// Decodes a reply header (the JSON object in frame 1 of a DEALER reply).
///
/// Keys may come in any order with any JSON whitespace and escapes; unknown keys are skipped
/// whatever their value; for duplicate keys the last one wins. `messageType` and `messageID`
/// must be strings. Never panics and never recurses, whatever the input.
///
/// ```
/// use pool_core::wire::{decode_reply_header, ReplyKind};
///
/// let h = decode_reply_header(br#"{"messageType":"REPLY","messageID":"11111111-2222-4333-8444-555555555555","receiverID":"cli"}"#)?;
/// assert_eq!(h.kind, ReplyKind::Reply);
/// assert_eq!(&h.message_id.unwrap(), b"11111111-2222-4333-8444-555555555555");
/// # Ok::<(), pool_core::wire::Malformed>(())
/// ```
pub fn decode_reply_header(bytes: &[u8]) -> Result<ReplyHeader, Malformed> {
    // JSON text is UTF-8; outside strings the grammar only admits ASCII, so this checks strings.
    if core::str::from_utf8(bytes).is_err() {
        return Err(Malformed::HeaderJson);
    }
    let (kind, id) = scan_header(bytes).map_err(|_| Malformed::HeaderJson)?;
    let kind = match kind {
        TypeField::Missing => return Err(Malformed::MissingMessageType),
        TypeField::Unknown => return Err(Malformed::UnknownMessageType),
        TypeField::Known(kind) => kind,
    };
    match id {
        IdField::Missing => Err(Malformed::MissingMessageId),
        IdField::Id(message_id) => Ok(ReplyHeader { kind, message_id }),
    }
}

fn scan_header(bytes: &[u8]) -> Result<(TypeField, IdField), super::json::JsonError> {
    let mut s = Scanner::new(bytes);
    let mut kind = TypeField::Missing;
    let mut id = IdField::Missing;
    s.ws();
    s.expect(b'{')?;
    s.ws();
    if !s.eat(b'}') {
        loop {
            s.ws();
            let key = s.string()?;
            s.ws();
            s.expect(b':')?;
            s.ws();
            let is_string = s.peek() == Some(b'"');
            match classify_key(&key) {
                Key::MessageType if is_string => kind = read_type(&s.string()?),
                Key::MessageId if is_string => id = IdField::Id(read_id(&s.string()?)),
                Key::MessageType => {
                    s.skip_value()?;
                    kind = TypeField::Missing;
                }
                Key::MessageId => {
                    s.skip_value()?;
                    id = IdField::Missing;
                }
                Key::Other => s.skip_value()?,
            }
            s.ws();
            match s.next_byte() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(super::json::JsonError),
            }
        }
    }
    s.ws();
    if s.at_end() {
        Ok((kind, id))
    } else {
        Err(super::json::JsonError)
    }
}

/// Decodes the payload of a `TIMEOUT` reply: the JSON string `"invokation"` or `"execution"`,
/// optionally surrounded by whitespace.
pub fn decode_timeout_kind(payload: &[u8]) -> Result<TimeoutKind, Malformed> {
    let mut s = Scanner::new(payload);
    s.ws();
    let value = s.string().map_err(|_| Malformed::TimeoutPayload)?;
    s.ws();
    if !s.at_end() {
        return Err(Malformed::TimeoutPayload);
    }
    if value.eq_bytes(b"invokation") {
        Ok(TimeoutKind::Invokation)
    } else if value.eq_bytes(b"execution") {
        Ok(TimeoutKind::Execution)
    } else {
        Err(Malformed::TimeoutPayload)
    }
}

/// Checks and decodes the 4 frames a DEALER receives: `[b"", header, payload, preserialized]`.
///
/// ```
/// use pool_core::wire::{classify_reply, ReplyKind, TimeoutKind};
///
/// let header = br#"{"messageType":"TIMEOUT","messageID":"11111111-2222-4333-8444-555555555555"}"#;
/// let frames: [&[u8]; 4] = [b"", header, b"\"execution\"", b""];
/// let reply = classify_reply(&frames)?;
/// assert_eq!(reply.header.kind, ReplyKind::Timeout);
/// assert_eq!(reply.timeout, Some(TimeoutKind::Execution));
/// # Ok::<(), pool_core::wire::Malformed>(())
/// ```
pub fn classify_reply<'a>(frames: &[&'a [u8]]) -> Result<Reply<'a>, Malformed> {
    let &[delimiter, header, payload, preserialized] = frames else {
        return Err(Malformed::FrameCount(frames.len()));
    };
    if !delimiter.is_empty() {
        return Err(Malformed::Delimiter);
    }
    let header = decode_reply_header(header)?;
    let timeout = if header.kind == ReplyKind::Timeout {
        Some(decode_timeout_kind(payload)?)
    } else {
        None
    };
    Ok(Reply {
        header,
        timeout,
        payload,
        preserialized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const ID: &str = "11111111-2222-4333-8444-555555555555";

    fn ok(s: &str) -> ReplyHeader {
        decode_reply_header(s.as_bytes()).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    fn err(s: &str) -> Malformed {
        decode_reply_header(s.as_bytes()).expect_err(s)
    }

    fn id() -> Option<[u8; 36]> {
        Some(ID.as_bytes().try_into().unwrap())
    }

    #[test]
    fn decodes_server_layout() {
        let h = ok(&std::format!(
            r#"{{"messageType":"REPLY","messageID":"{ID}","receiverID":"cli","senderID":"srv","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#
        ));
        assert_eq!(
            h,
            ReplyHeader {
                kind: ReplyKind::Reply,
                message_id: id()
            }
        );
        for kind in [
            ReplyKind::Reply,
            ReplyKind::Exception,
            ReplyKind::Timeout,
            ReplyKind::InvalidMessage,
            ReplyKind::Handshake,
        ] {
            let h = ok(&std::format!(
                r#"{{"messageType":"{}","messageID":"{ID}"}}"#,
                kind.as_str()
            ));
            assert_eq!(h.kind, kind);
        }
    }

    #[test]
    fn tolerates_order_whitespace_escapes_unknown_keys() {
        let h = ok(&std::format!(
            " \r\n\t{{ \"extra\" : {{\"a\": [1, 2.5e3, {{\"b\": null}}, [], {{}}], \"c\": \"}}\"}} ,\n  \"messageID\"\t:\t\"{ID}\" , \"n\": -0.5 , \"t\": true, \"f\": false, \"z\": null,\n \"messageType\" : \"HANDSHAKE\" \n}}\n "
        ));
        assert_eq!(
            h,
            ReplyHeader {
                kind: ReplyKind::Handshake,
                message_id: id()
            }
        );
        // Escapes in keys and values.
        let h = ok(
            r#"{"message\u0054ype":"R\u0045PLY","messag\u0065ID":"\u00311111111-2222-4333-8444-555555555555"}"#,
        );
        assert_eq!(
            h,
            ReplyHeader {
                kind: ReplyKind::Reply,
                message_id: id()
            }
        );
        let h = ok(r#"{"messageType":"TIME\u004fUT","messageID":"x"}"#);
        assert_eq!(h.kind, ReplyKind::Timeout);
        // Keys that only look like ours.
        assert_eq!(
            err(r#"{"messagetype":"REPLY","messageID":"x"}"#),
            Malformed::MissingMessageType
        );
        assert_eq!(
            err(r#"{"messageType ":"REPLY","messageID":"x"}"#),
            Malformed::MissingMessageType
        );
        assert_eq!(
            err(r#"{"messageType":"REPLY","messageId":"x"}"#),
            Malformed::MissingMessageId
        );
    }

    #[test]
    fn message_id_length() {
        assert_eq!(
            ok(r#"{"messageType":"REPLY","messageID":"my-id-1"}"#).message_id,
            None
        );
        assert_eq!(
            ok(r#"{"messageType":"REPLY","messageID":""}"#).message_id,
            None
        );
        let long = std::format!(r#"{{"messageType":"REPLY","messageID":"{ID}0"}}"#);
        assert_eq!(ok(&long).message_id, None);
        let long_escaped = std::format!(r#"{{"messageType":"REPLY","messageID":"{ID}\n"}}"#);
        assert_eq!(ok(&long_escaped).message_id, None);
        // 36 bytes after unescaping, from more bytes on the wire.
        let mut escaped = String::from(r#"{"messageType":"REPLY","messageID":""#);
        for c in ID.chars() {
            escaped.push_str(&std::format!("\\u{:04x}", c as u32));
        }
        escaped.push_str("\"}");
        assert_eq!(ok(&escaped).message_id, id());
        // 36 bytes with non-ASCII content is still 36 bytes.
        let h = ok(r#"{"messageType":"REPLY","messageID":"ééééééééééééééééé12"}"#);
        assert_eq!(
            h.message_id
                .map(|b| String::from_utf8(b.to_vec()).unwrap())
                .as_deref(),
            Some("ééééééééééééééééé12")
        );
        // Lone surrogate: valid JSON, but not an id of ours.
        assert_eq!(
            ok(r#"{"messageType":"REPLY","messageID":"\ud800"}"#).message_id,
            None
        );
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let h = ok(&std::format!(
            r#"{{"messageType":"REPLY","messageID":"a","messageType":"TIMEOUT","messageID":"{ID}"}}"#
        ));
        assert_eq!(
            h,
            ReplyHeader {
                kind: ReplyKind::Timeout,
                message_id: id()
            }
        );
        assert_eq!(
            err(r#"{"messageType":"REPLY","messageID":"a","messageType":5}"#),
            Malformed::MissingMessageType
        );
        assert!(decode_reply_header(
            br#"{"messageType":"FOO","messageID":"a","messageType":"REPLY"}"#
        )
        .is_ok());
        assert_eq!(
            err(r#"{"messageType":"REPLY","messageID":"a","messageID":null}"#),
            Malformed::MissingMessageId
        );
    }

    #[test]
    fn missing_and_unknown() {
        assert_eq!(err("{}"), Malformed::MissingMessageType);
        assert_eq!(err(r#"{"messageID":"x"}"#), Malformed::MissingMessageType);
        assert_eq!(
            err(r#"{"messageType":"REPLY"}"#),
            Malformed::MissingMessageId
        );
        assert_eq!(
            err(r#"{"messageType":null,"messageID":"x"}"#),
            Malformed::MissingMessageType
        );
        assert_eq!(
            err(r#"{"messageType":["REPLY"],"messageID":"x"}"#),
            Malformed::MissingMessageType
        );
        assert_eq!(
            err(r#"{"messageType":"REPLY","messageID":36}"#),
            Malformed::MissingMessageId
        );
        assert_eq!(
            err(r#"{"messageType":"EXIT","messageID":"x"}"#),
            Malformed::UnknownMessageType
        );
        assert_eq!(
            err(r#"{"messageType":"reply","messageID":"x"}"#),
            Malformed::UnknownMessageType
        );
        assert_eq!(
            err(r#"{"messageType":"A_VERY_LONG_MESSAGE_TYPE_NAME","messageID":"x"}"#),
            Malformed::UnknownMessageType
        );
        assert_eq!(
            err(r#"{"messageType":"","messageID":"x"}"#),
            Malformed::UnknownMessageType
        );
    }

    #[test]
    fn rejects_bad_json() {
        let good =
            std::format!(r#"{{"messageType":"REPLY","messageID":"{ID}","x":[1,{{"y":null}}]}}"#);
        // Every strict prefix is truncated JSON.
        for end in 0..good.len() {
            assert_eq!(err(&good[..end]), Malformed::HeaderJson, "{}", &good[..end]);
        }
        for bad in [
            std::format!("{good}x"),
            std::format!("{good} {{}}"),
            std::format!("{good},"),
            String::from("[]"),
            String::from("\"REPLY\""),
            String::from("null"),
            String::from("42"),
            String::from(""),
            String::from("   "),
            String::from(r#"{"messageType":"REPLY","messageID":"x",}"#),
            String::from(r#"{"messageType":"REPLY" "messageID":"x"}"#),
            String::from(r#"{"messageType":"REPLY","messageID":"x\q"}"#),
            String::from(r#"{"messageType":"REPLY","messageID":"x\u12"}"#),
            String::from("{\"messageType\":\"REPLY\",\"messageID\":\"a\nb\"}"),
            String::from(r#"{"messageType":"REPLY","messageID":"x","n":01}"#),
            String::from(r#"{"messageType":"REPLY","messageID":"x","n":tru}"#),
            String::from(r#"{'messageType':'REPLY'}"#),
            String::from(r#"{messageType:"REPLY"}"#),
        ] {
            assert_eq!(err(&bad), Malformed::HeaderJson, "{bad}");
        }
        // Invalid UTF-8 inside a string.
        let mut bytes = Vec::from(&br#"{"messageType":"REPLY","messageID":"ab"}"#[..]);
        bytes[37] = 0xff;
        assert_eq!(decode_reply_header(&bytes), Err(Malformed::HeaderJson));
    }

    #[test]
    fn deep_nesting_errors() {
        for open in ["[", "{\"a\":"] {
            let deep = std::format!(
                r#"{{"messageType":"REPLY","messageID":"x","d":{}"#,
                open.repeat(1000)
            );
            assert_eq!(err(&deep), Malformed::HeaderJson);
            let closed = std::format!(
                r#"{{"messageType":"REPLY","messageID":"x","d":{}1{}}}"#,
                "[".repeat(1000),
                "]".repeat(1000)
            );
            assert_eq!(err(&closed), Malformed::HeaderJson);
        }
        assert_eq!(err(&"[".repeat(100_000)), Malformed::HeaderJson);
        let fine = std::format!(
            r#"{{"messageType":"REPLY","messageID":"x","d":{}1{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(ok(&fine).kind, ReplyKind::Reply);
    }

    #[test]
    fn byte_soup_never_panics() {
        // Seeded, so a failure replays.
        let mut rng = crate::SplitMix64::new(0x9e37_79b9_7f4a_7c15);
        let alphabet =
            b"{}[]:,\"\\ \n0123456789.eE+-tfnulrsaxXuU\x00\xff\xc3\xa9messageTypeIDREPLY";
        let template = std::format!(
            r#"{{"messageType":"REPLY","messageID":"{ID}","a":[1,{{"b":"\u00e9"}}]}}"#
        );
        for round in 0..20_000 {
            let len = rng.below(64) as usize;
            let mut buf: Vec<u8> = if round % 2 == 0 {
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect()
            } else {
                let mut b = template.as_bytes().to_vec();
                for _ in 0..(1 + rng.below(4)) {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = alphabet[rng.below(alphabet.len() as u64) as usize];
                }
                b
            };
            let _ = decode_reply_header(&buf);
            let _ = decode_timeout_kind(&buf);
            buf.truncate(len.min(buf.len()));
            let _ = decode_reply_header(&buf);
            let frames: [&[u8]; 4] = [b"", &buf, &buf, b""];
            let _ = classify_reply(&frames);
        }
    }

    #[test]
    fn timeout_payloads() {
        assert_eq!(
            decode_timeout_kind(b"\"invokation\""),
            Ok(TimeoutKind::Invokation)
        );
        assert_eq!(
            decode_timeout_kind(b" \n\"execution\"\t"),
            Ok(TimeoutKind::Execution)
        );
        assert_eq!(
            decode_timeout_kind(br#""\u0065xecution""#),
            Ok(TimeoutKind::Execution)
        );
        for bad in [
            &b"invokation"[..],
            b"\"Execution\"",
            b"\"execution\" x",
            b"\"execution",
            b"null",
            b"",
            b"[\"execution\"]",
            b"\"executionexecutionexecutionexecution\"",
        ] {
            assert_eq!(decode_timeout_kind(bad), Err(Malformed::TimeoutPayload));
        }
    }

    #[test]
    fn classify() {
        let header = std::format!(r#"{{"messageType":"TIMEOUT","messageID":"{ID}"}}"#);
        let frames: [&[u8]; 4] = [b"", header.as_bytes(), b"\"invokation\"", b""];
        let r = classify_reply(&frames).unwrap();
        assert_eq!(r.header.kind, ReplyKind::Timeout);
        assert_eq!(r.header.message_id, id());
        assert_eq!(r.timeout, Some(TimeoutKind::Invokation));
        assert_eq!(r.payload, b"\"invokation\"");

        let bad_timeout: [&[u8]; 4] = [b"", header.as_bytes(), b"null", b""];
        assert_eq!(classify_reply(&bad_timeout), Err(Malformed::TimeoutPayload));

        let reply = std::format!(r#"{{"messageType":"REPLY","messageID":"{ID}"}}"#);
        let frames: [&[u8]; 4] = [b"", reply.as_bytes(), b"null", b"\x00\x01"];
        let r = classify_reply(&frames).unwrap();
        assert_eq!(r.timeout, None);
        assert_eq!(r.payload, b"null");
        assert_eq!(r.preserialized, b"\x00\x01");
        // A REPLY's payload is never inspected.
        let frames: [&[u8]; 4] = [b"", reply.as_bytes(), b"\xff{", b""];
        assert!(classify_reply(&frames).is_ok());

        assert_eq!(classify_reply(&[]), Err(Malformed::FrameCount(0)));
        assert_eq!(classify_reply(&frames[..3]), Err(Malformed::FrameCount(3)));
        let five: [&[u8]; 5] = [b"srv", b"", reply.as_bytes(), b"null", b""];
        assert_eq!(classify_reply(&five), Err(Malformed::FrameCount(5)));
        let frames: [&[u8]; 4] = [b"x", reply.as_bytes(), b"null", b""];
        assert_eq!(classify_reply(&frames), Err(Malformed::Delimiter));
        let frames: [&[u8]; 4] = [b"", b"{", b"null", b""];
        assert_eq!(classify_reply(&frames), Err(Malformed::HeaderJson));
    }

    #[test]
    fn display() {
        use std::string::ToString;
        assert!(Malformed::FrameCount(3).to_string().contains('3'));
        for m in [
            Malformed::Delimiter,
            Malformed::HeaderJson,
            Malformed::MissingMessageType,
            Malformed::MissingMessageId,
            Malformed::UnknownMessageType,
            Malformed::TimeoutPayload,
        ] {
            assert!(!m.to_string().is_empty());
        }
    }
}
