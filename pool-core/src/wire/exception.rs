//! hololinked's exception payload, read leniently: the one reader for the driver, the
//! examples and the test fixtures.
//!
//! An `EXCEPTION` or `INVALID_MESSAGE` reply carries
//! `{"exception": {"message": .., "type": .., "traceback": [..], "notes": ..}}` (hololinked's
//! `format_exception_as_json`).
//!
//! Invariants:
//! * [`RemoteException::parse`] never fails and never loses what the server said: a payload in
//!   any other shape (not JSON, not an object, no `exception` object) becomes the message, as
//!   text, with the kind `Exception`;
//! * keys may come in any order, with whitespace, escapes and unknown keys; a repeated key keeps
//!   its last value;
//! * a string is unescaped; any other JSON value (a number, an object, `null`) is kept as the
//!   JSON text the server sent, so nothing is re-serialised;
//! * nesting is bounded as in the reply decoder, and the owned text is never longer than the
//!   payload.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::json::{JsonError, Scanner};

/// The kind given to an exception whose payload does not name one.
const UNNAMED: &str = "Exception";

/// The parts of a server's exception a client reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteException {
    /// The Python exception type, e.g. `ValueError`; `Exception` when the payload names none.
    pub kind: String,
    /// The exception's message (or the whole payload, as text, when it is not hololinked's
    /// format).
    pub message: String,
    /// The Python traceback lines, as the server formatted them.
    pub traceback: Vec<String>,
    /// The exception's notes (`__notes__`, which hololinked sends as `notes`): a list's items,
    /// a string as one note, nothing for `null` or no `notes` key.
    pub notes: Vec<String>,
}

impl RemoteException {
    /// Reads `payload`; never fails.
    ///
    /// ```
    /// use pool_core::wire::RemoteException;
    ///
    /// let e = RemoteException::parse(br#"{"exception": {"message": "boom", "type": "ValueError",
    ///     "traceback": ["Traceback (most recent call last):"], "notes": null}}"#);
    /// assert_eq!((e.kind.as_str(), e.message.as_str()), ("ValueError", "boom"));
    /// assert_eq!(e.traceback.len(), 1);
    ///
    /// let e = RemoteException::parse(b"worker died");
    /// assert_eq!((e.kind.as_str(), e.message.as_str()), ("Exception", "worker died"));
    /// ```
    #[must_use]
    pub fn parse(payload: &[u8]) -> RemoteException {
        match parse_wrapper(payload) {
            Ok(Some(e)) => e,
            // Not hololinked's format: keep what the server said, readable.
            Ok(None) | Err(JsonError) => RemoteException {
                kind: UNNAMED.to_owned(),
                message: String::from_utf8_lossy(payload).into_owned(),
                traceback: Vec::new(),
                notes: Vec::new(),
            },
        }
    }
}

/// `{"exception": {...}, ...}`: the inner object's parts, or `None` when there is no
/// `exception` object.
fn parse_wrapper(payload: &[u8]) -> Result<Option<RemoteException>, JsonError> {
    let mut s = Scanner::new(payload);
    let mut found = None;
    object(&mut s, |s, key| {
        if key == b"exception" && s.peek() == Some(b'{') {
            found = Some(parse_body(s)?);
        } else {
            s.skip_value()?;
        }
        Ok(())
    })?;
    s.ws();
    if !s.at_end() {
        return Err(JsonError);
    }
    Ok(found)
}

/// The inner object: `message`, `type`, `traceback` and `notes`; other keys are skipped.
fn parse_body(s: &mut Scanner<'_>) -> Result<RemoteException, JsonError> {
    let mut e = RemoteException {
        kind: UNNAMED.to_owned(),
        message: String::new(),
        traceback: Vec::new(),
        notes: Vec::new(),
    };
    object(s, |s, key| {
        match key {
            b"message" => e.message = value_text(s)?,
            b"type" => e.kind = value_text(s)?,
            b"traceback" if s.peek() == Some(b'[') => e.traceback = array_texts(s)?,
            b"traceback" => e.traceback = vec![value_text(s)?],
            b"notes" if s.peek() == Some(b'[') => e.notes = array_texts(s)?,
            b"notes" if s.peek() == Some(b'n') => {
                s.skip_value()?;
                e.notes = Vec::new();
            }
            b"notes" => e.notes = vec![value_text(s)?],
            _ => s.skip_value()?,
        }
        Ok(())
    })?;
    Ok(e)
}

/// Scans an object, calling `field` with the scanner at each value (after its whitespace) and
/// the key (unescaped). `field` must consume the value.
fn object<'a>(
    s: &mut Scanner<'a>,
    mut field: impl FnMut(&mut Scanner<'a>, &[u8]) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    s.ws();
    s.expect(b'{')?;
    s.ws();
    if s.eat(b'}') {
        return Ok(());
    }
    loop {
        s.ws();
        let key = s.string()?;
        let mut buf = vec![0u8; key.raw.len()];
        let key = key.unescape_into(&mut buf).ok_or(JsonError)?;
        s.ws();
        s.expect(b':')?;
        s.ws();
        field(s, key)?;
        s.ws();
        if s.eat(b'}') {
            return Ok(());
        }
        s.expect(b',')?;
    }
}

/// `[v, ...]`: each element as [`value_text`].
fn array_texts(s: &mut Scanner<'_>) -> Result<Vec<String>, JsonError> {
    s.expect(b'[')?;
    let mut items = Vec::new();
    s.ws();
    if s.eat(b']') {
        return Ok(items);
    }
    loop {
        s.ws();
        items.push(value_text(s)?);
        s.ws();
        if s.eat(b']') {
            return Ok(items);
        }
        s.expect(b',')?;
    }
}

/// One value as text: a string unescaped, anything else as the JSON the server sent.
fn value_text(s: &mut Scanner<'_>) -> Result<String, JsonError> {
    s.ws();
    if s.peek() == Some(b'"') {
        let raw = s.string()?;
        // Unescaping never makes a string longer.
        let mut buf = vec![0u8; raw.raw.len()];
        let text = raw.unescape_into(&mut buf).ok_or(JsonError)?;
        return Ok(String::from_utf8_lossy(text).into_owned());
    }
    let start = s.position();
    s.skip_value()?;
    Ok(String::from_utf8_lossy(s.since(start)).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(payload: &str) -> RemoteException {
        RemoteException::parse(payload.as_bytes())
    }

    #[test]
    fn hololinked_exceptions_keep_type_message_and_traceback() {
        let e = parse(
            r#"{"exception": {"message": "boom", "type": "ValueError", "traceback": ["a", 1], "notes": null}}"#,
        );
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("ValueError", "boom")
        );
        assert_eq!(e.traceback, ["a", "1"]);
        assert!(e.notes.is_empty());
    }

    #[test]
    fn notes_as_a_list_a_string_or_null() {
        let e =
            parse(r#"{"exception": {"message": "m", "type": "ValueError", "notes": ["a", "b"]}}"#);
        assert_eq!(e.notes, ["a", "b"]);
        let e = parse(
            r#"{"exception": {"notes": "number: bad value\ntext: too long", "type": "RuntimeError"}}"#,
        );
        assert_eq!(e.notes, ["number: bad value\ntext: too long"]);
        let e = parse(r#"{"exception": {"notes": null, "message": "m"}}"#);
        assert!(e.notes.is_empty());
        let e = parse(r#"{"exception": {"notes": {"k": 1}}}"#);
        assert_eq!(e.notes, [r#"{"k": 1}"#]);
    }

    #[test]
    fn keys_in_any_order_escapes_and_unknown_keys() {
        let e = parse(
            "{ \"x\": [1, {\"y\": 2}], \"exception\" : {\"notes\": [\"n\"], \"traceback\": [],\n\
             \"ty\\u0070e\": \"Key\\u00e9Error\", \"message\": \"line\\nnext \\\"q\\\"\"} }",
        );
        assert_eq!(e.kind, "KeyéError");
        assert_eq!(e.message, "line\nnext \"q\"");
        assert!(e.traceback.is_empty());
    }

    #[test]
    fn other_values_are_kept_as_the_json_the_server_sent() {
        let e = parse(r#"{"exception": {"message": {"code": 3}, "traceback": "one line"}}"#);
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("Exception", r#"{"code": 3}"#)
        );
        assert_eq!(e.traceback, ["one line"]);
        let e = parse(r#"{"exception": {"message": null, "type": 7}}"#);
        assert_eq!((e.kind.as_str(), e.message.as_str()), ("7", "null"));
    }

    #[test]
    fn other_payloads_become_the_message() {
        let e = RemoteException::parse(b"not json \xff");
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("Exception", "not json \u{fffd}")
        );
        assert!(e.traceback.is_empty());
        for payload in [
            "",
            "[]",
            "\"text\"",
            "{\"exception\": \"not an object\"}",
            "{\"exception\": {\"message\": \"cut",
            "{\"exception\": {}} trailing",
            "{\"other\": 1}",
        ] {
            let e = parse(payload);
            assert_eq!(
                (e.kind.as_str(), e.message.as_str()),
                ("Exception", payload),
                "{payload}"
            );
        }
        // An empty exception object names nothing, but is hololinked's shape.
        let e = parse("{\"exception\": {}}");
        assert_eq!((e.kind.as_str(), e.message.as_str()), ("Exception", ""));
    }

    #[test]
    fn deep_nesting_is_bounded_not_a_stack_overflow() {
        let deep = alloc::format!(
            "{{\"exception\": {{\"message\": {}{}}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = parse(&deep);
        assert_eq!(e.kind, "Exception");
        assert_eq!(e.message.len(), deep.len());
    }
}
