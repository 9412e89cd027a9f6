//! hololinked events as a testkit server publishes them (docs/protocol.md §17): where its PUB
//! socket binds, the 5-frame `EVENT` message, steady event streams and hostile event shapes.
//!
//! Invariants:
//! * a server has one publisher for all its Things, whose id is `"{server id}/event-publisher"`;
//!   it binds the tcp port + 1 of each tcp request endpoint (same host) and
//!   `hololinked_ipc_filename(publisher id)` (`{id}.event-publisher.ipc`) beside each ipc socket;
//! * an event is `[event id, "", header, payload, preserialized]`, its event id (the SUB topic)
//!   `"{thing id}/{event name}"`; the header is compact JSON in hololinked's key order:
//!   `messageType`, `messageID`, `senderID`, `eventID`, `payloadContentType`,
//!   `preencodedPayloadContentType`; there is no handshake and no sequence number;
//! * an observable property `p` publishes `p_change_event` with its new value as JSON when a
//!   read or write finds a value other than the last one published (as hololinked does);
//! * a stream's payloads are `{"n":k}` (with `"pad"` when padded), `k` counting from 0.

use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::protocol::{JSON_CONTENT_TYPE, TEXT_PLAIN};
use pool_core::wire::hololinked_ipc_filename;

/// The `messageType` of every event.
pub const EVENT: &str = "EVENT";
/// Appended to the server id to make the publisher's id (`senderID` of every event).
pub const PUBLISHER_SUFFIX: &str = "/event-publisher";
/// The frame 0 of [`HostileEvent::UnsubscribedTopic`]: a topic no Thing has.
pub const UNSUBSCRIBED_TOPIC: &[u8] = b"pool-testkit-nobody/unsubscribed_event";

/// The id of a server's event publisher: `"{server id}/event-publisher"`.
pub fn publisher_id(server_id: &str) -> String {
    format!("{server_id}{PUBLISHER_SUFFIX}")
}

/// The event id (SUB topic) of a Thing's event: `"{thing id}/{event name}"`.
pub fn event_id(thing_id: &str, event: &str) -> String {
    format!("{thing_id}/{event}")
}

/// The event an observable property publishes when its value changes: `"{property}_change_event"`.
pub fn change_event_name(property: &str) -> String {
    format!("{property}_change_event")
}

/// Where the publisher of server `server_id` binds beside the request endpoint `endpoint`: the
/// tcp port + 1 on the same host, or `{id}.event-publisher.ipc` in the ipc socket's directory.
pub fn publisher_endpoint(endpoint: &str, server_id: &str) -> Result<String, Error> {
    let unusable = |why: &str| {
        Error::Config(format!(
            "no event publisher endpoint beside {endpoint:?}: {why}"
        ))
    };
    if let Some(rest) = endpoint.strip_prefix("tcp://") {
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| unusable("no port"))?;
        let port: u16 = port.parse().map_err(|_| unusable("port not a number"))?;
        if port == 0 {
            return Err(unusable("the port is not bound yet"));
        }
        let next = port.checked_add(1).ok_or_else(|| unusable("port 65535"))?;
        Ok(format!("tcp://{host}:{next}"))
    } else if let Some(path) = endpoint.strip_prefix("ipc://") {
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        let file = hololinked_ipc_filename(&publisher_id(server_id));
        Ok(format!("ipc://{}", dir.join(file).display()))
    } else {
        Err(unusable("neither tcp nor ipc"))
    }
}

/// hololinked's `EventHeader`, in wire key order.
#[derive(Serialize)]
struct EventHeader<'a> {
    #[serde(rename = "messageType")]
    message_type: &'a str,
    #[serde(rename = "messageID")]
    message_id: &'a str,
    #[serde(rename = "senderID")]
    sender_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    #[serde(rename = "payloadContentType")]
    payload_content_type: &'a str,
    #[serde(rename = "preencodedPayloadContentType")]
    preencoded_payload_content_type: &'a str,
}

/// Encodes an event header exactly as hololinked does (compact JSON, fixed key order, JSON
/// payload, text/plain preserialized payload).
pub fn event_header(
    message_type: &str,
    message_id: &str,
    sender_id: &str,
    event_id: &str,
) -> Vec<u8> {
    serde_json::to_vec(&EventHeader {
        message_type,
        message_id,
        sender_id,
        event_id,
        payload_content_type: JSON_CONTENT_TYPE,
        // `text/plain`, as hololinked 0.4.2 and 0.3.12 send (golden vectors `event_*.json`).
        preencoded_payload_content_type: TEXT_PLAIN,
    })
    .expect("serialising a struct of strings cannot fail")
}

/// The 5 frames of an event with the JSON `payload` and an empty preserialized frame.
pub fn event_frames(
    message_id: &str,
    sender_id: &str,
    event_id: &str,
    payload: Vec<u8>,
) -> Vec<Vec<u8>> {
    vec![
        event_id.as_bytes().to_vec(),
        Vec::new(),
        event_header(EVENT, message_id, sender_id, event_id),
        payload,
        Vec::new(),
    ]
}

/// A steady stream of one Thing's event: payloads `{"n":k}`, `k` counting from 0, at a rate.
///
/// Configured streams ([`crate::ServerConfigBuilder::event_stream`]) start with every run of
/// the server (again from `k` = 0 after a restart); [`crate::TestServer::start_stream`] starts
/// one on the running server.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStream {
    /// The Thing whose event it is (frame 0 is `"{thing}/{event}"`; any id, served or not).
    pub thing: String,
    /// The event name.
    pub event: String,
    /// Events per second; 0 = as fast as possible (the PUB socket drops what it cannot queue).
    pub rate: f64,
    /// When non-zero, the payload is `{"n":k,"pad":"xx…"}` with this many `x`.
    pub padding: usize,
}

impl EventStream {
    /// A stream of `event` of `thing` at 10 events per second, unpadded.
    pub fn new(thing: impl Into<String>, event: impl Into<String>) -> EventStream {
        EventStream {
            thing: thing.into(),
            event: event.into(),
            rate: 10.0,
            padding: 0,
        }
    }

    /// Sets the rate in events per second (0 = as fast as possible).
    #[must_use]
    pub fn rate(mut self, per_second: f64) -> EventStream {
        self.rate = per_second;
        self
    }

    /// As fast as possible (rate 0), for benchmarks.
    #[must_use]
    pub fn as_fast_as_possible(self) -> EventStream {
        self.rate(0.0)
    }

    /// Pads every payload with a `"pad"` string of `bytes` `x`.
    #[must_use]
    pub fn padding(mut self, bytes: usize) -> EventStream {
        self.padding = bytes;
        self
    }

    /// The payload of the `k`-th event (from 0).
    pub fn payload(&self, k: u64) -> Vec<u8> {
        if self.padding == 0 {
            format!("{{\"n\":{k}}}").into_bytes()
        } else {
            format!("{{\"n\":{k},\"pad\":\"{}\"}}", "x".repeat(self.padding)).into_bytes()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(Error::Config(format!(
                "event stream rate {} is not a finite number of events per second >= 0",
                self.rate
            )));
        }
        Ok(())
    }
}

/// Malformed or misleading events, for fault tests ([`crate::TestServer::publish_hostile`]).
/// Each is made from the good event of the given Thing and event name (payload `{"hostile":k}`);
/// frame 0 stays its event id unless the kind says otherwise, so a SUB socket filters it as the
/// good one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostileEvent {
    /// The good frames cut to, or padded with empty frames to, this many frames (e.g. 1, 3, 4 or
    /// 7; at least 1).
    FrameCount(usize),
    /// The header frame is not JSON.
    HeaderNotJson,
    /// The header says `"messageType":"REPLY"`.
    WrongMessageType,
    /// The header's `eventID` differs from frame 0 (it names event `"{event}_other"`).
    MismatchedEventId,
    /// Frame 0 (and `eventID`) is [`UNSUBSCRIBED_TOPIC`], which no subscriber of a Thing's
    /// events asked for.
    UnsubscribedTopic,
    /// A good event whose payload is a JSON string of about this many bytes.
    Oversized(usize),
}

impl HostileEvent {
    /// The frames of this hostile event, with `message_id` and `sender_id` in its header.
    pub fn frames(
        self,
        message_id: &str,
        sender_id: &str,
        thing: &str,
        event: &str,
    ) -> Vec<Vec<u8>> {
        let id = event_id(thing, event);
        let good = |payload: Vec<u8>| event_frames(message_id, sender_id, &id, payload);
        match self {
            HostileEvent::FrameCount(n) => {
                let mut frames = good(b"{\"hostile\":0}".to_vec());
                frames.resize(n.max(1), Vec::new());
                frames
            }
            HostileEvent::HeaderNotJson => {
                let mut frames = good(b"{\"hostile\":1}".to_vec());
                frames[2] = b"{not json".to_vec();
                frames
            }
            HostileEvent::WrongMessageType => {
                let mut frames = good(b"{\"hostile\":2}".to_vec());
                frames[2] = event_header("REPLY", message_id, sender_id, &id);
                frames
            }
            HostileEvent::MismatchedEventId => {
                let mut frames = good(b"{\"hostile\":3}".to_vec());
                let other = event_id(thing, &format!("{event}_other"));
                frames[2] = event_header(EVENT, message_id, sender_id, &other);
                frames
            }
            HostileEvent::UnsubscribedTopic => {
                let topic = String::from_utf8_lossy(UNSUBSCRIBED_TOPIC).into_owned();
                event_frames(message_id, sender_id, &topic, b"{\"hostile\":4}".to_vec())
            }
            HostileEvent::Oversized(bytes) => {
                let payload = format!("\"{}\"", "x".repeat(bytes.saturating_sub(2)));
                good(payload.into_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_convention() {
        assert_eq!(
            publisher_endpoint("tcp://127.0.0.1:5555", "s").unwrap(),
            "tcp://127.0.0.1:5556"
        );
        assert_eq!(
            publisher_endpoint("ipc:///tmp/d/srv.ipc", "srv").unwrap(),
            "ipc:///tmp/d/srv.event-publisher.ipc"
        );
        assert!(publisher_endpoint("tcp://127.0.0.1:65535", "s").is_err());
        assert!(publisher_endpoint("tcp://127.0.0.1:0", "s").is_err());
    }

    #[test]
    fn header_has_hololinked_key_order() {
        let h = event_header(EVENT, "m", "ev/event-publisher", "ev/tick");
        assert_eq!(
            h,
            br#"{"messageType":"EVENT","messageID":"m","senderID":"ev/event-publisher","eventID":"ev/tick","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
    }

    #[test]
    fn hostile_shapes() {
        for n in [1, 3, 4, 7] {
            let f = HostileEvent::FrameCount(n).frames("m", "s", "t", "e");
            assert_eq!(f.len(), n);
            assert_eq!(f[0], b"t/e");
        }
        let f = HostileEvent::Oversized(1000).frames("m", "s", "t", "e");
        assert_eq!(f[3].len(), 1000);
        let f = HostileEvent::MismatchedEventId.frames("m", "s", "t", "e");
        assert!(String::from_utf8_lossy(&f[2]).contains("t/e_other"));
    }

    #[test]
    fn stream_payloads() {
        let s = EventStream::new("t", "tick");
        assert_eq!(s.payload(7), b"{\"n\":7}");
        assert_eq!(s.padding(3).payload(0), b"{\"n\":0,\"pad\":\"xxx\"}");
    }
}
