//! Request header encoding: compact JSON, msgspec-compatible, written straight into a slice.

use core::fmt;

use super::json::{escape_byte, escaped_len, needs_escape};
use super::{KeyStyle, RequestHeader, ServerContext, ThingContext};
use crate::time::Duration;

/// The output buffer given to [`encode_request`] is too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// How many bytes the header needs (what [`encoded_len`] returns).
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "buffer too small for the request header: {} bytes needed",
            self.needed
        )
    }
}

impl core::error::Error for BufferTooSmall {}

// The fixed text between the variable parts, in hololinked's field order.
const P_TYPE: &[u8] = b"{\"messageType\":\"";
const P_ID: &[u8] = b"\",\"messageID\":\"";
const P_SENDER: &[u8] = b"\",\"senderID\":\"";
const P_RECEIVER: &[u8] = b"\",\"receiverID\":\"";
const P_SERVER_CTX: &[u8] = b"\",\"serverExecutionContext\":{";
const P_THING_CTX: &[u8] = b"},\"thingExecutionContext\":{";
const P_THING_ID: &[u8] = b"},\"thingID\":\"";
const P_OBJEKT: &[u8] = b"\",\"objekt\":";
const P_OPERATION: &[u8] = b",\"operation\":\"";
const P_PAYLOAD_CT: &[u8] = b"\",\"payloadContentType\":\"";
const P_PREENCODED_CT: &[u8] = b"\",\"preencodedPayloadContentType\":\"";
const P_END: &[u8] = b"\"}";

const FIXED_LEN: usize = P_TYPE.len()
    + P_ID.len()
    + P_SENDER.len()
    + P_RECEIVER.len()
    + P_SERVER_CTX.len()
    + P_THING_CTX.len()
    + P_THING_ID.len()
    + P_OBJEKT.len()
    + P_OPERATION.len()
    + P_PAYLOAD_CT.len()
    + P_PREENCODED_CT.len()
    + P_END.len();

// Execution-context keys (each includes the separator before the value).
const CAMEL_INVOKATION: &[u8] = b"\"invokationTimeout\":";
const CAMEL_EXECUTION: &[u8] = b",\"executionTimeout\":";
const SNAKE_INVOKATION: &[u8] = b"\"invokation_timeout\":";
const SNAKE_EXECUTION: &[u8] = b",\"execution_timeout\":";
const BOTH_SNAKE_INVOKATION: &[u8] = b",\"invokation_timeout\":";
const ONEWAY: &[u8] = b",\"oneway\":";
const CAMEL_LOGS: &[u8] = b"\"fetchExecutionLogs\":";
const SNAKE_LOGS: &[u8] = b"\"fetch_execution_logs\":";
const BOTH_SNAKE_LOGS: &[u8] = b",\"fetch_execution_logs\":";

const MICROS_PER_SEC: u64 = 1_000_000;

/// Number of decimal digits of `n` (at least 1).
#[inline]
fn digit_count(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Length of a timeout as written by [`Out::timeout`].
#[inline]
fn timeout_len(t: Option<Duration>) -> usize {
    let Some(d) = t else {
        return 4; // null
    };
    let micros = d.as_micros();
    let whole = digit_count(micros / MICROS_PER_SEC);
    let mut frac = micros % MICROS_PER_SEC;
    if frac == 0 {
        return whole;
    }
    let mut frac_digits = 6;
    while frac.is_multiple_of(10) {
        frac /= 10;
        frac_digits -= 1;
    }
    whole + 1 + frac_digits
}

#[inline]
const fn bool_len(b: bool) -> usize {
    if b {
        4
    } else {
        5
    }
}

fn server_context_len(style: KeyStyle, ctx: &ServerContext) -> usize {
    let t1 = timeout_len(ctx.invokation_timeout);
    let t2 = timeout_len(ctx.execution_timeout);
    let oneway = ONEWAY.len() + bool_len(ctx.oneway);
    match style {
        KeyStyle::Camel => CAMEL_INVOKATION.len() + t1 + CAMEL_EXECUTION.len() + t2 + oneway,
        KeyStyle::Snake => SNAKE_INVOKATION.len() + t1 + SNAKE_EXECUTION.len() + t2 + oneway,
        KeyStyle::Both => {
            CAMEL_INVOKATION.len()
                + CAMEL_EXECUTION.len()
                + oneway
                + BOTH_SNAKE_INVOKATION.len()
                + SNAKE_EXECUTION.len()
                + 2 * (t1 + t2)
        }
    }
}

fn thing_context_len(style: KeyStyle, ctx: &ThingContext) -> usize {
    let f = bool_len(ctx.fetch_execution_logs);
    match style {
        KeyStyle::Camel => CAMEL_LOGS.len() + f,
        KeyStyle::Snake => SNAKE_LOGS.len() + f,
        KeyStyle::Both => CAMEL_LOGS.len() + BOTH_SNAKE_LOGS.len() + 2 * f,
    }
}

/// Exact number of bytes [`encode_request`] writes for `header`.
#[must_use]
pub fn encoded_len(header: &RequestHeader<'_>) -> usize {
    strings_of(header)
        .iter()
        .fold(fixed_len_of(header), |len, s| {
            len.saturating_add(escaped_len(s))
        })
}

/// Whether `encoded_len(header) <= max`, cheaply in the usual case: when the strings fit even
/// if every byte needed the longest escape (`\u00XX`, 6 bytes), none of them is scanned. The
/// pool asks this for every request it starts.
#[must_use]
pub fn encoded_len_at_most(header: &RequestHeader<'_>, max: usize) -> bool {
    let raw = strings_of(header)
        .iter()
        .fold(0usize, |len, s| len.saturating_add(s.len()));
    let worst = fixed_len_of(header).saturating_add(raw.saturating_mul(MAX_ESCAPED_PER_BYTE));
    worst <= max || encoded_len(header) <= max
}

/// The most bytes one byte of a string becomes once escaped (`\u00XX`).
const MAX_ESCAPED_PER_BYTE: usize = 6;

/// The header's strings, each written escaped (an `objekt` given is one of them).
fn strings_of<'h>(header: &'h RequestHeader<'_>) -> [&'h str; 9] {
    let f = &header.fields;
    [
        header.kind.as_str(),
        header.message_id,
        header.sender_id,
        header.receiver_id,
        f.thing_id,
        f.objekt.unwrap_or_default(),
        f.operation,
        f.payload_content_type,
        f.preencoded_content_type,
    ]
}

/// Everything but the strings: the fixed text, the execution contexts, and the `objekt`'s
/// quotes (or its `null`).
fn fixed_len_of(header: &RequestHeader<'_>) -> usize {
    let f = &header.fields;
    FIXED_LEN
        + objekt_frame_len(f.objekt)
        + server_context_len(header.key_style, &f.server_context)
        + thing_context_len(header.key_style, &f.thing_context)
}

/// What an `objekt` adds around its escaped text: two quotes, or `null` for none.
const fn objekt_frame_len(objekt: Option<&str>) -> usize {
    match objekt {
        Some(_) => 2,
        None => 4,
    }
}

/// A write cursor that never panics: writes that do not fit are dropped, but `pos` still counts
/// them, so after the last write `pos` is the length the whole output needs.
struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Out<'_> {
    #[inline(always)]
    fn raw(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    /// A string body, JSON-escaped; runs of bytes that need no escaping are copied at once.
    #[inline]
    fn escaped(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|&b| needs_escape(b)) {
            let (head, tail) = rest.split_at(i);
            self.raw(head);
            if let Some((&b, after)) = tail.split_first() {
                let (seq, n) = escape_byte(b);
                self.raw(seq.get(..n).unwrap_or_default());
                rest = after;
            } else {
                break;
            }
        }
        self.raw(rest);
    }

    fn u64(&mut self, mut n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            if let Some(slot) = tmp.get_mut(i) {
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.raw(tmp.get(i..).unwrap_or_default());
    }

    /// Seconds as msgspec writes a Python int (`5`) or a short float (`0.3`); `None` is `null`.
    fn timeout(&mut self, t: Option<Duration>) {
        let Some(d) = t else {
            self.raw(b"null");
            return;
        };
        let micros = d.as_micros();
        self.u64(micros / MICROS_PER_SEC);
        let mut frac = micros % MICROS_PER_SEC;
        if frac == 0 {
            return;
        }
        let mut digits = *b".000000";
        let mut used = digits.len();
        while frac.is_multiple_of(10) {
            frac /= 10;
            used -= 1;
        }
        let mut i = used;
        while frac > 0 && i > 1 {
            i -= 1;
            if let Some(slot) = digits.get_mut(i) {
                *slot = b'0' + (frac % 10) as u8;
            }
            frac /= 10;
        }
        self.raw(digits.get(..used).unwrap_or_default());
    }

    #[inline]
    fn boolean(&mut self, b: bool) {
        self.raw(if b { b"true" } else { b"false" });
    }

    fn server_context(&mut self, style: KeyStyle, ctx: &ServerContext) {
        match style {
            KeyStyle::Camel | KeyStyle::Both => {
                self.raw(CAMEL_INVOKATION);
                self.timeout(ctx.invokation_timeout);
                self.raw(CAMEL_EXECUTION);
                self.timeout(ctx.execution_timeout);
                self.raw(ONEWAY);
                self.boolean(ctx.oneway);
                if style == KeyStyle::Both {
                    self.raw(BOTH_SNAKE_INVOKATION);
                    self.timeout(ctx.invokation_timeout);
                    self.raw(SNAKE_EXECUTION);
                    self.timeout(ctx.execution_timeout);
                }
            }
            KeyStyle::Snake => {
                self.raw(SNAKE_INVOKATION);
                self.timeout(ctx.invokation_timeout);
                self.raw(SNAKE_EXECUTION);
                self.timeout(ctx.execution_timeout);
                self.raw(ONEWAY);
                self.boolean(ctx.oneway);
            }
        }
    }

    fn thing_context(&mut self, style: KeyStyle, ctx: &ThingContext) {
        match style {
            KeyStyle::Camel => {
                self.raw(CAMEL_LOGS);
                self.boolean(ctx.fetch_execution_logs);
            }
            KeyStyle::Snake => {
                self.raw(SNAKE_LOGS);
                self.boolean(ctx.fetch_execution_logs);
            }
            KeyStyle::Both => {
                self.raw(CAMEL_LOGS);
                self.boolean(ctx.fetch_execution_logs);
                self.raw(BOTH_SNAKE_LOGS);
                self.boolean(ctx.fetch_execution_logs);
            }
        }
    }
}

/// Writes `header` as compact JSON into `out` and returns the number of bytes written.
///
/// The output has exactly the 11 keys of hololinked's `RequestHeader`, in its order, with the
/// execution contexts spelled as [`RequestHeader::key_style`] says. It allocates nothing and
/// never panics. If `out` is shorter than [`encoded_len`], nothing useful is written (the
/// contents of `out` are unspecified) and the error says how many bytes are needed.
///
/// ```
/// use pool_core::wire::{encode_request, encoded_len, KeyStyle, RequestFields, RequestHeader,
///     RequestKind};
///
/// let header = RequestHeader {
///     kind: RequestKind::Operation,
///     message_id: "11111111-2222-4333-8444-555555555555",
///     sender_id: "cli",
///     receiver_id: "srv",
///     key_style: KeyStyle::Camel,
///     fields: RequestFields::new("thing1", "readproperty", "number_prop"),
/// };
/// let mut buf = [0u8; 512];
/// let n = encode_request(&header, &mut buf)?;
/// assert_eq!(n, encoded_len(&header));
/// assert!(buf[..n].starts_with(br#"{"messageType":"OPERATION","messageID":"1111"#));
/// # Ok::<(), pool_core::wire::BufferTooSmall>(())
/// ```
pub fn encode_request(header: &RequestHeader<'_>, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let f = &header.fields;
    let style = header.key_style;
    let mut w = Out { buf: out, pos: 0 };
    w.raw(P_TYPE);
    w.raw(header.kind.as_str().as_bytes());
    w.raw(P_ID);
    w.escaped(header.message_id);
    w.raw(P_SENDER);
    w.escaped(header.sender_id);
    w.raw(P_RECEIVER);
    w.escaped(header.receiver_id);
    w.raw(P_SERVER_CTX);
    w.server_context(style, &f.server_context);
    w.raw(P_THING_CTX);
    w.thing_context(style, &f.thing_context);
    w.raw(P_THING_ID);
    w.escaped(f.thing_id);
    w.raw(P_OBJEKT);
    match f.objekt {
        Some(objekt) => {
            w.raw(b"\"");
            w.escaped(objekt);
            w.raw(b"\"");
        }
        None => w.raw(b"null"),
    }
    w.raw(P_OPERATION);
    w.escaped(f.operation);
    w.raw(P_PAYLOAD_CT);
    w.escaped(f.payload_content_type);
    w.raw(P_PREENCODED_CT);
    w.escaped(f.preencoded_content_type);
    w.raw(P_END);
    if w.pos > w.buf.len() {
        Err(BufferTooSmall { needed: w.pos })
    } else {
        Ok(w.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{RequestFields, RequestKind};
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn encode(h: &RequestHeader<'_>) -> String {
        let mut buf = vec![0u8; encoded_len(h)];
        let n = encode_request(h, &mut buf).unwrap();
        assert_eq!(n, buf.len());
        String::from_utf8(buf).unwrap()
    }

    fn fmt_timeout(t: Option<Duration>) -> String {
        let mut buf = [0u8; 40];
        let mut w = Out {
            buf: &mut buf,
            pos: 0,
        };
        w.timeout(t);
        let n = w.pos;
        assert_eq!(n, timeout_len(t));
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn header<'a>(style: KeyStyle, fields: RequestFields<'a>) -> RequestHeader<'a> {
        RequestHeader {
            kind: RequestKind::Operation,
            message_id: "11111111-2222-4333-8444-555555555555",
            sender_id: "cli",
            receiver_id: "srv",
            key_style: style,
            fields,
        }
    }

    #[test]
    fn timeouts_format_like_msgspec() {
        let cases: &[(Option<Duration>, &str)] = &[
            (None, "null"),
            (Some(Duration::ZERO), "0"),
            (Some(Duration::from_secs(5)), "5"),
            (Some(Duration::from_secs(10)), "10"),
            (Some(Duration::from_millis(300)), "0.3"),
            (Some(Duration::from_millis(1250)), "1.25"),
            (Some(Duration::from_micros(1)), "0.000001"),
            (Some(Duration::from_micros(10)), "0.00001"),
            (Some(Duration::from_micros(1_000_010)), "1.00001"),
            (Some(Duration::from_micros(999_999)), "0.999999"),
            (Some(Duration::from_micros(120_000_500)), "120.0005"),
            (Some(Duration(u64::MAX)), "18446744073709.551615"),
            (
                Some(Duration(u64::MAX / 1_000_000 * 1_000_000)),
                "18446744073709",
            ),
        ];
        for &(t, want) in cases {
            assert_eq!(fmt_timeout(t), want, "{t:?}");
        }
        // Every formatted value reads back as the same number of microseconds.
        for micros in (0..3_000_000u64).step_by(7_919) {
            let s = fmt_timeout(Some(Duration(micros)));
            let v: f64 = s.parse().unwrap();
            assert_eq!((v * 1e6).round() as u64, micros, "{s}");
            assert!(!s.ends_with('.'), "{s}");
            assert!(!(s.contains('.') && s.ends_with('0')), "{s}");
        }
    }

    #[test]
    fn digit_counts() {
        for (n, d) in [(0, 1), (9, 1), (10, 2), (99, 2), (100, 3), (u64::MAX, 20)] {
            assert_eq!(digit_count(n), d);
        }
    }

    #[test]
    fn pinned_default_bytes() {
        let h = header(
            KeyStyle::Camel,
            RequestFields::new("thing1", "readproperty", "number_prop"),
        );
        assert_eq!(
            encode(&h),
            r#"{"messageType":"OPERATION","messageID":"11111111-2222-4333-8444-555555555555","senderID":"cli","receiverID":"srv","serverExecutionContext":{"invokationTimeout":5,"executionTimeout":5,"oneway":false},"thingExecutionContext":{"fetchExecutionLogs":false},"thingID":"thing1","objekt":"number_prop","operation":"readproperty","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
    }

    #[test]
    fn context_styles() {
        let mut f = RequestFields::new("t", "op", "o");
        f.server_context = ServerContext {
            invokation_timeout: Some(Duration::from_millis(300)),
            execution_timeout: None,
            oneway: true,
        };
        f.thing_context.fetch_execution_logs = true;
        let camel = encode(&header(KeyStyle::Camel, f));
        assert!(camel.contains(r#""serverExecutionContext":{"invokationTimeout":0.3,"executionTimeout":null,"oneway":true},"thingExecutionContext":{"fetchExecutionLogs":true},"#));
        let snake = encode(&header(KeyStyle::Snake, f));
        assert!(snake.contains(r#""serverExecutionContext":{"invokation_timeout":0.3,"execution_timeout":null,"oneway":true},"thingExecutionContext":{"fetch_execution_logs":true},"#));
        let both = encode(&header(KeyStyle::Both, f));
        assert!(both.contains(r#""serverExecutionContext":{"invokationTimeout":0.3,"executionTimeout":null,"oneway":true,"invokation_timeout":0.3,"execution_timeout":null},"thingExecutionContext":{"fetchExecutionLogs":true,"fetch_execution_logs":true},"#));
        for s in [camel, snake, both] {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 11);
        }
    }

    #[test]
    fn strings_are_escaped() {
        let f = RequestFields::new("th\"ing", "op\n", "é\\\u{1}");
        let mut h = header(KeyStyle::Both, f);
        h.sender_id = "\t";
        h.message_id = "";
        let s = encode(&h);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["thingID"], "th\"ing");
        assert_eq!(v["operation"], "op\n");
        assert_eq!(v["objekt"], "é\\\u{1}");
        assert_eq!(v["senderID"], "\t");
        assert_eq!(v["messageID"], "");
        assert!(s.contains(r#""objekt":"é\\\u0001""#));
    }

    #[test]
    fn a_missing_objekt_is_json_null() {
        let mut f = RequestFields::new("thing1", "readallproperties", "");
        f.objekt = None;
        for style in [KeyStyle::Camel, KeyStyle::Snake, KeyStyle::Both] {
            let h = header(style, f);
            let s = encode(&h);
            assert_eq!(s.len(), encoded_len(&h));
            assert!(encoded_len_at_most(&h, s.len()));
            assert!(!encoded_len_at_most(&h, s.len() - 1));
            assert!(
                s.contains(r#""thingID":"thing1","objekt":null,"operation":"readallproperties","#),
                "{s}"
            );
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert!(v["objekt"].is_null());
        }
    }

    #[test]
    fn handshake_and_no_exit() {
        let mut h = header(KeyStyle::Camel, RequestFields::handshake());
        h.kind = RequestKind::Handshake;
        let s = encode(&h);
        assert!(s.starts_with(r#"{"messageType":"HANDSHAKE","#));
        assert!(s.contains(r#""thingID":"","objekt":"","operation":"","#));
        for kind in [RequestKind::Operation, RequestKind::Handshake] {
            h.kind = kind;
            assert!(!encode(&h).contains("EXIT"));
        }
    }

    #[test]
    fn small_buffers_fail_without_panicking() {
        let h = header(KeyStyle::Both, RequestFields::new("t\"", "op", "o"));
        let need = encoded_len(&h);
        let mut full = vec![0u8; need];
        encode_request(&h, &mut full).unwrap();
        for len in [0, 1, 10, need / 2, need - 1] {
            let mut buf = vec![0u8; len];
            assert_eq!(
                encode_request(&h, &mut buf),
                Err(BufferTooSmall { needed: need })
            );
        }
        let mut big: Vec<u8> = vec![0xAA; need + 10];
        assert_eq!(encode_request(&h, &mut big), Ok(need));
        assert_eq!(&big[..need], &full[..]);
        assert_eq!(&big[need..], &[0xAA; 10]);
        assert!(std::format!("{}", BufferTooSmall { needed: 3 }).contains('3'));
    }

    /// `encoded_len_at_most` agrees with `encoded_len` at and around the exact length, for
    /// strings that need no escaping, some, and only the longest escapes.
    #[test]
    fn encoded_len_at_most_agrees_with_encoded_len() {
        let objekts = [
            "number",
            "a\"b\\c\nd",
            "\u{1}\u{2}\u{3}\u{4}",
            "ünïcödé\t",
            "",
        ];
        for objekt in objekts {
            for style in [KeyStyle::Camel, KeyStyle::Snake, KeyStyle::Both] {
                let h = RequestHeader {
                    kind: RequestKind::Operation,
                    message_id: "11111111-2222-4333-8444-555555555555",
                    sender_id: "cli\u{7}",
                    receiver_id: "srv",
                    key_style: style,
                    fields: RequestFields::new("thing\"1", "readproperty", objekt),
                };
                let exact = encoded_len(&h);
                for max in exact.saturating_sub(3)..exact + 3 {
                    assert_eq!(
                        encoded_len_at_most(&h, max),
                        exact <= max,
                        "{objekt:?} {max}"
                    );
                }
                assert!(encoded_len_at_most(&h, exact * 6));
                assert!(!encoded_len_at_most(&h, 0));
            }
        }
    }
}
