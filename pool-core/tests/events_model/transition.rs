//! The steps a case is made of: a driver's commands (subscribe, unsubscribe, remove a server,
//! close), a consumer's pops, the transport's inputs (events, good and bad; a publisher
//! connected or lost) and the driver's pace (`Hold`, `Drain`), plus the wire form of every event.
//!
//! Invariants:
//! * a transition is pure data: servers are their `u8` keys, topics are indices into the fixed
//!   lists below, subscriptions are their position in the model's list of every subscription
//!   ever made (never a `SubscriptionId`), so a failing case prints and shrinks on its own and
//!   stale handles are exercised too;
//! * the topics a subscription can name (`SUB_TOPICS`) include prefixes and extensions of each
//!   other (`t/a`, `t/ab`, `t/a/b`), a topic longer than 32 bytes, and two that are refused
//!   (empty, too long); events can name those and more (`EVENT_TOPICS`);
//! * `Shape` is the set of well-formed headers (each with the `EventHeader` it decodes to);
//!   `Bad` is the set of frames `classify_event` refuses, each with the `MalformedEvent` it
//!   must be refused with.

use pool_core::wire::{ContentType, EventHeader, MalformedEvent};

/// Publishers: server keys `0..SERVERS`.
pub(crate) const SERVERS: u8 = 3;

/// Longer than 32 bytes: exactly `Config::max_topic_len` (48).
pub(crate) const LONG: &str = "a-thing-with-a-rather-long-name/its_long_event12";
/// One byte longer than `Config::max_topic_len`.
pub(crate) const TOO_LONG: &str = "a-thing-with-a-rather-long-name/its_long_event123";

const _: () = assert!(LONG.len() == 48 && TOO_LONG.len() == 49);

/// What a subscription can name: the first five are accepted, the last two refused.
pub(crate) const SUB_TOPICS: [&str; 7] = ["t/a", "t/ab", "t/a/b", "u/a", LONG, "", TOO_LONG];
/// Accepted subscription topics.
pub(crate) const GOOD_TOPICS: usize = 5;
/// What an event can name: every accepted subscription topic, then prefixes and extensions of
/// them, a stranger and the topic too long to subscribe to.
pub(crate) const EVENT_TOPICS: [&str; 9] = [
    "t/a", "t/ab", "t/a/b", "u/a", LONG, "t", "t/", "x/y", TOO_LONG,
];

pub(crate) const MESSAGE_ID: &[u8; 36] = b"11111111-2222-4333-8444-555555555555";

/// A well-formed event header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// What hololinked sends: its six keys in its order.
    Plain,
    /// Keys in another order, whitespace, unknown keys, escapes (`\/` in the event id), a
    /// message id of another shape.
    Tolerant,
    /// No `eventID` key: the topic frame names the event.
    NoEventId,
    /// Duplicate keys: the last one wins.
    Duplicates,
}

impl Shape {
    pub(crate) fn header(self, topic: &str) -> Vec<u8> {
        let h = match self {
            Shape::Plain => format!(
                r#"{{"messageType":"EVENT","messageID":"{}","senderID":"s/event-publisher","eventID":"{topic}","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}}"#,
                std::str::from_utf8(MESSAGE_ID).unwrap()
            ),
            Shape::Tolerant => format!(
                " {{ \"x\" : [1, {{\"y\": null}}], \"preencodedPayloadContentType\" : \"\" ,\n \"eventID\" : \"{}\", \"payloadContentType\":\"application\\/json\", \"messageType\" : \"EV\\u0045NT\", \"messageID\": \"short\" }} ",
                topic.replace('/', "\\/")
            ),
            Shape::NoEventId => {
                r#"{"messageType":"EVENT","payloadContentType":"application/msgpack"}"#.to_owned()
            }
            Shape::Duplicates => format!(
                r#"{{"messageType":"REPLY","eventID":"x/other","messageType":"EVENT","eventID":"{topic}","messageID":7}}"#
            ),
        };
        h.into_bytes()
    }

    /// The header `Subscriptions` must hand the consumer.
    pub(crate) fn decoded(self) -> EventHeader {
        let ct = |s: &str| ContentType::new(s).unwrap();
        match self {
            Shape::Plain => EventHeader {
                message_id: Some(*MESSAGE_ID),
                payload_content_type: ct("application/json"),
                preencoded_content_type: ct("text/plain"),
            },
            Shape::Tolerant => EventHeader {
                message_id: None,
                payload_content_type: ct("application/json"),
                preencoded_content_type: ct(""),
            },
            Shape::NoEventId => EventHeader {
                message_id: None,
                payload_content_type: ct("application/msgpack"),
                preencoded_content_type: ct(""),
            },
            Shape::Duplicates => EventHeader {
                message_id: None,
                payload_content_type: ct(""),
                preencoded_content_type: ct(""),
            },
        }
    }
}

/// Frames that are not a well-formed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    NoFrames,
    OneFrame,
    FourFrames,
    SixFrames,
    TopicNotUtf8,
    Delimiter,
    HeaderEmpty,
    HeaderNotJson,
    HeaderArray,
    HeaderTrailing,
    HeaderNotUtf8,
    HeaderTooDeep,
    NotAnEvent,
    NoMessageType,
    /// The header names another event than the topic frame.
    IdMismatch,
    ContentTypeNumber,
    ContentTypeLong,
}

impl Bad {
    pub(crate) fn refusal(self) -> MalformedEvent {
        match self {
            Bad::NoFrames => MalformedEvent::FrameCount(0),
            Bad::OneFrame => MalformedEvent::FrameCount(1),
            Bad::FourFrames => MalformedEvent::FrameCount(4),
            Bad::SixFrames => MalformedEvent::FrameCount(6),
            Bad::TopicNotUtf8 => MalformedEvent::EventId,
            Bad::Delimiter => MalformedEvent::Delimiter,
            Bad::HeaderEmpty
            | Bad::HeaderNotJson
            | Bad::HeaderArray
            | Bad::HeaderTrailing
            | Bad::HeaderNotUtf8
            | Bad::HeaderTooDeep => MalformedEvent::HeaderJson,
            Bad::NotAnEvent | Bad::NoMessageType => MalformedEvent::NotAnEvent,
            Bad::IdMismatch => MalformedEvent::EventIdMismatch,
            Bad::ContentTypeNumber | Bad::ContentTypeLong => MalformedEvent::ContentType,
        }
    }

    /// The frames, built around an event for `topic` that would otherwise be well-formed.
    pub(crate) fn frames(self, topic: &str) -> Vec<Vec<u8>> {
        let mut f = event_frames(topic, Shape::Plain, b"{}", b"");
        let plain = Shape::Plain.header(topic);
        match self {
            Bad::NoFrames => f.clear(),
            Bad::OneFrame => f.truncate(1),
            Bad::FourFrames => f.truncate(4),
            Bad::SixFrames => f.push(Vec::new()),
            Bad::TopicNotUtf8 => f[0] = b"t/\xff".to_vec(),
            Bad::Delimiter => f[1] = b"x".to_vec(),
            Bad::HeaderEmpty => f[2] = Vec::new(),
            Bad::HeaderNotJson => f[2] = b"{".to_vec(),
            Bad::HeaderArray => f[2] = b"[]".to_vec(),
            Bad::HeaderTrailing => f[2] = [&plain[..], b" x"].concat(),
            Bad::HeaderNotUtf8 => f[2] = b"{\"messageType\":\"EV\xffENT\"}".to_vec(),
            Bad::HeaderTooDeep => {
                f[2] = format!(
                    r#"{{"messageType":"EVENT","eventID":"{topic}","x":{}{}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                )
                .into_bytes();
            }
            Bad::NotAnEvent => {
                f[2] = format!(r#"{{"messageType":"REPLY","eventID":"{topic}"}}"#).into_bytes();
            }
            Bad::NoMessageType => f[2] = format!(r#"{{"eventID":"{topic}"}}"#).into_bytes(),
            Bad::IdMismatch => {
                f[2] = format!(r#"{{"messageType":"EVENT","eventID":"{topic}x"}}"#).into_bytes();
            }
            Bad::ContentTypeNumber => {
                f[2] = format!(
                    r#"{{"messageType":"EVENT","eventID":"{topic}","payloadContentType":7}}"#
                )
                .into_bytes();
            }
            Bad::ContentTypeLong => {
                f[2] = format!(
                    r#"{{"messageType":"EVENT","eventID":"{topic}","payloadContentType":"{}"}}"#,
                    "a".repeat(65)
                )
                .into_bytes();
            }
        }
        f
    }
}

/// The 5 frames of a well-formed event.
pub(crate) fn event_frames(
    topic: &str,
    shape: Shape,
    payload: &[u8],
    preserialized: &[u8],
) -> Vec<Vec<u8>> {
    vec![
        topic.as_bytes().to_vec(),
        Vec::new(),
        shape.header(topic),
        payload.to_vec(),
        preserialized.to_vec(),
    ]
}

/// The payload frames of the `n`th event handed to `handle_event` in a case (so every event is
/// told apart by its payload).
pub(crate) fn payloads(n: u64) -> (Vec<u8>, Vec<u8>) {
    let payload = format!(r#"{{"n":{n}}}"#).into_bytes();
    let preserialized = if n.is_multiple_of(3) {
        format!("pre-{n}").into_bytes()
    } else {
        Vec::new()
    };
    (payload, preserialized)
}

/// One step.
#[derive(Clone, Debug)]
pub(crate) enum Transition {
    /// `subscribe(server, SUB_TOPICS[topic], queue)`.
    Subscribe {
        server: u8,
        topic: usize,
        queue: usize,
    },
    /// `unsubscribe` the `n`th subscription ever made.
    Unsubscribe(usize),
    /// `count` well-formed events on `EVENT_TOPICS[topic]` from `server`, one `handle_event`
    /// each.
    Events {
        server: u8,
        topic: usize,
        shape: Shape,
        count: usize,
    },
    /// A message that is not a well-formed event, built around `EVENT_TOPICS[topic]`.
    Malformed {
        server: u8,
        topic: usize,
        bad: Bad,
    },
    /// `handle_connected`.
    Connected(u8),
    /// `handle_lost`.
    Lost(u8),
    RemoveServer(u8),
    Close,
    /// The consumer of the `n`th subscription pops up to `count` times, stopping at the first
    /// `Empty`, `Ended` or `Unknown`.
    Pop {
        sub: usize,
        count: usize,
    },
    /// The driver stops draining `poll_change` and `poll_woken` after each step.
    Hold,
    /// The driver drains both again (and after every following step).
    Drain,
}
