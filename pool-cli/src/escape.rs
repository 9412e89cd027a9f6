//! Text from a server made safe for a terminal.
//!
//! A server's exception type and message, its INVALID_MESSAGE explanation or a reply it sent
//! are arbitrary strings. Written raw to a terminal, an ESC can clear the screen or recolour it,
//! a CR or a newline can fake an output line, a BEL rings. Every such string the CLI prints as
//! text goes through [`escape_controls`] first; JSON goes through [`json_text`].

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// Whether `c` must not reach a terminal raw: C0 controls (newline, CR and tab included), DEL,
/// C1 controls, and the Unicode bidirectional embeddings, overrides and isolates (which reorder
/// how the rest of a line is shown).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [unsafe](is_unsafe) character written as a visible escape: `\n`, `\r`,
/// `\t`, or `\u{1b}` (hex code point) for the others. Everything else, backslashes included,
/// stays as it is, so ordinary text reads unchanged (the result is for a person, not meant to
/// be parsed back).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `value` as compact JSON with no [unsafe](is_unsafe) character left raw. serde_json already
/// escapes C0 controls; DEL, C1 controls and bidi controls become `\uXXXX` escapes too. The
/// text parses back to the same value (those characters can only occur inside strings).
pub fn json_text(value: &Value) -> String {
    let text = value.to_string();
    if !text.chars().any(is_unsafe) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            // Every unsafe character is in the Basic Multilingual Plane: one \u escape each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// `value` as pretty JSON (two-space indents, one member per line) with no [unsafe](is_unsafe)
/// character left raw but the newlines between lines: as [`json_text`], a newline inside a
/// string is already `\n`, so every raw one is layout.
pub fn pretty_json_text(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n' && is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in [
            "",
            "ValueError: boom",
            "C:\\path\\x1b",
            "β γ → ✓",
            "a\u{a0}b",
        ] {
            assert!(matches!(escape_controls(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(escape_controls("\x1b[2J"), "\\u{1b}[2J");
        assert_eq!(escape_controls("bell\x07"), "bell\\u{7}");
        assert_eq!(escape_controls("a\rb\nc\td"), "a\\rb\\nc\\td");
        assert_eq!(escape_controls("\0\x7f"), "\\u{0}\\u{7f}");
        assert_eq!(escape_controls("\u{9b}31m\u{85}"), "\\u{9b}31m\\u{85}");
        assert_eq!(
            escape_controls("x\u{202e}y\u{2066}"),
            "x\\u{202e}y\\u{2066}"
        );
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let escaped = escape_controls(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(!escaped.chars().any(is_unsafe), "{c:?} -> {escaped:?}");
        }
    }

    #[test]
    fn json_text_escapes_what_serde_json_leaves_raw() {
        let value = json!({"m\u{7f}": ["\x1b[2J\x07\r\n", "\u{9b}1m", "\u{202e}x", "é"]});
        let text = json_text(&value);
        assert!(!text.chars().any(is_unsafe), "{text}");
        assert!(
            text.contains("\\u007f") && text.contains("\\u009b"),
            "{text}"
        );
        assert!(text.contains("\\u001b") && text.contains("é"), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(json_text(&json!(1.5)), "1.5");
    }

    #[test]
    fn pretty_json_text_keeps_only_layout_newlines() {
        let value = json!({"a": ["\x1b\n", "\u{9b}\u{202e}"], "b": 1});
        let text = pretty_json_text(&value);
        assert!(text.lines().count() > 3, "{text}");
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
