//! Payload (de)serialisation by content type, as hololinked's `Serializers` do it for the ZMQ
//! transport: a request's payload frame is decoded by its `payloadContentType`
//! (`application/json` or `application/msgpack`, both lines), and a reply is encoded JSON unless
//! the object has a serializer of its own registered (the fake Thing's `echo_msgpack`, as the
//! harness Thing registers a `MsgpackSerializer` for it), whose reply header then says
//! `payloadContentType: "application/msgpack"`.
//!
//! Invariants:
//! * every payload decodes into a [`serde_json::Value`]; msgpack binary and extension values
//!   (which JSON cannot hold) are refused with a `DecodeError`, as are an empty frame and a
//!   malformed one;
//! * any other content type is a `ValueError` `content type X not supported for deserialization`
//!   (hololinked's wording on both lines);
//! * msgpack is encoded the way msgspec does for JSON-like values: maps with string keys, the
//!   smallest integer encoding, floats as float64.

use serde_json::Value;

use crate::protocol::JSON_CONTENT_TYPE;

/// hololinked's content type of msgpack payloads.
pub const MSGPACK_CONTENT_TYPE: &str = "application/msgpack";

/// Why a payload could not be decoded: the Python exception type and message.
pub(crate) type DecodeFailure = (&'static str, String);

/// Decodes a request payload frame of `content_type`.
pub(crate) fn decode_payload(content_type: &str, bytes: &[u8]) -> Result<Value, DecodeFailure> {
    if bytes.is_empty()
        && (content_type == JSON_CONTENT_TYPE || content_type == MSGPACK_CONTENT_TYPE)
    {
        return Err(("DecodeError", "Input data was truncated".to_owned()));
    }
    match content_type {
        JSON_CONTENT_TYPE => serde_json::from_slice(bytes)
            .map_err(|e| ("DecodeError", format!("JSON is malformed: {e}"))),
        MSGPACK_CONTENT_TYPE => decode_msgpack(bytes),
        other => Err((
            "ValueError",
            format!("content type {other} not supported for deserialization"),
        )),
    }
}

/// Decodes one msgpack value (the whole frame) into JSON.
pub fn decode_msgpack(bytes: &[u8]) -> Result<Value, DecodeFailure> {
    rmp_serde::from_slice::<Value>(bytes)
        .map_err(|e| ("DecodeError", format!("MessagePack data is malformed: {e}")))
}

/// Encodes a JSON value as msgpack.
pub fn encode_msgpack(value: &Value) -> Vec<u8> {
    rmp_serde::to_vec(value).expect("a serde_json::Value always encodes as msgpack")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_round_trip_matches_msgspec() {
        // msgspec.msgpack.encode({"a": [1, 2.5, "x"]}), as the live harness replied it.
        let msgspec = b"\x81\xa1a\x93\x01\xcb@\x04\x00\x00\x00\x00\x00\x00\xa1x";
        let v = decode_msgpack(msgspec).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, 2.5, "x"]}));
        assert_eq!(encode_msgpack(&v), msgspec);
        assert_eq!(
            decode_payload(MSGPACK_CONTENT_TYPE, b"\xc1").unwrap_err().0,
            "DecodeError"
        );
        assert_eq!(
            decode_payload("application/x-foo", b"{}").unwrap_err(),
            (
                "ValueError",
                "content type application/x-foo not supported for deserialization".to_owned()
            )
        );
        assert_eq!(
            decode_payload(JSON_CONTENT_TYPE, b"").unwrap_err().1,
            "Input data was truncated"
        );
    }
}
