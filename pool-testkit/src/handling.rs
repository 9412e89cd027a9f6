//! What a server does with one request, shared by [`crate::TestServer`] (one ROUTER thread and
//! a worker thread per Thing) and [`crate::ServerFarm`] (many servers on one thread): sorting a
//! received message, the replies sent without executing anything, when a Thing's outcome (or
//! its execution TIMEOUT) is due, and the reply's frames.

use std::time::{Duration, Instant};

use crate::protocol::{
    self, exception_payload, key_error_message, none_traceback, parse_request_header,
    response_header, ExecutionContext, RequestHeader, JSON_CONTENT_TYPE, TEXT_PLAIN,
};
use crate::stats::Stats;
use crate::thing::{Outcome, Thing};

/// A received message, sorted the way a hololinked 0.4.x `ZMQServer` sorts it.
pub(crate) enum Inbound {
    /// Dropped without a reply: fewer than 3 frames, or a header hololinked refuses.
    Dropped,
    /// `EXIT`: the server stops.
    Exit,
    /// Answered at once without executing: `HANDSHAKE`, or `INVALID_MESSAGE` for a wrong frame
    /// count.
    Immediate {
        /// The reply's `messageType`.
        message_type: &'static str,
        /// The request's header.
        header: RequestHeader,
        /// The reply's payload frame.
        payload: Vec<u8>,
    },
    /// An operation for a Thing.
    Operation(Operation),
}

/// A well-formed operation request.
pub(crate) struct Operation {
    /// Its header.
    pub header: RequestHeader,
    /// Frame 3.
    pub payload: Vec<u8>,
    /// Frame 4.
    pub preserialized: Vec<u8>,
}

/// Sorts one received multipart message (routing frame first) and counts it in `stats`.
pub(crate) fn classify(mut frames: Vec<Vec<u8>>, stats: &mut Stats) -> Inbound {
    stats.received += 1;
    let header = if frames.len() >= 3 {
        parse_request_header(&frames[2])
    } else {
        None
    };
    let Some(header) = header else {
        stats.dropped += 1;
        return Inbound::Dropped;
    };
    stats.count_received(&header.message_type);
    match header.message_type.as_str() {
        protocol::HANDSHAKE => Inbound::Immediate {
            message_type: protocol::HANDSHAKE,
            header,
            payload: b"null".to_vec(),
        },
        protocol::EXIT => {
            stats.exits += 1;
            Inbound::Exit
        }
        _ if frames.len() != protocol::MESSAGE_LENGTH => {
            let message = format!(
                "message length {} does not match the number of message parts {}",
                protocol::MESSAGE_LENGTH,
                frames.len()
            );
            let payload = exception_payload(
                "Exception",
                &message,
                &none_traceback(),
                &serde_json::Value::Null,
            );
            Inbound::Immediate {
                message_type: protocol::INVALID_MESSAGE,
                header,
                payload,
            }
        }
        _ => {
            stats.count_operation(&header.operation);
            let preserialized = frames.pop().unwrap_or_default();
            let payload = frames.pop().unwrap_or_default();
            Inbound::Operation(Operation {
                header,
                payload,
                preserialized,
            })
        }
    }
}

/// The payload of a `TIMEOUT` reply whose invokation timeout fired: the job never started.
pub(crate) const INVOKATION_TIMEOUT: &[u8] = b"\"invokation\"";
/// The payload of a `TIMEOUT` reply whose execution timeout fired: the job overran.
pub(crate) const EXECUTION_TIMEOUT: &[u8] = b"\"execution\"";

/// A reply sent at once instead of executing: its `messageType` and payload.
pub(crate) type Refusal = (&'static str, Vec<u8>);

impl Operation {
    /// The reply sent at once instead of executing: `INVALID_MESSAGE` (a `KeyError`) when no
    /// Thing of the server has the request's `thingID` (`thing_known` false), `TIMEOUT`
    /// `"invokation"` when the invokation timeout is zero.
    pub(crate) fn refusal(&self, thing_known: bool) -> Option<Refusal> {
        if !thing_known {
            return Some(self.unknown_thing());
        }
        if self
            .header
            .context
            .invokation_timeout
            .is_some_and(|t| t.is_zero())
        {
            return Some((protocol::TIMEOUT, INVOKATION_TIMEOUT.to_vec()));
        }
        None
    }

    /// The Thing that `find` gives for the request's `thingID`, or the [`Operation::refusal`]
    /// sent instead of executing.
    pub(crate) fn admit<T>(&self, find: impl FnOnce(&str) -> Option<T>) -> Result<T, Refusal> {
        let found = self.header.thing_id.as_deref().and_then(find);
        if let Some(refused) = self.refusal(found.is_some()) {
            return Err(refused);
        }
        found.ok_or_else(|| self.unknown_thing()) // refused above already
    }

    fn unknown_thing(&self) -> Refusal {
        let message = key_error_message(self.header.thing_id.as_deref());
        let traceback = protocol::fake_traceback("process_request", "KeyError", &message);
        let payload = exception_payload("KeyError", &message, &traceback, &serde_json::Value::Null);
        (protocol::INVALID_MESSAGE, payload)
    }

    /// Executes the operation on `thing`.
    pub(crate) fn execute_on(&self, thing: &mut Thing) -> Outcome {
        let h = &self.header;
        thing.execute_with_logs(
            h.objekt.as_deref(),
            &h.operation,
            &h.payload_content_type,
            &self.payload,
            &self.preserialized,
            h.fetch_execution_logs,
        )
    }
}

/// When a job is answered: the execution-timeout check of hololinked's `asyncio.wait_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// When `TIMEOUT` `"execution"` is sent instead of the outcome, if the job overruns.
    pub timeout_at: Option<Instant>,
    /// When the Thing is done (and free for its next job); the outcome is sent then unless it
    /// timed out or the request is oneway.
    pub done_at: Instant,
}

impl Schedule {
    /// The schedule of a job started at `start` that keeps its Thing busy for `busy_for`.
    pub(crate) fn of(context: &ExecutionContext, start: Instant, busy_for: Duration) -> Schedule {
        let done_at = start + busy_for;
        let timeout_at = match context.execution_timeout {
            Some(limit) if limit.is_zero() || start + limit < done_at => Some(start + limit),
            _ => None,
        };
        Schedule {
            timeout_at,
            done_at,
        }
    }

    /// Whether the outcome itself is sent (at `done_at`).
    pub(crate) fn sends_outcome(&self, context: &ExecutionContext) -> bool {
        self.timeout_at.is_none() && !context.oneway
    }
}

/// A reply on its way out of a ROUTER socket.
#[derive(Clone)]
pub(crate) struct OutReply {
    /// `messageType`, for the counters.
    pub message_type: String,
    /// `messageID`.
    pub message_id: String,
    /// Routing identity = the request header's `senderID`.
    pub identity: Vec<u8>,
    /// Frame 2.
    pub header: Vec<u8>,
    /// Frame 3.
    pub payload: Vec<u8>,
    /// Frame 4.
    pub preserialized: Vec<u8>,
}

impl OutReply {
    /// A reply from `server_id` to the sender of request `message_id`.
    pub(crate) fn new(
        message_type: &str,
        message_id: &str,
        sender_id: &str,
        server_id: &str,
        payload: Vec<u8>,
        preserialized: Vec<u8>,
        preserialized_content_type: &str,
    ) -> OutReply {
        OutReply {
            message_type: message_type.to_owned(),
            message_id: message_id.to_owned(),
            identity: sender_id.as_bytes().to_vec(),
            header: response_header(
                message_type,
                message_id,
                sender_id,
                server_id,
                JSON_CONTENT_TYPE,
                preserialized_content_type,
            ),
            payload,
            preserialized,
        }
    }

    /// A reply with an empty preserialized frame (HANDSHAKE, TIMEOUT, INVALID_MESSAGE).
    pub(crate) fn simple(
        message_type: &str,
        message_id: &str,
        sender_id: &str,
        server_id: &str,
        payload: Vec<u8>,
    ) -> OutReply {
        OutReply::new(
            message_type,
            message_id,
            sender_id,
            server_id,
            payload,
            Vec::new(),
            TEXT_PLAIN,
        )
    }

    /// A reply with an empty preserialized frame from `server_id` to the sender of `request`.
    pub(crate) fn answer(
        request: &RequestHeader,
        server_id: &str,
        message_type: &str,
        payload: Vec<u8>,
    ) -> OutReply {
        OutReply::simple(
            message_type,
            &request.message_id,
            &request.sender_id,
            server_id,
            payload,
        )
    }

    /// `TIMEOUT` with `which` ([`INVOKATION_TIMEOUT`] or [`EXECUTION_TIMEOUT`]) from
    /// `server_id` to the sender of `request`.
    pub(crate) fn timeout(request: &RequestHeader, server_id: &str, which: &[u8]) -> OutReply {
        OutReply::answer(request, server_id, protocol::TIMEOUT, which.to_vec())
    }

    /// The reply carrying a Thing's outcome.
    pub(crate) fn of_outcome(
        header: &RequestHeader,
        server_id: &str,
        outcome: Outcome,
    ) -> OutReply {
        let mut reply = OutReply::new(
            outcome.message_type,
            &header.message_id,
            &header.sender_id,
            server_id,
            outcome.payload,
            outcome.preserialized,
            outcome.preserialized_content_type,
        );
        if outcome.payload_content_type != JSON_CONTENT_TYPE {
            // A msgpack reply (`echo_msgpack`) says so in its header.
            reply.header = response_header(
                outcome.message_type,
                &header.message_id,
                &header.sender_id,
                server_id,
                outcome.payload_content_type,
                outcome.preserialized_content_type,
            );
        }
        reply
    }

    /// Sends it on `router` and counts it in `stats`. A ROUTER without `ROUTER_MANDATORY`
    /// never blocks: replies to unknown peers, or that find a full queue, are dropped, as on a
    /// real server.
    pub(crate) fn send(&self, router: &zmq::Socket, stats: &mut Stats) {
        let _ = router.send_multipart(self.frames(), zmq::DONTWAIT);
        stats.count_reply(&self.message_type);
    }

    /// Its frames as a ROUTER sends them: `[identity, "", header, payload, preserialized]`.
    pub(crate) fn frames(&self) -> [&[u8]; protocol::MESSAGE_LENGTH] {
        [
            &self.identity,
            b"",
            &self.header,
            &self.payload,
            &self.preserialized,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","thingID":"t","objekt":"number","operation":"readproperty"{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn sorting_and_counting() {
        let mut stats = Stats::default();
        assert!(matches!(
            classify(vec![b"c".to_vec(), b"".to_vec()], &mut stats),
            Inbound::Dropped
        ));
        let four = vec![b"c".to_vec(), b"".to_vec(), header(""), b"null".to_vec()];
        assert!(matches!(
            classify(four, &mut stats),
            Inbound::Immediate {
                message_type: protocol::INVALID_MESSAGE,
                ..
            }
        ));
        let five = vec![
            b"c".to_vec(),
            b"".to_vec(),
            header(""),
            b"null".to_vec(),
            b"pre".to_vec(),
        ];
        let Inbound::Operation(op) = classify(five, &mut stats) else {
            panic!("an operation");
        };
        assert_eq!(
            (&op.payload[..], &op.preserialized[..]),
            (&b"null"[..], &b"pre"[..])
        );
        assert!(op.refusal(true).is_none());
        assert_eq!(
            op.refusal(false).map(|r| r.0),
            Some(protocol::INVALID_MESSAGE)
        );
        assert_eq!(
            (
                stats.received,
                stats.dropped,
                stats.operations_of("readproperty")
            ),
            (3, 1, 1)
        );
        assert_eq!(stats.received_of("OPERATION"), 2);
        let zero = vec![
            b"c".to_vec(),
            b"".to_vec(),
            header(r#","serverExecutionContext":{"invokationTimeout":0}"#),
            b"null".to_vec(),
            b"".to_vec(),
        ];
        let Inbound::Operation(op) = classify(zero, &mut stats) else {
            panic!("an operation");
        };
        assert_eq!(op.refusal(true).map(|r| r.0), Some(protocol::TIMEOUT));
    }

    #[test]
    fn schedules() {
        let start = Instant::now();
        let ctx = |t: Option<f64>| ExecutionContext {
            invokation_timeout: None,
            execution_timeout: t.map(Duration::from_secs_f64),
            oneway: false,
        };
        let s = Schedule::of(&ctx(Some(1.0)), start, Duration::ZERO);
        assert_eq!((s.timeout_at, s.done_at), (None, start));
        assert!(s.sends_outcome(&ctx(Some(1.0))));
        let s = Schedule::of(&ctx(Some(0.5)), start, Duration::from_secs(2));
        assert_eq!(s.timeout_at, Some(start + Duration::from_millis(500)));
        assert_eq!(s.done_at, start + Duration::from_secs(2));
        assert!(!s.sends_outcome(&ctx(Some(0.5))));
        let s = Schedule::of(&ctx(Some(0.0)), start, Duration::ZERO);
        assert_eq!(s.timeout_at, Some(start));
        let s = Schedule::of(&ctx(None), start, Duration::from_secs(9));
        assert_eq!(s.timeout_at, None);
        let oneway = ExecutionContext {
            oneway: true,
            ..ctx(None)
        };
        assert!(!Schedule::of(&oneway, start, Duration::ZERO).sends_outcome(&oneway));
    }
}
