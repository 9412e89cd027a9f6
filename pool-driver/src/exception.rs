//! hololinked's exception payload, read leniently.
//!
//! A server's `EXCEPTION` (and `INVALID_MESSAGE`) payload is
//! `{"exception": {"message", "type", "traceback", "notes"}}`. Anything else is kept as the
//! text the server sent, so an error never loses what the server said.

/// The parts of a server's exception the pool's errors carry.
pub(crate) struct RemoteException {
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) traceback: Vec<String>,
}

impl RemoteException {
    /// Reads `payload`; never fails (a payload in another format becomes the message).
    pub(crate) fn parse(payload: &[u8]) -> RemoteException {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Body {
            message: Option<serde_json::Value>,
            #[serde(rename = "type")]
            kind: Option<String>,
            traceback: Option<Vec<serde_json::Value>>,
        }
        #[derive(serde::Deserialize)]
        struct Wrapper {
            exception: Body,
        }
        match serde_json::from_slice::<Wrapper>(payload) {
            Ok(Wrapper { exception }) => RemoteException {
                kind: exception.kind.unwrap_or_else(|| "Exception".into()),
                message: exception.message.map(text).unwrap_or_default(),
                traceback: exception
                    .traceback
                    .unwrap_or_default()
                    .into_iter()
                    .map(text)
                    .collect(),
            },
            // Not hololinked's format: keep what the server said, readable.
            Err(_) => RemoteException {
                kind: "Exception".into(),
                message: String::from_utf8_lossy(payload).into_owned(),
                traceback: Vec::new(),
            },
        }
    }
}

/// A JSON value as text: a string as it is, anything else as JSON.
fn text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::RemoteException;

    #[test]
    fn hololinked_exceptions_keep_type_message_and_traceback() {
        let payload = br#"{"exception": {"message": "boom", "type": "ValueError", "traceback": ["a", 1], "notes": null}}"#;
        let e = RemoteException::parse(payload);
        assert_eq!(e.kind, "ValueError");
        assert_eq!(e.message, "boom");
        assert_eq!(e.traceback, ["a", "1"]);
    }

    #[test]
    fn other_payloads_become_the_message() {
        let e = RemoteException::parse(b"not json \xff");
        assert_eq!(e.kind, "Exception");
        assert_eq!(e.message, "not json \u{fffd}");
        assert!(e.traceback.is_empty());
        let e = RemoteException::parse(br#"{"exception": {"message": {"code": 3}}}"#);
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("Exception", r#"{"code":3}"#)
        );
    }
}
