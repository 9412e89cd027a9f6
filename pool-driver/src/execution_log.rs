//! The Thing's log lines a request can ask for (`fetch_execution_logs`), and the one reader of
//! the payload that carries them.
//!
//! A request with `fetch_execution_logs` gets, in place of its plain result,
//! `{"return_value": <value>, "execution_logs": [{"level", "timestamp", "thread_id",
//! "message"}, ...]}`; when the action raised, `{"exception": {...}, "execution_logs": [...]}`
//! (docs/protocol.md §12). Invariants:
//! * reading never fails: a payload without `execution_logs`, or not JSON, has no logs, and a
//!   record's missing or oddly typed field is left at its default rather than dropping the record;
//! * the return value is handed on as the bytes the server sent, never re-serialised.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One log line of the Thing, recorded while it ran the request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ExecutionLog {
    /// The level name (`WARNING`, `INFO`, ...).
    pub level: String,
    /// When it was logged, as the server formatted it.
    pub timestamp: String,
    /// The server thread that logged it, if given.
    pub thread_id: Option<u64>,
    /// The log message.
    pub message: String,
}

impl<'de> Deserialize<'de> for ExecutionLog {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = |key: &str| match value.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        Ok(ExecutionLog {
            level: text("level"),
            timestamp: text("timestamp"),
            thread_id: value.get("thread_id").and_then(serde_json::Value::as_u64),
            message: text("message"),
        })
    }
}

/// `{"return_value": .., "execution_logs": [..]}` with both parts borrowed.
#[derive(Deserialize)]
struct WithLogs<'a> {
    #[serde(borrow, default)]
    return_value: Option<&'a RawValue>,
    execution_logs: Option<Vec<ExecutionLog>>,
}

/// The payload's parts, if it is an object with `execution_logs`.
fn parts(payload: &[u8]) -> Option<WithLogs<'_>> {
    // serde reads a struct from an array too; only an object is this payload.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let parts: WithLogs<'_> = serde_json::from_slice(payload).ok()?;
    parts.execution_logs.is_some().then_some(parts)
}

/// The return value's JSON text in a payload with logs (`null` when it has none), or `None`
/// when the payload is not that object.
pub(crate) fn return_value(payload: &[u8]) -> Option<&[u8]> {
    let parts = parts(payload)?;
    Some(parts.return_value.map_or(b"null", |v| v.get().as_bytes()))
}

/// The log lines in a payload (a reply's or an exception's); none when it carries none.
pub(crate) fn logs_of(payload: &[u8]) -> Vec<ExecutionLog> {
    parts(payload)
        .and_then(|parts| parts.execution_logs)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_value_and_the_logs_come_apart() {
        let payload = br#"{"return_value": [1, 2], "execution_logs": [{"level": "WARNING", "timestamp": "2026-12-04T20:00:00.123456", "thread_id": 140, "message": "hot"}]}"#;
        assert_eq!(return_value(payload), Some(&b"[1, 2]"[..]));
        let logs = logs_of(payload);
        assert_eq!(logs.len(), 1);
        assert_eq!(
            (
                logs[0].level.as_str(),
                logs[0].thread_id,
                logs[0].message.as_str()
            ),
            ("WARNING", Some(140), "hot")
        );
    }

    #[test]
    fn odd_payloads_have_no_logs_and_odd_records_keep_what_they_have() {
        assert!(logs_of(b"not json").is_empty());
        assert!(logs_of(br#"{"exception": {"message": "m"}}"#).is_empty());
        assert_eq!(return_value(b"[1]"), None);
        assert_eq!(
            return_value(br#"{"execution_logs": []}"#),
            Some(&b"null"[..])
        );
        let logs = logs_of(br#"{"execution_logs": [{"level": 30, "message": null}, {}]}"#);
        assert_eq!(logs.len(), 2);
        assert_eq!(
            (logs[0].level.as_str(), logs[0].message.as_str()),
            ("30", "")
        );
    }
}
