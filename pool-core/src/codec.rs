//! Payload codec: [postcard](https://docs.rs/postcard), usable without `std` or `alloc`.
//!
//! hololinked servers decode request payloads by their `payloadContentType` and only know the
//! content types they registered, so postcard payloads are for Things that register
//! [`CONTENT_TYPE`] (or for the preserialized frame, which servers pass through untouched).
//!
//! ```
//! use pool_core::codec;
//!
//! let mut buf = [0u8; 16];
//! let used = codec::to_slice(&(1u8, 300u16, "hi"), &mut buf)?;
//! assert_eq!(used, &[1, 0xac, 0x02, 2, b'h', b'i']);
//! let back: (u8, u16, &str) = codec::from_bytes(used)?;
//! assert_eq!(back, (1, 300, "hi"));
//! # Ok::<(), codec::CodecError>(())
//! ```

use core::fmt;

/// The content type label of postcard payloads.
pub const CONTENT_TYPE: &str = crate::wire::CONTENT_TYPE_POSTCARD;

/// A postcard encoding or decoding failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(postcard::Error);

impl CodecError {
    /// The underlying postcard error.
    #[must_use]
    pub fn postcard(&self) -> &postcard::Error {
        &self.0
    }
}

impl From<postcard::Error> for CodecError {
    fn from(e: postcard::Error) -> Self {
        CodecError(e)
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postcard payload codec: {}", self.0)
    }
}

impl core::error::Error for CodecError {}

/// Serializes `value` into the front of `buf` and returns the used part.
///
/// ```
/// let mut buf = [0u8; 4];
/// assert_eq!(pool_core::codec::to_slice(&7u32, &mut buf).unwrap(), &[7]);
/// // Too small a buffer is an error, not a panic.
/// assert!(pool_core::codec::to_slice(&[0u8; 8], &mut buf).is_err());
/// ```
pub fn to_slice<'b, T: serde::Serialize + ?Sized>(
    value: &T,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], CodecError> {
    Ok(postcard::to_slice(value, buf)?)
}

/// Deserializes a `T` from `bytes` (borrowing from them where `T` allows). Trailing bytes after
/// the value are ignored, as postcard does.
///
/// ```
/// let v: (bool, i8) = pool_core::codec::from_bytes(&[1, 0xff]).unwrap();
/// assert_eq!(v, (true, -1));
/// assert!(pool_core::codec::from_bytes::<u32>(&[]).is_err());
/// ```
pub fn from_bytes<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(bytes)?)
}

/// Serializes `value` into a new vector.
///
/// ```
/// let v = pool_core::codec::to_vec(&(5u8, "ok")).unwrap();
/// assert_eq!(v, [5, 2, b'o', b'k']);
/// ```
#[cfg(feature = "alloc")]
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<alloc::vec::Vec<u8>, CodecError> {
    Ok(postcard::to_allocvec(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample<'a> {
        id: u32,
        name: &'a str,
        values: [i16; 3],
        flag: Option<bool>,
    }

    #[test]
    fn round_trip() {
        let s = Sample {
            id: 70_000,
            name: "pump-1",
            values: [-1, 0, 1],
            flag: Some(true),
        };
        let mut buf = [0u8; 64];
        let used = to_slice(&s, &mut buf).unwrap();
        let used_len = used.len();
        let back: Sample<'_> = from_bytes(&buf[..used_len]).unwrap();
        assert_eq!(back, s);
        #[cfg(feature = "alloc")]
        assert_eq!(to_vec(&s).unwrap(), &buf[..used_len]);
    }

    #[test]
    fn errors() {
        let mut tiny = [0u8; 2];
        let e = to_slice(&u64::MAX, &mut tiny).unwrap_err();
        assert_eq!(e.postcard(), &postcard::Error::SerializeBufferFull);
        assert!(!std::format!("{e}").is_empty());
        assert!(from_bytes::<Sample<'_>>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(CONTENT_TYPE, "application/x-postcard");
    }
}
