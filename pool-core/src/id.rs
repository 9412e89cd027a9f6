//! Message ids: UUID-shaped strings that carry a slot, a generation and a per-pool nonce.
//!
//! hololinked echoes the request's `messageID` verbatim and correlates by nothing else. We send
//! version-4 UUID text (what hololinked's own clients send, and what its tests assert) whose 122
//! free bits are laid out as `nonce (58) | slot (32) | generation (32)`:
//!
//! * the **slot** makes lookup O(1): no hash map, no search;
//! * the **generation** changes every time a slot is reused, so a late reply for an old request
//!   can never reach the request that now owns the slot (the ABA guard of h2's stream store);
//! * the **nonce** is chosen at random per pool by the caller (the core has no RNG), so ids do not
//!   repeat across pool restarts and a reply meant for another pool is recognised as foreign.

use core::fmt;

/// Length of a message id in bytes (`8-4-4-4-12` hex digits and hyphens).
pub const MESSAGE_ID_LEN: usize = 36;

/// Number of nonce bits that fit beside slot and generation.
const NONCE_BITS: u32 = 58;
const NONCE_MASK: u64 = (1 << NONCE_BITS) - 1;

/// Slot number reserved for HANDSHAKE messages, which own no request slot.
pub(crate) const HANDSHAKE_SLOT: u32 = u32::MAX;

/// The text of a message id, exactly as it goes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageIdText([u8; MESSAGE_ID_LEN]);

impl MessageIdText {
    /// The id as bytes (ASCII).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.0
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only lowercase hex digits and hyphens are ever written, which is valid UTF-8; the
        // fallback is unreachable but keeps this function panic-free.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for MessageIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MessageIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encodes and decodes message ids for one pool (one nonce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCodec {
    nonce: u64,
}

/// What a decoded message id refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodedId {
    pub slot: u32,
    pub generation: u32,
}

impl IdCodec {
    /// A codec for the pool whose random nonce is `nonce` (only the low 58 bits are used).
    #[must_use]
    pub const fn new(nonce: u64) -> Self {
        IdCodec {
            nonce: nonce & NONCE_MASK,
        }
    }

    /// The id text for `(slot, generation)`.
    #[must_use]
    pub fn encode(&self, slot: u32, generation: u32) -> MessageIdText {
        let bits: u128 =
            (u128::from(self.nonce) << 64) | (u128::from(slot) << 32) | u128::from(generation);
        // Spread the 122 bits around the version nibble (4) and the variant bits (0b10).
        let uuid: u128 = ((bits >> 74) << 80)
            | (0x4 << 76)
            | (((bits >> 62) & 0xFFF) << 64)
            | (0b10 << 62)
            | (bits & ((1u128 << 62) - 1));
        let mut out = [b'-'; MESSAGE_ID_LEN];
        let mut nibble = 32;
        for (pos, byte) in out.iter_mut().enumerate() {
            if matches!(pos, 8 | 13 | 18 | 23) {
                continue;
            }
            nibble -= 1;
            let digit = ((uuid >> (nibble * 4)) & 0xF) as u8;
            *byte = HEX_DIGITS[usize::from(digit)];
        }
        MessageIdText(out)
    }

    /// Reads `(slot, generation)` back from id text, if the text is an id of this pool.
    ///
    /// Anything else (another client's ids, another pool's nonce, not a version-4 UUID, uppercase
    /// or odd length) is `None`.
    #[must_use]
    pub(crate) fn decode(&self, text: &[u8]) -> Option<DecodedId> {
        let bytes: &[u8; MESSAGE_ID_LEN] = text.try_into().ok()?;
        let mut uuid: u128 = 0;
        for (pos, &byte) in bytes.iter().enumerate() {
            if matches!(pos, 8 | 13 | 18 | 23) {
                if byte != b'-' {
                    return None;
                }
                continue;
            }
            uuid = (uuid << 4) | u128::from(hex_value(byte)?);
        }
        if (uuid >> 76) & 0xF != 0x4 || (uuid >> 62) & 0b11 != 0b10 {
            return None;
        }
        let bits: u128 =
            ((uuid >> 80) << 74) | (((uuid >> 64) & 0xFFF) << 62) | (uuid & ((1u128 << 62) - 1));
        if (bits >> 64) as u64 != self.nonce {
            return None;
        }
        Some(DecodedId {
            slot: (bits >> 32) as u32,
            generation: bits as u32,
        })
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_uuid4_shaped() {
        let codec = IdCodec::new(0x0123_4567_89ab_cdef);
        for &(slot, generation) in &[(0, 0), (1, 2), (u32::MAX, u32::MAX), (77, 0xdead_beef)] {
            let text = codec.encode(slot, generation);
            let s = text.as_str();
            assert_eq!(s.len(), 36);
            assert_eq!(&s[14..15], "4", "version nibble in {s}");
            assert!(
                matches!(&s[19..20], "8" | "9" | "a" | "b"),
                "variant in {s}"
            );
            assert_eq!(
                codec.decode(text.as_bytes()),
                Some(DecodedId { slot, generation })
            );
        }
    }

    #[test]
    fn other_pools_and_garbage_are_not_ours() {
        let ours = IdCodec::new(1);
        let theirs = IdCodec::new(2);
        let text = theirs.encode(3, 4);
        assert_eq!(ours.decode(text.as_bytes()), None);
        assert_eq!(ours.decode(b"11111111-2222-4333-8444-555555555555"), None);
        assert_eq!(ours.decode(b"my-id-1"), None);
        assert_eq!(ours.decode(&[0xff; 36]), None);
        // Uppercase hex is not what we write, so it is not ours (variant digit is a-b or 8-9,
        // and the version nibble region always holds letters for this nonce).
        let mut upper = *ours.encode(0xabcd, 0xef01).as_bytes();
        upper.make_ascii_uppercase();
        assert_ne!(&upper, ours.encode(0xabcd, 0xef01).as_bytes());
        assert_eq!(ours.decode(&upper), None);
    }

    #[test]
    fn nonce_is_truncated_to_58_bits() {
        let a = IdCodec::new(u64::MAX);
        let text = a.encode(9, 9);
        assert_eq!(
            a.decode(text.as_bytes()),
            Some(DecodedId {
                slot: 9,
                generation: 9
            })
        );
    }
}
