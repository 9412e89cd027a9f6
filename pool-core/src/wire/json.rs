//! Crate-private JSON helpers: msgspec-compatible string escaping for the encoder, and a small
//! allocation-free, non-recursive scanner for the decoder.
//!
//! The scanner never indexes out of bounds: every byte access goes through [`slice::get`], so
//! no input can make it panic. Nesting is tracked with a bit stack capped at [`MAX_DEPTH`].

/// Deepest container nesting the scanner accepts (objects and arrays together).
pub(crate) const MAX_DEPTH: u32 = 128;

/// Extra output bytes each input byte needs when escaped: 0 (written raw), 1 (`\"`, `\\`, `\n`,
/// ...) or 5 (`\u00XX`).
static ESCAPE_EXTRA: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 0x20 {
        table[b] = 5;
        b += 1;
    }
    table[0x08] = 1;
    table[0x09] = 1;
    table[0x0a] = 1;
    table[0x0c] = 1;
    table[0x0d] = 1;
    table[b'"' as usize] = 1;
    table[b'\\' as usize] = 1;
    table
};

/// Whether `b` must be escaped inside a JSON string (as msgspec does it: control bytes, `"` and
/// `\`; everything else, including non-ASCII UTF-8, is written raw).
#[inline(always)]
pub(crate) fn needs_escape(b: u8) -> bool {
    ESCAPE_EXTRA[b as usize] != 0
}

/// Length of `s` once JSON-escaped (without the surrounding quotes).
#[inline]
pub(crate) fn escaped_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let extra: usize = bytes
        .iter()
        .map(|&b| usize::from(ESCAPE_EXTRA[b as usize]))
        .sum();
    bytes.len().saturating_add(extra)
}

/// The escape sequence for a byte for which [`needs_escape`] is true: the buffer and how many of
/// its bytes are used. For any other byte, returns the byte itself (length 1).
#[inline]
pub(crate) fn escape_byte(b: u8) -> ([u8; 6], usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        0x00..=0x1f => {
            let hi = HEX[usize::from(b >> 4)];
            let lo = HEX[usize::from(b & 0x0f)];
            return ([b'\\', b'u', b'0', b'0', hi, lo], 6);
        }
        _ => return ([b, 0, 0, 0, 0, 0], 1),
    };
    ([b'\\', short, 0, 0, 0, 0], 2)
}

/// A syntax error found by the [`Scanner`]. Carries no detail: the decoder maps it to one error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError;

/// A string token as it appears in the input, without its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawStr<'a> {
    /// The bytes between the quotes, escapes not yet resolved (but validated).
    pub raw: &'a [u8],
    /// Whether `raw` contains at least one backslash escape.
    pub escaped: bool,
}

impl RawStr<'_> {
    /// Unescapes into `buf`; returns the unescaped bytes, or `None` if they do not fit in `buf`
    /// or the string holds a lone surrogate escape (which has no UTF-8 form).
    pub(crate) fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        if !self.escaped {
            let dst = buf.get_mut(..self.raw.len())?;
            dst.copy_from_slice(self.raw);
            return Some(dst);
        }
        let n = unescape(self.raw, buf)?;
        buf.get(..n)
    }

    /// Whether the unescaped string equals `expected`, however long (escapes are resolved
    /// piece by piece and compared as they come, with no buffer).
    pub(crate) fn eq_bytes(&self, expected: &[u8]) -> bool {
        if !self.escaped {
            return self.raw == expected;
        }
        let mut rest = expected;
        let matched = unescape_with(self.raw, |piece| {
            rest = rest.strip_prefix(piece)?;
            Some(())
        });
        matched.is_some() && rest.is_empty()
    }
}

fn hex_val(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let quad = bytes.get(at..at.checked_add(4)?)?;
    let mut v = 0u16;
    for &b in quad {
        v = (v << 4) | hex_val(b)?;
    }
    Some(v)
}

/// Resolves the escapes of a string body into `out`. Returns the number of bytes written, or
/// `None` on overflow, malformed escapes or lone surrogates.
fn unescape(raw: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut o = 0usize;
    unescape_with(raw, |bytes| {
        let end = o.checked_add(bytes.len())?;
        out.get_mut(o..end)?.copy_from_slice(bytes);
        o = end;
        Some(())
    })?;
    Some(o)
}

/// Resolves the escapes of a string body, handing the unescaped bytes to `put` piece by piece,
/// in order. `None` when `put` says so, or on malformed escapes or lone surrogates.
fn unescape_with(raw: &[u8], mut put: impl FnMut(&[u8]) -> Option<()>) -> Option<()> {
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            // The run up to the next escape, in one piece.
            let run = raw[i..]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(raw.len(), |n| i + n);
            put(&raw[i..run])?;
            i = run;
            continue;
        }
        let e = *raw.get(i + 1)?;
        i += 2;
        let c = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let first = hex4(raw, i)?;
                i += 4;
                let cp: u32 = match first {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by `\uDC00`..`\uDFFF`.
                        if raw.get(i) != Some(&b'\\') || raw.get(i + 1) != Some(&b'u') {
                            return None;
                        }
                        let second = hex4(raw, i + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return None;
                        }
                        i += 6;
                        0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    other => u32::from(other),
                };
                let ch = char::from_u32(cp)?;
                let mut tmp = [0u8; 4];
                put(ch.encode_utf8(&mut tmp).as_bytes())?;
                continue;
            }
            _ => return None,
        };
        put(&[c])?;
    }
    Some(())
}

/// A cursor over JSON text. All methods leave the cursor just after what they consumed.
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, pos: 0 }
    }

    /// The next byte, not consumed.
    #[inline(always)]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes and returns the next byte.
    #[inline(always)]
    pub(crate) fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes the next byte if it is `b`.
    #[inline(always)]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `b` or fails.
    #[inline(always)]
    pub(crate) fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(JsonError)
        }
    }

    /// How many bytes have been consumed.
    #[cfg(feature = "alloc")]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The input from byte `start` up to the cursor.
    #[cfg(feature = "alloc")]
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// Whether the whole input has been consumed.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    #[inline(always)]
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Scans a string token starting at its opening quote. Validates escapes (including
    /// `\uXXXX`) and rejects raw control bytes. UTF-8 validity is the caller's business.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<RawStr<'a>, JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let b = self.next_byte().ok_or(JsonError)?;
            if !needs_escape(b) {
                continue;
            }
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.next_byte().ok_or(JsonError)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            hex4(self.bytes, self.pos).ok_or(JsonError)?;
                            self.pos += 4;
                        }
                        _ => return Err(JsonError),
                    }
                }
                _ => return Err(JsonError), // raw control byte
            }
        }
        let raw = self.bytes.get(start..self.pos - 1).ok_or(JsonError)?;
        Ok(RawStr { raw, escaped })
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Scans a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    pub(crate) fn number(&mut self) -> Result<(), JsonError> {
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonError),
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(JsonError);
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(JsonError);
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos.checked_add(word.len()).ok_or(JsonError)?;
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(JsonError)
        }
    }

    /// Scans an object key (a string), the whitespace around it and the `:` after it.
    fn key_colon(&mut self) -> Result<(), JsonError> {
        self.ws();
        self.string()?;
        self.ws();
        self.expect(b':')
    }

    /// Skips one JSON value of any type (leading whitespace included), without recursion.
    /// Containers nested deeper than [`MAX_DEPTH`] are an error.
    pub(crate) fn skip_value(&mut self) -> Result<(), JsonError> {
        // Bit i of `stack` is 1 if the container at depth i+1 is an object, 0 for an array.
        let mut stack: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // Expecting a value.
            self.ws();
            match self.peek().ok_or(JsonError)? {
                open @ (b'{' | b'[') => {
                    if depth >= MAX_DEPTH {
                        return Err(JsonError);
                    }
                    self.pos += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        let is_obj = open == b'{';
                        stack = (stack << 1) | u128::from(is_obj);
                        depth += 1;
                        if is_obj {
                            self.key_colon()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(JsonError),
            }
            // After a complete value: close containers until one wants another element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                self.ws();
                let in_obj = stack & 1 == 1;
                match self.next_byte() {
                    Some(b',') => {
                        if in_obj {
                            self.key_colon()?;
                        }
                        break;
                    }
                    Some(b'}') if in_obj => {}
                    Some(b']') if !in_obj => {}
                    _ => return Err(JsonError),
                }
                stack >>= 1;
                depth -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn escape(s: &str) -> String {
        let mut out = Vec::new();
        for &b in s.as_bytes() {
            let (buf, n) = escape_byte(b);
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out.len(), escaped_len(s));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_msgspec() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(escape("\n\r\t\u{8}\u{c}"), "\\n\\r\\t\\b\\f");
        assert_eq!(
            escape("\u{0}\u{1}\u{1f}\u{b}"),
            "\\u0000\\u0001\\u001f\\u000b"
        );
        assert_eq!(escape("/"), "/");
        assert_eq!(escape("\u{7f}"), "\u{7f}");
        assert_eq!(escape("héllo ✓ 𝄞"), "héllo ✓ 𝄞");
        assert_eq!(escaped_len(""), 0);
        for b in 0u8..=255 {
            assert_eq!(needs_escape(b), b < 0x20 || b == b'"' || b == b'\\');
        }
    }

    #[test]
    fn escaping_round_trips_through_serde_json() {
        let mut all = String::new();
        for c in 0u32..0x80 {
            all.push(char::from_u32(c).unwrap());
        }
        all.push_str("é✓𝄞");
        let quoted = std::format!("\"{}\"", escape(&all));
        let back: String = serde_json::from_str(&quoted).unwrap();
        assert_eq!(back, all);
    }

    fn skip(s: &str) -> Result<usize, JsonError> {
        let mut sc = Scanner::new(s.as_bytes());
        sc.skip_value()?;
        Ok(sc.pos)
    }

    #[test]
    fn skips_values() {
        for ok in [
            "0",
            "-0",
            "12.5e+3",
            "1E-2",
            "-0.25",
            "true",
            "false",
            "null",
            "\"a\\u00e9\\n\\\"\"",
            "[]",
            "{}",
            " [ 1 , [ 2 , {\"a\" : [ ] } ] , { } ] ",
            "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}},\"e\":\"x\"}",
        ] {
            let end = skip(ok).unwrap_or_else(|_| panic!("{ok}"));
            assert_eq!(ok[end..].trim(), "", "{ok}");
        }
        assert_eq!(skip("1 2").unwrap(), 1);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "",
            "-",
            "01x",
            "1.",
            ".5",
            "1e",
            "1e+",
            "tru",
            "nul",
            "f",
            "[",
            "[1,",
            "[1,]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{1:2}",
            "[1}",
            "{\"a\":1]",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"a\u{1}b\"",
            "]",
            "}",
            ",",
            "+1",
        ] {
            let r = skip(bad);
            // "01x" scans as the number 0 and stops: fine for the scanner; callers check what
            // follows. Everything else must fail.
            if bad == "01x" {
                assert_eq!(r, Ok(1));
            } else {
                assert!(r.is_err(), "{bad:?} accepted");
            }
        }
    }

    #[test]
    fn depth_is_capped() {
        let ok = "[".repeat(MAX_DEPTH as usize) + &"]".repeat(MAX_DEPTH as usize);
        assert!(skip(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH as usize + 1) + &"]".repeat(MAX_DEPTH as usize + 1);
        assert!(skip(&deep).is_err());
        assert!(skip(&"[".repeat(1000)).is_err());
        assert!(skip(&"{\"a\":".repeat(1000)).is_err());
    }

    #[test]
    fn unescapes() {
        let mut buf = [0u8; 64];
        let mut sc = Scanner::new(br#""a\u0031\n\/\"\\\ud834\udd1e\u00e9""#);
        let s = sc.string().unwrap();
        assert!(s.escaped);
        assert_eq!(s.unescape_into(&mut buf).unwrap(), "a1\n/\"\\𝄞é".as_bytes());
        // Overflow and lone surrogates give None.
        assert_eq!(s.unescape_into(&mut [0u8; 3]), None);
        let mut sc = Scanner::new(br#""\ud834x""#);
        assert_eq!(sc.string().unwrap().unescape_into(&mut buf), None);
        let mut sc = Scanner::new(br#""\udd1e""#);
        assert_eq!(sc.string().unwrap().unescape_into(&mut buf), None);
        let mut sc = Scanner::new(br#""abc""#);
        let s = sc.string().unwrap();
        assert!(!s.escaped);
        assert!(s.eq_bytes(b"abc"));
        assert_eq!(s.unescape_into(&mut [0u8; 2]), None);
    }

    #[test]
    fn eq_bytes_compares_escaped_strings_of_any_length() {
        let long = "x".repeat(100);
        let text = std::format!(r#""{long}\u0041\/{long}""#);
        let s = Scanner::new(text.as_bytes()).string().unwrap();
        assert!(s.escaped);
        assert!(s.eq_bytes(std::format!("{long}A/{long}").as_bytes()));
        assert!(!s.eq_bytes(std::format!("{long}A/{long}x").as_bytes()));
        assert!(!s.eq_bytes(std::format!("{long}A/").as_bytes()));
        assert!(!s.eq_bytes(b""));
        let s = Scanner::new(br#""\ud834""#).string().unwrap();
        assert!(!s.eq_bytes(b""), "a lone surrogate equals nothing");
    }
}
