//! Content types as headers name them (`payloadContentType`, `preencodedPayloadContentType`):
//! bounded, owned without a heap, and read from reply headers when a caller asks.
//!
//! Invariants:
//! * a [`ContentType`] is never longer than [`MAX_CONTENT_TYPE_LEN`] bytes (after unescaping);
//! * [`payload_content_type`] never fails on a valid header: a missing, non-string or overlong
//!   `payloadContentType` is `None`, and the caller decides what that means.

use core::fmt;

use super::json::{RawStr, Scanner};

/// Longest content type a header may name, in bytes after unescaping.
pub const MAX_CONTENT_TYPE_LEN: usize = 64;

/// A content type named by a header (`payloadContentType`,
/// `preencodedPayloadContentType`), at most [`MAX_CONTENT_TYPE_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ContentType(heapless::String<MAX_CONTENT_TYPE_LEN>);

impl ContentType {
    /// The content type `text`, if it is not longer than [`MAX_CONTENT_TYPE_LEN`].
    #[must_use]
    pub fn new(text: &str) -> Option<ContentType> {
        let mut s = heapless::String::new();
        s.push_str(text).ok()?;
        Some(ContentType(s))
    }

    /// The content type as text (empty when the header named none).
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether it is JSON (`application/json`, hololinked's default).
    #[must_use]
    pub fn is_json(&self) -> bool {
        self.0.as_str() == super::CONTENT_TYPE_JSON
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content type `value` names, if it is valid UTF-8 within [`MAX_CONTENT_TYPE_LEN`] bytes.
pub(crate) fn read(value: &RawStr<'_>) -> Option<ContentType> {
    let mut buf = [0u8; MAX_CONTENT_TYPE_LEN];
    value
        .unescape_into(&mut buf)
        .and_then(|b| core::str::from_utf8(b).ok())
        .and_then(ContentType::new)
}

/// The `payloadContentType` a reply (or any) header names; `None` when the header is not a
/// JSON object or names none usable. A repeated key keeps its last value.
///
/// ```
/// use pool_core::wire::payload_content_type;
///
/// let h = br#"{"messageType":"REPLY","payloadContentType":"application/msgpack"}"#;
/// assert_eq!(payload_content_type(h).unwrap().as_str(), "application/msgpack");
/// assert!(payload_content_type(br#"{"messageType":"REPLY"}"#).is_none());
/// ```
#[must_use]
pub fn payload_content_type(header: &[u8]) -> Option<ContentType> {
    let mut s = Scanner::new(header);
    let mut found = None;
    s.ws();
    s.expect(b'{').ok()?;
    s.ws();
    if s.eat(b'}') {
        return None;
    }
    loop {
        s.ws();
        let key = s.string().ok()?;
        s.ws();
        s.expect(b':').ok()?;
        s.ws();
        if key.eq_bytes(b"payloadContentType") && s.peek() == Some(b'"') {
            found = read(&s.string().ok()?);
        } else {
            s.skip_value().ok()?;
        }
        s.ws();
        match s.next_byte() {
            Some(b',') => {}
            Some(b'}') => return found,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_payload_content_type_of_any_header() {
        let ct = |h: &str| {
            payload_content_type(h.as_bytes()).map(|c| std::string::String::from(c.as_str()))
        };
        assert_eq!(
            ct(r#"{ "a": [1, {"b": 2}], "payloadContentType" : "application\/msgpack" }"#)
                .as_deref(),
            Some("application/msgpack")
        );
        assert_eq!(
            ct(r#"{"payloadContentType":"x","payloadContentType":"application/json"}"#).as_deref(),
            Some("application/json")
        );
        for h in [
            "",
            "[]",
            "{}",
            r#"{"payloadContentType": 3}"#,
            r#"{"payloadContentType": "cut"#,
        ] {
            assert_eq!(ct(h), None, "{h}");
        }
        let long = std::format!(
            r#"{{"payloadContentType":"{}"}}"#,
            "x".repeat(MAX_CONTENT_TYPE_LEN + 1)
        );
        assert_eq!(ct(&long), None);
    }
}
