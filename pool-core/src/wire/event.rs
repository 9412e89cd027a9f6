//! Tolerant event decoding: the 5 frames a SUB socket receives from a hololinked publisher.
//!
//! An event is `[event id, b"", header JSON, payload, preserialized payload]`
//! (docs/protocol.md §17). The event id is the SUB topic, `"<thing id>/<event name>"`; the header
//! is `{"messageType":"EVENT","messageID":…,"senderID":…,"eventID":…,"payloadContentType":…,
//! "preencodedPayloadContentType":…}`. As for replies, keys may come in any order with any
//! whitespace, escapes and unknown keys; the last of duplicate keys wins.
//!
//! Invariants:
//! * nothing here allocates, recurses or panics, whatever the frames hold;
//! * an event whose header names an `eventID` other than its topic frame is refused: the
//!   topic is what the subscriber was matched by, so the two must agree;
//! * the payload frames are borrowed, never parsed.

use core::fmt;

#[cfg(test)]
use super::content_type::MAX_CONTENT_TYPE_LEN;
use super::content_type::{self, ContentType};
use super::json::{JsonError, RawStr, Scanner};
use crate::id::MESSAGE_ID_LEN;

/// Number of frames an event has.
pub const EVENT_FRAMES: usize = 5;

/// What the pool reads from an event's header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventHeader {
    /// `messageID`, if it is exactly [`MESSAGE_ID_LEN`] bytes of text (hololinked sends a
    /// uuid4); `None` for a missing or other-shaped id, which does not make the event invalid.
    pub message_id: Option<[u8; MESSAGE_ID_LEN]>,
    /// `payloadContentType` (empty if absent).
    pub payload_content_type: ContentType,
    /// `preencodedPayloadContentType` (empty if absent).
    pub preencoded_content_type: ContentType,
}

impl EventHeader {
    /// The message id as text, if the header had one of the usual shape.
    #[must_use]
    pub fn message_id_str(&self) -> Option<&str> {
        self.message_id
            .as_ref()
            .and_then(|id| core::str::from_utf8(id).ok())
    }
}

/// A decoded event. The topic and the payload frames are borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFrames<'a> {
    /// Frame 0: the event id (`"<thing id>/<event name>"`), the SUB topic.
    pub event_id: &'a str,
    /// Frame 2, decoded.
    pub header: EventHeader,
    /// Frame 3: the payload, serialized as `header.payload_content_type` says.
    pub payload: &'a [u8],
    /// Frame 4: the preserialized payload, opaque bytes (often empty).
    pub preserialized: &'a [u8],
}

/// Why an event could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MalformedEvent {
    /// The message did not have [`EVENT_FRAMES`] frames; carries the count it had.
    FrameCount(usize),
    /// Frame 0 (the event id) is not UTF-8 text.
    EventId,
    /// Frame 1 (the empty delimiter) was not empty.
    Delimiter,
    /// The header is not a JSON object (invalid JSON or UTF-8, another type, too deep, bytes
    /// after it).
    HeaderJson,
    /// The header's `messageType` is missing or not `"EVENT"`.
    NotAnEvent,
    /// The header's `eventID` is not the topic of frame 0.
    EventIdMismatch,
    /// A content type is not a string or is longer than [`MAX_CONTENT_TYPE_LEN`](super::MAX_CONTENT_TYPE_LEN) bytes.
    ContentType,
}

impl fmt::Display for MalformedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MalformedEvent::FrameCount(n) => {
                write!(f, "event has {n} frames, expected {EVENT_FRAMES}")
            }
            MalformedEvent::EventId => f.write_str("event id frame is not UTF-8 text"),
            MalformedEvent::Delimiter => f.write_str("event delimiter frame is not empty"),
            MalformedEvent::HeaderJson => f.write_str("event header is not a valid JSON object"),
            MalformedEvent::NotAnEvent => f.write_str("event header's messageType is not EVENT"),
            MalformedEvent::EventIdMismatch => {
                f.write_str("event header's eventID is not the event's topic")
            }
            MalformedEvent::ContentType => {
                f.write_str("event header has a content type that is not a short string")
            }
        }
    }
}

impl core::error::Error for MalformedEvent {}

/// Checks and decodes the 5 frames of an event.
///
/// ```
/// use pool_core::wire::classify_event;
///
/// let header = br#"{"messageType":"EVENT","messageID":"11111111-2222-4333-8444-555555555555","senderID":"ev/event-publisher","eventID":"ev/tick","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#;
/// let frames: [&[u8]; 5] = [b"ev/tick", b"", header, br#"{"n":76}"#, b""];
/// let event = classify_event(&frames)?;
/// assert_eq!(event.event_id, "ev/tick");
/// assert!(event.header.payload_content_type.is_json());
/// assert_eq!(event.payload, br#"{"n":76}"#);
/// # Ok::<(), pool_core::wire::MalformedEvent>(())
/// ```
pub fn classify_event<'a>(frames: &[&'a [u8]]) -> Result<EventFrames<'a>, MalformedEvent> {
    let &[topic, delimiter, header, payload, preserialized] = frames else {
        return Err(MalformedEvent::FrameCount(frames.len()));
    };
    let event_id = core::str::from_utf8(topic).map_err(|_| MalformedEvent::EventId)?;
    if !delimiter.is_empty() {
        return Err(MalformedEvent::Delimiter);
    }
    let header = decode_event_header(header, event_id)?;
    Ok(EventFrames {
        event_id,
        header,
        payload,
        preserialized,
    })
}

/// Decodes an event header (frame 2) for the event whose topic is `event_id`.
pub fn decode_event_header(bytes: &[u8], event_id: &str) -> Result<EventHeader, MalformedEvent> {
    if core::str::from_utf8(bytes).is_err() {
        return Err(MalformedEvent::HeaderJson);
    }
    let fields = scan(bytes, event_id.as_bytes()).map_err(|e| match e {
        ScanError::Json => MalformedEvent::HeaderJson,
        ScanError::Field(m) => m,
    })?;
    if !fields.is_event {
        return Err(MalformedEvent::NotAnEvent);
    }
    if fields.id_mismatch {
        return Err(MalformedEvent::EventIdMismatch);
    }
    Ok(EventHeader {
        message_id: fields.message_id,
        payload_content_type: fields.payload,
        preencoded_content_type: fields.preencoded,
    })
}

#[derive(Default)]
struct Fields {
    is_event: bool,
    id_mismatch: bool,
    message_id: Option<[u8; MESSAGE_ID_LEN]>,
    payload: ContentType,
    preencoded: ContentType,
}

enum ScanError {
    Json,
    Field(MalformedEvent),
}

impl From<JsonError> for ScanError {
    fn from(_: JsonError) -> Self {
        ScanError::Json
    }
}

fn scan(bytes: &[u8], topic: &[u8]) -> Result<Fields, ScanError> {
    let mut s = Scanner::new(bytes);
    let mut fields = Fields::default();
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
            read_field(&mut s, &key, topic, &mut fields)?;
            s.ws();
            match s.next_byte() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(ScanError::Json),
            }
        }
    }
    s.ws();
    if s.at_end() {
        Ok(fields)
    } else {
        Err(ScanError::Json)
    }
}

fn read_field(
    s: &mut Scanner<'_>,
    key: &RawStr<'_>,
    topic: &[u8],
    fields: &mut Fields,
) -> Result<(), ScanError> {
    let is_string = s.peek() == Some(b'"');
    if key.eq_bytes(b"messageType") {
        fields.is_event = is_string && s.string()?.eq_bytes(b"EVENT");
        if !is_string {
            s.skip_value()?;
        }
    } else if key.eq_bytes(b"eventID") {
        fields.id_mismatch = !(is_string && s.string()?.eq_bytes(topic));
        if !is_string {
            s.skip_value()?;
        }
    } else if key.eq_bytes(b"messageID") {
        fields.message_id = if is_string {
            read_id(&s.string()?)
        } else {
            s.skip_value()?;
            None
        };
    } else if key.eq_bytes(b"payloadContentType") {
        fields.payload = read_content_type(s, is_string)?;
    } else if key.eq_bytes(b"preencodedPayloadContentType") {
        fields.preencoded = read_content_type(s, is_string)?;
    } else {
        s.skip_value()?;
    }
    Ok(())
}

fn read_content_type(s: &mut Scanner<'_>, is_string: bool) -> Result<ContentType, ScanError> {
    if !is_string {
        return Err(ScanError::Field(MalformedEvent::ContentType));
    }
    content_type::read(&s.string()?).ok_or(ScanError::Field(MalformedEvent::ContentType))
}

fn read_id(value: &RawStr<'_>) -> Option<[u8; MESSAGE_ID_LEN]> {
    let mut wide = [0u8; MESSAGE_ID_LEN + 1];
    value.unescape_into(&mut wide)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = br#"{"messageType":"EVENT","messageID":"11111111-2222-4333-8444-555555555555","senderID":"ev/event-publisher","eventID":"ev/tick","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#;

    fn frames<'a>(topic: &'a [u8], header: &'a [u8]) -> [&'a [u8]; 5] {
        [topic, b"", header, b"1", b""]
    }

    #[test]
    fn decodes_a_hololinked_event() {
        let e = classify_event(&frames(b"ev/tick", HEADER)).unwrap();
        assert_eq!(e.event_id, "ev/tick");
        assert_eq!(
            e.header.message_id_str(),
            Some("11111111-2222-4333-8444-555555555555")
        );
        assert_eq!(e.header.payload_content_type.as_str(), "application/json");
        assert_eq!(e.header.preencoded_content_type.as_str(), "text/plain");
        assert_eq!(e.payload, b"1");
    }

    #[test]
    fn any_key_order_whitespace_escapes_and_unknown_keys() {
        let h = br#" { "x" : [1, {"y": null}], "eventID" : "ev\/tick", "payloadContentType":"application\/json",
            "messageType" : "EV\u0045NT" } "#;
        let e = classify_event(&frames(b"ev/tick", h)).unwrap();
        assert!(e.header.payload_content_type.is_json());
        assert_eq!(e.header.message_id, None);
        assert_eq!(e.header.preencoded_content_type.as_str(), "");
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        let cases: [(&[&[u8]], MalformedEvent); 9] = [
            (&[b"ev/tick"], MalformedEvent::FrameCount(1)),
            (
                &[b"a", b"", HEADER, b"1", b"", b""],
                MalformedEvent::FrameCount(6),
            ),
            (&[b"\xff", b"", HEADER, b"", b""], MalformedEvent::EventId),
            (
                &[b"ev/tick", b"x", HEADER, b"", b""],
                MalformedEvent::Delimiter,
            ),
            (
                &[b"ev/tick", b"", b"{", b"", b""],
                MalformedEvent::HeaderJson,
            ),
            (
                &[b"ev/tick", b"", b"[]", b"", b""],
                MalformedEvent::HeaderJson,
            ),
            (
                &[
                    b"ev/tick",
                    b"",
                    br#"{"messageType":"REPLY","eventID":"ev/tick"}"#,
                    b"",
                    b"",
                ],
                MalformedEvent::NotAnEvent,
            ),
            (
                &[b"ev/tock", b"", HEADER, b"", b""],
                MalformedEvent::EventIdMismatch,
            ),
            (
                &[
                    b"ev/tick",
                    b"",
                    br#"{"messageType":"EVENT","payloadContentType":7}"#,
                    b"",
                    b"",
                ],
                MalformedEvent::ContentType,
            ),
        ];
        for (frames, want) in cases {
            assert_eq!(classify_event(frames), Err(want), "{frames:?}");
        }
    }

    #[test]
    fn an_event_without_an_event_id_key_is_taken_by_its_topic() {
        let e = classify_event(&frames(b"t/e", br#"{"messageType":"EVENT"}"#)).unwrap();
        assert_eq!(e.event_id, "t/e");
    }

    #[test]
    fn an_escaped_event_id_of_any_length_is_matched_unescaped() {
        // Longer than 32 bytes, with `\/` escapes (found by tests/events_model: such an
        // event used to be refused as EventIdMismatch).
        let topic = "a-thing-with-a-long-name/its_long_event";
        let h = br#"{"messageType":"EVENT","eventID":"a-thing-with-a-long-name\/its_long_event"}"#;
        let e = classify_event(&frames(topic.as_bytes(), h)).unwrap();
        assert_eq!(e.event_id, topic);
        let h = br#"{"messageType":"EVENT","eventID":"a-thing-with-a-long-name\/its_long_even"}"#;
        assert_eq!(
            classify_event(&frames(topic.as_bytes(), h)),
            Err(MalformedEvent::EventIdMismatch)
        );
        let h = br#"{"messageType":"EVENT","eventID":"a-thing-with-a-long-name\/its_long_eventx"}"#;
        assert_eq!(
            classify_event(&frames(topic.as_bytes(), h)),
            Err(MalformedEvent::EventIdMismatch)
        );
    }

    #[test]
    fn a_long_content_type_is_refused() {
        let mut h = heapless::String::<256>::new();
        h.push_str(r#"{"messageType":"EVENT","payloadContentType":""#)
            .unwrap();
        for _ in 0..=MAX_CONTENT_TYPE_LEN {
            h.push('a').unwrap();
        }
        h.push_str(r#""}"#).unwrap();
        assert_eq!(
            classify_event(&frames(b"t/e", h.as_bytes())),
            Err(MalformedEvent::ContentType)
        );
    }
}
